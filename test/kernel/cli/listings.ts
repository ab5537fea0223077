/**
 * Every listing and save view of `ipvs`, byte for byte against ipvsadm's,
 * on the corpus (test/kernel/cli-corpus.ts) loaded by ipvsadm itself.
 */
import t, { type Test } from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withNetns, type Netns } from '../harness';
import { IPVS, asIpvs, shown } from '../cli-helpers';
import { corpus } from '../cli-corpus';


/** Runs a read-only view with both tools in the same namespace; `wrap` prefixes both (e.g. a bind mount). */
async function same(t: Test, ns: Netns, args: string, wrap = '', ipvsArgs = args, admCmd = `ipvsadm ${args}`): Promise<void> {
  const a = await ns.exec(`${wrap}${admCmd}`);
  const b = await ns.exec(`${wrap}${IPVS} ${ipvsArgs}`);
  const want = shown(a);
  want.stdout = asIpvs(want.stdout);
  want.stderr = asIpvs(want.stderr);
  t.same(shown(b), want, `ipvs ${ipvsArgs}`);
}

const VIEWS = [
  '',
  '-L',
  '-L -n',
  '-Ln',
  '-l -n',
  '-nL',
  '--list --numeric',
  '-L -n --stats',
  '-L -n --stats --exact',
  '-L -n --rate',
  '-L -n --rate -X',
  '-L -n --thresholds',
  '-L -n --persistent-conn',
  '-L -n --tun-info',
  '-L -n --nosort',
  '-L -n --nosort --stats',
  '-L -n --nosort --tun-info',
  '-L -n --sort',
  '-L --stats',
  '-L --thresholds',
  '-L --tun-info',
  '-L --persistent-conn',
  '-S',
  '-S -n',
  '--save --numeric',
  '-L --timeout',
  '-L --daemon',
  '-L -n -c',
  '-L -c',
  '-L -c --persistent-conn',
];

/** The service options of every -A line of the corpus (to list each service alone). */
function corpusServices(): string[] {
  return corpus()
    .filter((l) => l.startsWith('-A '))
    .map((l) => {
      const m = /^-A (-[tuf] \S+(?: -6)?|--sctp-service \S+)/.exec(l);
      return (m as RegExpExecArray)[1] as string;
    });
}

t.test('the corpus loads into ipvsadm without a single refusal', async (t) => {
  await withNetns(async (ns) => {
    const r = await ns.exec('ipvsadm -R', `${corpus().join('\n')}\n`);
    t.same({ code: r.code, stderr: r.stderr }, { code: 0, stderr: '' });
    const saved = await ns.sh('ipvsadm -S -n');
    t.equal(saved.split('\n').filter((l) => l.startsWith('-a')).length, corpus().filter((l) => l.startsWith('-a')).length, 'every real server is there');
  });
});

t.test('every listing and save view, byte for byte (numeric and with names)', { timeout: 30 * 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-names-'));
  try {
    // Names for some corpus addresses, long ones too (ipvsadm cuts them at 28, 33 and 59 characters).
    writeFileSync(
      join(dir, 'hosts'),
      [
        '203.0.113.10 www.example.test',
        '198.51.100.2 real-one-with-a-rather-long-host-name-that-is-cut.example.test',
        '198.51.100.9 r9',
        '2001:db8::1 six.example.test',
        '2001:db8:1::2 sixreal.example.test',
        '192.0.2.200 tunnel-end.example.test',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'resolv.conf'), '');
    // Inside `ip netns exec` mounts are private to the command: the guest's /etc/hosts is untouched.
    const names = `mount --bind ${dir}/hosts /etc/hosts && mount --bind ${dir}/resolv.conf /etc/resolv.conf && `;
    await withNetns(async (ns) => {
      await ns.exec('ipvsadm -R', `${corpus().join('\n')}\n`);
      await ns.sh('ipvsadm --set 1000 130 310');
      for (const v of VIEWS) await same(t, ns, v, names);
      for (const svc of corpusServices()) {
        await same(t, ns, `-L -n ${svc}`);
        await same(t, ns, `-L ${svc} --stats`, names);
        await same(t, ns, `-L -n ${svc} --tun-info --nosort`);
      }
      await same(t, ns, '-n', names, 'save -n', 'ipvsadm-save -n');
      await same(t, ns, '', names, 'save', 'ipvsadm-save');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.test('sync daemons and timeouts', async (t) => {
  await withNetns(async (ns) => {
    await same(t, ns, '-L --daemon');
    await ns.sh('ipvsadm --start-daemon master --mcast-interface dummy0 --syncid 7 --sync-maxlen 1200 --mcast-group 239.1.2.3 --mcast-port 9000 --mcast-ttl 3');
    await same(t, ns, '-L --daemon');
    await ns.sh('ipvsadm --start-daemon backup --mcast-interface dummy0 --syncid 200 --mcast-group ff02::1:3');
    await same(t, ns, '-L --daemon');
    await same(t, ns, '-L --timeout');
    await ns.sh('ipvsadm --set 7 8 9');
    await same(t, ns, '-L --timeout');
  });
});
