/**
 * Netlink attributes driven by declarative tables.
 *
 * An {@link AttrSet} lists the attributes of one nest in the kernel's own
 * vocabulary: numeric id, C name, wire type (which fixes width and byte
 * order) and the kernel version that added it. {@link encodeAttrs} and
 * {@link decodeAttrs} are mirror images driven by the same table, so an
 * attribute cannot be written one way and read another. Attributes the
 * table does not know are kept (in `unknown`), never dropped.
 * @module
 */
import { NLA_HDRLEN, NLA_TYPE_MASK, nlAlign } from './constants';
import { readU16, readU32, readU64 } from './hostorder';
import type { NlWriter } from './writer';

/**
 * Wire types. Integers are host byte order unless the name starts with `be`.
 * - `string`: NUL-terminated (NLA_NUL_STRING); the NUL is written and stripped.
 * - `flags`: `struct ip_vs_flags`-like pair of host-order u32 `{flags, mask}`.
 * - `binary`: raw bytes (NLA_BINARY).
 * - `nested`: attributes of another set.
 */
export type AttrType =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'be16'
  | 'be32'
  | 'string'
  | 'binary'
  | 'flags'
  | 'nested';

/** `{flags, mask}` as in `struct ip_vs_flags`. */
export interface FlagsValue {
  flags: number;
  mask: number;
}

/** One attribute of a set. */
export interface AttrSpec {
  /** Numeric attribute type. */
  readonly id: number;
  /** Property name used in decoded objects. */
  readonly name: string;
  /** The kernel's C enum name, for reference and for the header check. */
  readonly cName: string;
  readonly type: AttrType;
  /** For `nested`: the set inside. */
  readonly nested?: AttrSet;
  /** First kernel version that knows it (documentation). */
  readonly since?: string;
  /** The kernel only emits it; never sent. */
  readonly outOnly?: boolean;
  /** Maximum payload length the kernel's policy accepts (documentation, checks). */
  readonly maxLen?: number;
}

/** A table of attributes for one nest (or the top level of a command). */
export interface AttrSet {
  readonly name: string;
  readonly attrs: readonly AttrSpec[];
  /** Index by id (sparse array). */
  readonly byId: readonly (AttrSpec | undefined)[];
}

/** Builds an {@link AttrSet} and its id index; rejects duplicate ids or names. */
export function defineAttrSet(name: string, attrs: readonly AttrSpec[]): AttrSet {
  const byId: (AttrSpec | undefined)[] = [];
  const names = new Set<string>();
  for (const a of attrs) {
    if (byId[a.id]) throw new Error(`${name}: duplicate attribute id ${a.id}`);
    if (names.has(a.name)) throw new Error(`${name}: duplicate attribute name ${a.name}`);
    byId[a.id] = a;
    names.add(a.name);
  }
  return { name, attrs, byId };
}

/** An attribute the schema does not know, kept verbatim. */
export interface UnknownAttr {
  /** The raw nla_type including the NESTED/NET_BYTEORDER bits. */
  type: number;
  data: Buffer;
}

/** A value as decoded from, or encoded to, the wire. */
export type AttrValue = number | bigint | string | Buffer | FlagsValue | AttrValues;

/** Decoded attributes of one set: property per known attribute, plus unknowns. */
export interface AttrValues {
  [name: string]: AttrValue | UnknownAttr[] | undefined;
  unknown?: UnknownAttr[];
}

/** A decoding problem: the first one is kept and reported once (see {@link decodeAttrs}). */
export class AttrDecodeError extends Error {
  constructor(
    readonly set: string,
    readonly attr: string,
    message: string,
  ) {
    super(`${set}.${attr}: ${message}`);
    this.name = 'AttrDecodeError';
  }
}

const WIDTH: Partial<Record<AttrType, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  be16: 2,
  be32: 4,
  flags: 8,
};

/**
 * Writes `values` as attributes of `set`, in the table's order (so the bytes
 * are deterministic). Properties without a table entry are an error;
 * `unknown` attributes are written back verbatim after the known ones.
 */
export function encodeAttrs(w: NlWriter, set: AttrSet, values: AttrValues): void {
  for (const spec of set.attrs) {
    const v = values[spec.name];
    if (v === undefined) continue;
    encodeOne(w, set, spec, v as AttrValue);
  }
  const unknown = values.unknown;
  if (unknown) for (const u of unknown) w.attrBytes(u.type, u.data);
}

