/**
 * What the kernel does with one datagram sent on a generic netlink socket:
 * `netlink_rcv_skb` (every message in order, carrying on after a failure;
 * an NLMSG_ERROR for every failure and an ACK only where NLM_F_ACK asks),
 * generic netlink's dispatch (`genl_family_rcv_msg`: unknown family ENOENT,
 * unknown command or wrong do/dump mode EOPNOTSUPP, GENL_ADMIN_PERM EPERM,
 * the family policy for "do" requests) and nlctrl's CTRL_CMD_GETFAMILY.
 *
 * A dump's first datagram is queued while the request is processed; the
 * rest, NLMSG_DONE last, follow one by one as the reader drains the socket
 * ({@link SocketDump}), as `netlink_dump` does from recvmsg(). An empty dump
 * queues its NLMSG_DONE at once and is over. While a dump runs, another on
 * the same socket gets EBUSY (seen on 6.1: a second dump in the same
 * datagram is refused, and the first one's NLMSG_DONE comes after that
 * refusal).
 * @module
 */
import { decodeAttrs, defineAttrSet } from '../netlink/attributes';
import { NLMSG_HDRLEN, NLM_F_ACK, NLM_F_DUMP, NLM_F_MULTI, NLM_F_REQUEST, nlAlign } from '../netlink/constants';
import { readU16, readU32 } from '../netlink/hostorder';
import { CTRL_ATTRS, CTRL_CMD_GETFAMILY, GENL_HDRLEN, GENL_ID_CTRL } from '../genetlink/ctrl';
import { IPVS_GENL_NAME, IPVS_GENL_VERSION } from '../ipvs/constants';
import { EBUSY, EINVAL, ENOENT, EOPNOTSUPP, EPERM } from './errno';
import { IPVS_MAX_ATTR, IPVS_OPS, doIpvs, dumpIpvs, type FamilyContext, type Outcome } from './ipvs-family';
import { CMD_POLICY, POLICY_MESSAGE, isViolation, parseNest } from './policy';
import { doneMessage, errorMessage, message, type RequestHeader } from './wire';

/** NLMSG_MIN_TYPE: types below it are netlink's own control messages. */
const NLMSG_MIN_TYPE = 0x10;
/** CTRL_CMD_NEWFAMILY, CTRL_ATTR_OPS and its members. */
const CTRL_CMD_NEWFAMILY = 1;
const CTRL_ATTR_OPS = 6;
const CTRL_ATTR_OP_ID = 1;
const CTRL_ATTR_OP_FLAGS = 2;
const CTRL_VERSION = 2;

/** Requests name the family by id or name (`ctrl_getfamily`). */
const CTRL_REQUEST = defineAttrSet('ctrl-request', CTRL_ATTRS.attrs.filter((a) => a.name === 'familyId' || a.name === 'familyName'));

/** A failed "do" that the kernel answers before anything is read: errno and extended ACK. */
export interface Injected {
  cmd: number;
  errno: number;
  message?: string;
}

/** What the receiver needs from the fake kernel. */
export interface Receiver {
  /** The IPVS family's context for an answer to `portId`; undefined when IPVS is not loaded. */
  family(portId: number): FamilyContext | undefined;
  /** Whether the sender has CAP_NET_ADMIN. */
  capNetAdmin: boolean;
  /** Takes an injected failure for `cmd`, if one is queued. */
  takeInjected(cmd: number): Injected | undefined;
  /** Counts what arrives. */
  count(what: 'datagrams' | 'messages' | 'ackRequests' | 'dumps'): void;
}

/** A socket's running dump: the datagrams it has still to produce (NLMSG_DONE last). */
export interface SocketDump {
  rest?: Buffer[];
}

function header(buf: Buffer, off: number): RequestHeader {
  return {
    len: readU32(buf, off),
    type: readU16(buf, off + 4),
    flags: readU16(buf, off + 6),
    seq: readU32(buf, off + 8),
    pid: readU32(buf, off + 12),
    raw: Buffer.from(buf.subarray(off, off + NLMSG_HDRLEN)),
  };
}

