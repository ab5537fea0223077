/**
 * The IPVS generic netlink family of the fake kernel: its ops table, and
 * `ip_vs_genl_set_cmd`, `ip_vs_genl_get_cmd`, `ip_vs_genl_set_daemon` and the
 * dump handlers, in the kernel's order of checks (ip_vs_ctl.c).
 * @module
 */
import { AF_INET, AF_INET6, IPVS_CMD, IPVS_GENL_VERSION } from '../ipvs/constants';
import { CMD_ATTRS, DAEMON_ATTRS, INFO_ATTRS } from '../ipvs/schema';
import { attrIds } from '../netlink/attributes';
import { NLM_F_MULTI } from '../netlink/constants';
import { EEXIST, EINVAL, ESRCH } from './errno';
import { writeDaemon, writeDest, writeService, type ConnCounts } from './ipvs-replies';
import { CMD_POLICY, DAEMON_POLICY, POLICY_MESSAGE, isViolation, parseNest, type ParsedNest } from './policy';
import { decodeAccepted, nest, parseDest, parseService } from './request';
import type { DaemonCfg, DestEntry, IpvsState } from './state';
import { DumpPacker, message, type ExtAck, type ReplyWriter, type RequestHeader } from './wire';

const C = attrIds(CMD_ATTRS, ['service', 'dest', 'daemon', 'timeoutTcp', 'timeoutTcpFin', 'timeoutUdp']);
const I = attrIds(INFO_ATTRS, ['version', 'connTabSize']);

/** GENL_ADMIN_PERM, GENL_CMD_CAP_DO, GENL_CMD_CAP_DUMP, GENL_CMD_CAP_HASPOL. */
const ADMIN = 0x1;
const CAP_DO = 0x2;
const CAP_DUMP = 0x4;
const HASPOL = 0x8;

/** The family's ops: which commands exist, as do and/or dump (`ip_vs_genl_ops`). */
export const IPVS_OPS: ReadonlyMap<number, number> = new Map([
  [IPVS_CMD.NEW_SERVICE, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.SET_SERVICE, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.DEL_SERVICE, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.GET_SERVICE, ADMIN | CAP_DO | CAP_DUMP | HASPOL],
  [IPVS_CMD.NEW_DEST, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.SET_DEST, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.DEL_DEST, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.GET_DEST, ADMIN | CAP_DUMP | HASPOL],
  [IPVS_CMD.NEW_DAEMON, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.DEL_DAEMON, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.GET_DAEMON, ADMIN | CAP_DUMP | HASPOL],
  [IPVS_CMD.SET_CONFIG, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.GET_CONFIG, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.GET_INFO, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.ZERO, ADMIN | CAP_DO | HASPOL],
  [IPVS_CMD.FLUSH, ADMIN | CAP_DO | HASPOL],
]);

/** `IPVS_CMD_ATTR_MAX`. */
export const IPVS_MAX_ATTR = 6;

/** What the family needs from the fake kernel around it. */
export interface FamilyContext {
  state: IpvsState;
  familyId: number;
  portId: number;
  hz: number;
  pad: boolean;
  dumpBytes: number;
  versionCode: number;
  connTabSize: number;
  counts(dest: DestEntry): ConnCounts;
}

/** The outcome of one request: an errno (0: success) with optional extended ACK, and the replies. */
export interface Outcome {
  errno: number;
  ext?: ExtAck;
  replies: Buffer[];
}

function reply(ctx: FamilyContext, req: RequestHeader, cmd: number, body: (rw: ReplyWriter) => void): Buffer {
  return message(0, ctx.pad, ctx.familyId, 0, req.seq, ctx.portId, (rw) => {
    rw.w.genlHeader(cmd, IPVS_GENL_VERSION);
    body(rw);
  });
}

/** Runs a dump: every message `items` yields, packed into datagrams. */
function dump<T>(ctx: FamilyContext, req: RequestHeader, items: readonly T[], cmd: number, write: (rw: ReplyWriter, item: T) => void): Buffer[] {
  const packer = new DumpPacker(ctx.dumpBytes);
  for (const item of items) {
    packer.add((base) =>
      message(base, ctx.pad, ctx.familyId, NLM_F_MULTI, req.seq, ctx.portId, (rw) => {
        rw.w.genlHeader(cmd, IPVS_GENL_VERSION);
        write(rw, item);
      }),
    );
  }
  packer.flush();
  return packer.datagrams;
}