function encodeOne(w: NlWriter, set: AttrSet, spec: AttrSpec, v: AttrValue): void {
  const bad = (): never => {
    throw new TypeError(`${set.name}.${spec.name}: cannot encode ${typeof v} as ${spec.type}`);
  };
  switch (spec.type) {
    case 'u8':
      if (typeof v !== 'number') bad();
      return w.attrU8(spec.id, v as number);
    case 'u16':
      if (typeof v !== 'number') bad();
      return w.attrU16(spec.id, v as number);
    case 'u32':
      if (typeof v !== 'number') bad();
      return w.attrU32(spec.id, v as number);
    case 'u64':
      if (typeof v !== 'bigint') bad();
      return w.attrU64(spec.id, v as bigint);
    case 'be16':
      if (typeof v !== 'number') bad();
      return w.attrBe16(spec.id, v as number);
    case 'be32':
      if (typeof v !== 'number') bad();
      return w.attrBe32(spec.id, v as number);
    case 'string':
      if (typeof v !== 'string') bad();
      return w.attrString(spec.id, v as string);
    case 'binary':
      if (!Buffer.isBuffer(v)) bad();
      return w.attrBytes(spec.id, v as Buffer);
    case 'flags': {
      const f = v as FlagsValue;
      if (typeof f !== 'object' || typeof f.flags !== 'number' || typeof f.mask !== 'number') bad();
      return w.attrFlags(spec.id, f.flags, f.mask);
    }
    case 'nested': {
      if (typeof v !== 'object' || Buffer.isBuffer(v) || !spec.nested) bad();
      const start = w.beginNested(spec.id);
      encodeAttrs(w, spec.nested as AttrSet, v as AttrValues);
      w.endNested(start);
      return;
    }
  }
}

/**
 * Reads the attributes in `buf[start, end)` as members of `set`.
 *
 * Decoding never stops half-way on a bad attribute: the first problem is
 * recorded and thrown once the whole region has been walked, so callers read
 * as a flat switch and still hear about every malformed reply.
 */
export function decodeAttrs(buf: Buffer, start: number, end: number, set: AttrSet): AttrValues {
  const out: AttrValues = {};
  let first: AttrDecodeError | undefined;
  let off = start;
  while (off + NLA_HDRLEN <= end) {
    const len = readU16(buf, off);
    const rawType = readU16(buf, off + 2);
    if (len < NLA_HDRLEN || off + len > end) {
      first ??= new AttrDecodeError(set.name, `#${rawType & NLA_TYPE_MASK}`, `bad length ${len}`);
      break;
    }
    const dStart = off + NLA_HDRLEN;
    const dLen = len - NLA_HDRLEN;
    const spec = set.byId[rawType & NLA_TYPE_MASK];
    if (!spec) {
      (out.unknown ??= []).push({ type: rawType, data: Buffer.from(buf.subarray(dStart, dStart + dLen)) });
    } else {
      try {
        out[spec.name] = decodeOne(buf, dStart, dLen, set, spec);
      } catch (e) {
        if (!(e instanceof AttrDecodeError)) throw e;
        first ??= e;
      }
    }
    off += nlAlign(len);
  }
  if (first) throw first;
  return out;
}

function decodeOne(buf: Buffer, off: number, len: number, set: AttrSet, spec: AttrSpec): AttrValue {
  const width = WIDTH[spec.type];
  // Liberal like the kernel: a longer integer payload is read from its start;
  // a shorter one is an error.
  if (width !== undefined && len < width) {
    throw new AttrDecodeError(set.name, spec.name, `expected ${width} bytes, got ${len}`);
  }
  switch (spec.type) {
    case 'u8':
      return buf.readUInt8(off);
    case 'u16':
      return readU16(buf, off);
    case 'u32':
      return readU32(buf, off);
    case 'u64':
      return readU64(buf, off);
    case 'be16':
      return buf.readUInt16BE(off);
    case 'be32':
      return buf.readUInt32BE(off);
    case 'flags':
      return { flags: readU32(buf, off), mask: readU32(buf, off + 4) };
    case 'string': {
      const nul = buf.indexOf(0, off);
      const stop = nul >= 0 && nul < off + len ? nul : off + len;
      return buf.toString('utf8', off, stop);
    }
    case 'binary':
      return Buffer.from(buf.subarray(off, off + len));
    case 'nested':
      return decodeAttrs(buf, off, off + len, spec.nested as AttrSet);
  }
}

/**
 * A reusable, allocation-free view of one nest's attributes: it records where
 * each known attribute's payload is, and typed getters read values straight
 * from the datagram, checked against the schema's wire type. Hot paths
 * (dumps of tens of thousands of destinations) decode with it; it reads the
 * same tables as {@link decodeAttrs}.
 */
export class AttrView {
  /** The buffer of the last {@link load}. */
  buf: Buffer = Buffer.alloc(0);
  /** Attributes the schema does not know, when there were any. */
  unknown: UnknownAttr[] | undefined;
  private readonly off: Int32Array;
  private readonly len: Int32Array;

