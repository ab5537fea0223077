/**
 * parseWords (the restore's way around popt) against parseCommand on
 * generated lines: the lines save writes, and lines one step away from them
 * (bad values, options repeated, dropped, reordered, clustered, attached,
 * unknown, leftovers). Wherever parseWords answers, it must give exactly
 * parseCommand's entry or error; it may decline (undefined) only for lines
 * that are not all whole options.
 */
import t from 'tap';
import { forgetParsedAddresses, parseCommand, parseWords, UsageError, type ParseOptions } from '../../src/cli/grammar';
import { NeedsLookup } from '../../src/cli/names';
import { lineWords, readRestoreFile, shapeLineCounts } from '../../src/cli/restore';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = { ok: unknown } | { usage: [string, number, boolean] } | { lookup: string } | { other: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: f() };
  } catch (x) {
    if (x instanceof UsageError) return { usage: [x.message, x.exitCode, x.fatal] };
    if (x instanceof NeedsLookup) return { lookup: x.host };
    return { other: String(x) };
  }
}

function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const octet = (): number => Math.floor(r() * 256);
  const hex = (): string => Math.floor(r() * 65536).toString(16);
  const port = (): string => pick(['80', '0', '443', '65535', '65536', String(Math.floor(r() * 70000)), 'http', 'domain', 'nosuchport', '', '-1', '+8', '08']);
  const v4 = (): string => pick([`192.0.2.${octet()}`, `198.51.100.${octet()}`, `203.0.113.${octet()}`, '0x7f.1', '10.1', '0', '256.1.1.1', '192.0.2.1 ', 'example.invalid']);
  const v6 = (): string => pick([`2001:db8::${hex()}`, `2001:db8:${hex()}::${hex()}`, '::', '::ffff:192.0.2.1', '2001:db8:::1', 'fe80::1%eth0']);
  const address = (): string =>
    pick([
      () => `${v4()}:${port()}`,
      () => `${v4()}:${port()}`,
      () => v4(),
      () => `[${v6()}]:${port()}`,
      () => `[${v6()}]:${port()}`,
      () => v6(),
      () => `[${v4()}]:${port()}`,
      () => `[${v6()}]`,
      () => `[${v6()}`,
      () => '1234',
      () => '',
    ])();
  const service = (): string[] =>
    pick([
      () => ['-t', address()],
      () => ['-u', address()],
      () => ['--sctp-service', address()],
      () => ['--tcp-service', address()],
      () => ['-f', pick(['1', '7', '-1294967296', '0', '4294967295', '4294967296', 'x', '-1', '-2147483649'])],
      () => ['-f', pick(['1', '8']), '-6'],
      () => ['--fwmark-service', '9'],
    ])();
  const serviceLine = (): string[] => {
    const w = ['-A', ...service(), '-s', pick(['wlc', 'rr', 'sh', 'mh', 'wrr', 'x'.repeat(20), '-p'])];
    if (r() < 0.4) {
      w.push('-p');
      if (r() < 0.8) w.push(pick(['300', '1', '0', '2678401', 'abc']));
      if (r() < 0.5) w.push('-M', pick(['255.255.255.0', '255.255.255.255', '24', '64', '128', '129', '0', 'bad']));
    }
    if (r() < 0.2) w.push('--pe', pick(['sip', 'x'.repeat(20)]));
    if (r() < 0.2) w.push('-o');
    if (r() < 0.3) w.push('-b', pick(['sh-port', 'sh-fallback,sh-port', 'mh-port', 'flag-1,flag-2', 'flag-3', 'bad', ',', 'sh-port,']));
    return w;
  };
  const serverLine = (): string[] => {
    const fwd = pick(['-g', '-m', '-i', '--gatewaying', '--masquerading', '--ipip']);
    const w = ['-a', ...service(), '-r', address(), fwd, '-w', pick(['1', '0', '5', '65536', '2147483647', '2147483648', '-1', '+5', ' 5', 'x'])];
    if (r() < 0.3) {
      const type = pick(['ipip', 'gue', 'gre', 'bad']);
      w.push('--tun-type', type);
      if (type === 'gue' || r() < 0.2) w.push('--tun-port', pick(['6080', '0', '65536']));
      if (r() < 0.6) w.push(pick(['--tun-nocsum', '--tun-csum', '--tun-remcsum']));
    }
    if (r() < 0.2) w.push('-x', pick(['10', '0', '-1', 'x']));
    if (r() < 0.2) w.push('-y', pick(['5', '20', 'x']));
    return w;
  };
  const mutate = (w: string[]): string[] => {
    const x = [...w];
    const at = Math.floor(r() * (x.length + 1));
    switch (Math.floor(r() * 12)) {
      case 0:
        x.splice(Math.min(at, x.length - 1), 1);
        break;
      case 1: {
        const i = Math.min(at, x.length - 1);
        x.splice(i, 0, x[i] as string);
        break;
      }
      case 2:
        x.splice(at, 0, pick(['-Q', '--nope', 'foo', '--', '-', '-E', '-a', '-h', '-v', '--json', '-n', '--start-daemon', '--set', '--syncid', '--mcast-group']));
        break;
      case 3:
        x.push(pick(['-w=5', '-w5', '-mw', '--weight=3', '-6', '-p', '-r']));
        break;
      case 4: {
        const i = Math.floor(r() * x.length);
        const j = Math.floor(r() * x.length);
        [x[i], x[j]] = [x[j] as string, x[i] as string];
        break;
      }
      case 5:
        x.unshift(pick(['-A', '-a', '-E', '-e', '-d', '-D', '-L', '-C', '-t', 'foo', '-h', '--add-service', '--add-server', '--start-daemon', '--set']));
        break;
      case 6:
        x.push('-r', address());
        break;
      case 7:
        x.push('-p');
        break;
      case 8:
        // Not -p's argument (it starts with '-'), so not an option either.
        x.push('-p', '-5');
        break;
      default:
        break;
    }
    return x;
  };
  return { serviceLine, serverLine, mutate, r };
}