/**
 * A dump request (the caller sends NLMSG_DONE after the replies). Dumps
 * validate nothing up front (GENL_DONT_VALIDATE_DUMP); GET_DEST parses its
 * own attributes and ends empty when they or the service are wrong.
 */
export function dumpIpvs(ctx: FamilyContext, cmd: number, req: RequestHeader, buf: Buffer, attrStart: number, end: number): Buffer[] {
  const st = ctx.state;
  switch (cmd) {
    case IPVS_CMD.GET_SERVICE:
      return dump(ctx, req, st.services(), IPVS_CMD.NEW_SERVICE, (rw, s) => writeService(rw, s, ctx.hz));
    case IPVS_CMD.GET_DEST: {
      const top = parseNest(buf, attrStart, end, CMD_POLICY);
      if (isViolation(top)) return [];
      const p = parseService(st, buf, top.get(C.service), false);
      if (p.errno !== 0 || !('svc' in p) || !p.svc) return [];
      return dump(ctx, req, p.svc.dests, IPVS_CMD.NEW_DEST, (rw, d) => writeDest(rw, d, ctx.counts(d)));
    }
    case IPVS_CMD.GET_DAEMON: {
      const running: [number, DaemonCfg][] = [];
      if (st.daemons.master) running.push([1, st.daemons.master]);
      if (st.daemons.backup) running.push([2, st.daemons.backup]);
      return dump(ctx, req, running, IPVS_CMD.NEW_DAEMON, (rw, [state, c]) => writeDaemon(rw, state, c));
    }
  }
  return [];
}

/** A "do" request whose top-level attributes passed the family policy. */
export function doIpvs(ctx: FamilyContext, cmd: number, req: RequestHeader, buf: Buffer, top: ParsedNest, msgStart: number): Outcome {
  switch (cmd) {
    case IPVS_CMD.GET_SERVICE:
    case IPVS_CMD.GET_CONFIG:
    case IPVS_CMD.GET_INFO:
      return getCmd(ctx, cmd, req, buf, top);
    case IPVS_CMD.NEW_DAEMON:
    case IPVS_CMD.DEL_DAEMON:
      return setDaemon(ctx, cmd, buf, top, msgStart);
  }
  return { errno: setCmd(ctx, cmd, buf, top), replies: [] };
}

/** `ip_vs_genl_get_cmd`. */
function getCmd(ctx: FamilyContext, cmd: number, req: RequestHeader, buf: Buffer, top: ParsedNest): Outcome {
  const st = ctx.state;
  if (cmd === IPVS_CMD.GET_SERVICE) {
    const p = parseService(st, buf, top.get(C.service), false);
    if (p.errno !== 0 || !('svc' in p)) return { errno: p.errno, replies: [] };
    if (!p.svc) return { errno: ESRCH, replies: [] };
    const svc = p.svc;
    return { errno: 0, replies: [reply(ctx, req, IPVS_CMD.NEW_SERVICE, (rw) => writeService(rw, svc, ctx.hz))] };
  }
  if (cmd === IPVS_CMD.GET_CONFIG) {
    const t = st.getTimeouts();
    return {
      errno: 0,
      replies: [
        reply(ctx, req, IPVS_CMD.SET_CONFIG, (rw) => {
          rw.w.attrU32(C.timeoutTcp, t.tcp);
          rw.w.attrU32(C.timeoutTcpFin, t.tcpFin);
          rw.w.attrU32(C.timeoutUdp, t.udp);
        }),
      ],
    };
  }
  return {
    errno: 0,
    replies: [
      reply(ctx, req, IPVS_CMD.SET_INFO, (rw) => {
        rw.w.attrU32(I.version, ctx.versionCode);
        rw.w.attrU32(I.connTabSize, ctx.connTabSize);
      }),
    ],
  };
}

const int = (v: unknown): number => (typeof v === 'number' ? v | 0 : 0);