/** Processes one datagram from `portId`; returns the answer datagrams in order. */
export function receiveDatagram(rx: Receiver, portId: number, buf: Buffer, pad: boolean, sock: SocketDump): Buffer[] {
  rx.count('datagrams');
  const out: Buffer[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const req = header(buf, off);
    // A truncated message ends the datagram silently, as in netlink_rcv_skb.
    if (req.len < NLMSG_HDRLEN || off + req.len > buf.length) break;
    rx.count('messages');
    if (req.flags & NLM_F_ACK) rx.count('ackRequests');
    let outcome: Outcome | 'dump' = { errno: 0, replies: [] };
    if (req.flags & NLM_F_REQUEST && req.type >= NLMSG_MIN_TYPE) {
      outcome = dispatch(rx, portId, req, buf, off, off + req.len, sock.rest !== undefined, pad);
    }
    if (outcome !== 'dump') {
      out.push(...outcome.replies);
      if (req.flags & NLM_F_ACK || outcome.errno) out.push(errorMessage(req, portId, outcome.errno, outcome.ext, pad));
    }
    off += nlAlign(req.len);
  }
  return out;

  /** Queues a dump's first datagram; the rest wait for the reader. */
  function start_(datagrams: Buffer[], req: RequestHeader): void {
    const done = doneMessage(req.seq, portId);
    const [first, ...rest] = datagrams;
    if (!first) {
      out.push(done);
      return;
    }
    out.push(first);
    sock.rest = [...rest, done];
  }

  function dispatch(
    rx: Receiver,
    portId: number,
    req: RequestHeader,
    buf: Buffer,
    start: number,
    end: number,
    busy: boolean,
    pad: boolean,
  ): Outcome | 'dump' {
    if (end - start < NLMSG_HDRLEN + GENL_HDRLEN) return { errno: EINVAL, replies: [] };
    const cmd = buf[start + NLMSG_HDRLEN] as number;
    const isDump = (req.flags & NLM_F_DUMP) === NLM_F_DUMP;
    const attrStart = start + NLMSG_HDRLEN + GENL_HDRLEN;
    if (req.type === GENL_ID_CTRL) return nlctrl(rx, portId, req, buf, cmd, isDump, busy, attrStart, end, pad);
    const ctx = rx.family(portId);
    if (!ctx || req.type !== ctx.familyId) return { errno: ENOENT, replies: [] };
    const caps = IPVS_OPS.get(cmd);
    if (caps === undefined) return { errno: EOPNOTSUPP, replies: [] };
    if (!rx.capNetAdmin) return { errno: EPERM, replies: [] };
    if (!(caps & (isDump ? 0x4 : 0x2))) return { errno: EOPNOTSUPP, replies: [] };
    if (isDump && busy) return { errno: EBUSY, replies: [] };
    const injected = rx.takeInjected(cmd);
    if (injected) {
      return { errno: injected.errno, ...(injected.message !== undefined ? { ext: { message: injected.message } } : {}), replies: [] };
    }
    if (isDump) {
      rx.count('dumps');
      start_(dumpIpvs(ctx, cmd, req, buf, attrStart, end), req);
      return 'dump';
    }
    const top = parseNest(buf, attrStart, end, CMD_POLICY);
    if (isViolation(top)) {
      return { errno: top.errno, ext: { message: POLICY_MESSAGE, offset: top.at - start, policy: top.policy }, replies: [] };
    }
    return doIpvs(ctx, cmd, req, buf, top, start);
  }

  function nlctrl(
    rx: Receiver,
    portId: number,
    req: RequestHeader,
    buf: Buffer,
    cmd: number,
    isDump: boolean,
    busy: boolean,
    attrStart: number,
    end: number,
    pad: boolean,
  ): Outcome | 'dump' {
    if (cmd !== CTRL_CMD_GETFAMILY) return { errno: EOPNOTSUPP, replies: [] };
    const ctx = rx.family(portId);
    if (isDump) {
      if (busy) return { errno: EBUSY, replies: [] };
      start_(ctx ? [familyMessage(ctx, req, portId, NLM_F_MULTI, pad)] : [], req);
      return 'dump';
    }
    let a;
    try {
      a = decodeAttrs(buf, attrStart, end, CTRL_REQUEST);
    } catch {
      return { errno: EINVAL, replies: [] };
    }
    if (a.familyId === undefined && a.familyName === undefined) return { errno: EINVAL, replies: [] };
    const found =
      ctx !== undefined &&
      (a.familyId === undefined || a.familyId === ctx.familyId) &&
      (a.familyName === undefined || a.familyName === IPVS_GENL_NAME);
    if (!found) return { errno: ENOENT, replies: [] };
    return { errno: 0, replies: [familyMessage(ctx, req, portId, 0, pad)] };
  }
}

/** nlctrl's description of the IPVS family (`ctrl_fill_info`). */
function familyMessage(ctx: FamilyContext, req: RequestHeader, portId: number, flags: number, pad: boolean): Buffer {
  return message(0, pad, GENL_ID_CTRL, flags, req.seq, portId, (rw) => {
    const w = rw.w;
    w.genlHeader(CTRL_CMD_NEWFAMILY, CTRL_VERSION);
    w.attrString(2, IPVS_GENL_NAME);
    w.attrU16(1, ctx.familyId);
    w.attrU32(3, IPVS_GENL_VERSION);
    w.attrU32(4, 0);
    w.attrU32(5, IPVS_MAX_ATTR);
    const ops = w.beginNested(CTRL_ATTR_OPS);
    let i = 0;
    for (const [id, caps] of IPVS_OPS) {
      const op = w.beginNested(++i);
      w.attrU32(CTRL_ATTR_OP_ID, id);
      w.attrU32(CTRL_ATTR_OP_FLAGS, caps);
      w.endNested(op);
    }
    w.endNested(ops);
  });
}