const OPTIONS: ParseOptions[] = [{ replaying: true, signedMarks: true }, {}];

t.test('parseWords gives parseCommand’s entry or error on every line it takes', async (t) => {
  const g = generator(20261121);
  let fast = 0;
  let declined = 0;
  let canonicalDeclined = 0;
  const kinds = new Set<string>();
  for (let k = 0; k < 20000; k++) {
    const canonical = g.r() < 0.5;
    const base = g.r() < 0.5 ? g.serviceLine() : g.serverLine();
    const words = canonical ? base : g.mutate(base);
    const options = OPTIONS[k % 2] as ParseOptions;
    const slow = outcome(() => parseCommand(['ipvs', ...words], options));
    const quick = outcome(() => parseWords(words, options));
    if ('ok' in quick && quick.ok === undefined) {
      declined++;
      if (canonical) canonicalDeclined++;
      continue;
    }
    fast++;
    kinds.add(Object.keys(slow)[0] as string);
    // JSON keeps every field of an entry (buffers as byte arrays).
    if (JSON.stringify(quick) !== JSON.stringify(slow)) {
      t.fail(`differs on ${JSON.stringify(words)} ${JSON.stringify(options)}`, { found: quick, wanted: slow });
      return;
    }
  }
  t.equal(canonicalDeclined, 0, 'every line of whole options is taken');
  t.ok(fast > 10000 && declined > 1000, `both ways exercised (${fast} taken, ${declined} declined)`);
  t.same([...kinds].sort(), ['lookup', 'ok', 'usage'], 'entries, usage errors and host lookups all compared');
});

