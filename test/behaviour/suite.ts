/**
 * The client API's behaviour, written once and run against the fake kernel
 * and against Linux (see env.ts). Every expectation here holds on both; a
 * test that only one of them passes is a bug in the fake or in the library.
 */
import {
  DaemonNotRunningError,
  DaemonRunningError,
  DestinationExistsError,
  DestinationNotFoundError,
  InvalidArgumentError,
  InvalidOperationsError,
  NoSuchDeviceError,
  SchedulerNotFoundError,
  ServiceExistsError,
  ServiceNotFoundError,
  completeServiceConfig,
  serviceKeyText,
  type DestinationInput,
  type IpvsClient,
  type Operation,
  type ServiceKey,
  type ServiceRule,
} from '../../src/index';
import { IN_TREE_SCHEDULERS } from '../../src/testing';
import type { BehaviourEnv } from './env';

const WEB: ServiceKey = { protocol: 'tcp', address: '203.0.113.10', port: 80 };
const DNS: ServiceKey = { protocol: 'udp', address: '203.0.113.10', port: 53 };
const WEB6: ServiceKey = { protocol: 'tcp', address: '2001:db8::10', port: 443 };
const MARK: ServiceKey = { fwmark: 7, family: 'ipv4' };
const MARK6: ServiceKey = { fwmark: 7, family: 'ipv6' };
const R1 = { address: '198.51.100.2', port: 80 };
const R2 = { address: '198.51.100.3', port: 80 };
const R3 = { address: '192.0.2.4', port: 80 };
const R6 = { address: '2001:db8:1::5', port: 80 };

const byKey = <T extends { key: ServiceKey }>(list: T[]): T[] =>
  [...list].sort((a, b) => serviceKeyText(a.key).localeCompare(serviceKeyText(b.key)));

/** Rejects with `cls`, and returns the error for more checks. */
async function rejects<E extends Error>(t: tap.Test, p: Promise<unknown>, cls: new (...args: never[]) => E, what: string): Promise<E | undefined> {
  try {
    await p;
  } catch (e) {
    t.type(e, cls, what);
    return e as E;
  }
  t.fail(`${what}: resolved, expected ${cls.name}`);
  return undefined;
}

