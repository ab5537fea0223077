// The allocation-free BulkEncoder (src/ipvs/bulk.ts) against the generic
// path that apply() uses for everything else (the client's prepare(): the
// codec plus the schema encoder): on generated operations, valid and
// invalid, both must write the same bytes or refuse with the same field and
// message.
import t from 'tap';
import { deepStrictEqual } from 'node:assert';
import fc from 'fast-check';
import { IpvsClient, IpvsError, type Operation, type ServiceKey } from '../../src/index';
import { GenlRequest } from '../../src/genetlink/ctrl';
import { normalizeServiceKey, serviceKeyAttrs } from '../../src/ipvs/codec';
import { IPVS_CMD, IPVS_GENL_VERSION } from '../../src/ipvs/constants';
import { CMD_ATTRS } from '../../src/ipvs/schema';
import { BulkEncoder, type BulkOp } from '../../src/ipvs/bulk';
import type { RequestSpec } from '../../src/netlink/connection';
import { NlWriter } from '../../src/netlink/writer';
import { FakeKernel } from '../../src/testing';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);

// Mostly valid values, with the invalid ones a caller gets wrong.
const port = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 65535 }) }, fc.constantFrom(-1, 65536, 1.5, '80' as unknown as number));
const address = fc.oneof({ weight: 5, arbitrary: fc.oneof(fc.ipV4(), fc.ipV6()) }, fc.constantFrom('nope', '', '1.2.3', 7 as unknown as string));
const serviceKey = fc.oneof(
  { weight: 4, arbitrary: fc.record({ protocol: fc.constantFrom('tcp', 'udp', 'sctp'), address, port }) },
  { weight: 2, arbitrary: fc.record({ fwmark: fc.oneof(fc.integer({ min: 1, max: 0xffffffff }), fc.constantFrom(0, -1, 2 ** 32)), family: fc.constantFrom('ipv4', 'ipv6') }) },
  fc.constantFrom({ protocol: 'icmp', address: '203.0.113.1', port: 1 }, null),
);
const name = fc.oneof({ weight: 5, arbitrary: fc.stringMatching(/^[a-z]{1,15}$/) }, fc.constantFrom('', 'a'.repeat(16), 'x\0y', 3 as unknown as string));
const serviceConfig = fc.record(
  {
    scheduler: name,
    persistent: fc.oneof({ weight: 5, arbitrary: fc.boolean() }, fc.constant('yes' as unknown as boolean)),
    timeout: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) }, fc.constantFrom(-1, 1.5, 2 ** 32)),
    netmask: fc.oneof(fc.integer({ min: -1, max: 130 }), fc.ipV4(), fc.constantFrom('ffff::', 'x')),
    onePacket: fc.boolean(),
    persistenceEngine: fc.oneof(name, fc.constant(undefined)),
    schedFlags: fc.oneof({ weight: 5, arbitrary: fc.subarray(['flag-1', 'flag-2', 'flag-3', 'sh-fallback', 'sh-port', 'mh-fallback', 'mh-port']) }, fc.constant(['bogus'])),
  },
  { requiredKeys: [] },
);
const destinationKey = fc.record({ address, port });
const destinationConfig = fc.record(
  {
    forwarding: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('masq', 'local', 'tunnel', 'route') }, fc.constant('nat')),
    weight: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 0x7fffffff }) }, fc.constantFrom(-1, 2 ** 31)),
    upperThreshold: fc.integer({ min: 0, max: 100 }),
    lowerThreshold: fc.integer({ min: 0, max: 100 }),
    tunnelType: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('ipip', 'gue', 'gre') }, fc.constant('vxlan')),
    tunnelPort: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constant(70000)),
    tunnelCsum: fc.boolean(),
    tunnelRemcsum: fc.oneof({ weight: 5, arbitrary: fc.boolean() }, fc.constant(1 as unknown as boolean)),
  },
  { requiredKeys: [] },
);
const operation = fc.oneof(
  fc.record({ type: fc.constantFrom('add-service', 'edit-service'), service: serviceKey, config: serviceConfig }),
  fc.record({ type: fc.constant('delete-service'), service: serviceKey }),
  fc.record({ type: fc.constantFrom('add-destination', 'edit-destination'), service: serviceKey, destination: destinationKey, config: destinationConfig }),
  fc.record({ type: fc.constant('delete-destination'), service: serviceKey, destination: destinationKey }),
) as fc.Arbitrary<BulkOp>;

type Result = { bytes: string } | { field: string | undefined; message: string };

function run(write: (w: NlWriter) => void): Result {
  const w = new NlWriter(64);
  try {
    write(w);
    return { bytes: w.toBuffer().toString('hex') };
  } catch (e) {
    if (!(e instanceof IpvsError)) throw e;
    return { field: (e as { field?: string }).field, message: e.message };
  }
}

t.test('the bulk encoder writes and refuses exactly as the generic path', async (t) => {
  const client = await IpvsClient.open(new FakeKernel().clientOptions());
  // The generic path apply() takes for the operations the bulk encoder does not write.
  const prepare = (op: Operation): RequestSpec => (client as unknown as { prepare(op: Operation): { spec: RequestSpec } }).prepare(op).spec;
  let valid = 0;
  let invalid = 0;
  try {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 8 }), (ops) => {
        // One encoder for the whole list, as apply() uses it (it caches keys by identity).
        const enc = new BulkEncoder();
        for (const op of ops) {
          const bulk = run((w) => enc.write(op, w));
          const generic = run((w) => prepare(op as Operation).write(w));
          deepStrictEqual(bulk, generic);
          if ('bytes' in bulk) valid++;
          else invalid++;
        }
      }),
      { numRuns: RUNS },
    );
  } finally {
    client.close();
  }
  t.ok(valid > RUNS / 2, `${valid} operations encoded the same`);
  t.ok(invalid > RUNS / 4, `${invalid} operations refused the same`);
});

t.test('a query (GET_DEST, GET_SERVICE, ZERO) writes the generic identity nest', async (t) => {
  let n = 0;
  fc.assert(
    fc.property(serviceKey, fc.constantFrom(IPVS_CMD.GET_DEST, IPVS_CMD.GET_SERVICE, IPVS_CMD.ZERO), (key, cmd) => {
      const bulk = run((w) => new BulkEncoder().writeQuery(cmd, key as ServiceKey, w));
      const generic = run((w) => new GenlRequest(0, cmd, IPVS_GENL_VERSION, CMD_ATTRS, { service: serviceKeyAttrs(normalizeServiceKey(key as ServiceKey)) }).write(w));
      deepStrictEqual(bulk, generic);
      n++;
    }),
    { numRuns: RUNS },
  );
  t.equal(n, RUNS);
});