t.test('an address text parsed before gives what a first parse gives', async (t) => {
  const g = generator(7);
  for (let k = 0; k < 3000; k++) {
    // The same text as a service and as a real server, in both orders.
    const a = g.serverLine();
    const svcText = a[2] as string;
    const other = ['-a', a[1] as string, svcText, '-r', svcText, '-m', '-w', '1'];
    const lines = [a, other, ['-A', a[1] as string, svcText, '-s', 'rr', '-p', '-M', '64']];
    forgetParsedAddresses();
    const first = lines.map((w) => outcome(() => parseCommand(['ipvs', ...w], { signedMarks: true })));
    const again = lines.map((w) => outcome(() => parseCommand(['ipvs', ...w], { signedMarks: true })));
    forgetParsedAddresses();
    const reversed = [...lines].reverse().map((w) => outcome(() => parseCommand(['ipvs', ...w], { signedMarks: true })));
    if (JSON.stringify(first) !== JSON.stringify(again) || JSON.stringify(first) !== JSON.stringify(reversed.reverse())) {
      t.fail(`differs on ${JSON.stringify(lines)}`, { found: again, wanted: first });
      return;
    }
  }
  t.pass('3,000 texts');
});

t.test('the restore file names each duplicate real server as before (after the line it repeats)', async (t) => {
  const r = await readRestoreFile(
    [
      '-a -t 192.0.2.1:80 -r 198.51.100.3:80 -m', // 1: before its service
      '-A -t 192.0.2.1:80 -s rr',
      '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m',
      '-a -t 192.0.2.1:80 -r 198.51.100.3:80 -m', // 4: repeats line 1
      '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -g', // 5: repeats line 3
      '-a -t 192.0.2.1:80 -r 198.51.100.2:81 -m',
      '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -i', // 7: repeats line 5
    ].join('\n'),
  );
  t.same(r, {
    errors: ['line 4: this real server is already defined at line 1', 'line 5: this real server is already defined at line 3', 'line 7: this real server is already defined at line 5'],
  });
  // Past 32 servers the sorted walk alone finds them.
  const many = ['-A -t 192.0.2.1:80 -s rr'];
  for (let i = 0; i < 40; i++) many.push(`-a -t 192.0.2.1:80 -r 198.51.100.${i + 1}:80 -m`);
  many.push('-a -t 192.0.2.1:80 -r 198.51.100.7:80 -m');
  t.same(await readRestoreFile(many.join('\n')), { errors: ['line 42: this real server is already defined at line 8'] });
});

t.test('a restore file of generated lines reads the same through either parser', async (t) => {
  const g = generator(99);
  const lines: string[] = [];
  for (let k = 0; k < 400; k++) lines.push((g.r() < 0.3 ? g.serviceLine() : g.serverLine()).join(' '));
  const text = lines.join('\n');
  // Each line's words through parseCommand alone, as the restore parsed them before parseWords.
  const viaPopt = lines.map((l) => outcome(() => parseCommand(['ipvs', ...lineWords(l)], { replaying: true, signedMarks: true })));
  const viaWords = lines.map((l) => {
    const w = lineWords(l);
    return outcome(() => parseWords(w, { replaying: true, signedMarks: true }) ?? parseCommand(['ipvs', ...w], { replaying: true, signedMarks: true }));
  });
  t.same(viaWords, viaPopt);
  // The restore reads the words from the file's text, without slicing each line.
  let at = 0;
  const ranged = lines.map((l) => {
    const w = lineWords(`# x\n${text}`, at + 4, at + 4 + l.length);
    at += l.length + 1;
    return w;
  });
  t.same(ranged, lines.map((l) => lineWords(l)));
  // And the file as a whole gives errors or rules, never throws.
  const r = await readRestoreFile(text.replace(/example\.invalid/g, '192.0.2.200'));
  t.ok('errors' in r || r.services.length > 0);
});

/** What a restore file read says, with its line numbers mapped by `line` (to compare a file with its interleaved twin). */
function fileView(f: Awaited<ReturnType<typeof readRestoreFile>>, line: (n: number) => number): unknown {
  return 'errors' in f
    ? f.errors.map((e) => e.replace(/line (\d+)/g, (_m, n: string) => `line ${line(Number(n))}`))
    : f.services.map((s) => ({
        key: s.key,
        family: s.family,
        config: s.config,
        line: line(f.lineOf(s.key) as number),
        destinations: s.destinations.map((d) => ({ address: d.key.address, port: d.key.port, family: d.family, config: d.config, line: line(f.lineOf(d.key) as number) })),
      }));
}

