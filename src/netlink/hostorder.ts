/**
 * Host byte order accessors. Netlink headers and most attributes are in the
 * host's native order (IPVS ports and addresses are the exceptions, and use
 * the explicit big-endian accessors of Buffer).
 * @module
 */
/** True on little-endian hosts (x86, arm64): the common case. Asked of memory, not of node:os (one built-in module less to load). */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const readU16: (b: Buffer, o: number) => number = HOST_LE
  ? (b, o) => b.readUInt16LE(o)
  : (b, o) => b.readUInt16BE(o);
export const readU32: (b: Buffer, o: number) => number = HOST_LE
  ? (b, o) => b.readUInt32LE(o)
  : (b, o) => b.readUInt32BE(o);
export const readI32: (b: Buffer, o: number) => number = HOST_LE
  ? (b, o) => b.readInt32LE(o)
  : (b, o) => b.readInt32BE(o);
export const readU64: (b: Buffer, o: number) => bigint = HOST_LE
  ? (b, o) => b.readBigUInt64LE(o)
  : (b, o) => b.readBigUInt64BE(o);
export const writeU16: (b: Buffer, v: number, o: number) => number = HOST_LE
  ? (b, v, o) => b.writeUInt16LE(v, o)
  : (b, v, o) => b.writeUInt16BE(v, o);
export const writeU32: (b: Buffer, v: number, o: number) => number = HOST_LE
  ? (b, v, o) => b.writeUInt32LE(v, o)
  : (b, v, o) => b.writeUInt32BE(v, o);
export const writeI32: (b: Buffer, v: number, o: number) => number = HOST_LE
  ? (b, v, o) => b.writeInt32LE(v, o)
  : (b, v, o) => b.writeInt32BE(v, o);
export const writeU64: (b: Buffer, v: bigint, o: number) => number = HOST_LE
  ? (b, v, o) => b.writeBigUInt64LE(v, o)
  : (b, v, o) => b.writeBigUInt64BE(v, o);
