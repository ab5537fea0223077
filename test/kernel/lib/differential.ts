/**
 * Differential tests against ipvsadm, both directions, on a generated corpus
 * of rule sets (test/kernel/corpus.ts) covering every protocol, family,
 * scheduler, scheduler flag, persistence setting, the sip engine, one-packet
 * scheduling, every forwarding method, tunnel type and checksum option,
 * weights from 0 to 2^31-1, thresholds and mixed-family tunnels.
 *
 * For each rule set, namespace A gets it from the library and namespace B
 * from `ipvsadm -R`. Then:
 *  (a) ipvsadm's own views of A and B are identical (`-S -n`, `-Ln`,
 *      `--thresholds`, `--tun-info`, `--persistent-conn`), and so are the
 *      kernel's raw dumps of both (the kernel holds byte-identical state);
 *  (b) the library reads B, which ipvsadm wrote, back as exactly the rule
 *      set (`rules()`, `snapshot()`, `getService`, `listDestinations`).
 * Plus what a rule set cannot show: local forwarding, edits that keep what
 * they do not name, sync daemons, timeouts and info.
 */
import t from 'tap';
import {
  serviceKeyText,
  type Destination,
  type DestinationRule,
  type Operation,
  type ServiceEntry,
  type ServiceKey,
  type ServiceRule,
} from '../../../src/index';
import { serviceKeyAttrs } from '../../../src/ipvs/codec';
import { normalizeServiceKey } from '../../../src/ipvs/codec';
import { coverage, generateRuleSet, ipvsadmCommands, requiredCoverage } from '../corpus';
import { withNetns, type Netns } from '../harness';
import { IPVS_CMD, RawIpvs } from '../raw';

const SEEDS = [11, 12, 13, 14, 15, 16, 17, 18];
const SERVICES_PER_SET = 14;
const LISTINGS = ['ipvsadm -S -n', 'ipvsadm -Ln', 'ipvsadm -Ln --thresholds', 'ipvsadm -Ln --tun-info', 'ipvsadm -Ln --persistent-conn'];

const destId = (d: { key: { address: string; port: number } }): string => `${d.key.address}|${d.key.port}`;
const byText = <T>(f: (x: T) => string) => (a: T, b: T): number => (f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0);

/** Rules in a canonical order, without anything but identity and configuration. */
function canonical(rules: readonly { key: ServiceKey; family: string; config: object; destinations: readonly DestinationRule[] }[]): ServiceRule[] {
  return rules
    .map((s) => ({
      key: s.key,
      family: s.family,
      config: s.config,
      destinations: s.destinations.map((d) => ({ key: d.key, family: d.family, config: d.config })).sort(byText(destId)),
    }) as ServiceRule)
    .sort(byText((s: ServiceRule) => serviceKeyText(s.key)));
}

/** Loads a rule set through the library: one bulk apply, or one call per object. */
async function loadWithLibrary(t: tap.Test, ns: Netns, set: readonly ServiceRule[], mode: 'apply' | 'calls'): Promise<void> {
  if (mode === 'apply') {
    const ops: Operation[] = [];
    for (const s of set) {
      ops.push({ type: 'add-service', service: s.key, config: s.config });
      for (const d of s.destinations) ops.push({ type: 'add-destination', service: s.key, destination: d.key, config: d.config });
    }
    const r = await ns.client.apply(ops);
    t.same(r.failures.map((f) => `#${f.index}: ${f.error.message}`), [], `apply: all ${ops.length} operations applied`);
    return;
  }
  for (const s of set) {
    await ns.client.addService(s.key, s.config);
    for (const d of s.destinations) await ns.client.addDestination(s.key, d.key, d.config);
  }
}

/** The kernel's raw dump payloads (everything after the netlink header), as sorted hex. */
async function rawState(ns: Netns, keys: readonly ServiceKey[]): Promise<{ services: string[]; destinations: string[][] }> {
  const raw = await RawIpvs.open(ns.path);
  try {
    const hex = (m: { buf: Buffer; payload: number; end: number }): string => m.buf.subarray(m.payload, m.end).toString('hex');
    const services = (await raw.dump(IPVS_CMD.GET_SERVICE, {})).map(hex).sort();
    const destinations: string[][] = [];
    for (const k of keys) destinations.push((await raw.dump(IPVS_CMD.GET_DEST, { service: serviceKeyAttrs(normalizeServiceKey(k)) })).map(hex).sort());
    return { services, destinations };
  } finally {
    raw.close();
  }
}

t.test('the corpus covers every feature', async (t) => {
  const seen = coverage(SEEDS.map((s) => generateRuleSet(s, SERVICES_PER_SET)));
  const missing = requiredCoverage().filter((f) => !seen.has(f));
  t.same(missing, [], `the ${SEEDS.length} rule sets cover all ${requiredCoverage().length} features`);
});

