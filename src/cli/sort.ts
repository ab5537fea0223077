/**
 * ipvsadm's listing order, reproduced exactly.
 *
 * ipvsadm sorts services and real servers with glibc's `qsort` and
 * comparators that subtract unsigned 32-bit values into an `int`
 * (`ipvs_cmp_services`, `ipvs_cmp_dests` in libipvs). The subtraction wraps,
 * so the order is not numeric when two values differ by 2^31 or more (an
 * address in 10.0.0.0/8 sorts *after* one in 192.0.2.0/24, fwmark 1 after
 * fwmark 3000000000), and it is not even a total order. To print the same
 * lines in the same order, this module uses the same comparators and the
 * algorithm glibc 2.36's `qsort` uses: a top-down merge sort that splits
 * n into n/2 and n - n/2 and takes from the left run while cmp <= 0.
 * @module
 */
import { ipv4Value, parseAddress } from '../ipvs/address';
import { PROTO_NUM } from '../ipvs/codec';
import { isFwmarkKey, type DestinationKey, type ServiceKey } from '../ipvs/model';
import type { Family } from '../ipvs/address';

const ZERO16 = Buffer.alloc(16);

/** `a - b` of two unsigned 32-bit values, as C stores it in an int. */
function wrapSub(a: number, b: number): number {
  return (a - b) | 0;
}

function cmpAddr(a: Buffer, b: Buffer, v6: boolean): number {
  if (!v6) return wrapSub(a.readUInt32BE(0), b.readUInt32BE(0));
  for (let i = 0; i < 16; i += 4) {
    const r = wrapSub(a.readUInt32BE(i), b.readUInt32BE(i));
    if (r !== 0) return r;
  }
  return 0;
}

/** ipvsadm's service comparator (fwmark, family, protocol, address, port). */
export function compareServices(a: { key: ServiceKey; family: Family }, b: { key: ServiceKey; family: Family }): number {
  const ka = a.key;
  const kb = b.key;
  const fa = isFwmarkKey(ka) ? ka.fwmark : 0;
  const fb = isFwmarkKey(kb) ? kb.fwmark : 0;
  let r = wrapSub(fa, fb);
  if (r !== 0) return r;
  r = (a.family === 'ipv4' ? 2 : 10) - (b.family === 'ipv4' ? 2 : 10);
  if (r !== 0) return r;
  // libipvs leaves protocol, address and port zero for fwmark services.
  const pa = isFwmarkKey(ka) ? 0 : typeof ka.protocol === 'number' ? ka.protocol : PROTO_NUM[ka.protocol];
  const pb = isFwmarkKey(kb) ? 0 : typeof kb.protocol === 'number' ? kb.protocol : PROTO_NUM[kb.protocol];
  r = pa - pb;
  if (r !== 0) return r;
  const aa = isFwmarkKey(ka) ? ZERO16 : parseAddress(ka.address).bytes;
  const ab = isFwmarkKey(kb) ? ZERO16 : parseAddress(kb.address).bytes;
  r = cmpAddr(aa, ab, a.family === 'ipv6');
  if (r !== 0) return r;
  return (isFwmarkKey(ka) ? 0 : ka.port) - (isFwmarkKey(kb) ? 0 : kb.port);
}

/** ipvsadm's real-server comparator (address as the first one's family reads it, then port). */
export function compareDestinations(a: { key: DestinationKey; family: Family }, b: { key: DestinationKey; family: Family }): number {
  const r = cmpAddr(parseAddress(a.key.address).bytes, parseAddress(b.key.address).bytes, a.family === 'ipv6');
  if (r !== 0) return r;
  return a.key.port - b.key.port;
}

/**
 * Sorts services as ipvsadm does ({@link compareServices}), each key read
 * once (a save sorts 5,000 services: some 60,000 comparisons).
 */