/**
 * A restore file of blocks: a service, then real-server lines that differ only
 * in their address — as ipvsadm-save writes them; `uniform`, blocks that
 * mostly repeat the block before but for the addresses (a service's first
 * real server then reads as the last one before); `messy`, with every kind
 * of address text, bad values, comments, blank lines, repeated services and
 * servers before their service.
 */
function restoreFileLines(seed: number, mode: 'clean' | 'uniform' | 'messy'): string[] {
  const messy = mode === 'messy';
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const octet = (): number => Math.floor(r() * 256);
  const hex = (): string => Math.floor(r() * 65536).toString(16);
  const odd = (): string =>
    pick([
      () => `198.51.100.${octet()}:${pick(['80', '8080', '0', '65535', '65536', 'http', '08', '+5', ''])}`,
      () => `198.51.100.${octet()}`,
      () => `[2001:db8::${hex()}]:${pick(['80', '443', '70000'])}`,
      () => `2001:db8::${hex()}`,
      () => `::ffff:198.51.100.${octet()}`,
      () => pick(['0x7f.1:80', '010.0.0.1:80', '[198.51.100.7]:80', '198.51.100.7:80:81', '1234', '#x', 'ipvsadm', 'localhost:80', '[2001:db8::1', '256.1.1.1:80']),
      // Near the plain dotted quad that is read without the grammar: leading zeros (octal to inet_aton), short forms, long or padded ports.
      () => pick(['198.51.100.07:80', '198.51.100.0:80', '198.051.100.7', '198.51.100:80', '198.51.100.7.1:80', '198.51.100.7:0080', '198.51.100.7:000080', '198.51.100.7:99999', '198.51.100.7:', '198.51.100.7:8a', '1.2.3.4:65535', '0.0.0.0:1', '198.51.100.1000:80']),
    ])();
  // Service texts near the plain ones an -A line is read as the one before with.
  const oddService = (block: number): string =>
    pick([`192.0.2.${block % 256}`, `192.0.2.0${block % 10}:80`, `192.0.2.${block % 256}:0080`, `192.0.2.${block % 256}:65536`, `192.0.2.${block % 256}:http`, `[192.0.2.${block % 256}]:80`, '0x7f.1:80', `192.0.2.${block % 256}:`, 'localhost:80']);
  const lines: string[] = [];
  let prev: { word: string; fwd: string; weight: string; extra: string[]; sched: string; lead: string; end: string } | undefined;
  for (let block = 0; block < 400; block++) {
    const repeat = mode !== 'clean' && prev !== undefined && r() < (mode === 'uniform' ? 0.85 : 0.5);
    const fw = !repeat && r() < 0.2;
    const v6 = !repeat && !fw && r() < (mode === 'uniform' ? 0.1 : 0.3);
    const port = messy ? pick(['80', '0', '443']) : String(1000 + block);
    const word = repeat && prev ? prev.word : pick(['-t', '-u', '--sctp-service', ...(mode === 'uniform' ? ['-t', '-t'] : [])]);
    const address = messy && r() < 0.15 ? oddService(block) : v6 ? `[2001:db8::${block}]:${port}` : `192.0.2.${block % 256}:${port}`;
    const svc = fw ? ['-f', messy ? pick(['7', '-1294967296']) : String(block + 1)] : [word, address];
    if (fw && (messy ? r() < 0.3 : block % 2 === 0)) svc.push('-6');
    const family6 = v6 || svc[2] === '-6';
    const server = (k: number): string =>
      messy && r() < 0.5 ? odd() : family6 ? `[2001:db8:1::${k}]:${pick(['80', '8080'])}` : `198.51.100.${k}${pick([':80', ':8080', ''])}`;
    const lead = repeat && prev ? prev.lead : messy ? pick(['', 'ipvsadm ', ' ']) : '';
    const head = `${lead}-a ${svc.join(' ')} -r `;
    const fwd = repeat && prev ? prev.fwd : messy ? pick(['-g', '-m', '-i', '--masquerading']) : pick(['-g', '-m', '-i']);
    const weight = repeat && prev ? prev.weight : messy ? pick(['1', '0', '7', '2147483648']) : pick(['1', '0', '7', '65535']);
    const opts = [fwd, '-w', weight];
    const extra = repeat && prev ? prev.extra : [];
    if (!repeat) {
      if (r() < 0.2) extra.push('-x', '10', '-y', messy ? pick(['5', '20']) : '5');
      if (fwd === '-i' && r() < 0.3) extra.push('--tun-type', 'gue', '--tun-port', '6080');
    }
    opts.push(...extra);
    const end = repeat && prev ? prev.end : messy ? pick(['', '', ' ', '\r', ' # a comment']) : '';
    const tail = ` ${opts.join(' ')}${end}`;
    const sched = repeat && prev ? prev.sched : mode === 'uniform' ? pick(['rr', 'wlc']) : 'rr';
    const serviceLine = `-A ${svc.join(' ')} -s ${sched}${port === '0' ? ' -p' : ''}${messy && r() < 0.1 ? pick([' -o', ' -p 60 -M 255.255.255.0', ' # x']) : ''}`;
    prev = { word, fwd, weight, extra, sched, lead, end };
    const early = messy && r() < 0.1; // real servers before their service
    if (!early) lines.push(serviceLine);
    if (messy && r() < 0.05) lines.push(serviceLine); // a service defined twice
    const count = 1 + Math.floor(r() * 12);
    for (let k = 0; k < count; k++) {
      if (messy && r() < 0.05) lines.push('');
      else if (messy && r() < 0.1 && k > 0) lines.push(lines[lines.length - 1] as string); // a duplicate
      else lines.push(`${head}${server(k + 2)}${tail}`);
    }
    if (early) lines.push(serviceLine);
  }
  return lines;
}

