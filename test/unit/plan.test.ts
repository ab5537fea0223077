// planChanges against a plain reference: random current and desired rule
// sets (real servers written in several spellings of one address, services
// small enough for the pairwise comparison and big enough for the general
// path, duplicates and invalid addresses in the desired set) must give the
// same operations in the same order, the same summary, or the same error.
import t from 'tap';
import fc from 'fast-check';
import { planChanges, Planner, sameServiceConfig, type Plan } from '../../src/ipvs/plan';
import { comparableServiceConfig, destinationKeyText, normalizeDestinationKey, normalizeServiceKey, serviceKeyText } from '../../src/ipvs/codec';
import type { Operation } from '../../src/ipvs/client';
import type { DestinationConfig, DestinationRule, ServiceConfig, ServiceKey, ServiceRule } from '../../src/ipvs/model';

/** The reference: every real server by its id string, one map per service. */
function reference(current: readonly ServiceRule[], desired: readonly ServiceRule[]): Plan {
  const sid = (k: ServiceKey): string => serviceKeyText(normalizeServiceKey(k).key);
  const did = (d: DestinationRule): string => destinationKeyText(normalizeDestinationKey(d.key).key);
  const same = (a: DestinationConfig, b: DestinationConfig): boolean => JSON.stringify(a) === JSON.stringify(b);
  const summary = { addServices: 0, editServices: 0, deleteServices: 0, addDestinations: 0, editDestinations: 0, deleteDestinations: 0, unchanged: 0 };
  const now = new Map(current.map((s) => [sid(s.key), s] as const));
  const want = new Map<string, ServiceRule>();
  for (const s of desired) {
    const id = sid(s.key);
    if (want.has(id)) throw new Error(`${id} is listed twice in the desired rules`);
    want.set(id, s);
  }
  const adds: Operation[] = [];
  const edits: Operation[] = [];
  const removals: Operation[] = [];
  const serviceRemovals: Operation[] = [];
  for (const [id, s] of want) {
    const cur = now.get(id);
    if (!cur) {
      summary.addServices++;
      adds.push({ type: 'add-service', service: s.key, config: s.config });
      for (const d of s.destinations) {
        summary.addDestinations++;
        adds.push({ type: 'add-destination', service: s.key, destination: d.key, config: d.config });
      }
      continue;
    }
    if (comparableServiceConfig(cur.config) === comparableServiceConfig(s.config)) summary.unchanged++;
    else {
      summary.editServices++;
      edits.push({ type: 'edit-service', service: s.key, config: s.config });
    }
    const curDests = new Map(cur.destinations.map((d) => [did(d), d] as const));
    const seen = new Set<string>();
    for (const d of s.destinations) {
      const id2 = did(d);
      if (seen.has(id2)) throw new Error(`${id2} is listed twice in ${id}`);
      seen.add(id2);
      const cd = curDests.get(id2);
      if (!cd) {
        summary.addDestinations++;
        adds.push({ type: 'add-destination', service: s.key, destination: d.key, config: d.config });
      } else if (!same(cd.config, d.config)) {
        summary.editDestinations++;
        edits.push({ type: 'edit-destination', service: s.key, destination: d.key, config: d.config });
      } else summary.unchanged++;
    }
    for (const [id2, cd] of curDests) {
      if (seen.has(id2)) continue;
      summary.deleteDestinations++;
      removals.push({ type: 'delete-destination', service: cur.key, destination: cd.key });
    }
  }
  for (const [id, cur] of now) {
    if (want.has(id)) continue;
    summary.deleteServices++;
    serviceRemovals.push({ type: 'delete-service', service: cur.key });
  }
  return { operations: [...adds, ...edits, ...removals, ...serviceRemovals], summary };
}

const SERVICES: ServiceKey[] = [
  { protocol: 'tcp', address: '203.0.113.10', port: 80 },
  { protocol: 'udp', address: '203.0.113.10', port: 53 },
  { fwmark: 7, family: 'ipv4' },
  { protocol: 'tcp', address: '2001:db8::10', port: 443 },
];
// Several spellings of the same addresses: the plan must see them as one.
const SPELLINGS = [['198.51.100.1'], ['198.51.100.2'], ['2001:db8::1', '2001:DB8:0::1', '2001:0db8:0000:0000:0000:0000:0000:0001'], ['2001:db8::2', '2001:db8:0:0::2']];
const PORTS = [80, 8080];

