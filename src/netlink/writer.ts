/**
 * A growable buffer that writes netlink messages and attributes in place.
 *
 * Bulk loads encode tens of thousands of messages, so everything is written
 * into one buffer with lengths patched afterwards: no per-attribute objects.
 *
 * Netlink keeps every header and attribute on a 4-byte boundary, so on a
 * little-endian host (x86, arm64) the writer stores whole 32-bit words
 * through a Uint32Array over its buffer: an attribute header (length, type)
 * is one store, a u32 attribute two. Buffer's own writeUInt16LE and friends
 * are range-checked calls, and a 5,000 x 10 load makes ~800,000 of them
 * (bench/library.ts measures the difference). Values out of a field's range
 * take the Buffer path, which throws as before; big-endian hosts always do.
 * @module
 */
import { NLA_F_NESTED, NLA_HDRLEN, NLMSG_HDRLEN, nlAlign } from './constants';
import { HOST_LE, readU16, writeI32, writeU16, writeU32, writeU64 } from './hostorder';

/** Writes netlink messages into one contiguous buffer. */
export class NlWriter {
  private buf!: Buffer;
  /** 32-bit words over `buf` (little-endian hosts only). */
  private words: Uint32Array | undefined;
  private pos = 0;

  constructor(initialSize = 4096) {
    this.setBuffer(Buffer.alloc(initialSize));
  }