for (const seed of SEEDS) {
  const mode = seed % 2 === 0 ? 'apply' : 'calls';
  t.test(`rule set seed ${seed} (library via ${mode}) against ipvsadm -R`, async (t) => {
    const set = generateRuleSet(seed, SERVICES_PER_SET);
    const expected = canonical(set);
    const script = `${ipvsadmCommands(set).join('\n')}\n`;
    await withNetns(async (a) => {
      await withNetns(async (b) => {
        const restore = await b.exec('ipvsadm -R', script);
        t.same([restore.code, restore.stderr], [0, ''], 'ipvsadm -R took every line');
        await loadWithLibrary(t, a, set, mode);

        // (a) What the library wrote, ipvsadm shows exactly as what ipvsadm wrote.
        for (const cmd of LISTINGS) {
          const [fromLib, fromAdm] = [await a.sh(cmd), await b.sh(cmd)];
          t.equal(fromLib, fromAdm, `${cmd}: identical`);
        }
        const saved = await b.sh('ipvsadm -S -n');
        t.equal(saved.split('\n').filter(Boolean).length, set.length + set.reduce((n, s) => n + s.destinations.length, 0), 'ipvsadm -S shows every service and real server');
        const keys = set.map((s) => s.key);
        t.same(await rawState(a, keys), await rawState(b, keys), 'the kernel holds byte-identical state in both namespaces (raw dumps)');

        // (b) What ipvsadm wrote, the library reads back exactly.
        t.same(canonical(await b.client.rules()), expected, 'rules() of what ipvsadm wrote == the rule set');
        const snap: ServiceEntry[] = await b.client.snapshot();
        t.same(canonical(snap), expected, 'snapshot() configuration == the rule set');
        const zero = { conns: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n };
        const observed = snap.flatMap((s) => [s as { stats: object; statsSource: string }, ...(s.destinations as Destination[])]);
        t.ok(
          observed.every((o) => o.statsSource === 'stats64' && JSON.stringify(o.stats, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) === JSON.stringify(zero, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))),
          'counters: 64-bit and zero everywhere',
        );
        t.ok(snap.every((s) => s.destinations.every((d) => d.activeConns === 0 && d.inactiveConns === 0 && d.persistentConns === 0)), 'no connections');
        for (const s of expected) {
          const got = await b.client.getService(s.key);
          t.same([got.key, got.family, got.config], [s.key, s.family, s.config], `getService(${serviceKeyText(s.key)})`);
          const dests = (await b.client.listDestinations(s.key)).map((d) => ({ key: d.key, family: d.family, config: d.config })).sort(byText(destId));
          t.same(dests, s.destinations, `listDestinations(${serviceKeyText(s.key)})`);
        }
        // And the library reads what it wrote itself the same way.
        t.same(canonical(await a.client.rules()), expected, 'rules() of what the library wrote == the rule set');
      });
    });
  });
}

t.test('local forwarding, which ipvsadm cannot ask for, reads back and lists as Local', async (t) => {
  await withNetns(async (ns) => {
    const vs = { protocol: 'tcp', address: '203.0.113.10', port: 80 } as const;
    await ns.client.addService(vs, { scheduler: 'rr' });
    await ns.client.addDestination(vs, { address: '198.51.100.1', port: 80 }, { forwarding: 'local' });
    await ns.client.addDestination(vs, { address: '192.0.2.1', port: 80 }, { forwarding: 'route' });
    const byAddr = Object.fromEntries((await ns.client.listDestinations(vs)).map((d) => [d.key.address, d.config.forwarding]));
    t.same(byAddr, { '198.51.100.1': 'local', '192.0.2.1': 'route' }, 'the kernel keeps local, and does not turn a local address routed server into local');
    t.match(await ns.sh('ipvsadm -Ln'), /-> 198\.51\.100\.1:80 +Local +1 /, 'ipvsadm lists it as Local');
    t.match(await ns.sh('ipvsadm -S -n'), '-a -t 203.0.113.10:80 -r 198.51.100.1:80 -g -w 1', 'and saves it as -g');
  });
});

