/**
 * IP addresses as IPVS carries them: 16 bytes (`union nf_inet_addr`), IPv4 in
 * the first four. Formatting follows glibc's inet_ntop so that listings match
 * ipvsadm's byte for byte (RFC 5952 compression, embedded IPv4 for
 * IPv4-mapped and IPv4-compatible addresses).
 * @module
 */
/** Address family of an IPVS object. */
export type Family = 'ipv4' | 'ipv6';

/** A parsed address: family, the 16 bytes IPVS carries, and the canonical text. */
export interface ParsedAddress {
  readonly family: Family;
  /** Shared and cached: never modify. */
  readonly bytes: Buffer;
  /** inet_ntop form. */
  readonly text: string;
}

// Bulk loads name the same few thousand addresses tens of thousands of
// times; parsing each once keeps allocation (and, under UML, page faults)
// off the hot path. Bounded: cleared when full.
const cache = new Map<string, ParsedAddress>();
const CACHE_MAX = 16384;

/** Parses an IPv4 or IPv6 address into 16 bytes; throws a TypeError otherwise. */
export function parseAddress(text: string): ParsedAddress {
  const hit = cache.get(text);
  if (hit) return hit;
  const bytes = Buffer.alloc(16);
  let family: Family;
  const v4 = ipv4Value(text);
  if (!Number.isNaN(v4)) {
    bytes.writeInt32BE(v4, 0);
    family = 'ipv4';
  } else if (isIPv6Text(text)) {
    writeIPv6(text, bytes);
    family = 'ipv6';
  } else {
    throw new TypeError(`'${text}' is not an IPv4 or IPv6 address`);
  }
  const parsed: ParsedAddress = { family, bytes, text: formatAddress(bytes, family) };
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, parsed);
  return parsed;
}

/** The family of an address string, or undefined when it is neither. */
export function addressFamily(text: string): Family | undefined {
  if (isIPv4Text(text)) return 'ipv4';
  if (isIPv6Text(text)) return 'ipv6';
  return undefined;
}

// What node:net's isIPv4() and isIPv6() accept, said here: loading node:net
// costs a command (start-up of `ipvs -a ...`, a restore) ~190 page faults
// under UML, for two checks. test/unit/address.test.ts holds these to
// node:net's answers on generated texts.

/**
 * The address a dotted quad in `s[from, to)` names, as its 32 bits in a
 * signed integer (`a << 24 | b << 16 | c << 8 | d`: 255.255.255.255 is -1),
 * or NaN when it is not one as node's net.isIPv4 has it: four decimal parts
 * 0-255, no leading zeros. Signed because V8 keeps an int32 as a small
 * integer, where an unsigned value from 2^31 up is a heap number: a restore
 * reads 50,000 addresses, and before TurboFan has compiled its loop each
 * such value is an allocation.
 */
export function ipv4Value(s: string, from = 0, to = s.length): number {
  let i = from;
  let address = 0;
  for (let part = 0; ; part++) {
    const start = i;
    let v = 0;
    for (let c = s.charCodeAt(i); i < to && c >= 48 && c <= 57; c = s.charCodeAt(++i)) v = v * 10 + (c - 48);
    const len = i - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && s.charCodeAt(start) === 48)) return NaN;
    address = (address << 8) | v;
    if (part === 3) return i === to ? address : NaN;
    if (i >= to || s.charCodeAt(i) !== 46) return NaN;
    i++;
  }
}