t.test('lines read as a line before with another address give what the grammar gives', async (t) => {
  const total = (c: ReturnType<typeof shapeLineCounts>): number => c.servers + c.firstServers + c.services;
  for (const mode of ['clean', 'uniform', 'messy'] as const) {
    const lines = restoreFileLines(mode === 'messy' ? 424242 : mode === 'uniform' ? 77 : 2026, mode);
    // With a blank line between every two lines no line has the shape of the
    // one before: every line goes through the grammar. Line numbers map back.
    const start = shapeLineCounts();
    const quick = await readRestoreFile(lines.join('\n'));
    const mid = shapeLineCounts();
    const slow = await readRestoreFile(lines.join('\n\n'));
    t.equal(total(shapeLineCounts()), total(mid), `${mode}: the interleaved file takes no line the short way`);
    const taken = { servers: mid.servers - start.servers, firstServers: mid.firstServers - start.firstServers, services: mid.services - start.services };
    const wanted = fileView(slow, (n) => (n + 1) / 2);
    t.same(fileView(quick, (n) => n), wanted, `${mode} file: the same rules, errors and lines (${JSON.stringify(taken)} of ${lines.length} lines the short way)`);
    const servers = lines.filter((l) => l.startsWith('-a')).length;
    const services = lines.length - servers;
    if (mode === 'messy') {
      t.ok('errors' in quick && quick.errors.length > 100, 'the messy file has errors of every line kind to compare');
      t.ok(taken.servers > 200 && taken.services > 10 && taken.firstServers > 0, 'and still lines of every kind took the short way');
    } else {
      t.notOk('errors' in quick, `the ${mode} file is a rule set`);
      t.equal(taken.servers, servers - services, "every real-server line but each service's first took the short way");
      if (mode === 'uniform') {
        t.ok(taken.services > 250, `most -A lines read as the one before (${taken.services} of ${services})`);
        t.ok(taken.firstServers > 200, `most services' first real server read as the last one before (${taken.firstServers} of ${services})`);
      }
    }
  }
});