const config = fc.record({
  forwarding: fc.constantFrom('route' as const, 'masq' as const),
  weight: fc.integer({ min: 0, max: 2 }),
  upperThreshold: fc.constant(0),
  lowerThreshold: fc.constant(0),
  tunnelType: fc.constant('ipip' as const),
  tunnelPort: fc.constant(0),
  tunnelCsum: fc.constant(false),
  tunnelRemcsum: fc.constant(false),
});
// Small domains, so that equal and different configurations both come up; flags
// with different names for the same bits (sh-fallback is flag-1), a prefix as
// a number and as a string, an engine absent or empty: the same to the kernel.
const svcConfig = fc.record({
  scheduler: fc.constantFrom('rr', 'wlc', 'sh'),
  persistent: fc.boolean(),
  timeout: fc.constantFrom(0, 300),
  netmask: fc.constantFrom('255.255.255.255', '255.255.255.0', 64, '64'),
  onePacket: fc.boolean(),
  schedFlags: fc.constantFrom([], ['flag-1'], ['sh-fallback'], ['sh-fallback', 'sh-port'], ['sh-port', 'sh-fallback'], ['flag-1', 'flag-2']),
  persistenceEngine: fc.constantFrom(undefined, '', 'sip'),
}) as fc.Arbitrary<ServiceConfig>;

/** A real server: an address index, a spelling, a port, a configuration. */
const server = fc.tuple(fc.nat(SPELLINGS.length * 20 - 1), fc.nat(2), fc.constantFrom(...PORTS), config);
function rule(address: string, port: number, c: DestinationConfig): DestinationRule {
  return { key: { address, port }, family: address.includes(':') ? 'ipv6' : 'ipv4', config: c };
}
/** Address i: one of the spellings, or beyond them a distinct IPv4 address. */
function spell(i: number, variant: number): string {
  if (i < SPELLINGS.length) {
    const s = SPELLINGS[i] as string[];
    return s[variant % s.length] as string;
  }
  return `198.51.100.${10 + i}`;
}

const ruleSet = (desired: boolean): fc.Arbitrary<ServiceRule[]> =>
  fc
    .array(fc.tuple(fc.nat(SERVICES.length - 1), svcConfig, fc.array(server, { maxLength: 40, size: 'max' }), fc.boolean(), fc.boolean()), { maxLength: 4 })
    .map((xs) => {
      const out: ServiceRule[] = [];
      const used = new Set<number>();
      for (const [si, sc, servers, dup, bogus] of xs) {
        if (used.has(si)) continue;
        used.add(si);
        const key = SERVICES[si] as ServiceKey;
        const seen = new Set<string>();
        const destinations: DestinationRule[] = [];
        for (const [ai, v, port, c] of servers) {
          const id = `${ai}:${port}`;
          // The kernel never lists a real server twice; a desired set may (an error).
          if (seen.has(id) && !(desired && dup)) continue;
          seen.add(id);
          destinations.push(rule(spell(ai, v), port, c));
        }
        if (desired && bogus && destinations.length) destinations.splice(destinations.length >> 1, 0, rule('not-an-address', 80, destinations[0]?.config as DestinationConfig));
        out.push({ key, family: 'address' in key && key.address.includes(':') ? 'ipv6' : 'ipv4', config: sc, destinations });
      }
      return out;
    });

function outcome(fn: () => Plan): unknown {
  try {
    return fn();
  } catch (e) {
    return { error: (e as Error).message };
  }
}

