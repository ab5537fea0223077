// IPVS dumps are not atomic: a service dump that spans several datagrams
// while the table changes can show a service twice. The client drops the
// repeats (first one wins) and must never drop two different services.
// Here a transport between the client and the fake kernel repeats every
// data message of each dump answer just before its NLMSG_DONE.
import t from 'tap';
import { IpvsClient, type ServiceKey } from '../../src/index';
import { FakeKernel } from '../../src/testing';
import { NLMSG_DONE } from '../../src/netlink/constants';
import type { Transport } from '../../src/netlink/transport';

/** Wraps `inner` so that every dump answer shows each of its data messages twice. */
function repeating(inner: Transport, familyId: () => number): Transport {
  return {
    portId: inner.portId,
    close: () => inner.close(),
    async exchange(data, ends, recv, resume, timeoutMs) {
      const p = await inner.exchange(data, ends, recv, resume, timeoutMs);
      const out: Buffer[] = [];
      let data_: Buffer[] = [];
      for (let off = 0; off < p.used; ) {
        const len = recv.readUInt32LE(off);
        const msg = Buffer.from(recv.subarray(off, off + ((len + 3) & ~3)));
        const type = recv.readUInt16LE(off + 4);
        if (type === familyId()) data_.push(msg);
        else {
          if (type === NLMSG_DONE) out.push(...data_, ...data_);
          else out.push(...data_);
          data_ = [];
          out.push(msg);
        }
        off += (len + 3) & ~3;
      }
      out.push(...data_);
      const all = Buffer.concat(out);
      all.copy(recv, 0);
      return { ...p, used: all.length };
    },
  };
}

const KEYS: ServiceKey[] = [
  { protocol: 'tcp', address: '203.0.113.10', port: 80 },
  { protocol: 'udp', address: '203.0.113.10', port: 80 },
  { protocol: 'tcp', address: '203.0.113.10', port: 81 },
  { protocol: 'tcp', address: '203.0.113.11', port: 80 },
  { protocol: 'sctp', address: '203.0.113.10', port: 80 },
  { protocol: 'tcp', address: '2001:db8::10', port: 80 },
  { protocol: 'tcp', address: '2001:db8::1:0', port: 80 },
  { fwmark: 5, family: 'ipv4' },
  { fwmark: 5, family: 'ipv6' },
  { fwmark: 6, family: 'ipv4' },
];

t.test('a service a dump shows twice is listed once, and distinct services all stay', async (t) => {
  const kernel = new FakeKernel();
  const plain = await IpvsClient.open(kernel.clientOptions());
  for (const key of KEYS) await plain.addService(key, { scheduler: 'rr' });
  for (let i = 0; i < 200; i++) await plain.addService({ protocol: 'tcp', address: `198.51.100.${i % 50}`, port: 1000 + i }, { scheduler: 'wlc' });
  await plain.addDestination(KEYS[0] as ServiceKey, { address: '192.0.2.1', port: 80 });
  const expected = (await plain.rules()).map((s) => s.key);
  t.equal(expected.length, KEYS.length + 200);

  let familyId = -1;
  const options = kernel.clientOptions();
  const client = await IpvsClient.open({ ...options, transport: repeating(options.transport, () => familyId) });
  familyId = (client as unknown as { family: { id: number } }).family.id;

  // The wrapper does repeat them: a raw dump through it shows every service twice.
  const conn = (client as unknown as { conn: { dumpEach: (...a: unknown[]) => Promise<unknown> } }).conn;
  let raw = 0;
  await conn.dumpEach(1, familyId, (_i: number, w: { genlHeader: (c: number, v: number) => void }) => w.genlHeader(4, 1), 'raw', () => raw++);
  t.equal(raw, 2 * expected.length, 'the transport shows each service twice');

  t.same((await client.listServices()).map((s) => s.key), expected, 'listServices');
  t.same((await client.rules()).map((s) => s.key), expected, 'rules');
  const snap = await client.snapshot();
  t.same(snap.map((s) => s.key), expected, 'snapshot');
  const seen: ServiceKey[] = [];
  await client.eachRule((s) => void seen.push(s.key));
  t.same(seen, expected, 'eachRule');
  plain.close();
  client.close();
});
