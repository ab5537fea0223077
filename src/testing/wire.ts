/**
 * Writing answers as the kernel lays them out: one datagram per "do" reply
 * and per ACK, dump messages packed into datagrams of a bounded size, and
 * 64-bit attributes preceded by a PAD attribute wherever the payload would
 * otherwise not be 8-byte aligned (`nla_put_u64_64bit` on architectures
 * without efficient unaligned access, UML among them: seen on 6.1).
 * @module
 */
import {
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSGERR_ATTR_POLICY,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_MULTI,
} from '../netlink/constants';
import { writeI32 } from '../netlink/hostorder';
import { NlWriter } from '../netlink/writer';
import { NL_POLICY_TYPE_ATTR, policyDescription, type AttrPolicy } from './policy';

const EMPTY = Buffer.alloc(0);

/** A message being written, knowing where in its datagram it starts (for PAD decisions). */
export class ReplyWriter {
  readonly w = new NlWriter(512);

  constructor(
    /** Offset of this message in its datagram. */
    private readonly base: number,
    /** Whether 64-bit attributes get PAD attributes (see the module comment). */
    private readonly pad: boolean,
  ) {}

  /** A u64 attribute, after a PAD attribute of type `padType` when the kernel would put one. */
  u64(type: number, v: bigint, padType: number): void {
    if (this.pad && (this.base + this.w.length) % 8 === 0) this.w.attrBytes(padType, EMPTY);
    this.w.attrU64(type, v);
  }
}

/** The header fields every answer copies from its request. */
export interface RequestHeader {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The request's raw 16-byte header (echoed in NLMSG_ERROR). */
  raw: Buffer;
}

/** One message written by `body` after a netlink header (and whatever `body` writes first). */
export function message(
  base: number,
  pad: boolean,
  type: number,
  flags: number,
  seq: number,
  pid: number,
  body: (rw: ReplyWriter) => void,
): Buffer {
  const rw = new ReplyWriter(base, pad);
  const start = rw.w.beginMessage(type, flags, seq, pid);
  body(rw);
  rw.w.endMessage(start);
  return rw.w.toBuffer();
}

/** What an extended ACK carries. */
export interface ExtAck {
  message?: string;
  /** Offset of the offending attribute from the start of the request message. */
  offset?: number;
  policy?: AttrPolicy;
}

/**
 * An NLMSG_ERROR answering `req` (errno 0: an ACK). The socket has
 * NETLINK_CAP_ACK and NETLINK_EXT_ACK set, as the library's does, so the
 * request is echoed as its header only (NLM_F_CAPPED) and TLVs follow when
 * there is something to say (NLM_F_ACK_TLVS).
 */
export function errorMessage(req: RequestHeader, portId: number, errno: number, ext: ExtAck | undefined, pad: boolean): Buffer {
  const hasTlvs = errno !== 0 && ext !== undefined && (ext.message !== undefined || ext.offset !== undefined || ext.policy !== undefined);
  const flags = NLM_F_CAPPED | (hasTlvs ? NLM_F_ACK_TLVS : 0);
  return message(0, pad, NLMSG_ERROR, flags, req.seq, portId, (rw) => {
    const head = Buffer.alloc(4 + NLMSG_HDRLEN);
    writeI32(head, -errno, 0);
    req.raw.copy(head, 4, 0, NLMSG_HDRLEN);
    rw.w.bytes(head);
    if (!hasTlvs || !ext) return;
    if (ext.message !== undefined) rw.w.attrString(NLMSGERR_ATTR_MSG, ext.message);
    if (ext.offset !== undefined) rw.w.attrU32(NLMSGERR_ATTR_OFFS, ext.offset);
    const d = ext.policy && policyDescription(ext.policy);
    if (d) {
      const nest = rw.w.beginNested(NLMSGERR_ATTR_POLICY, true);
      for (const [t, v] of d.u64) rw.u64(t, v, NL_POLICY_TYPE_ATTR.PAD);
      for (const [t, v] of d.u32) rw.w.attrU32(t, v);
      rw.w.endNested(nest);
    }
  });
}

/** The NLMSG_DONE that ends a dump (its payload is the dump's status, 0). */
export function doneMessage(seq: number, portId: number): Buffer {
  return message(0, false, NLMSG_DONE, NLM_F_MULTI, seq, portId, (rw) => rw.w.bytes(Buffer.alloc(4)));
}

/**
 * Packs dump messages into datagrams of at most `capacity` bytes, as
 * `netlink_dump` fills one skb per pass. A message that does not fit starts
 * the next datagram, written anew at offset 0 (its PADs may move).
 */
export class DumpPacker {
  readonly datagrams: Buffer[] = [];
  private parts: Buffer[] = [];
  private used = 0;

  constructor(private readonly capacity: number) {}

  /** Adds the message `encode(base)` writes when it starts at offset `base`. */
  add(encode: (base: number) => Buffer): void {
    let msg = encode(this.used);
    if (this.used > 0 && this.used + msg.length > this.capacity) {
      this.flush();
      msg = encode(0);
    }
    this.parts.push(msg);
    this.used += msg.length;
  }

  /** Ends the current datagram. */
  flush(): void {
    if (this.parts.length === 0) return;
    this.datagrams.push(Buffer.concat(this.parts));
    this.parts = [];
    this.used = 0;
  }
}