t.test('each rule of the short ways, on files made to break it', async (t) => {
  // Each file's second block is read the short way (as the first block's
  // lines with other addresses) where that is right, and must give what the
  // grammar gives (the same file with a blank line between its lines).
  const cases: { name: string; lines: string[]; taken: Partial<ReturnType<typeof shapeLineCounts>> }[] = [
    {
      name: 'a service without a port (non-persistent: refused)',
      lines: ['-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -t 192.0.2.2 -s rr', '-a -t 192.0.2.2 -r 198.51.100.3:80 -m'],
      taken: { services: 0, firstServers: 0 },
    },
    {
      name: 'a service with port 0 (non-persistent: refused)',
      lines: ['-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -t 192.0.2.2:0 -s rr', '-a -t 192.0.2.2:0 -r 198.51.100.3:80 -m'],
      taken: { services: 0, firstServers: 0 },
    },
    {
      name: "real servers naming the service by another protocol (a service the file lacks)",
      lines: ['-A -u 192.0.2.1:80 -s rr', '-a -u 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -u 192.0.2.2:80 -s rr', '-a -t 192.0.2.2:80 -r 198.51.100.3:80 -m', '-A -t 192.0.2.3:80 -s rr', '-a -u 192.0.2.3:80 -r 198.51.100.4:80 -m'],
      taken: { services: 1, firstServers: 0 },
    },
    {
      name: "a service's real servers read as the last of the service before, naming it by another protocol (a service the file lacks)",
      lines: ['-A -u 192.0.2.1:80 -s rr', '-a -u 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -t 192.0.2.2:80 -s rr', '-a -u 192.0.2.2:80 -r 198.51.100.3:80 -m', '-a -u 192.0.2.2:80 -r 198.51.100.4:80 -m'],
      taken: { services: 0, firstServers: 1, servers: 1 },
    },
    {
      name: 'real servers taking the service port (no port, direct routing, tunnel) and a mixed-family tunnel',
      lines: [
        '-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2 -m', '-a -t 192.0.2.1:80 -r 198.51.100.3 -m',
        '-A -t 192.0.2.2:81 -s rr', '-a -t 192.0.2.2:81 -r 198.51.100.2 -m', '-a -t 192.0.2.2:81 -r 198.51.100.4 -m',
        '-A -t 192.0.2.3:82 -s rr', '-a -t 192.0.2.3:82 -r 198.51.100.2:9 -g', '-a -t 192.0.2.3:82 -r 198.51.100.5:9 -g',
        '-A -t 192.0.2.4:83 -s rr', '-a -t 192.0.2.4:83 -r 198.51.100.2:9 -g', '-a -t 192.0.2.4:83 -r [2001:db8::1]:9 -i',
        '-A -t 192.0.2.5:84 -s rr', '-a -t 192.0.2.5:84 -r [2001:db8::2]:9 -i', '-a -t 192.0.2.5:84 -r [2001:db8::3]:9 -i',
      ],
      taken: { services: 4, firstServers: 3 },
    },
    {
      name: 'real servers of a service, first read as the service before, then another way (order kept)',
      lines: ['-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -t 192.0.2.2:80 -s rr', '-a -t 192.0.2.2:80 -r 198.51.100.3:80 -m', '-a -t 192.0.2.2:80 -r 198.51.100.4:80 -g', '-a -t 192.0.2.2:80 -r 198.51.100.5:80 -m'],
      taken: { services: 1, firstServers: 1 },
    },
    {
      name: 'after a service, a real server of another service, then one whose -r is -R (not an option here)',
      lines: ['-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -t 192.0.2.2:80 -s rr', '-a -t 192.0.2.9:80 -r 198.51.100.3:80 -m', '-A -t 192.0.2.3:80 -s rr', '-a -t 192.0.2.3:80 -R 198.51.100.3:80 -m', '-A -t 192.0.2.4:80 -s rr', '-a -t 192.0.2.4:80 -r 198.51.100.3:80 -m'],
      taken: { services: 3, firstServers: 1 },
    },
    {
      name: 'a service defined twice, its real servers after both',
      lines: ['-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -t 192.0.2.2:80 -s rr', '-A -t 192.0.2.2:80 -s rr', '-a -t 192.0.2.2:80 -r 198.51.100.3:80 -m', '-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.4:80 -m'],
      taken: { services: 3, firstServers: 2 },
    },
    {
      name: 'real servers before their service',
      lines: ['-a -t 192.0.2.2:80 -r 198.51.100.3:80 -m', '-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m', '-A -t 192.0.2.2:80 -s rr', '-a -t 192.0.2.2:80 -r 198.51.100.4:80 -m'],
      taken: { services: 1, firstServers: 2 },
    },
    {
      name: 'one-packet on TCP (refused) and an IPv6 service after an IPv4 one',
      lines: ['-A -t 192.0.2.1:80 -s rr -o', '-A -t 192.0.2.2:80 -s rr -o', '-A -u 192.0.2.1:80 -s rr -o', '-A -u 192.0.2.2:80 -s rr -o', '-A -u [2001:db8::1]:80 -s rr -o'],
      taken: { services: 1 },
    },
  ];
  for (const c of cases) {
    const before = shapeLineCounts();
    const quick = await readRestoreFile(c.lines.join('\n'));
    const after = shapeLineCounts();
    const slow = await readRestoreFile(c.lines.join('\n\n'));
    t.same(fileView(quick, (n) => n), fileView(slow, (n) => (n + 1) / 2), c.name);
    for (const [k, v] of Object.entries(c.taken)) {
      const kind = k as keyof typeof after;
      t.equal(after[kind] - before[kind], v, `${c.name}: ${k} read the short way`);
    }
  }
});

