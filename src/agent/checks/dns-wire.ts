/**
 * The little of the DNS wire format (RFC 1035 4.1) a health check needs: a
 * query with one question, and a reply's header and first question.
 * @module
 */

/** Record types a check may ask for, by their RFC 1035 / RFC 3596 / RFC 2782 numbers. */
export const DNS_TYPES = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  ANY: 255,
} as const;

/** A record type name. */
export type DnsType = keyof typeof DNS_TYPES;

/** Response codes (RFC 1035 4.1.1, RFC 2136 2.2), indexed by value. */
export const DNS_RCODES = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
] as const;

/** A response code name. */
export type DnsRcode = (typeof DNS_RCODES)[number];

/** The header fields and the first question of a message. */
export interface DnsMessage {
  id: number;
  /** True for a response. */
  qr: boolean;
  opcode: number;
  /** Truncated: the answer did not fit in the datagram. */
  tc: boolean;
  rd: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  /** The first question, when there is one. */
  question?: { name: string; type: number; class: number };
  /** Offset just past the first question (where the answers start). */
  end: number;
}

const CLASS_IN = 1;
/** RD: ask a resolver to recurse; an authoritative server ignores it. */
const FLAGS_QUERY_RD = 0x0100;

/**
 * Encodes a standard query for `name` (absolute or not; '.' is the root) of
 * `type` in class IN, recursion desired. Throws a TypeError for a name DNS
 * cannot carry (a label over 63 bytes, a name over 255).
 */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const qname = encodeName(name);
  const buf = Buffer.alloc(12 + qname.length + 4);
  buf.writeUInt16BE(id & 0xffff, 0);
  buf.writeUInt16BE(FLAGS_QUERY_RD, 2);
  buf.writeUInt16BE(1, 4); // QDCOUNT
  qname.copy(buf, 12);
  buf.writeUInt16BE(type, 12 + qname.length);
  buf.writeUInt16BE(CLASS_IN, 14 + qname.length);
  return buf;
}

/** A domain name as length-prefixed labels ending in the root's zero byte. */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    if (bytes.length === 0) throw new TypeError(`'${name}' has an empty label`);
    if (bytes.length > 63) throw new TypeError(`'${name}' has a label longer than 63 bytes`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new TypeError(`'${name}' is longer than 255 bytes`);
  return out;
}

/** Decodes a message's header and first question; undefined when it is malformed. */
export function decodeMessage(buf: Buffer): DnsMessage | undefined {
  if (buf.length < 12) return undefined;
  const flags = buf.readUInt16BE(2);
  const msg: DnsMessage = {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    rcode: flags & 0xf,
    qdcount: buf.readUInt16BE(4),
    ancount: buf.readUInt16BE(6),
    nscount: buf.readUInt16BE(8),
    arcount: buf.readUInt16BE(10),
    end: 12,
  };
  if (msg.qdcount > 0) {
    const name = decodeName(buf, 12);
    if (name === undefined || name.end + 4 > buf.length) return undefined;
    msg.question = { name: name.name, type: buf.readUInt16BE(name.end), class: buf.readUInt16BE(name.end + 2) };
    msg.end = name.end + 4;
  }
  return msg;
}

/** Reads a name at `offset`, following compression pointers (RFC 1035 4.1.4). */
export function decodeName(buf: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let i = offset;
  let end = -1;
  // Each pointer must go backwards, so a loop is impossible and the hop count
  // is bounded by the message length; the explicit bound is belt and braces.
  for (let hops = 0; hops < 128; hops++) {
    if (i >= buf.length) return undefined;
    const len = buf[i]!;
    if (len === 0) {
      if (end < 0) end = i + 1;
      return { name: labels.length === 0 ? '.' : labels.join('.') + '.', end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (i + 1 >= buf.length) return undefined;
      const target = ((len & 0x3f) << 8) | buf[i + 1]!;
      if (target >= i) return undefined;
      if (end < 0) end = i + 2;
      i = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || i + 1 + len > buf.length) return undefined;
    labels.push(buf.toString('utf8', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return undefined;
}
