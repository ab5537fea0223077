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
import { HOST_LE, readU16, readU32, readU64 } from './hostorder';
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

/** Host-order views of a buffer's bytes, when its offset allows them. */
export interface WordViews {
  u16: Uint16Array;
  u32: Uint32Array;
}

/**
 * Uint16/Uint32 views over `buf` (in the host's byte order, which is
 * netlink's), or undefined when the buffer does not start on a 4-byte
 * boundary. Reading headers and integers through typed arrays skips the
 * bounds checks and calls of Buffer#readUInt*, which dominate decoding.
 */
export function wordViews(buf: Buffer): WordViews | undefined {
  if (buf.byteOffset % 4 !== 0) return undefined;
  return {
    u16: new Uint16Array(buf.buffer, buf.byteOffset, buf.length >> 1),
    u32: new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2),
  };
}

// Attribute kinds as small numbers, for the view's hot switch.
const K_NONE = 0;
const K_U8 = 1;
const K_U16 = 2;
const K_U32 = 3;
const K_BE16 = 4;
const K_BE32 = 5;
const K_U64 = 6;
const K_STRING = 7;
const K_BINARY = 8;
const K_FLAGS = 9;
const K_NESTED = 10;
const KIND: Record<AttrType, number> = {
  u8: K_U8,
  u16: K_U16,
  u32: K_U32,
  be16: K_BE16,
  be32: K_BE32,
  u64: K_U64,
  string: K_STRING,
  binary: K_BINARY,
  flags: K_FLAGS,
  nested: K_NESTED,
};

/**
 * A reusable, allocation-free view of one nest's attributes: it records where
 * each known attribute's payload is, and typed getters read values straight
 * from the datagram, checked against the schema's wire type and width. Hot
 * paths (dumps of tens of thousands of destinations) decode with it; it reads
 * the same tables as {@link decodeAttrs}.
 */
export class AttrView {
  /** The buffer of the last {@link load}. */
  buf: Buffer = Buffer.alloc(0);
  /** Attributes the schema does not know, when there were any. */
  unknown: UnknownAttr[] | undefined;
  private words: WordViews | undefined;
  private readonly off: Int32Array;
  private readonly len: Int32Array;
  private readonly kind: Uint8Array;
  private readonly width: Uint8Array;

  constructor(readonly set: AttrSet) {
    const n = set.byId.length;
    this.off = new Int32Array(n).fill(-1);
    this.len = new Int32Array(n);
    this.kind = new Uint8Array(n);
    this.width = new Uint8Array(n);
    for (const a of set.attrs) {
      this.kind[a.id] = KIND[a.type];
      this.width[a.id] = WIDTH[a.type] ?? 0;
    }
  }

  /** Indexes the attributes in `buf[start, end)`. */
  load(buf: Buffer, start: number, end: number): this {
    if (buf !== this.buf) {
      this.buf = buf;
      this.words = wordViews(buf);
    }
    this.off.fill(-1);
    this.unknown = undefined;
    const u16 = this.words && start % 4 === 0 ? this.words.u16 : undefined;
    const n = this.off.length;
    let off = start;
    while (off + NLA_HDRLEN <= end) {
      const len = u16 ? (u16[off >> 1] as number) : readU16(buf, off);
      const rawType = u16 ? (u16[(off >> 1) + 1] as number) : readU16(buf, off + 2);
      if (len < NLA_HDRLEN || off + len > end) {
        throw new AttrDecodeError(this.set.name, `#${rawType & NLA_TYPE_MASK}`, `bad length ${len}`);
      }
      const id = rawType & NLA_TYPE_MASK;
      if (id < n && this.kind[id] !== K_NONE) {
        this.off[id] = off + NLA_HDRLEN;
        this.len[id] = len - NLA_HDRLEN;
      } else {
        (this.unknown ??= []).push({ type: rawType, data: Buffer.from(buf.subarray(off + NLA_HDRLEN, off + len)) });
      }
      off += (len + 3) & ~3;
    }
    return this;
  }

  /** True when attribute `id` was present. */
  has(id: number): boolean {
    return id < this.off.length && (this.off[id] as number) >= 0;
  }