t.test('service and real-server texts split as parse_service splits them (quirks ipvsadm 1.31 has, checked against it in test/kernel/cli/errors.ts)', async (t) => {
  forgetParsedAddresses();
  const hex = (b: Buffer | undefined): string | undefined => b?.toString('hex').replace(/(00)+$/, '');
  const svc = (...w: string[]): unknown => {
    const e = parseCommand(['ipvs', ...w]) as { svc: { af: number; port: number; addr: Buffer }; dest: { port: number; addr?: Buffer } };
    return { af: e.svc.af, port: e.svc.port, addr: hex(e.svc.addr), destPort: e.dest.port, dest: hex(e.dest.addr) };
  };
  const refused = (...w: string[]): string => {
    try {
      parseCommand(['ipvs', ...w]);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  // `[IPv4]:PORT` drops the bracket's port: the service has none, a real server takes the service's.
  t.equal(refused('-A', '-t', '[192.0.2.4]:80'), 'Zero port specified for non-persistent service');
  t.match(svc('-A', '-t', '[192.0.2.4]:80', '-p'), { af: 2, port: 0, addr: 'c0000204' });
  t.match(svc('-a', '-t', '192.0.2.4:80', '-r', '[198.51.100.7]:8080'), { port: 80, destPort: 80, dest: 'c6336407' });
  // A bare IPv6 text is all address: `2001:db8::1:80` has no port.
  t.match(svc('-A', '-t', '2001:db8::1:80', '-p'), { af: 10, port: 0, addr: '20010db8000000000000000000010080' });
  t.match(svc('-A', '-t', '[2001:db8::1]:80'), { af: 10, port: 80, addr: '20010db8000000000000000000000001' });
  t.equal(refused('-A', '-t', '[2001:db8::1]'), 'illegal virtual server address[:port] specified');
  t.equal(refused('-A', '-t', '[2001:db8::1'), 'illegal virtual server address[:port] specified');
  t.equal(refused('-A', '-t', '192.0.2.4:65536'), 'illegal virtual server address[:port] specified');
  t.equal(refused('-A', '-t', '192.0.2.4'), 'Zero port specified for non-persistent service');
  // Split at the last colon: the rest is a host name to look up.
  t.same(outcome(() => parseCommand(['ipvs', '-A', '-t', '192.0.2.4:80:81'])), { lookup: '192.0.2.4:80' });
  // Remembered numeric texts give the same answers the second time.
  t.match(svc('-A', '-t', '[2001:db8::1]:80'), { af: 10, port: 80 });
  t.equal(refused('-A', '-t', '[192.0.2.4]:80'), 'Zero port specified for non-persistent service');
});
