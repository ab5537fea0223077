/**
 * IP addresses as IPVS carries them: 16 bytes (`union nf_inet_addr`), IPv4 in
 * the first four. Formatting follows glibc's inet_ntop so that listings match
 * ipvsadm's byte for byte (RFC 5952 compression, embedded IPv4 for
 * IPv4-mapped and IPv4-compatible addresses).
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

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
  if (isIPv4(text)) {
    const parts = text.split('.');
    for (let i = 0; i < 4; i++) bytes[i] = Number(parts[i]);
    family = 'ipv4';
  } else if (isIPv6(text)) {
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
  if (isIPv4(text)) return 'ipv4';
  if (isIPv6(text)) return 'ipv6';
  return undefined;
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

/** Formats 4 (IPv4) or 16 (IPv6) bytes at `offset` like inet_ntop. */
export function formatAddress(bytes: Buffer, family: Family, offset = 0): string {
  if (family === 'ipv4') {
    const a = bytes[offset] as number;
    const b = bytes[offset + 1] as number;
    const c = bytes[offset + 2] as number;
    const d = bytes[offset + 3] as number;
    const key = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    let text = v4text.get(key);
    if (text === undefined) {
      text = `${a}.${b}.${c}.${d}`;
      if (v4text.size >= CACHE_MAX) v4text.clear();
      v4text.set(key, text);
    }
    return text;
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