  private fail(id: number, why: string): never {
    throw new AttrDecodeError(this.set.name, this.set.byId[id]?.name ?? `#${id}`, why);
  }

  /** Payload offset of `id` after checking its width. */
  private at(id: number): number {
    if ((this.len[id] as number) < (this.width[id] as number)) {
      this.fail(id, `expected ${this.width[id]} bytes, got ${this.len[id]}`);
    }
    return this.off[id] as number;
  }

  /** Integer attribute (u8/u16/u32/be16/be32 per schema), or `fallback` when absent. */
  int(id: number, fallback: number): number {
    if (id >= this.off.length || (this.off[id] as number) < 0) return fallback;
    const o = this.at(id);
    const b = this.buf;
    const w = this.words;
    switch (this.kind[id]) {
      case K_U8:
        return b[o] as number;
      case K_U16:
        return w && o % 2 === 0 ? (w.u16[o >> 1] as number) : readU16(b, o);
      case K_U32:
        return w && o % 4 === 0 ? (w.u32[o >> 2] as number) : readU32(b, o);
      case K_BE16:
        return ((b[o] as number) << 8) | (b[o + 1] as number);
      case K_BE32:
        return b.readUInt32BE(o);
    }
    return this.fail(id, `is ${this.set.byId[id]?.type}, not an integer`);
  }

  /** A counter (u32 or u64 per schema) as bigint, 0n when absent. */
  counter(id: number): bigint {
    if (!this.has(id)) return 0n;
    if (this.kind[id] === K_U64) return readU64(this.buf, this.at(id));
    return BigInt(this.int(id, 0));
  }

  /** A rate (u32 or u64 per schema) as a number, 0 when absent (exact below 2^53). */
  rate(id: number): number {
    if (!this.has(id)) return 0;
    if (this.kind[id] === K_U64) {
      const o = this.at(id);
      const w = this.words;
      if (w && o % 4 === 0) {
        const lo = w.u32[o >> 2] as number;
        const hi = w.u32[(o >> 2) + 1] as number;
        return HOST_LE ? hi * 4294967296 + lo : lo * 4294967296 + hi;
      }
      return Number(readU64(this.buf, o));
    }
    return this.int(id, 0);
  }

  /** A NUL-terminated string, or undefined when absent. */
  str(id: number): string | undefined {
    if (!this.has(id)) return undefined;
    if (this.kind[id] !== K_STRING) this.fail(id, `is ${this.set.byId[id]?.type}, not a string`);
    const o = this.at(id);
    const end = o + (this.len[id] as number);
    let stop = o;
    while (stop < end && this.buf[stop] !== 0) stop++;
    return this.buf.toString('utf8', o, stop);
  }

  /** Offset of a binary payload (its length is {@link length}), or -1 when absent. */
  bytesAt(id: number): number {
    if (!this.has(id)) return -1;
    if (this.kind[id] !== K_BINARY) this.fail(id, `is ${this.set.byId[id]?.type}, not binary`);
    return this.off[id] as number;
  }

  /** Payload length of `id` (0 when absent). */
  length(id: number): number {
    return this.has(id) ? (this.len[id] as number) : 0;
  }

  /** The 32-bit word at a payload offset, host order. */
  wordAt(o: number): number {
    const w = this.words;
    return w && o % 4 === 0 ? (w.u32[o >> 2] as number) : readU32(this.buf, o);
  }

  /** A `flags` pair; `{0, 0}` when absent. */
  flags(id: number): FlagsValue {
    if (!this.has(id)) return { flags: 0, mask: 0 };
    if (this.kind[id] !== K_FLAGS) this.fail(id, `is ${this.set.byId[id]?.type}, not flags`);
    const o = this.at(id);
    return { flags: this.wordAt(o), mask: this.wordAt(o + 4) };
  }

  /** Loads `view` with the nest `id`; false when absent. */
  nested(id: number, view: AttrView): boolean {
    if (!this.has(id)) return false;
    if (this.kind[id] !== K_NESTED) this.fail(id, `is ${this.set.byId[id]?.type}, not a nest`);
    const o = this.off[id] as number;
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
