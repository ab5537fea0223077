/**
 * Tables of thousands: rules() and snapshot() on 3,000 services, a
 * 5,000-destination service (a dump of many parts), and dumps racing with
 * deletes (IPVS dumps are not atomic: the kernel takes its lock per chunk).
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IpvsClient,
  ServiceNotFoundError,
  serviceKeyText,
  type AddressServiceKey,
  type Operation,
  type ServiceRule,
} from '../../../src/index';
import { genlAttrs } from '../../../src/genetlink/ctrl';
import { formatAddress } from '../../../src/ipvs/address';
import { normalizeServiceKey, serviceKeyAttrs } from '../../../src/ipvs/codec';
import { CMD_ATTRS } from '../../../src/ipvs/schema';
import { withNetns } from '../harness';
import { IPVS_CMD, RawIpvs } from '../raw';

const ap = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
const opt = (k: AddressServiceKey): string => `${k.protocol === 'tcp' ? '-t' : '-u'} ${ap(k.address, k.port)}`;

/** `ipvsadm -S -n` lines for masq real servers of rr services (the shape these tests load). */
function saveLines(rules: readonly { key: AddressServiceKey; dests: { address: string; port: number; weight: number }[] }[]): string[] {
  const out: string[] = [];
  for (const s of rules) {
    out.push(`-A ${opt(s.key)} -s rr`);
    for (const d of s.dests) out.push(`-a ${opt(s.key)} -r ${ap(d.address, d.port)} -m -w ${d.weight}`);
  }
  return out.sort();
}

function fromRules(rules: readonly ServiceRule[]) {
  return rules.map((s) => ({ key: s.key as AddressServiceKey, dests: s.destinations.map((d) => ({ ...d.key, weight: d.config.weight })) }));
}

t.test('rules() and snapshot() on 3,000 services x 3 real servers agree with ipvsadm -S', async (t) => {
  await withNetns(async (ns) => {
    const want: { key: AddressServiceKey; dests: { address: string; port: number; weight: number }[] }[] = [];
    const ops: Operation[] = [];
    for (let i = 0; i < 3000; i++) {
      const v6 = i % 3 === 0;
      const key: AddressServiceKey = {
        protocol: i % 2 ? 'udp' : 'tcp',
        address: v6 ? `2001:db8:2::${(i + 1).toString(16)}` : `203.0.113.${(i % 250) + 1}`,
        port: 1 + Math.floor(i / 250),
      };
      const dests = [0, 1, 2].map((j) => ({ address: v6 ? `2001:db8:1::${(i * 3 + j + 2).toString(16)}` : `198.51.100.${((i * 3 + j) % 250) + 2}`, port: 8000 + j + (i % 50), weight: (i + j) % 7 }));
      want.push({ key, dests });
      ops.push({ type: 'add-service', service: key, config: { scheduler: 'rr' } });
      for (const d of dests) ops.push({ type: 'add-destination', service: key, destination: { address: d.address, port: d.port }, config: { forwarding: 'masq', weight: d.weight } });
    }
    const r = await ns.client.apply(ops);
    t.equal(r.failures.length, 0, `${ops.length} operations applied`);
    const expected = saveLines(want);
    let t0 = Date.now();
    const rules = await ns.client.rules();
    const rulesMs = Date.now() - t0;
    t0 = Date.now();
    const snap = await ns.client.snapshot();
    const snapMs = Date.now() - t0;
    t0 = Date.now();
    const saved = (await ns.sh('ipvsadm -S -n')).split('\n').filter(Boolean).sort();
    t.comment(`rules() ${rulesMs} ms, snapshot() ${snapMs} ms, ipvsadm -S -n ${Date.now() - t0} ms (UML)`);
    t.equal(saved.length, 12000, 'ipvsadm -S shows 3,000 services and 9,000 real servers');
    t.same(saved, expected, 'ipvsadm -S == what was loaded');
    t.same(saveLines(fromRules(rules)), expected, 'rules() == what was loaded');
    t.same(saveLines(fromRules(snap)), expected, 'snapshot() == what was loaded');
    t.equal(new Set(snap.map((s) => serviceKeyText(s.key))).size, 3000, 'no service twice');
  });
});

t.test('one service with 5,000 real servers: a dump of many parts', async (t) => {
  await withNetns(async (ns) => {
    const vs: AddressServiceKey = { protocol: 'tcp', address: '203.0.113.10', port: 80 };
    const dests = Array.from({ length: 5000 }, (_v, i) => ({ address: `2001:db8:1::${(i + 2).toString(16)}`, port: 8080, weight: i % 100 }));
    await ns.sh('ipvsadm -A -t [2001:db8::10]:80 -s rr');
    const v6: AddressServiceKey = { protocol: 'tcp', address: '2001:db8::10', port: 80 };
    const r = await ns.client.apply([
      { type: 'add-service', service: vs, config: { scheduler: 'rr' } },
      ...dests.map((d): Operation => ({ type: 'add-destination', service: vs, destination: { address: d.address, port: d.port }, config: { forwarding: 'tunnel', weight: d.weight } })),
    ]);
    t.equal(r.failures.length, 0, '5,000 mixed-family tunnel servers added');
    const list = await ns.client.listDestinations(vs);
    t.equal(list.length, 5000, 'listDestinations returns all 5,000');
    t.equal(list[0]?.key.address, dests[4999]?.address, 'in kernel order: newest first');
    t.same(
      list.map((d) => `${d.key.address} ${d.family} ${d.config.weight} ${d.config.forwarding}`).sort(),
      dests.map((d) => `${d.address} ipv6 ${d.weight} tunnel`).sort(),
      'every one exactly',
    );
    const saved = (await ns.sh('ipvsadm -S -n')).split('\n').filter((l) => l.startsWith('-a -t 203.0.113.10:80'));
    t.equal(saved.length, 5000, 'ipvsadm sees the same 5,000');
    t.same(await ns.client.listDestinations(v6), [], 'a service without servers: []');
  });
});

