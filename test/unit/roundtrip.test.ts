// Round-trip properties: decode(encode(x)) == x for every attribute set over
// generated values (unknown attributes included), and the model codec's
// service and destination configurations through the wire and back.
// Edge cases, and any shrunk counterexample a property finds, are kept in
// SERVICE_REGRESSIONS and run every time.
import t from 'tap';
import { deepStrictEqual } from 'node:assert';
import fc from 'fast-check';
import { AttrView, decodeAttrs, encodeAttrs, type AttrSet, type AttrSpec, type AttrValues } from '../../src/netlink/attributes';
import { NlWriter } from '../../src/netlink/writer';
import { CTRL_ATTRS } from '../../src/genetlink/ctrl';
import { ALL_SETS, DEST_ATTRS, SERVICE_ATTRS } from '../../src/ipvs/schema';
import {
  completeDestinationConfig,
  completeServiceConfig,
  decodeDestinationRule,
  decodeServiceRule,
  destinationAttrs,
  normalizeDestinationKey,
  normalizeServiceKey,
  serviceAttrs,
} from '../../src/ipvs/codec';
import type { DestinationInput, SchedFlag, ServiceInput, ServiceKey } from '../../src/ipvs/model';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const u32 = fc.integer({ min: 0, max: 0xffffffff });

function valueArb(spec: AttrSpec, depth: number): fc.Arbitrary<unknown> {
  switch (spec.type) {
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
    case 'be16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
    case 'be32':
      return u32;
    case 'u64':
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\0'));
    case 'binary':
      return fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
    case 'flags':
      return fc.record({ flags: u32, mask: u32 }).map((f) => ({ ...f }));
    case 'nested':
      return setArb(spec.nested as AttrSet, depth + 1);
  }
}

/** Any values of `set`: each attribute present or not, plus attributes the set does not know. */
function setArb(set: AttrSet, depth = 0): fc.Arbitrary<AttrValues> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const spec of set.attrs) model[spec.name] = valueArb(spec, depth);
  const unknownType = fc
    .integer({ min: 0, max: 0x7fff })
    .filter((ty) => !set.byId[ty & 0x3fff] && (ty & 0x3fff) >= 0);
  const unknown = fc.array(
    fc.record({ type: unknownType, data: fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)) }).map((u) => ({ ...u })),
    { maxLength: depth ? 0 : 3 },
  );
  // fast-check's records have no prototype; decoded values are plain objects.
  return fc.tuple(fc.record(model, { requiredKeys: [] }), unknown).map(([v, u]) => (u.length ? { ...v, unknown: u } : { ...v }) as AttrValues);
}

for (const set of [...ALL_SETS, CTRL_ATTRS]) {
  t.test(`${set.name}: decode(encode(x)) == x`, async (t) => {
    fc.assert(
      fc.property(setArb(set), (v) => {
        const w = new NlWriter(8);
        encodeAttrs(w, set, v);
        const b = w.toBuffer();
        deepStrictEqual(decodeAttrs(b, 0, b.length, set), v);
      }),
      { numRuns: RUNS },
    );
    t.pass(`${RUNS} generated values`);
  });
}

// ---------------------------------------------------------------- the model codec

const schedName = fc.stringMatching(/^[a-z0-9_]{1,15}$/);
const SCHED_FLAGS: SchedFlag[] = ['flag-1', 'flag-2', 'flag-3', 'sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'];
const port = fc.integer({ min: 0, max: 65535 });
const v4 = fc.ipV4();
const v6 = fc.ipV6();

const serviceKey: fc.Arbitrary<ServiceKey> = fc.oneof(
  fc.record({ protocol: fc.constantFrom('tcp' as const, 'udp' as const, 'sctp' as const), address: fc.oneof(v4, v6), port }),
  fc.record({ fwmark: fc.integer({ min: 1, max: 0xffffffff }), family: fc.constantFrom('ipv4' as const, 'ipv6' as const) }),
);

