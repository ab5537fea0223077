import t from 'tap';
import { compareDestinations, compareServices, glibcSort, sortDestinations, sortServices } from '../../src/cli/sort';
import type { ServiceKey } from '../../src/ipvs/model';

/** A deterministic pseudo-random sequence (xorshift). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

t.test('with a consistent comparator the merge sort is a stable sort', async (t) => {
  const r = rng(7);
  for (let n = 0; n < 60; n++) {
    const list = Array.from({ length: n }, (_v, i) => ({ k: r() % 5, i }));
    const want = [...list].sort((a, b) => a.k - b.k || a.i - b.i);
    t.same(glibcSort([...list], (a, b) => a.k - b.k), want, `n=${n}`);
  }
});

t.test('the merge order of glibc: ties and cycles resolve left first, from the n/2 split', async (t) => {
  // A cyclic comparator (rock, paper, scissors; the winner sorts first): the
  // result depends on the algorithm. glibc's msort on [R, P, S] splits
  // [R] | [P, S]; [P, S] merges to [S, P] (S beats P); then R vs S: R beats
  // S and is taken, and the left run is empty -> [R, S, P].
  const beats: Record<string, string> = { R: 'S', S: 'P', P: 'R' };
  const cmp = (a: string, b: string): number => (a === b ? 0 : beats[a] === b ? -1 : 1);
  t.same(glibcSort(['R', 'P', 'S'], cmp), ['R', 'S', 'P']);
  // [P] | [S, R] -> [R, S] (R beats S); P beats R and is taken -> [P, R, S].
  t.same(glibcSort(['P', 'S', 'R'], cmp), ['P', 'R', 'S']);
});

t.test("ipvsadm's comparators wrap at 32 bits", async (t) => {
  const mark = (fwmark: number): { key: ServiceKey; family: 'ipv4' } => ({ key: { fwmark, family: 'ipv4' }, family: 'ipv4' });
  t.ok(compareServices(mark(1), mark(10)) < 0, 'small marks in order');
  t.ok(compareServices(mark(1), mark(3000000000)) > 0, '1 - 3000000000 wraps positive: 1 sorts after');
  t.ok(compareServices(mark(4294967295), mark(1)) < 0, '4294967295 acts as -1');
  const tcp = (address: string, port: number): { key: ServiceKey; family: 'ipv4' | 'ipv6' } => ({
    key: { protocol: 'tcp', address, port },
    family: address.includes(':') ? 'ipv6' : 'ipv4',
  });
  t.ok(compareServices(tcp('192.0.2.1', 80), tcp('203.0.113.1', 80)) < 0, 'addresses with the top bit set compare numerically');
  t.ok(compareServices(tcp('192.0.2.1', 80), tcp('192.0.2.1', 81)) < 0, 'then ports');
  t.ok(compareServices(mark(1), tcp('192.0.2.1', 80)) > 0, 'fwmark services after address services (mark 0)');
  t.ok(compareServices(tcp('2001:db8::9000:0:0:1', 80), tcp('2001:db8::1:0:0:1', 80)) < 0, 'IPv6 words 2^31 apart wrap');
  const dest = (address: string, port: number) => ({ key: { address, port }, family: (address.includes(':') ? 'ipv6' : 'ipv4') as 'ipv4' | 'ipv6' });
  t.ok(compareDestinations(dest('198.51.100.2', 80), dest('198.51.100.10', 80)) < 0);
  t.ok(compareDestinations(dest('198.51.100.2', 81), dest('198.51.100.2', 80)) > 0);
});

t.test('sorting real servers with precomputed keys gives the comparator\'s order', async (t) => {
  const r = rng(11);
  const pick = (): { key: { address: string; port: number }; family: 'ipv4' | 'ipv6' } => {
    const x = r();
    const v6 = (x & 3) === 0;
    // Addresses spread over the whole space, so wrapping differences occur.
    const address = v6 ? `2001:db8:${(x >>> 16).toString(16)}::${(x & 0xffff).toString(16)}` : `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
    return { key: { address, port: r() % 4 }, family: v6 ? 'ipv6' : 'ipv4' };
  };
  for (let n = 0; n < 40; n++) {
    const list = Array.from({ length: n }, pick);
    t.same(sortDestinations(list), glibcSort([...list], compareDestinations), `n=${n}`);
  }
});

t.test("sorting services with precomputed keys gives the comparator's order", async (t) => {
  const r = rng(5);
  const pick = (): { key: ServiceKey; family: 'ipv4' | 'ipv6' } => {
    const x = r();
    const v6 = (x & 3) === 0;
    const family = v6 ? 'ipv6' : 'ipv4';
    if ((x & 12) === 0) return { key: { fwmark: (r() % 3) * 0x7fffffff + (r() % 5) + 1, family }, family };
    const address = v6 ? `2001:db8:${(x >>> 16).toString(16)}::${(x & 0xffff).toString(16)}` : `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
    const protocol = (['tcp', 'udp', 'sctp', 99] as const)[r() % 4] as 'tcp' | 'udp' | 'sctp';
    return { key: { protocol, address, port: r() % 3 }, family };
  };
  for (let n = 0; n < 40; n++) {
    const list = Array.from({ length: n }, pick);
    t.same(sortServices([...list]), glibcSort([...list], compareServices), `n=${n}`);
  }
});

t.test('the short ways (IPv4 real servers by insertion, services packed into one number) keep the comparator order', async (t) => {
  const r = rng(23);
  const dest = (address: string, port: number) => ({ key: { address, port }, family: (address.includes(':') ? 'ipv6' : 'ipv4') as 'ipv4' | 'ipv6' });
  const quad = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
  // Addresses inside a /8 (the short way) and across the whole space (where
  // the wrapping subtraction is not numeric and the merge sort must decide).
  for (const [what, spread] of [
    ['one /8', 0xffffff],
    ['the whole space', 0xffffffff],
  ] as const) {
    for (let n = 0; n <= 40; n++) {
      const base = spread === 0xffffff ? 0xc6000000 : 0;
      const list = Array.from({ length: n }, () => dest(quad((base + (r() % spread)) >>> 0), r() % 3));
      t.same(sortDestinations(list), glibcSort([...list], compareDestinations), `real servers, ${what}, n=${n}`);
    }
  }
  // Few addresses, many ports: the port decides between equal addresses.
  for (let n = 2; n <= 32; n += 2) {
    const list = Array.from({ length: n }, () => dest(`198.51.100.${r() % 3}`, r() % 5000));
    t.same(sortDestinations(list), glibcSort([...list], compareDestinations), `real servers on three addresses, n=${n}`);
  }
  // Two addresses 2^31 or more apart: 10.0.0.1 - 192.0.2.1 wraps positive,
  // so ipvsadm prints 192.0.2.1 first; a numeric sort would not.
  const wrap = [dest('10.0.0.1', 80), dest('192.0.2.1', 80)];
  t.same(sortDestinations(wrap).map((d) => d.key.address), ['192.0.2.1', '10.0.0.1'], 'a wrapping pair of real servers');
  t.same(sortDestinations([dest('192.0.2.1', 80), dest('10.0.0.1', 80)]).map((d) => d.key.address), ['192.0.2.1', '10.0.0.1']);
  // A port outside 16 bits would overflow the packed key: the comparator decides.
  const odd = [dest('192.0.2.2', 1), dest('192.0.2.1', 70000)];
  t.same(sortDestinations(odd), glibcSort([...odd], compareDestinations), 'a port beyond 65535');
  const svc = (address: string, port: number, protocol: 'tcp' | 'udp' | 'sctp' = 'tcp') => ({
    key: { protocol, address, port } as ServiceKey,
    family: (address.includes(':') ? 'ipv6' : 'ipv4') as 'ipv4' | 'ipv6',
  });
  for (let n = 0; n <= 60; n += 3) {
    const list = Array.from({ length: n }, () => {
      const x = r();
      if (x % 7 === 0) return { key: { fwmark: (x % 5) + 1, family: 'ipv4' } as ServiceKey, family: 'ipv4' as const };
      return svc(quad((0xcb007100 + (x % 4096)) >>> 0), r() % 5, (['tcp', 'udp', 'sctp'] as const)[r() % 3]);
    });
    t.same(sortServices([...list]), glibcSort([...list], compareServices), `services, one /20, n=${n}`);
  }
  // Columns that span one value (two adjacent addresses, ports or marks): the
  // packed key must still count them.
  for (let n = 2; n <= 30; n += 4) {
    const list = Array.from({ length: n }, () => {
      const x = r();
      if (x % 5 === 0) return { key: { fwmark: 1 + (x % 2), family: 'ipv4' } as ServiceKey, family: 'ipv4' as const };
      return svc(`192.0.2.${1 + (x % 2)}`, 80 + (r() % 2));
    });
    t.same(sortServices([...list]), glibcSort([...list], compareServices), `services a step apart, n=${n}`);
  }
  t.same(
    sortServices([svc('10.0.0.1', 80), svc('192.0.2.1', 80)]).map((s) => (s.key as { address: string }).address),
    ['192.0.2.1', '10.0.0.1'],
    'a wrapping pair of services',
  );
  // Keys the model does not allow (a fractional port, an unknown protocol word) cannot be
  // packed: the comparator decides, and nothing is lost.
  const odd2 = [svc('192.0.2.2', 80.5), svc('192.0.2.1', 80), { key: { protocol: 'icmp', address: '192.0.2.3', port: 1 } as unknown as ServiceKey, family: 'ipv4' as const }];
  const got = sortServices([...odd2]);
  t.same(got, glibcSort([...odd2], compareServices), 'keys outside the model');
  t.equal(new Set(got).size, 3, 'every service still there');
  const big = Array.from({ length: 5000 }, (_v, i) => svc(quad((0xcb007100 + (i * 7919) % 5000) >>> 0), 1000 + (i % 3)));
  t.same(sortServices([...big]), glibcSort([...big], compareServices), '5,000 services');
});