t.test('edits keep what they do not name, on the kernel', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    const vs = { protocol: 'udp', address: '203.0.113.10', port: 5060 } as const;
    const rs = { address: '198.51.100.2', port: 5060 };
    await ns.sh('ipvsadm -A -u 203.0.113.10:5060 -s sh -b sh-fallback,sh-port -p 600 -M 255.255.255.0 --pe sip -o');
    await ns.sh('ipvsadm -a -u 203.0.113.10:5060 -r 198.51.100.2:5060 -i -w 3 -x 100 -y 10 --tun-type gue --tun-port 6080 --tun-remcsum');

    await c.editService(vs, { timeout: 100 });
    t.equal(
      await ns.sh('ipvsadm -S -n | grep -- "^-A"'),
      '-A -u 203.0.113.10:5060 -s sh -p 100 -M 255.255.255.0 --pe sip -o -b sh-fallback,sh-port\n',
      'editService({timeout}) keeps scheduler, flags, netmask, engine and one-packet',
    );
    await c.editService(vs, { scheduler: 'mh' });
    t.equal(
      await ns.sh('ipvsadm -S -n | grep -- "^-A"'),
      '-A -u 203.0.113.10:5060 -s mh -p 100 -M 255.255.255.0 --pe sip -o -b mh-fallback,mh-port\n',
      'a new scheduler takes the flag bits over (in its own names)',
    );
    await c.editService(vs, { persistenceEngine: undefined });
    t.notMatch(await ns.sh('ipvsadm -S -n'), /--pe/, 'naming the engine as undefined removes it');

    await c.editDestination(vs, rs, { weight: 7 });
    t.match(await ns.sh('ipvsadm -S -n'), '-a -u 203.0.113.10:5060 -r 198.51.100.2:5060 -i -w 7 --tun-type gue --tun-port 6080 --tun-remcsum\n', 'editDestination({weight}) keeps the tunnel');
    t.match(await ns.sh('ipvsadm -Ln --thresholds'), /-> 198\.51\.100\.2:5060 +100 +10 /, 'and the thresholds');

    // Why the merge matters: the kernel's own edit replaces the whole entry.
    await c.replaceDestination(vs, rs, { forwarding: 'tunnel', weight: 7, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false });
    t.match(await ns.sh('ipvsadm -S -n'), '-i -w 7 --tun-type ipip\n', 'a whole-entry replace resets the tunnel');
    await ns.sh('ipvsadm -E -u 203.0.113.10:5060 -s rr');
    t.equal(await ns.sh('ipvsadm -S -n | grep -- "^-A"'), '-A -u 203.0.113.10:5060 -s rr\n', "and ipvsadm's -E resets persistence, engine and flags");
  });
});

t.test('sync daemons both ways', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.startDaemon({ state: 'master', interface: 'dummy0', syncId: 200, maxLen: 1200, group: '239.0.0.9', port: 9000, ttl: 5 });
    t.equal(await ns.sh('ipvsadm -Ln --daemon'), 'master sync daemon (mcast=dummy0, syncid=200, maxlen=1200, group=239.0.0.9, port=9000, ttl=5)\n', 'what the library started, ipvsadm lists');
    await ns.sh('ipvsadm --start-daemon backup --mcast-interface dummy0 --syncid 7 --sync-maxlen 1500 --mcast-group ff02::9 --mcast-port 7000 --mcast-ttl 2');
    t.same(
      await c.listDaemons(),
      [
        { state: 'master', interface: 'dummy0', syncId: 200, maxLen: 1200, group: '239.0.0.9', port: 9000, ttl: 5 },
        { state: 'backup', interface: 'dummy0', syncId: 7, maxLen: 1500, group: 'ff02::9', port: 7000, ttl: 2 },
      ],
      'what ipvsadm started, the library reads (master first)',
    );
    await c.stopDaemon('backup');
    await ns.sh('ipvsadm --stop-daemon master');
    t.same(await c.listDaemons(), [], 'both stopped');
    await ns.sh('ipvsadm --start-daemon master --mcast-interface dummy0');
    t.same(await c.listDaemons(), [{ state: 'master', interface: 'dummy0', syncId: 0, maxLen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 }], "the kernel's defaults, as the library reads them");
  });
});

t.test('timeouts and info both ways', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    t.same(await c.getTimeouts(), { tcp: 900, tcpFin: 120, udp: 300 }, 'kernel defaults');
    await c.setTimeouts({ tcp: 1000, udp: 77 });
    t.equal(await ns.sh('ipvsadm -Ln --timeout'), 'Timeout (tcp tcpfin udp): 1000 120 77\n', 'a partial set keeps tcpfin (0 means keep)');
    await ns.sh('ipvsadm --set 11 22 33');
    t.same(await c.getTimeouts(), { tcp: 11, tcpFin: 22, udp: 33 }, 'what ipvsadm set, the library reads');
    const info = await c.info();
    const head = (await ns.sh('ipvsadm -Ln')).split('\n')[0];
    t.equal(head, `IP Virtual Server version ${info.version} (size=${info.connTableSize})`, 'info() agrees with ipvsadm');
    t.same([info.versionCode, info.connTableSize], [0x010201, 4096], 'IPVS 1.2.1, 4096 buckets');
  });
});