  private setBuffer(b: Buffer): void {
    this.buf = b;
    // Buffer.alloc gives a buffer of its own at offset 0; anything else is not word-addressable here.
    this.words = HOST_LE && b.byteOffset % 4 === 0 ? new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2) : undefined;
  }

  /**
   * The word array when `n` bytes fit at an aligned position, else undefined
   * (then the caller takes the byte-wise path).
   */
  private wordsFor(n: number): Uint32Array | undefined {
    const p = this.pos;
    return (p & 3) === 0 && p + n <= this.buf.length ? this.words : undefined;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /**
   * Makes room for `total` bytes in one allocation (a big batch would
   * otherwise grow the buffer by doubling: every new page is a fault, and
   * under User-Mode Linux a fault costs 48 us).
   */
  reserve(total: number): void {
    if (total <= this.buf.length) return;
    const next = Buffer.alloc(total);
    this.buf.copy(next, 0, 0, this.pos);
    this.setBuffer(next);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.setBuffer(next);
  }

  /** Zero-pads to the 4-byte netlink alignment. */
  private pad(): void {
    // At most three bytes: a loop beats Buffer#fill's call overhead.
    const aligned = nlAlign(this.pos);
    if (aligned !== this.pos) {
      this.ensure(aligned - this.pos);
      while (this.pos < aligned) this.buf[this.pos++] = 0;
    }
  }

  /** Starts a message; returns its offset for {@link endMessage}. */
  beginMessage(type: number, flags: number, seq: number, pid = 0): number {
    this.pad();
    const start = this.pos;
    const w = this.wordsFor(NLMSG_HDRLEN);
    if (w !== undefined && (type & 0xffff) === type && (flags & 0xffff) === flags) {
      const i = start >>> 2;
      w[i] = 0; // length, patched by endMessage
      w[i + 1] = type | (flags << 16);
      w[i + 2] = seq;
      w[i + 3] = pid;
      this.pos += NLMSG_HDRLEN;
      return start;
    }
    this.ensure(NLMSG_HDRLEN);
    writeU32(this.buf, 0, start); // length, patched by endMessage
    writeU16(this.buf, type, start + 4);
    writeU16(this.buf, flags, start + 6);
    writeU32(this.buf, seq >>> 0, start + 8);
    writeU32(this.buf, pid >>> 0, start + 12);
    this.pos += NLMSG_HDRLEN;
    return start;
  }

  /** Patches the message length. */
  endMessage(start: number): void {
    this.pad();
    if (this.words !== undefined && (start & 3) === 0) this.words[start >>> 2] = this.pos - start;
    else writeU32(this.buf, this.pos - start, start);
  }

  /** ORs `flags` into the nlmsg_flags of the message that starts at `start`. */
  orFlags(start: number, flags: number): void {
    writeU16(this.buf, readU16(this.buf, start + 6) | flags, start + 6);
  }

  /** Raw bytes (e.g. a family header), padded to alignment. */
  bytes(data: Buffer | Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    this.pad();
  }

  /** A generic netlink header: cmd, version, reserved. */
  genlHeader(cmd: number, version: number): void {
    const w = this.wordsFor(4);
    if (w !== undefined) {
      w[this.pos >>> 2] = (cmd & 0xff) | ((version & 0xff) << 8);
      this.pos += 4;
      return;
    }
    this.ensure(4);
    this.buf[this.pos] = cmd;
    this.buf[this.pos + 1] = version;
    this.buf[this.pos + 2] = 0;
    this.buf[this.pos + 3] = 0;
    this.pos += 4;
  }

  private attrHeader(type: number, payload: number): void {
    this.ensure(NLA_HDRLEN + payload + 3);
    writeU16(this.buf, NLA_HDRLEN + payload, this.pos);
    writeU16(this.buf, type, this.pos + 2);
    this.pos += NLA_HDRLEN;
  }

  /**
   * One attribute whose payload is a single padded word, stored as two
   * words; false (nothing written) when the fast path does not apply.
   */
  private wordAttr(type: number, len: number, value: number): boolean {
    const w = this.wordsFor(8);
    if (w === undefined || (type & 0xffff) !== type) return false;
    const i = this.pos >>> 2;
    w[i] = (NLA_HDRLEN + len) | (type << 16);
    w[i + 1] = value;
    this.pos += 8;
    return true;
  }

  attrU8(type: number, v: number): void {
    if ((v & 0xff) === v && this.wordAttr(type, 1, v)) return;
    this.attrHeader(type, 1);
    this.buf.writeUInt8(v, this.pos);
    this.pos += 1;
    this.pad();
  }

  attrU16(type: number, v: number): void {
    if ((v & 0xffff) === v && this.wordAttr(type, 2, v)) return;
    this.attrHeader(type, 2);
    writeU16(this.buf, v, this.pos);
    this.pos += 2;
    this.pad();
  }

  attrU32(type: number, v: number): void {
    // writeU32(v >>> 0) accepts any number too: the word store converts the same way.
    if (this.wordAttr(type, 4, v >>> 0)) return;
    this.attrHeader(type, 4);
    writeU32(this.buf, v >>> 0, this.pos);
    this.pos += 4;
  }

  attrU64(type: number, v: bigint): void {
    this.attrHeader(type, 8);
    writeU64(this.buf, v, this.pos);
    this.pos += 8;
  }

  attrBe16(type: number, v: number): void {
    if ((v & 0xffff) === v && this.wordAttr(type, 2, (v >>> 8) | ((v & 0xff) << 8))) return;
    this.attrHeader(type, 2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    this.pad();
  }

  attrBe32(type: number, v: number): void {
    this.attrHeader(type, 4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  attrFlags(type: number, flags: number, mask: number): void {
    this.attrHeader(type, 8);
    // The same bits as signed words: an unsigned value from 2^31 up (a mask
    // of 0xffffffff) would be a heap number per call before TurboFan.
    writeI32(this.buf, flags | 0, this.pos);
    writeI32(this.buf, mask | 0, this.pos + 4);
    this.pos += 8;
  }

  /** A NUL-terminated string attribute. */
  attrString(type: number, s: string): void {
    const n = Buffer.byteLength(s);
    this.attrHeader(type, n + 1);
    this.buf.write(s, this.pos, 'utf8');
    this.buf[this.pos + n] = 0;
    this.pos += n + 1;
    this.pad();
  }

  attrBytes(type: number, data: Buffer | Uint8Array): void {
    const n = data.length;
    // Addresses (4 and 16 bytes) and netmasks: a few word stores beat a set() call.
    const w = n <= 16 && (n & 3) === 0 ? this.wordsFor(NLA_HDRLEN + n) : undefined;
    if (w !== undefined && (type & 0xffff) === type) {
      let i = this.pos >>> 2;
      w[i++] = (NLA_HDRLEN + n) | (type << 16);
      for (let k = 0; k < n; k += 4) w[i++] = (data[k] as number) | ((data[k + 1] as number) << 8) | ((data[k + 2] as number) << 16) | ((data[k + 3] as number) << 24);
      this.pos += NLA_HDRLEN + n;
      return;
    }
    this.attrHeader(type, data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    this.pad();
  }

  /**
   * Opens a nested attribute; close it with {@link endNested}. Like the
   * kernel's own IPVS code (`nla_nest_start_noflag`) and libnl, the type does
   * not carry NLA_F_NESTED unless asked: IPVS parses nests liberally.
   */
  beginNested(type: number, flagNested = false): number {
    const start = this.pos;
    const t = flagNested ? type | NLA_F_NESTED : type;
    const w = this.wordsFor(NLA_HDRLEN);
    if (w !== undefined && (t & 0xffff) === t) {
      w[start >>> 2] = NLA_HDRLEN | (t << 16); // length, patched by endNested
      this.pos += NLA_HDRLEN;
      return start;
    }
    this.attrHeader(flagNested ? type | NLA_F_NESTED : type, 0);
    return start;
  }

  endNested(start: number): void {
    const len = this.pos - start;
    const w = this.words;
    if (w !== undefined && (start & 3) === 0 && (len & 0xffff) === len) {
      const i = start >>> 2;
      w[i] = ((w[i] as number) & 0xffff0000) | len;
    } else writeU16(this.buf, len, start);
  }

  /**
   * The bytes written so far, without a copy. Valid until the next write or
   * {@link reset}: the connection keeps a writer per datagram in flight.
   */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** Discards everything written; keeps the allocation. */
  reset(): void {
    this.pos = 0;
  }
}