/** `ip_vs_genl_set_cmd`. */
function setCmd(ctx: FamilyContext, cmd: number, buf: Buffer, top: ParsedNest): number {
  const st = ctx.state;
  if (cmd === IPVS_CMD.FLUSH) {
    st.flush();
    return 0;
  }
  if (cmd === IPVS_CMD.SET_CONFIG) {
    const t = st.getTimeouts();
    const a = decodeAccepted(buf, top, CMD_ATTRS);
    if (a.timeoutTcp !== undefined) t.tcp = int(a.timeoutTcp);
    if (a.timeoutTcpFin !== undefined) t.tcpFin = int(a.timeoutTcpFin);
    if (a.timeoutUdp !== undefined) t.udp = int(a.timeoutUdp);
    return st.setTimeouts(t);
  }
  if (cmd === IPVS_CMD.ZERO && !top.has(C.service)) {
    st.zeroAll();
    return 0;
  }
  const full = cmd === IPVS_CMD.NEW_SERVICE || cmd === IPVS_CMD.SET_SERVICE;
  const p = parseService(st, buf, top.get(C.service), full);
  if (p.errno !== 0 || !('u' in p)) return p.errno;
  const { u, svc } = p;
  if (cmd !== IPVS_CMD.NEW_SERVICE && !svc) return ESRCH;

  const isDest = cmd === IPVS_CMD.NEW_DEST || cmd === IPVS_CMD.SET_DEST || cmd === IPVS_CMD.DEL_DEST;
  if (isDest && svc) {
    const d = parseDest(buf, top.get(C.dest), cmd !== IPVS_CMD.DEL_DEST);
    if (d.errno !== 0 || !('ud' in d)) return d.errno;
    const bad = st.destFamilyCheck(svc, d.ud, cmd === IPVS_CMD.DEL_DEST);
    if (bad) return bad;
    if (cmd === IPVS_CMD.NEW_DEST) return st.addDest(svc, d.ud);
    if (cmd === IPVS_CMD.SET_DEST) return st.editDest(svc, d.ud);
    return st.delDest(svc, d.ud);
  }
  switch (cmd) {
    case IPVS_CMD.NEW_SERVICE:
      return svc ? EEXIST : st.addService(u);
    case IPVS_CMD.SET_SERVICE:
      return st.editService(svc!, u);
    case IPVS_CMD.DEL_SERVICE:
      st.delService(svc!);
      return 0;
    case IPVS_CMD.ZERO:
      st.zeroService(svc!);
      return 0;
  }
  return EINVAL;
}

/** `ip_vs_genl_set_daemon`: the daemon nest is parsed with extended ACK. */
function setDaemon(ctx: FamilyContext, cmd: number, buf: Buffer, top: ParsedNest, msgStart: number): Outcome {
  const at = top.get(C.daemon);
  if (!at) return { errno: EINVAL, replies: [] };
  const parsed = nest(buf, at, DAEMON_POLICY);
  if (isViolation(parsed)) {
    // The handler answers EINVAL whatever the policy said, but the text and
    // the offending attribute are reported.
    return { errno: EINVAL, ext: { message: POLICY_MESSAGE, offset: parsed.at - msgStart, policy: parsed.policy }, replies: [] };
  }
  const a = decodeAccepted(buf, parsed, DAEMON_ATTRS);
  const st = ctx.state;
  if (cmd === IPVS_CMD.DEL_DAEMON) {
    if (a.state === undefined) return { errno: EINVAL, replies: [] };
    return { errno: st.stopDaemon(int(a.state)), replies: [] };
  }
  if (a.state === undefined || a.mcastIfn === undefined || a.syncId === undefined) return { errno: EINVAL, replies: [] };
  const c: DaemonCfg = {
    ifn: a.mcastIfn as string,
    syncId: int(a.syncId),
    maxlen: typeof a.syncMaxlen === 'number' ? a.syncMaxlen : 0,
    mcastAf: 0,
    group: Buffer.alloc(16),
    port: typeof a.mcastPort === 'number' ? a.mcastPort : 0,
    ttl: typeof a.mcastTtl === 'number' ? a.mcastTtl : 0,
  };
  if (Buffer.isBuffer(a.mcastGroup)) {
    c.mcastAf = AF_INET;
    a.mcastGroup.copy(c.group, 0, 0, 4);
    const first = c.group[0] as number;
    if (first < 224 || first > 239) return { errno: EINVAL, replies: [] };
  } else if (Buffer.isBuffer(a.mcastGroup6)) {
    c.mcastAf = AF_INET6;
    a.mcastGroup6.copy(c.group, 0, 0, 16);
    if (c.group[0] !== 0xff) return { errno: EINVAL, replies: [] };
  }
  return { errno: st.startDaemon(int(a.state), c), replies: [] };
}