t.test('the same plan, or the same error, as the reference', async (t) => {
  let pairwise = 0;
  let general = 0;
  let errors = 0;
  let sliced = 0;
  fc.assert(
    fc.property(ruleSet(false), ruleSet(true), (current, desired) => {
      for (const s of desired) {
        const c = current.find((x) => JSON.stringify(x.key) === JSON.stringify(s.key));
        if (c && c.destinations.length <= 32 && s.destinations.length <= 32) pairwise++;
        else if (c) general++;
      }
      const got = outcome(() => planChanges(current, desired));
      const want = outcome(() => reference(current, desired));
      if ((got as { error?: string }).error !== undefined) errors++;
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`differs:\n  got  ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
      // The lazy plan, in slices of any size, holds the same operations in the same order.
      if ((got as { error?: string }).error === undefined) {
        const size = 1 + (desired.length % 5);
        const planner = new Planner(desired);
        for (const s of current) planner.current(s);
        const lazy = planner.lazy();
        const slices = [...lazy.slices(size)];
        if (slices.some((x) => x.length === 0 || x.length > size)) throw new Error(`a slice of ${slices.map((x) => x.length)} is empty or over ${size}`);
        const ops = slices.flat();
        if (ops.length > size) sliced++;
        const plan = got as Plan;
        if (JSON.stringify(ops) !== JSON.stringify(plan.operations) || lazy.count !== ops.length || JSON.stringify(lazy.summary) !== JSON.stringify(plan.summary)) {
          throw new Error(`lazy plan differs (slices of ${size}, count ${lazy.count}):\n  got  ${JSON.stringify(ops)}\n  want ${JSON.stringify(plan.operations)}`);
        }
        if (JSON.stringify([...lazy.slices(size)].flat()) !== JSON.stringify(ops)) throw new Error('slices asked again differ');
      }
    }),
    { numRuns: 3000 },
  );
  t.ok(sliced > 500, `${sliced} plans applied in more than one slice`);
  // The generator reaches both paths and the error cases.
  t.ok(pairwise > 500, `${pairwise} services compared pairwise`);
  t.ok(general > 50, `${general} services compared through the general path`);
  t.ok(errors > 100, `${errors} plans refused`);
});

t.test('sameServiceConfig says what equal comparableServiceConfig strings say', async (t) => {
  let same = 0;
  let different = 0;
  // A pair, and a pair that differs in at most one field (so that equal ones come up often).
  const oneField = svcConfig.chain((a) => fc.tuple(fc.constant(a), fc.constantFrom(...(Object.keys(a) as (keyof ServiceConfig)[])), svcConfig).map(([x, k, y]) => [x, { ...x, [k]: y[k] }] as const));
  fc.assert(
    fc.property(fc.oneof(fc.tuple(svcConfig, svcConfig), oneField), ([a, b]) => {
      const want = comparableServiceConfig(a) === comparableServiceConfig(b);
      if (want) same++;
      else different++;
      if (sameServiceConfig(a, b) !== want) throw new Error(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: want ${want}`);
    }),
    { numRuns: 5000 },
  );
  t.ok(same > 500 && different > 500, `${same} equal and ${different} different pairs`);
});

t.test('one address in three spellings is one real server: an edit, not a delete and an add', async (t) => {
  const c = (weight: number): DestinationConfig => ({ forwarding: 'route', weight, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false });
  const sc: ServiceConfig = { scheduler: 'rr', persistent: false, timeout: 0, netmask: 128, onePacket: false, schedFlags: [] };
  const key: ServiceKey = { protocol: 'tcp', address: '2001:db8::10', port: 80 };
  const current: ServiceRule[] = [{ key, family: 'ipv6', config: sc, destinations: [rule('2001:db8::1', 80, c(1))] }];
  const desired: ServiceRule[] = [{ key, family: 'ipv6', config: sc, destinations: [rule('2001:DB8:0::1', 80, c(2))] }];
  const plan = planChanges(current, desired);
  t.same(plan.operations.map((o) => o.type), ['edit-destination']);
  t.same(plan.summary.editDestinations, 1);
  t.throws(() => planChanges(current, [{ ...desired[0] as ServiceRule, destinations: [rule('2001:db8::1', 80, c(1)), rule('2001:0db8::1', 80, c(2))] }]), /destination \[2001:db8::1\]:80 is listed twice in/);
});