/** A dotted quad in `s[from, to)` (node's net.isIPv4). */
export function isIPv4Text(s: string, from = 0, to = s.length): boolean {
  return !Number.isNaN(ipv4Value(s, from, to));
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** A zone id character (`%eth0`, `%1`) as node's net.isIPv6 allows: letters, digits, `-`, `.`, `:`. */
function isZoneChar(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46;
}

/**
 * An IPv6 address (node's net.isIPv6): groups of 1-4 hex digits, eight of
 * them, or at most seven around one `::` (which stands for one or more); a
 * dotted quad may end it as the last two; an optional `%zone`.
 */
export function isIPv6Text(s: string): boolean {
  let end = s.indexOf('%');
  if (end >= 0) {
    if (end === s.length - 1) return false;
    for (let k = end + 1; k < s.length; k++) if (!isZoneChar(s.charCodeAt(k))) return false;
  } else end = s.length;
  let i = 0;
  let groups = 0;
  let gap = false;
  if (s.charCodeAt(0) === 58) {
    if (end < 2 || s.charCodeAt(1) !== 58) return false;
    gap = true;
    i = 2;
    if (i === end) return true;
  }
  for (;;) {
    let j = i;
    while (j < end && isHexDigit(s.charCodeAt(j))) j++;
    if (j < end && s.charCodeAt(j) === 46) {
      // A dotted quad, which can only end the address.
      if (!isIPv4Text(s, i, end)) return false;
      groups += 2;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups++;
    if (j === end) break;
    if (s.charCodeAt(j) !== 58) return false;
    if (s.charCodeAt(j + 1) === 58 && j + 1 < end) {
      if (gap) return false;
      gap = true;
      i = j + 2;
      if (i === end) break;
    } else {
      i = j + 1;
      if (i === end) return false;
    }
  }
  return gap ? groups <= 7 : groups === 8;
}

function writeIPv6(text: string, out: Buffer): void {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  // An embedded dotted quad becomes the last two groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  const groups: number[] = [];
  let head = s;
  let v4: number[] | undefined;
  if (tail.includes('.')) {
    v4 = tail.split('.').map(Number);
    head = s.slice(0, lastColon + 1);
    // Keep a trailing "::" ("::1.2.3.4"); drop a single separating colon.
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const dbl = head.indexOf('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const want = v4 ? 6 : 8;
  if (dbl >= 0) {
    const left = parse(head.slice(0, dbl));
    const right = parse(head.slice(dbl + 2));
    groups.push(...left, ...new Array<number>(want - left.length - right.length).fill(0), ...right);
  } else {
    groups.push(...parse(head));
  }
  for (let i = 0; i < want; i++) out.writeUInt16BE(groups[i] ?? 0, i * 2);
  if (v4) for (let i = 0; i < 4; i++) out[12 + i] = v4[i] ?? 0;
}

// Dumps name the same real servers over and over (50,000 destinations over a
// few hundred addresses): one string per distinct IPv4 address, not per
// destination. Bounded: cleared when full.
const v4text = new Map<number, string>();

/**
 * The dotted quad of an IPv4 address given as a number (`a << 24 | ...`,
 * signed as {@link ipv4Value} gives it or unsigned), remembered by its
 * signed value (a small integer to V8: no heap number per lookup).
 */
export function formatIPv4(value: number): string {
  const key = value | 0;
  let text = v4text.get(key);
  if (text === undefined) {
    text = `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`;
    if (v4text.size >= CACHE_MAX) v4text.clear();
    v4text.set(key, text);
  }
  return text;
}

/** Formats 4 (IPv4) or 16 (IPv6) bytes at `offset` like inet_ntop. */
export function formatAddress(bytes: Buffer, family: Family, offset = 0): string {
  if (family === 'ipv4') {
    return formatIPv4(((bytes[offset] as number) << 24) | ((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number));
  }
  if (offset !== 0) bytes = bytes.subarray(offset, offset + 16);
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(bytes.readUInt16BE(i * 2));
  // The longest run of zero words (at least two), the first when tied.
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else curLen++;
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
    } else curBase = -1;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i > 0) out += ':';
    // glibc: embedded IPv4 for ::a.b.c.d (compatible) and ::ffff:a.b.c.d (mapped).
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
      break;
    }
    out += (words[i] as number).toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** The canonical text of an address (inet_ntop(inet_pton(x))). */
export function normalizeAddress(text: string): string {
  return parseAddress(text).text;
}

/** `addr:port`, with IPv6 in brackets, as ipvsadm prints it. */
export function formatAddrPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