function serviceInput(family: 'ipv4' | 'ipv6'): fc.Arbitrary<ServiceInput> {
  return fc.record(
    {
      scheduler: fc.oneof(fc.constantFrom('rr', 'wlc', 'sh', 'mh', 'none'), schedName),
      persistent: fc.boolean(),
      timeout: u32,
      netmask: family === 'ipv6' ? fc.integer({ min: 1, max: 128 }) : fc.oneof(fc.integer({ min: 0, max: 32 }), v4),
      onePacket: fc.boolean(),
      persistenceEngine: schedName,
      schedFlags: fc.subarray(SCHED_FLAGS),
    },
    { requiredKeys: [] },
  ).map((i) => ({ ...i }));
}

/** Edge cases run every time, and where shrunk counterexamples go when a property fails: [key, input]. */
const SERVICE_REGRESSIONS: [ServiceKey, ServiceInput][] = [
  [{ protocol: 'tcp', address: '::ffff:1.2.3.4', port: 0 }, { netmask: 1 }],
  [{ fwmark: 0xffffffff, family: 'ipv4' }, { netmask: '0.0.0.0', timeout: 0xffffffff }],
];

t.test('service configurations survive the wire', async (t) => {
  const check = (key: ServiceKey, input: ServiceInput): void => {
    const n = normalizeServiceKey(key);
    const cfg = completeServiceConfig(n.family, input);
    const w = new NlWriter(64);
    encodeAttrs(w, SERVICE_ATTRS, serviceAttrs(n, cfg));
    const b = w.toBuffer();
    const rule = decodeServiceRule(new AttrView(SERVICE_ATTRS).load(b, 0, b.length));
    deepStrictEqual(rule, { key: n.key, family: n.family, config: cfg, destinations: [] });
  };
  for (const [k, i] of SERVICE_REGRESSIONS) check(k, i);
  fc.assert(
    fc.property(
      serviceKey.chain((k) => fc.tuple(fc.constant(k), serviceInput(normalizeServiceKey(k).family))),
      ([k, i]) => check(k, i),
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

const destinationInput: fc.Arbitrary<DestinationInput> = fc
  .record(
    {
      forwarding: fc.constantFrom('masq' as const, 'local' as const, 'tunnel' as const, 'route' as const),
      weight: fc.integer({ min: 0, max: 0x7fffffff }),
      upperThreshold: fc.integer({ min: 0, max: 0x7fffffff }),
      lowerThreshold: fc.integer({ min: 0, max: 0x7fffffff }),
      tunnelType: fc.constantFrom('ipip' as const, 'gue' as const, 'gre' as const),
      tunnelPort: fc.integer({ min: 1, max: 65535 }),
      tunnelCsum: fc.boolean(),
      tunnelRemcsum: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    const i = { ...r };
    // Valid inputs only: the lower threshold within the upper, GUE with a port.
    if ((i.lowerThreshold ?? 0) > (i.upperThreshold ?? 0)) i.lowerThreshold = i.upperThreshold ?? 0;
    if (i.tunnelType === 'gue' && i.tunnelPort === undefined) i.tunnelPort = 6080;
    return i;
  });

t.test('destination configurations survive the wire', async (t) => {
  fc.assert(
    fc.property(fc.record({ address: fc.oneof(v4, v6), port }), destinationInput, fc.constantFrom('ipv4' as const, 'ipv6' as const), (key, input, svcFamily) => {
      const d = normalizeDestinationKey(key);
      const cfg = completeDestinationConfig(input);
      const w = new NlWriter(64);
      encodeAttrs(w, DEST_ATTRS, destinationAttrs(d, cfg));
      const b = w.toBuffer();
      const rule = decodeDestinationRule(new AttrView(DEST_ATTRS).load(b, 0, b.length), svcFamily);
      deepStrictEqual(rule, { key: d.key, family: d.family, config: cfg });
    }),
    { numRuns: RUNS },
  );
  t.pass();
});