export function sortServices<T extends { key: ServiceKey; family: Family }>(list: T[]): T[] {
  const n = list.length;
  if (n < 2) return list;
  // Per entry: fwmark, family, protocol, 4 address words, port.
  const k = new Float64Array(n * 8);
  for (let i = 0; i < n; i++) {
    const s = list[i] as T;
    const key = s.key;
    const o = i * 8;
    k[o + 1] = s.family === 'ipv4' ? 2 : 10;
    if (isFwmarkKey(key)) {
      k[o] = key.fwmark; // protocol, address and port stay 0, as libipvs leaves them
    } else {
      k[o + 2] = typeof key.protocol === 'number' ? key.protocol : PROTO_NUM[key.protocol];
      const w = s.family === 'ipv4' ? ipv4Word(key.address) : undefined;
      if (w !== undefined) k[o + 3] = w; // the other three words stay 0, as in parseAddress's bytes
      else {
        const b = parseAddress(key.address).bytes;
        for (let x = 0; x < 4; x++) k[o + 3 + x] = b.readUInt32BE(x * 4);
      }
      k[o + 7] = key.port;
    }
  }
  const packed = packedOrder(k, n, 8);
  if (packed) {
    // Fields within 2^31 of each other (nearly every table): one numeric sort.
    const sorted = list.slice();
    for (let j = 0; j < n; j++) list[j] = sorted[packed[j] as number] as T;
    return list;
  }
  const idx = Array.from({ length: n }, (_v, i) => i);
  glibcSort(idx, (x, y) => {
    const a = x * 8;
    const b = y * 8;
    let r = wrapSub(k[a] as number, k[b] as number);
    if (r !== 0) return r;
    r = (k[a + 1] as number) - (k[b + 1] as number);
    if (r !== 0) return r;
    r = (k[a + 2] as number) - (k[b + 2] as number);
    if (r !== 0) return r;
    const words = k[a + 1] === 10 ? 4 : 1;
    for (let w = 0; w < words; w++) {
      r = wrapSub(k[a + 3 + w] as number, k[b + 3 + w] as number);
      if (r !== 0) return r;
    }
    return (k[a + 7] as number) - (k[b + 7] as number);
  });
  const sorted = idx.map((i) => list[i] as T);
  for (let i = 0; i < n; i++) list[i] = sorted[i] as T;
  return list;
}

/**
 * Sorts real servers as ipvsadm does ({@link compareDestinations}), with
 * each address read once: listings sort 5,000 lists and the comparator
 * would otherwise look every address up again on every comparison.
 */
let scratch = new Float64Array(64 * 6);

export function sortDestinations<T extends { key: DestinationKey; family: Family }>(dests: readonly T[]): T[] {
  const n = dests.length;
  if (n < 2) return dests.slice();
  const short = n <= V4_SHORT ? sortShortIPv4(dests) : undefined;
  if (short) return short;
  // Per entry: 4 address words, port, IPv6 flag; one scratch array for every call.
  if (scratch.length < n * 6) scratch = new Float64Array(n * 12);
  const k = scratch;
  for (let i = 0; i < n; i++) {
    const d = dests[i] as T;
    const b = parseAddress(d.key.address).bytes;
    const o = i * 6;
    k[o] = b.readUInt32BE(0);
    k[o + 1] = b.readUInt32BE(4);
    k[o + 2] = b.readUInt32BE(8);
    k[o + 3] = b.readUInt32BE(12);
    k[o + 4] = d.key.port;
    k[o + 5] = d.family === 'ipv6' ? 1 : 0;
  }
  const idx = Array.from({ length: n }, (_v, i) => i);
  glibcSort(idx, (x, y) => {
    const a = x * 6;
    const b = y * 6;
    const words = k[a + 5] ? 4 : 1; // the first one's family decides, as in libipvs
    for (let w = 0; w < words; w++) {
      const r = ((k[a + w] as number) - (k[b + w] as number)) | 0;
      if (r !== 0) return r;
    }
    return (k[a + 4] as number) - (k[b + 4] as number);
  });
  return idx.map((i) => dests[i] as T);
}

const V4_SHORT = 32;
const v4Keys = new Float64Array(V4_SHORT);
const v4Places = new Int32Array(V4_SHORT);
const v4Words = new Map<string, number>();

/**
 * A short list of IPv4 real servers (nearly every list) sorted by
 * insertion on address * 65536 + port, with no comparator and no
 * allocation but the result; undefined for anything else. The same order
 * as {@link compareDestinations} when the addresses span less than 2^31
 * (its wrapping subtraction is then a numeric comparison, and an
 * insertion sort is stable, as the merge sort is); otherwise undefined too.
 */