  constructor(readonly set: AttrSet) {
    this.off = new Int32Array(set.byId.length).fill(-1);
    this.len = new Int32Array(set.byId.length);
  }

  /** Indexes the attributes in `buf[start, end)`. */
  load(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.off.fill(-1);
    this.unknown = undefined;
    let off = start;
    while (off + NLA_HDRLEN <= end) {
      const len = readU16(buf, off);
      const rawType = readU16(buf, off + 2);
      if (len < NLA_HDRLEN || off + len > end) {
        throw new AttrDecodeError(this.set.name, `#${rawType & NLA_TYPE_MASK}`, `bad length ${len}`);
      }
      const id = rawType & NLA_TYPE_MASK;
      if (id < this.off.length && this.set.byId[id]) {
        this.off[id] = off + NLA_HDRLEN;
        this.len[id] = len - NLA_HDRLEN;
      } else {
        (this.unknown ??= []).push({ type: rawType, data: Buffer.from(buf.subarray(off + NLA_HDRLEN, off + len)) });
      }
      off += nlAlign(len);
    }
    return this;
  }

  /** True when attribute `id` was present. */
  has(id: number): boolean {
    return id < this.off.length && (this.off[id] as number) >= 0;
  }

  /** Payload offset of `id`, checked against the schema's width for `type`. */
  private at(id: number, type: AttrType): number {
    const off = this.off[id] as number;
    const spec = this.set.byId[id];
    if (!spec) throw new AttrDecodeError(this.set.name, `#${id}`, 'not in the schema');
    if (spec.type !== type) throw new AttrDecodeError(this.set.name, spec.name, `is ${spec.type}, read as ${type}`);
    const w = WIDTH[type];
    if (w !== undefined && (this.len[id] as number) < w) {
      throw new AttrDecodeError(this.set.name, spec.name, `expected ${w} bytes, got ${this.len[id]}`);
    }
    return off;
  }

  /** Integer attribute (u8/u16/u32/be16/be32 per schema), or `fallback` when absent. */
  int(id: number, fallback: number): number {
    if (!this.has(id)) return fallback;
    const t = (this.set.byId[id] as AttrSpec).type;
    const o = this.at(id, t);
    switch (t) {
      case 'u8':
        return this.buf.readUInt8(o);
      case 'u16':
        return readU16(this.buf, o);
      case 'u32':
        return readU32(this.buf, o);
      case 'be16':
        return this.buf.readUInt16BE(o);
      case 'be32':
        return this.buf.readUInt32BE(o);
      default:
        throw new AttrDecodeError(this.set.name, (this.set.byId[id] as AttrSpec).name, `is ${t}, not an integer`);
    }
  }

  /** A counter (u32 or u64 per schema) as bigint, 0n when absent. */
  counter(id: number): bigint {
    if (!this.has(id)) return 0n;
    const t = (this.set.byId[id] as AttrSpec).type;
    if (t === 'u64') return readU64(this.buf, this.at(id, t));
    return BigInt(this.int(id, 0));
  }

  /** A NUL-terminated string, or undefined when absent. */
  str(id: number): string | undefined {
    if (!this.has(id)) return undefined;
    const o = this.at(id, 'string');
    const end = o + (this.len[id] as number);
    const nul = this.buf.indexOf(0, o);
    return this.buf.toString('utf8', o, nul >= 0 && nul < end ? nul : end);
  }

  /** Offset and length of a binary payload, or undefined when absent. */
  bytes(id: number): { off: number; len: number } | undefined {
    if (!this.has(id)) return undefined;
    return { off: this.at(id, 'binary'), len: this.len[id] as number };
  }

  /** A `flags` pair; `{0, 0}` when absent. */
  flags(id: number): FlagsValue {
    if (!this.has(id)) return { flags: 0, mask: 0 };
    const o = this.at(id, 'flags');
    return { flags: readU32(this.buf, o), mask: readU32(this.buf, o + 4) };
  }

  /** Loads `view` with the nest `id`; false when absent. */
  nested(id: number, view: AttrView): boolean {
    if (!this.has(id)) return false;
    const o = this.at(id, 'nested');
    view.load(this.buf, o, o + (this.len[id] as number));
    return true;
  }
}

/** The ids of a set by attribute name, for use with {@link AttrView}. */
export function attrIds<N extends string>(set: AttrSet, names: readonly N[]): Record<N, number> {
  const out = {} as Record<N, number>;
  for (const n of names) {
    const spec = set.attrs.find((a) => a.name === n);
    if (!spec) throw new Error(`${set.name} has no attribute ${n}`);
    out[n] = spec.id;
  }
  return out;
}
