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