function sortShortIPv4<T extends { key: DestinationKey; family: Family }>(dests: readonly T[]): T[] | undefined {
  const n = dests.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const d = dests[i] as T;
    const { address, port } = d.key;
    if (d.family !== 'ipv4' || !(port >= 0 && port < 65536 && port % 1 === 0)) return undefined;
    const w = ipv4Word(address);
    if (w === undefined) return undefined;
    if (w < lo) lo = w;
    if (w > hi) hi = w;
    const key = w * 65536 + port;
    let j = i;
    for (; j > 0 && (v4Keys[j - 1] as number) > key; j--) {
      v4Keys[j] = v4Keys[j - 1] as number;
      v4Places[j] = v4Places[j - 1] as number;
    }
    v4Keys[j] = key;
    v4Places[j] = i;
  }
  if (hi - lo >= 2 ** 31) return undefined;
  const out = new Array<T>(n);
  for (let j = 0; j < n; j++) out[j] = dests[v4Places[j] as number] as T;
  return out;
}

/** A dotted quad's 32 bits as an unsigned number (undefined for anything else), remembered. */
function ipv4Word(address: string): number | undefined {
  let w = v4Words.get(address);
  if (w === undefined) {
    const v = ipv4Value(address);
    if (Number.isNaN(v)) return undefined;
    w = v >>> 0;
    if (v4Words.size >= 16384) v4Words.clear();
    v4Words.set(address, w);
  }
  return w;
}

let packedKeys = new Float64Array(64);
const packedIndex: number[] = [];
const packedMin: number[] = [];
const packedScale: number[] = [];

/**
 * The order of `n` entries whose keys are rows of `k` (`cols` numbers a
 * row, compared left to right), by one numeric sort
 * instead of a merge sort calling a comparator 60,000 times; or undefined
 * when that would not be the comparator's order.
 *
 * ipvsadm's comparators subtract 32-bit values with wrap-around, which is
 * a numeric comparison exactly when the two differ by less than 2^31. When
 * every column spans less than that, the comparator is a total order, the
 * lexicographic one of the columns, and every stable sort gives what
 * glibc's merge sort gives. Each row is then packed into one integer (each
 * column's offset from its minimum in as many bits as its span needs, then
 * the entry's index, which breaks ties as a stable sort would), provided
 * that fits the 53 bits a double holds exactly; a Float64Array sorts that
 * natively. Returns the entries' indices in order (a buffer reused by the
 * next call).
 */
function packedOrder(k: Float64Array, n: number, cols: number): number[] | undefined {
  let bits = bitsFor(n - 1);
  const min = packedMin;
  const scale = packedScale;
  for (let c = cols - 1; c >= 0; c--) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let o = c; o < n * cols; o += cols) {
      const v = k[o] as number;
      if (!(v % 1 === 0)) return undefined; // not an integer (NaN from a key the model does not allow)
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo >= 2 ** 31) return undefined;
    min[c] = lo;
    scale[c] = 2 ** bits; // what a unit of this column is worth
    bits += bitsFor(hi - lo);
    if (bits > 53) return undefined;
  }
  if (packedKeys.length < n) packedKeys = new Float64Array(n * 2);
  const keys = packedKeys;
  for (let i = 0; i < n; i++) {
    let v = i;
    for (let c = 0; c < cols; c++) v += ((k[i * cols + c] as number) - (min[c] as number)) * (scale[c] as number);
    keys[i] = v;
  }
  keys.subarray(0, n).sort();
  const unit = 2 ** bitsFor(n - 1);
  packedIndex.length = n;
  for (let j = 0; j < n; j++) packedIndex[j] = (keys[j] as number) % unit;
  return packedIndex;
}

/** How many bits the non-negative integer `span` needs (0 for 0). */
function bitsFor(span: number): number {
  let b = 0;
  while (2 ** b <= span) b++;
  return b;
}

/** Sorts `list` in place exactly as glibc 2.36's qsort (merge sort) does with `cmp`. */
export function glibcSort<T>(list: T[], cmp: (a: T, b: T) => number): T[] {
  if (list.length < 2) return list;
  const tmp = new Array<T>(list.length);
  const sort = (lo: number, n: number): void => {
    if (n <= 1) return;
    const n1 = n >>> 1;
    const n2 = n - n1;
    sort(lo, n1);
    sort(lo + n1, n2);
    let i = lo;
    let j = lo + n1;
    let left = n1;
    let right = n2;
    let k = 0;
    while (left > 0 && right > 0) {
      if (cmp(list[i] as T, list[j] as T) <= 0) {
        tmp[k++] = list[i++] as T;
        left--;
      } else {
        tmp[k++] = list[j++] as T;
        right--;
      }
    }
    while (left-- > 0) tmp[k++] = list[i++] as T;
    // What is left of the right run is already in place.
    for (let m = 0; m < k; m++) list[lo + m] = tmp[m] as T;
  };
  sort(0, list.length);
  return list;
}