/** Registers every behaviour test on `t` for `env`. */
export function behaviourSuite(t: tap.Test, env: BehaviourEnv): void {
  const test = (name: string, fn: (t: tap.Test, c: IpvsClient, ctx: Parameters<Parameters<BehaviourEnv['run']>[0]>[0]) => Promise<void>): void => {
    t.test(`${name} [${env.name}]`, (t) => env.run((ctx) => fn(t, ctx.client, ctx)));
  };

  test('an empty IPVS lists nothing, as empty lists', async (t, c) => {
    t.same(await c.listServices(), []);
    t.same(await c.rules(), []);
    t.same(await c.snapshot(), []);
    t.same(await c.listDaemons(), []);
    t.same(await c.connections(), []);
    const totals = await c.totals();
    t.same(totals.stats, { conns: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n });
    await c.addService(WEB);
    t.same(await c.listDestinations(WEB), [], 'a service without real servers');
  });

  test('info and the default timeouts', async (t, c) => {
    t.same(await c.info(), { versionCode: 0x010201, version: '1.2.1', connTableSize: 4096 });
    t.same(await c.getTimeouts(), { tcp: 900, tcpFin: 120, udp: 300 });
  });

  test('services of every protocol and both families', async (t, c) => {
    const keys: ServiceKey[] = [WEB, DNS, { protocol: 'sctp', address: '203.0.113.11', port: 9 }, WEB6, MARK, MARK6];
    for (const k of keys) await c.addService(k, { scheduler: 'rr' });
    // Addresses come back in inet_ntop form whatever the input spelled.
    await c.addService({ protocol: 'tcp', address: '2001:DB8:0:0::20', port: 80 });
    const got = await c.getService({ protocol: 'tcp', address: '2001:db8::20', port: 80 });
    t.same(got.key, { protocol: 'tcp', address: '2001:db8::20', port: 80 });
    t.equal(got.family, 'ipv6');
    const list = await c.listServices();
    t.equal(list.length, 7);
    for (const k of keys) {
      const s = await c.getService(k);
      t.same(s.key, k, serviceKeyText(k));
      t.equal(s.family, 'family' in k ? k.family : k.address.includes(':') ? 'ipv6' : 'ipv4');
      t.equal(s.rawFlags & 2, 2, 'dumps carry the kernel-internal HASHED flag');
      t.equal(s.statsSource, 'stats64');
    }
  });

  test('a protocol IPVS has no name for is kept as its number, not a failure of the whole table', async (t, c) => {
    // The kernel's netlink path does not check the protocol, so another tool
    // can make such a service; every read of the table must survive it.
    const odd: ServiceKey = { protocol: 99, address: '203.0.113.12', port: 7 };
    await c.addService(WEB, { scheduler: 'rr' });
    await c.addService(odd, { scheduler: 'rr' });
    await c.addDestination(odd, R1, { forwarding: 'masq' });
    const got = await c.getService(odd);
    t.same(got.key, odd);
    t.equal(serviceKeyText(odd), 'service protocol 99 203.0.113.12:7');
    t.same(byKey(await c.listServices()).map((s) => s.key), byKey([{ key: WEB }, { key: odd }]).map((s) => s.key));
    const rules = await c.rules();
    t.same(rules.find((r) => 'protocol' in r.key && r.key.protocol === 99)?.destinations.map((d) => d.key), [R1]);
    t.equal((await c.snapshot()).length, 2);
    // A known protocol given by number is the same service as by name.
    t.same((await c.getService({ protocol: 6, address: '203.0.113.10', port: 80 })).key, WEB);
    await c.deleteService(odd);
    t.same((await c.listServices()).map((s) => s.key), [WEB]);
    await rejects(t, c.addService({ protocol: 'icmp' as never, address: '203.0.113.12', port: 1 }), InvalidArgumentError, 'a name that is not tcp/udp/sctp');
  });

  test('every scheduler, and none', async (t, c) => {
    const names = [...IN_TREE_SCHEDULERS, 'none'];
    for (let i = 0; i < names.length; i++) {
      await c.addService({ protocol: 'tcp', address: '203.0.113.20', port: 1000 + i }, { scheduler: names[i] as string });
    }
    const got = (await c.listServices()).map((s) => ['port' in s.key ? s.key.port : 0, s.config.scheduler] as const);
    t.same([...got].sort((a, b) => a[0] - b[0]), names.map((n, i) => [1000 + i, n]));
  });

  test('scheduler flags are named per scheduler', async (t, c) => {
    await c.addService(WEB, { scheduler: 'sh', schedFlags: ['sh-port', 'sh-fallback'] });
    await c.addService(DNS, { scheduler: 'mh', schedFlags: ['mh-fallback'] });
    await c.addService(WEB6, { scheduler: 'rr', schedFlags: ['flag-3', 'flag-1'] });
    t.same((await c.getService(WEB)).config.schedFlags, ['sh-fallback', 'sh-port']);
    t.same((await c.getService(DNS)).config.schedFlags, ['mh-fallback']);
    t.same((await c.getService(WEB6)).config.schedFlags, ['flag-1', 'flag-3']);
  });

  test('persistence: an IPv4 mask, an IPv6 prefix, the default timeout', async (t, c) => {
    await c.addService(WEB, { persistent: true });
    await c.addService(DNS, { persistent: true, timeout: 60, netmask: 24 });
    await c.addService(WEB6, { persistent: true, timeout: 600, netmask: 64 });
    await c.addService(MARK6, { scheduler: 'rr' });
    t.match((await c.getService(WEB)).config, { persistent: true, timeout: 360, netmask: '255.255.255.255' });
    t.match((await c.getService(DNS)).config, { persistent: true, timeout: 60, netmask: '255.255.255.0' });
    t.match((await c.getService(WEB6)).config, { persistent: true, timeout: 600, netmask: 64 });
    t.match((await c.getService(MARK6)).config, { persistent: false, timeout: 0, netmask: 128 });
  });

  test('a persistence engine, and one-packet scheduling', async (t, c) => {
    await c.addService(WEB, { persistent: true, persistenceEngine: 'sip' });
    t.equal((await c.getService(WEB)).config.persistenceEngine, 'sip');
    await c.addService(DNS, { onePacket: true });
    t.equal((await c.getService(DNS)).config.onePacket, true);
    t.equal((await c.getService(WEB)).config.onePacket, false);
    const e = await rejects(t, c.addService(WEB6, { persistenceEngine: 'nosuch' }), SchedulerNotFoundError, 'an unknown engine');
    t.equal(e?.errno, 2);
  });

  test('editing a service keeps what the edit does not name', async (t, c) => {
    await c.addService(WEB, { scheduler: 'sh', schedFlags: ['sh-port'], persistent: true, timeout: 300, netmask: 24, persistenceEngine: 'sip' });
    await c.editService(WEB, { scheduler: 'wlc' });
    t.same((await c.getService(WEB)).config, {
      scheduler: 'wlc',
      persistent: true,
      timeout: 300,
      netmask: '255.255.255.0',
      onePacket: false,
      schedFlags: ['flag-2'],
      persistenceEngine: 'sip',
    });
    await c.editService(WEB, { persistent: false });
    t.match((await c.getService(WEB)).config, { scheduler: 'wlc', persistent: false, timeout: 300, persistenceEngine: 'sip' });
    // The kernel's own edit replaces the whole entry: what it does not carry is gone.
    await c.replaceService(WEB, completeServiceConfig('ipv4', { scheduler: 'rr' }));
    const after = (await c.getService(WEB)).config;
    t.equal(after.persistenceEngine, undefined, 'a replace without an engine drops it');
    t.same(after.schedFlags, []);
  });

  test('real servers: every forwarding method, tunnels, thresholds, newest first', async (t, c) => {
    await c.addService(WEB, { scheduler: 'wrr' });
    const dests: [{ address: string; port: number }, DestinationInput][] = [
      [R1, { forwarding: 'masq', weight: 3, upperThreshold: 10, lowerThreshold: 5 }],
      [R2, { forwarding: 'tunnel', tunnelType: 'gue', tunnelPort: 6080, tunnelRemcsum: true }],
      [R3, { forwarding: 'tunnel', tunnelType: 'gre', tunnelCsum: true, weight: 0 }],
      [{ address: '198.51.100.9', port: 80 }, { forwarding: 'tunnel' }],
      [{ address: '192.0.2.99', port: 8080 }, {}],
      [{ address: '127.0.0.1', port: 80 }, { forwarding: 'local', weight: 2147483647 }],
    ];
    for (const [k, cfg] of dests) await c.addDestination(WEB, k, cfg);
    const list = await c.listDestinations(WEB);
    t.same(list.map((d) => d.key), dests.map(([k]) => k).reverse(), 'newest first');
    const find = (a: string): DestinationInput => list.find((d) => d.key.address === a)?.config ?? {};
    t.match(find('198.51.100.2'), { forwarding: 'masq', weight: 3, upperThreshold: 10, lowerThreshold: 5, tunnelType: 'ipip' });
    t.match(find('198.51.100.3'), { forwarding: 'tunnel', weight: 1, tunnelType: 'gue', tunnelPort: 6080, tunnelCsum: false, tunnelRemcsum: true });
    t.match(find('192.0.2.4'), { forwarding: 'tunnel', weight: 0, tunnelType: 'gre', tunnelCsum: true });
    t.match(find('198.51.100.9'), { forwarding: 'tunnel', tunnelType: 'ipip', tunnelPort: 0 });
    t.match(find('192.0.2.99'), { forwarding: 'route', weight: 1, upperThreshold: 0, lowerThreshold: 0 });
    t.match(find('127.0.0.1'), { forwarding: 'local', weight: 2147483647 });
    for (const d of list) {
      t.same([d.activeConns, d.inactiveConns, d.persistentConns], [0, 0, 0]);
      t.equal(d.statsSource, 'stats64');
    }
    const rules = await c.rules();
    t.same(rules[0]?.destinations.map((d) => d.key), dests.map(([k]) => k).reverse(), 'rules keep kernel order');
  });

  test('editing a real server keeps what the edit does not name', async (t, c) => {
    await c.addService(WEB);
    await c.addDestination(WEB, R1, { forwarding: 'tunnel', tunnelType: 'gue', tunnelPort: 7000, tunnelCsum: true, weight: 5, upperThreshold: 10, lowerThreshold: 2 });
    await c.editDestination(WEB, R1, { weight: 9 });
    t.same((await c.listDestinations(WEB))[0]?.config, {
      forwarding: 'tunnel',
      weight: 9,
      upperThreshold: 10,
      lowerThreshold: 2,
      tunnelType: 'gue',
      tunnelPort: 7000,
      tunnelCsum: true,
      tunnelRemcsum: false,
    });
    // The kernel's edit is whole: a replace without tunnel settings resets them.
    await c.replaceDestination(WEB, R1, { forwarding: 'tunnel', weight: 1, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false });
    t.match((await c.listDestinations(WEB))[0]?.config, { tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, weight: 1 });
  });

  test('mixed address families need tunnel forwarding', async (t, c) => {
    await c.addService(WEB);
    await c.addService(WEB6);
    await c.addDestination(WEB, R6, { forwarding: 'tunnel' });
    await c.addDestination(WEB6, R1, { forwarding: 'tunnel' });
    const d4 = (await c.listDestinations(WEB))[0];
    t.same([d4?.key, d4?.family], [R6, 'ipv6']);
    const d6 = (await c.listDestinations(WEB6))[0];
    t.same([d6?.key, d6?.family], [R1, 'ipv4']);
    const e = await rejects(t, c.addDestination(WEB, { address: '2001:db8:1::6', port: 80 }, { forwarding: 'masq' }), InvalidArgumentError, 'masq across families');
    t.equal(e?.errno, 0, 'refused before sending');
    t.equal((await c.listDestinations(WEB)).length, 1, 'only the tunnel was added');
  });

  test('errors are typed by meaning', async (t, c) => {
    await c.addService(WEB);
    await c.addDestination(WEB, R1);
    const missing: ServiceKey = { protocol: 'tcp', address: '203.0.113.99', port: 80 };
    t.equal((await rejects(t, c.addService(WEB), ServiceExistsError, 'add twice'))?.errno, 17);
    const onMissing: [string, () => Promise<unknown>][] = [
      ['get', () => c.getService(missing)],
      ['edit', () => c.editService(missing, { scheduler: 'rr' })],
      ['replace', () => c.replaceService(missing, completeServiceConfig('ipv4'))],
      ['delete', () => c.deleteService(missing)],
      ['zero', () => c.zero(missing)],
      ['list its real servers', () => c.listDestinations(missing)],
      ['add a real server', () => c.addDestination(missing, R1)],
    ];
    for (const [what, call] of onMissing) {
      const e = await rejects(t, call(), ServiceNotFoundError, `${what} a missing service`);
      t.equal(e?.errno, 3, what);
      t.match(e?.message, /203\.0\.113\.99:80 does not exist/);
    }
    t.equal((await rejects(t, c.addService(DNS, { scheduler: 'nosuch' }), SchedulerNotFoundError, 'unknown scheduler'))?.errno, 2);
    t.equal((await rejects(t, c.addDestination(WEB, R1), DestinationExistsError, 'add a real server twice'))?.errno, 17);
    t.equal((await rejects(t, c.deleteDestination(WEB, R2), DestinationNotFoundError, 'delete a missing real server'))?.errno, 2);
    t.equal((await rejects(t, c.replaceDestination(WEB, R2, { forwarding: 'route', weight: 1, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false }), DestinationNotFoundError, 'replace a missing real server'))?.errno, 2);
    await rejects(t, c.editDestination(WEB, R2, { weight: 2 }), DestinationNotFoundError, 'edit a missing real server');
    // The kernel's own refusals.
    t.equal((await rejects(t, c.addDestination(WEB, { address: '224.0.0.1', port: 80 }), InvalidArgumentError, 'a multicast real server'))?.errno, 22);
    // GUE without a port is EINVAL from the kernel whatever the method; the client refuses it first.
    const gue = await rejects(t, c.addDestination(WEB, R2, { forwarding: 'masq', tunnelType: 'gue' }), InvalidArgumentError, 'GUE without a port, whatever the method');
    t.same([gue?.errno, gue?.field], [0, 'config.tunnelPort']);
    // Checked before sending: nothing changes.
    const before = await c.rules();
    const e = await rejects(t, c.addDestination(WEB, R2, { weight: -1 }), InvalidArgumentError, 'a negative weight');
    t.same([e?.errno, e?.field], [0, 'config.weight']);
    t.same(await c.rules(), before);
  });

  test('bulk apply attributes each failure to its own operation', async (t, c) => {
    const B: ServiceKey = { protocol: 'tcp', address: '203.0.113.30', port: 80 };
    const ops: Operation[] = [
      { type: 'add-service', service: WEB },
      { type: 'add-service', service: WEB },
      { type: 'add-destination', service: B, destination: R1 },
      { type: 'add-service', service: B, config: { scheduler: 'rr' } },
      { type: 'add-destination', service: B, destination: R1, config: { forwarding: 'masq' } },
      { type: 'add-destination', service: B, destination: R1 },
      { type: 'edit-destination', service: B, destination: R2, config: { forwarding: 'route', weight: 1, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false } },
      { type: 'delete-service', service: DNS },
      { type: 'set-timeouts', timeouts: { udp: 30 } },
      { type: 'zero' },
    ];
    const r = await c.apply(ops);
    const kinds = r.errors.map((e) => (e ? e.constructor.name : null));
    t.same(kinds, [null, 'ServiceExistsError', 'ServiceNotFoundError', null, null, 'DestinationExistsError', 'DestinationNotFoundError', 'ServiceNotFoundError', null, null]);
    t.equal(r.applied, 5);
    t.same(r.failures.map((f) => f.index), [1, 2, 5, 6, 7]);
    t.equal(r.failures[0]?.operation, ops[1]);
    t.match(r.failures[1]?.error.message, /203\.0\.113\.30:80 does not exist/);
    t.equal((await c.getTimeouts()).udp, 30);
    t.same((await c.listDestinations(B)).map((d) => [d.key, d.config.forwarding]), [[R1, 'masq']]);

    const many: Operation[] = [];
    for (let i = 0; i < 300; i++) many.push({ type: 'add-service', service: { protocol: 'udp', address: '198.51.100.50', port: 2000 + i } });
    const big = await c.apply(many);
    t.same([big.applied, big.failures.length], [300, 0]);
    t.equal((await c.listServices()).length, 302);

    const before = await c.rules();
    await rejects(t, c.apply([{ type: 'flush' }, { type: 'add-destination', service: WEB, destination: { address: 'nope', port: 1 } }]), InvalidOperationsError, 'an invalid operation');
    t.same(await c.rules(), before, 'nothing was sent');
  });

  test('snapshot and rules agree', async (t, c) => {
    await c.addService(WEB, { scheduler: 'rr', persistent: true });
    await c.addService(MARK, { scheduler: 'sh' });
    await c.addDestination(WEB, R1, { forwarding: 'masq' });
    await c.addDestination(WEB, R6, { forwarding: 'tunnel' });
    await c.addDestination(MARK, { address: '198.51.100.7', port: 0 });
    const snap = await c.snapshot();
    const rules = await c.rules();
    const asRules: ServiceRule[] = snap.map((s) => ({
      key: s.key,
      family: s.family,
      config: s.config,
      destinations: s.destinations.map((d) => ({ key: d.key, family: d.family, config: d.config })),
    }));
    t.same(rules, asRules);
    t.same(byKey(rules).map((s) => s.destinations.length), [1, 2], "fwmark 7 has one, tcp 203.0.113.10:80 two");
    for (const s of snap) t.same(s.stats, { conns: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n });
  });

  test('eachRule: one service at a time, in the order asked, real servers reused on request', async (t, c) => {
    await c.addService(WEB, { scheduler: 'rr' });
    await c.addService(MARK, { scheduler: 'sh' });
    await c.addDestination(WEB, R1, { forwarding: 'masq' });
    await c.addDestination(WEB, R6, { forwarding: 'tunnel' });
    await c.addDestination(MARK, { address: '198.51.100.7', port: 0 }, { weight: 3 });
    const rules = await c.rules();
    const plain: ServiceRule[] = [];
    t.equal(await c.eachRule((s) => void plain.push(structuredClone(s))), 2, 'two services visited');
    t.same(plain, rules, 'in kernel order, the same rules as rules()');
    const reversed: ServiceRule[] = [];
    const objects: object[] = [];
    await c.eachRule(
      (s) => {
        reversed.push(structuredClone(s));
        objects.push(...s.destinations);
      },
      { reuse: true, order: (list) => list.reverse() },
    );
    t.same(reversed, [...rules].reverse(), 'in the order asked, each service whole');
    const first = reversed[0]?.destinations.length ?? 0;
    t.equal(objects.length, 3);
    t.equal(objects[first], objects[0], "the second service's first real server is the first one's object, refilled");
  });

  test("eachRule with fields 'save': what ipvsadm-save prints, real servers from /proc/net/ip_vs, the rest by netlink", async (t, c) => {
    // Every case the file describes and every case it cannot: a tunnel (gue
    // settings), a firewall mark both families use, IPv6 real servers,
    // thresholds, weights 0 and 65535, one-packet, persistence.
    await c.addService(WEB, { scheduler: 'wlc', persistent: true, timeout: 60 });
    await c.addService(DNS, { scheduler: 'rr', onePacket: true });
    await c.addService(WEB6, { scheduler: 'sh', schedFlags: ['sh-port'] });
    await c.addService(MARK, { scheduler: 'rr' });
    await c.addService(MARK6, { scheduler: 'rr' });
    await c.addService({ fwmark: 9, family: 'ipv4' });
    await c.addService({ protocol: 'sctp', address: '203.0.113.11', port: 9 });
    await c.addDestination(WEB, R1, { forwarding: 'masq', weight: 5, upperThreshold: 100, lowerThreshold: 10 });
    await c.addDestination(WEB, R2, { forwarding: 'route', weight: 0 });
    await c.addDestination(WEB, R3, { forwarding: 'masq', weight: 65535 });
    await c.addDestination(DNS, { address: '198.51.100.2', port: 53 }, { forwarding: 'tunnel', tunnelType: 'gue', tunnelPort: 6080, tunnelCsum: true });
    await c.addDestination(DNS, { address: '198.51.100.3', port: 53 }, { forwarding: 'masq', upperThreshold: 4 });
    await c.addDestination(WEB6, { address: '2001:db8:1::5', port: 443 }, { forwarding: 'masq', upperThreshold: 7 });
    await c.addDestination(WEB6, R6, { forwarding: 'route' });
    await c.addDestination(MARK, { address: '198.51.100.7', port: 0 }, { weight: 3, upperThreshold: 8 });
    await c.addDestination(MARK6, { address: '2001:db8:1::7', port: 0 }, { lowerThreshold: 2, upperThreshold: 9 });
    await c.addDestination({ fwmark: 9, family: 'ipv4' }, { address: '198.51.100.9', port: 0 }, { forwarding: 'route', weight: 2 });
    const all = await c.rules();
    // What 'save' promises: thresholds 0, a non-tunnel's tunnel settings the
    // defaults, the rest exactly. The services the file cannot describe
    // (a tunnel, mark 7 in both families) come whole from netlink.
    const byNetlink = new Set([DNS, MARK, MARK6].map(serviceKeyText));
    const expected = all.map((s) => ({
      ...s,
      destinations: byNetlink.has(serviceKeyText(s.key)) ? s.destinations : s.destinations.map((d) => ({
        ...d,
        config: { ...d.config, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip' as const, tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false },
      })),
    }));
    for (const reuse of [false, true]) {
      const got: ServiceRule[] = [];
      const n = await c.eachRule((s) => void got.push(structuredClone(s)), { fields: 'save', reuse, order: (list) => list.reverse() });
      t.equal(n, 7, `seven services visited (reuse ${reuse})`);
      t.same(got, [...expected].reverse(), `in the order asked, each real server as netlink has it but for thresholds (reuse ${reuse})`);
    }
    t.equal(
      all.find((s) => serviceKeyText(s.key) === serviceKeyText(WEB))?.destinations.find((d) => d.key.address === R1.address)?.config.upperThreshold,
      100,
      'the default read still has thresholds',
    );
  });

  test('timeouts: 0 keeps, too large is refused', async (t, c) => {
    await c.setTimeouts({ tcp: 1000 });
    t.same(await c.getTimeouts(), { tcp: 1000, tcpFin: 120, udp: 300 });
    await c.setTimeouts({ tcpFin: 30, udp: 0 });
    t.same(await c.getTimeouts(), { tcp: 1000, tcpFin: 30, udp: 300 });
    t.equal((await rejects(t, c.setTimeouts({ tcp: 0x7fffffff }), InvalidArgumentError, 'beyond INT_MAX / HZ'))?.errno, 22);
    t.same(await c.getTimeouts(), { tcp: 1000, tcpFin: 30, udp: 300 });
  });

  test('sync daemons: master and backup, with every setting', async (t, c, ctx) => {
    await c.startDaemon({ state: 'master', interface: ctx.interface, syncId: 7 });
    t.same(await c.listDaemons(), [{ state: 'master', interface: ctx.interface, syncId: 7, maxLen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 }]);
    t.equal((await rejects(t, c.startDaemon({ state: 'master', interface: ctx.interface, syncId: 0 }), DaemonRunningError, 'a second master'))?.errno, 17);
    await c.startDaemon({ state: 'backup', interface: ctx.interface, syncId: 9, group: 'ff02::99', port: 9000, ttl: 5, maxLen: 2000 });
    await ctx.settleDaemons();
    t.same((await c.listDaemons()).map((d) => [d.state, d.syncId, d.group, d.port, d.ttl, d.maxLen]), [
      ['master', 7, '224.0.0.81', 8848, 1, 1472],
      ['backup', 9, 'ff02::99', 9000, 5, 2000],
    ]);
    // The sync protocol cannot carry mixed-family real servers.
    await c.addService(WEB);
    t.equal((await rejects(t, c.addDestination(WEB, R6, { forwarding: 'tunnel' }), InvalidArgumentError, 'mixed family while syncing'))?.errno, 22);
    await c.stopDaemon('master');
    t.equal((await rejects(t, c.stopDaemon('master'), DaemonNotRunningError, 'stop twice'))?.errno, 3);
    t.equal((await rejects(t, c.startDaemon({ state: 'master', interface: 'nosuch0', syncId: 0 }), NoSuchDeviceError, 'a missing interface'))?.errno, 19);
    await c.stopDaemon('backup');
    t.same(await c.listDaemons(), []);
    await c.addDestination(WEB, R6, { forwarding: 'tunnel' });
    t.equal((await rejects(t, c.startDaemon({ state: 'backup', interface: ctx.interface, syncId: 0 }), InvalidArgumentError, 'a daemon with mixed-family real servers'))?.errno, 22);
  });

  test('zero, delete and flush', async (t, c, ctx) => {
    await c.addService(WEB);
    await c.addService(DNS);
    await c.addDestination(WEB, R1);
    await c.addDestination(WEB, R2);
    await c.zero();
    await c.zero(WEB);
    await c.deleteDestination(WEB, R1);
    t.same((await c.listDestinations(WEB)).map((d) => d.key), [R2]);
    await c.deleteService(DNS);
    t.same((await c.listServices()).map((s) => s.key), [WEB]);
    await c.setTimeouts({ udp: 77 });
    await c.startDaemon({ state: 'master', interface: ctx.interface, syncId: 0 });
    await c.flush();
    await ctx.settleDaemons();
    t.same(await c.listServices(), []);
    t.equal((await c.listDaemons()).length, 1, 'flush keeps sync daemons');
    t.equal((await c.getTimeouts()).udp, 77, 'and timeouts');
    await c.stopDaemon('master');
    await c.addService(WEB);
    t.same(await c.listDestinations(WEB), [], 'a re-created service starts empty');
  });

  test('another client sees the same IPVS', async (t, c, ctx) => {
    const other = await ctx.openClient();
    try {
      await c.addService(WEB, { scheduler: 'lc' });
      t.equal((await other.getService(WEB)).config.scheduler, 'lc');
      await other.addDestination(WEB, R1);
      t.same((await c.listDestinations(WEB)).map((d) => d.key), [R1]);
    } finally {
      other.close();
    }
  });
}
