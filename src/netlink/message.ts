/**
 * Netlink message framing: splitting datagrams into messages and reading
 * NLMSG_ERROR payloads (including extended-ACK TLVs).
 * @module
 */
import {
  NLMSGERR_ATTR_MISS_NEST,
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLA_HDRLEN,
  nlAlign,
} from './constants';
import { readI32, readU16, readU32 } from './hostorder';

/** One netlink message, pointing into the datagram it came in. */
export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** The datagram buffer. */
  readonly buf: Buffer;
  /** Offset of the payload (after the 16-byte header) in `buf`. */
  readonly payload: number;
  /** Offset one past the end of this message in `buf`. */
  readonly end: number;
}

/** A malformed message from the kernel (or whatever answered). */
export class NetlinkProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetlinkProtocolError';
  }
}

/** Splits a datagram into messages. Throws on a truncated or bad header. */
export function parseMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = readU32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new NetlinkProtocolError(`netlink message at offset ${off} has bad length ${len}`);
    }
    out.push({
      type: readU16(buf, off + 4),
      flags: readU16(buf, off + 6),
      seq: readU32(buf, off + 8),
      pid: readU32(buf, off + 12),
      buf,
      payload: off + NLMSG_HDRLEN,
      end: off + len,
    });
    off += nlAlign(len);
  }
  return out;
}

/** The content of an NLMSG_ERROR message. */
export interface NlError {
  /** 0 for an ACK; otherwise a positive errno. */
  errno: number;
  /** The type, flags and seq of the request it answers. */
  requestType: number;
  requestSeq: number;
  /** Extended-ACK text, if the kernel gave one. */
  message?: string;
  /** Extended-ACK: offset of the offending attribute in the request. */
  offset?: number;
  /** Extended-ACK: a missing attribute type (and the nest it was missing from). */
  missingType?: number;
  missingNest?: number;
}

/** Reads an NLMSG_ERROR (`struct nlmsgerr` + optional TLVs). */
export function parseError(m: NlMessage): NlError {
  if (m.type !== NLMSG_ERROR) throw new NetlinkProtocolError(`message type ${m.type} is not NLMSG_ERROR`);
  const { buf, payload, end } = m;
  if (end - payload < 4 + NLMSG_HDRLEN) throw new NetlinkProtocolError('truncated NLMSG_ERROR');
  const error = readI32(buf, payload);
  const origLen = readU32(buf, payload + 4);
  const out: NlError = {
    errno: -error,
    requestType: readU16(buf, payload + 8),
    requestSeq: readU32(buf, payload + 12),
  };
  if (m.flags & NLM_F_ACK_TLVS) {
    // The original request follows the header unless capped (NETLINK_CAP_ACK).
    let tlv = payload + 4 + (m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : nlAlign(origLen));
    while (tlv + NLA_HDRLEN <= end) {
      const alen = readU16(buf, tlv);
      const atype = readU16(buf, tlv + 2);
      if (alen < NLA_HDRLEN || tlv + alen > end) break;
      const d = tlv + NLA_HDRLEN;
      if (atype === NLMSGERR_ATTR_MSG) {
        const nul = buf.indexOf(0, d);
        out.message = buf.toString('utf8', d, nul >= 0 && nul < tlv + alen ? nul : tlv + alen);
      } else if (atype === NLMSGERR_ATTR_OFFS && alen >= NLA_HDRLEN + 4) {
        out.offset = readU32(buf, d);
      } else if (atype === NLMSGERR_ATTR_MISS_TYPE && alen >= NLA_HDRLEN + 4) {
        out.missingType = readU32(buf, d);
      } else if (atype === NLMSGERR_ATTR_MISS_NEST && alen >= NLA_HDRLEN + 4) {
        out.missingNest = readU32(buf, d);
      }
      tlv += nlAlign(alen);
    }
  }
  return out;
}
