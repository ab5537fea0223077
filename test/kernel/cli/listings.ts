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
      await same(t, ns, '-L -n --stats', '', 'list -n --stats');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** What `ipvsadm -S -n` says, one comparable line per service and real server. */
function savedTuples(save: string): string[] {
  const svc = (s: string): string => {
    const f = /^-f (-?\d+)( -6)?$/.exec(s);
    if (f) return `fwmark ${(Number(f[1]) + 4294967296) % 4294967296} ${f[2] ? 'ipv6' : 'ipv4'}`;
    const m = /^(-t|-u|--sctp-service) (\S+)$/.exec(s) as RegExpExecArray;
    return `${{ '-t': 'tcp', '-u': 'udp', '--sctp-service': 'sctp' }[m[1] as string]} ${m[2]}`;
  };
  return save
    .trimEnd()
    .split('\n')
    .map((l) => {
      const a = /^-A (.+?) -s (\S+)(?: -p (\d+))?/.exec(l);
      if (a) return `service ${svc(a[1] as string)} ${a[2]} ${a[3] ?? '-'}`;
      const d = /^-a (.+?) -r (\S+) (-[gmi]) -w (\d+)/.exec(l) as RegExpExecArray;
      return `server ${svc(d[1] as string)} ${d[2]} ${d[3]} ${d[4]}`;
    });
}

/** The same, from `ipvs -L -n --json`. */
function jsonTuples(text: string): string[] {
  interface J {
    fwmark?: number;
    protocol?: string;
    address?: string;
    port?: number;
    family: string;
    scheduler: string;
    persistent: boolean;
    timeout: number;
    destinations: { address: string; port: number; forwarding: string; weight: number }[];
  }
  const ap = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
  const out: string[] = [];
  for (const s of (JSON.parse(text) as { services: J[] }).services) {
    const id = s.fwmark !== undefined ? `fwmark ${s.fwmark} ${s.family}` : `${s.protocol} ${ap(s.address as string, s.port as number)}`;
    out.push(`service ${id} ${s.scheduler} ${s.persistent ? s.timeout : '-'}`);
    for (const d of s.destinations) {
      const sw = d.forwarding === 'masq' ? '-m' : d.forwarding === 'tunnel' ? '-i' : '-g';
      out.push(`server ${id} ${ap(d.address, d.port)} ${sw} ${d.weight}`);
    }
  }
  return out;
}

t.test('--json says what the text views say', async (t) => {
  await withNetns(async (ns) => {
    await ns.exec('ipvsadm -R', `${corpus().join('\n')}\n`);
    const json = await ns.exec(`${IPVS} -L -n --json`);
    t.equal(json.code, 0);
    t.same(jsonTuples(json.stdout), savedTuples(await ns.sh('ipvsadm -S -n')), 'every service and real server, in ipvsadm\'s order');
    const one = JSON.parse(await ns.sh(`${IPVS} -L -n -t 203.0.113.80:80 --json`)) as { services: { destinations: unknown[] }[] };
    t.equal(one.services.length, 1, 'one service');
    t.equal(one.services[0]?.destinations.length, 16, 'with its real servers');
    const tunnels = JSON.parse(await ns.sh(`${IPVS} -L -n -t 203.0.113.80:80 --json`)) as { services: { destinations: { tunnel: { type: string; port: number; csum: boolean; remcsum: boolean } | null }[] }[] };
    const infos = (tunnels.services[0]?.destinations ?? []).map((d) => (d.tunnel ? `${d.tunnel.type}:${d.tunnel.port}:${d.tunnel.csum}:${d.tunnel.remcsum}` : 'n/a'));
    const text = (await ns.sh('ipvsadm -L -n -t 203.0.113.80:80 --tun-info')).split('\n').slice(3, -1);
    const fromText = text.map((l) => {
      const info = l.slice(42, 55).trim();
      const m = /^(ipip)|^(gue):(\d+):(\S+)|^(gre):(\S+)/.exec(info);
      if (!m) return 'n/a';
      if (m[1]) return 'ipip:0:false:false';
      const flag = m[4] ?? m[6];
      const type = m[2] ?? m[5];
      return `${type}:${m[3] ?? 0}:${flag === '+c'}:${flag === 'r+c'}`;
    });
    t.same(infos, fromText, 'tunnel settings as --tun-info shows them');
  });
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
    t.same(JSON.parse(await ns.sh(`${IPVS} -L --timeout --json`)), { tcp: 7, tcpFin: 8, udp: 9 }, '--timeout --json');
    const daemons = (JSON.parse(await ns.sh(`${IPVS} -L --daemon --json`)) as { daemons: Record<string, unknown>[] }).daemons;
    const text = (await ns.sh('ipvsadm -L --daemon')).trimEnd().split('\n');
    t.equal(daemons.length, text.length, 'as many daemons as ipvsadm lists');
    daemons.forEach((d, i) => {
      t.equal(`${d.state} sync daemon (mcast=${d.interface}, syncid=${d.syncId}, maxlen=${d.maxLen}, group=${d.group}, port=${d.port}, ttl=${d.ttl})`, text[i], `daemon ${i}`);
    });
  });
});
