import t from 'tap';
import { Popt, type OptionSpec } from '../../src/cli/popt';

const TABLE: OptionSpec<string>[] = [
  { long: 'list', short: 'L', arg: 'none', id: 'L' },
  { long: 'numeric', short: 'n', arg: 'none', id: 'n' },
  { long: 'weight', short: 'w', arg: 'required', id: 'w' },
  { long: 'persistent', short: 'p', arg: 'optional', id: 'p' },
];

/** Every result until the end, as text: id=arg, !error, then the leftovers. */
function run(args: string[]): string[] {
  const p = new Popt(['prog', ...args], TABLE);
  const out: string[] = [];
  for (;;) {
    const r = p.next();
    if (r === null) break;
    if ('error' in r) {
      out.push(`!${r.error} at ${p.badOption()}`);
      break;
    }
    out.push(r.arg === undefined ? r.id : `${r.id}=${r.arg}`);
  }
  for (let a = p.arg(); a !== undefined; a = p.arg()) out.push(`+${a}`);
  return out;
}

t.test('short clusters, attached and separate arguments', async (t) => {
  t.same(run(['-Ln']), ['L', 'n']);
  t.same(run(['-Lnw5']), ['L', 'n', 'w=5']);
  t.same(run(['-w=5']), ['w=5']);
  t.same(run(['-w', '5']), ['w=5']);
  t.same(run(['-w', '-L']), ['w=-L'], 'a required argument takes the next word even when it looks like an option');
  t.same(run(['--weight=5', '--weight', '6']), ['w=5', 'w=6']);
  t.same(run(['--weight=']), ['w='], 'an empty long argument is an argument');
});

t.test('optional arguments are taken only when the next word is not an option', async (t) => {
  t.same(run(['-p', '30']), ['p=30']);
  t.same(run(['-p', '-L']), ['p', 'L']);
  t.same(run(['-p']), ['p']);
  t.same(run(['-p30']), ['p=30']);
});

t.test('words that are not options are leftovers, wherever they are; -- ends options', async (t) => {
  t.same(run(['a', '-L', 'b', '-', 'c']), ['L', '+a', '+b', '+-', '+c']);
  t.same(run(['-L', '--', '-n']), ['L', '+-n']);
});

t.test('errors name the word popt read last', async (t) => {
  t.same(run(['-L', '--bogus']), ['L', '!unknown option at --bogus']);
  t.same(run(['-Lq']), ['L', '!unknown option at -Lq']);
  t.same(run(['-L', '-w']), ['L', '!missing argument at -w']);
  t.same(run(['--list=x']), ['!option does not take an argument at --list=x']);
  t.same(run(['-L=x']), ['!option does not take an argument at -L=x']);
  t.same(run(['--lis']), ['!unknown option at --lis'], 'long names are never abbreviated');
  t.same(run(['-Lnis']), ['L', 'n', '!unknown option at -Lnis'], 'one dash: a cluster of short options');
});
