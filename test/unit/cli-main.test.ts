/**
 * The `ipvs` command as a process, on the host (no IPVS here): help,
 * version, usage errors (checked before IPVS is opened), and the "no IPVS"
 * path compared with the installed ipvsadm, which has no IPVS either.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const BIN = join(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

function ipvs(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('help answers: grammar, subcommands and examples; exit 0 on stdout', async (t) => {
  for (const args of [['-h'], ['--help'], ['help']]) {
    const r = ipvs(args);
    t.equal(r.code, 0, args.join(' '));
    t.equal(r.stderr, '');
    for (const word of ['-A|-E virtual-service', 'ipvs restore', 'ipvs save', '--json', 'Direct routing', 'NAT', 'Tunnel', 'Persistence', 'Firewall mark']) {
      t.ok(r.stdout.includes(word), `${args.join(' ')} mentions ${word}`);
    }
  }
  t.match(ipvs(['save', '--help']).stdout, /--full/);
  t.match(ipvs(['restore', '--help']).stdout, /--dry-run/);
  t.match(ipvs(['-v']).stdout, /^ipvs v\d+\.\d+\.\d+ \(ipvsadm v1\.31 compatible, IPVS v1\.2\.1\)\n$/);
});

t.test('usage errors need no kernel: message and status', async (t) => {
  t.same(ipvs(['-A']), { code: 2, stdout: '', stderr: "You need to supply the 'service-address' option for the 'add-service' command\n" });
  t.same(ipvs(['--bogus']), { code: 255, stdout: '', stderr: "Try `ipvs -h' or 'ipvs --help' for more information.\n" });
  t.same(ipvs(['-L', '--bogus']), { code: 255, stdout: '', stderr: '--bogus: unknown option\n' });
  t.same(ipvs(['save', '--bogus']).code, 2);
  t.same(ipvs(['restore', '--bogus']).code, 2);
});

t.test('restore checks the file before it opens IPVS', async (t) => {
  const r = ipvs(['restore'], '-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.2 -w x\n');
  t.same(r, { code: 2, stdout: '', stderr: 'ipvs restore: line 2: illegal weight specified\nipvs restore: 1 error(s); nothing was changed\n' });
});

t.test('without IPVS: what ipvsadm says, after trying modprobe', { skip: !existsSync('/usr/sbin/ipvsadm') && 'ipvsadm is not installed' }, async (t) => {
  if (existsSync('/proc/net/ip_vs')) {
    t.pass('this host has IPVS: nothing to compare');
    return;
  }
  for (const args of [['-L', '-n'], ['-A', '-t', '192.0.2.1:80'], ['--set', '1', '2', '3']]) {
    const a = spawnSync('/usr/sbin/ipvsadm', args, { encoding: 'utf8' });
    const b = ipvs(args);
    t.same(b, { code: a.status, stdout: a.stdout, stderr: a.stderr }, args.join(' '));
  }
});