t.test('a service deleted while its destinations are dumped', async (t) => {
  await withNetns(async (ns) => {
    const other = await IpvsClient.open({ netns: ns.path });
    const raw = await RawIpvs.open(ns.path);
    try {
      const vs: AddressServiceKey = { protocol: 'tcp', address: '203.0.113.10', port: 80 };
      const servers = Array.from({ length: 5000 }, (_v, i) => `2001:db8:1::${(i + 2).toString(16)}`);
      const newestFirst = [...servers].reverse();
      const rawOutcomes: string[] = [];
      const libOutcomes: string[] = [];
      for (let attempt = 0; attempt < 8; attempt++) {
        const ops: Operation[] = [{ type: 'add-service', service: vs }];
        for (const a of servers) ops.push({ type: 'add-destination', service: vs, destination: { address: a, port: 80 }, config: { forwarding: 'tunnel' } });
        t.equal((await ns.client.apply(ops)).failures.length, 0, `attempt ${attempt}: loaded`);
        // The dump and the delete run on two sockets, on two worker threads.
        const viaLibrary = attempt % 2 === 1;
        const dump = viaLibrary
          ? ns.client.listDestinations(vs).then((l) => l.map((d) => d.key.address), (e: Error) => e)
          : raw.dump(IPVS_CMD.GET_DEST, { service: serviceKeyAttrs(normalizeServiceKey(vs)) }).then((ms) =>
              ms.map((m) => {
                const dest = genlAttrs(m, CMD_ATTRS).dest as { addr: Buffer };
                return formatAddress(dest.addr, 'ipv6');
              }),
            );
        await sleep(Math.floor(attempt / 2) * 3);
        await other.deleteService(vs);
        const got = await dump;
        if (got instanceof Error) {
          t.ok(got instanceof ServiceNotFoundError, `attempt ${attempt}: listDestinations reports the service gone (${got.message})`);
          libOutcomes.push('gone');
          continue;
        }
        const outcome = got.length === 5000 ? 'complete' : `cut short at ${got.length}`;
        if (viaLibrary) {
          libOutcomes.push(outcome);
          t.equal(got.length, 5000, `attempt ${attempt}: listDestinations returns all or reports the service gone, never a part`);
        } else {
          rawOutcomes.push(outcome);
          // The kernel dumps newest first and stops where the service vanished.
          t.same(got, newestFirst.slice(0, got.length), `attempt ${attempt}: the raw dump (${outcome}) is the newest-first head of the list, without an error`);
        }
      }
      t.comment(`raw GET_DEST dumps: ${rawOutcomes.join(', ')}; listDestinations: ${libOutcomes.join(', ')}`);
    } finally {
      raw.close();
      other.close();
    }
  });
});

t.test('snapshots while another client deletes services: never an error, never a mix-up', async (t) => {
  await withNetns(async (ns) => {
    const other = await IpvsClient.open({ netns: ns.path });
    try {
      const ops: Operation[] = [];
      const key = (i: number): AddressServiceKey => ({ protocol: 'tcp', address: '203.0.113.10', port: 1000 + i });
      for (let i = 0; i < 300; i++) {
        ops.push({ type: 'add-service', service: key(i) });
        // Each service's servers carry its number in their port: 2000 + i.
        for (let j = 0; j < 10; j++) ops.push({ type: 'add-destination', service: key(i), destination: { address: `192.0.2.${j + 2}`, port: 2000 + i }, config: { forwarding: 'masq' } });
      }
      t.equal((await ns.client.apply(ops)).failures.length, 0, '300 services x 10 servers');
      let deleting = true;
      const deleter = (async () => {
        for (let i = 0; i < 300; i += 3) await other.deleteService(key(i));
        deleting = false;
      })();
      let snapshots = 0;
      const problems: string[] = [];
      while (deleting) {
        const snap = await ns.client.snapshot();
        snapshots++;
        const seen = new Set<string>();
        for (const s of snap) {
          const port = (s.key as AddressServiceKey).port;
          if (seen.has(String(port))) problems.push(`service ${port} twice`);
          seen.add(String(port));
          const foreign = s.destinations.filter((d) => d.key.port !== port + 1000);
          if (foreign.length) problems.push(`service ${port} lists ${foreign.length} servers of another`);
          // Only the services being deleted may show fewer servers.
          if (s.destinations.length !== 10 && (port - 1000) % 3 !== 0) problems.push(`service ${port} has ${s.destinations.length} servers`);
        }
      }
      await deleter;
      t.ok(snapshots > 0, `${snapshots} snapshots taken during the deletes`);
      t.same(problems, [], 'every snapshot was consistent');
      t.equal((await ns.client.snapshot()).length, 200, 'afterwards: the 200 services that were kept');
    } finally {
      other.close();
    }
  });
});
