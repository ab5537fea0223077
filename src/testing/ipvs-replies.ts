/**
 * IPVS reply payloads in the kernel's attribute order: `ip_vs_genl_fill_service`,
 * `ip_vs_genl_fill_dest`, `ip_vs_genl_fill_daemon`, `ip_vs_genl_fill_stats`
 * and `..._stats64` (ip_vs_ctl.c; order and widths checked against 6.1
 * dumps in UML by test/kernel/lib/fake-parity.ts).
 * @module
 */
import { attrIds } from '../netlink/attributes';
import { AF_INET6 } from '../ipvs/constants';
import type { Rates, Stats } from '../ipvs/model';
import { CMD_ATTRS, DAEMON_ATTRS, DEST_ATTRS, SERVICE_ATTRS, STATS_ATTRS } from '../ipvs/schema';
import type { DaemonCfg, DestEntry, SvcEntry } from './state';
import type { StatsBox } from './stats';
import type { ReplyWriter } from './wire';

const C = attrIds(CMD_ATTRS, ['service', 'dest', 'daemon']);
const S = attrIds(SERVICE_ATTRS, ['af', 'protocol', 'addr', 'port', 'fwmark', 'schedName', 'peName', 'flags', 'timeout', 'netmask', 'stats', 'stats64']);
const D = attrIds(DEST_ATTRS, [
  'addr', 'port', 'fwdMethod', 'weight', 'tunType', 'tunPort', 'tunFlags', 'uThresh', 'lThresh',
  'activeConns', 'inactConns', 'persistConns', 'addrFamily', 'stats', 'stats64',
]);
const T = attrIds(STATS_ATTRS, ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes', 'cps', 'inpps', 'outpps', 'inbps', 'outbps', 'pad']);
const M = attrIds(DAEMON_ATTRS, ['state', 'mcastIfn', 'syncId', 'syncMaxlen', 'mcastGroup', 'mcastGroup6', 'mcastPort', 'mcastTtl']);

const U32 = 0xffffffffn;

/** Active, inactive and persistent (template) connection counts of a destination. */
export interface ConnCounts {
  active: number;
  inactive: number;
  persistent: number;
}

/** `IPVS_*_ATTR_STATS`: 32-bit counters (truncated) except the byte counts. */
function writeStats(rw: ReplyWriter, type: number, s: Stats, r: Record<keyof Rates, bigint>): void {
  const w = rw.w;
  const nest = w.beginNested(type);
  w.attrU32(T.conns, Number(s.conns & U32));
  w.attrU32(T.inpkts, Number(s.inPackets & U32));
  w.attrU32(T.outpkts, Number(s.outPackets & U32));
  rw.u64(T.inbytes, s.inBytes, T.pad);
  rw.u64(T.outbytes, s.outBytes, T.pad);
  w.attrU32(T.cps, Number(r.cps & U32));
  w.attrU32(T.inpps, Number(r.inPps & U32));
  w.attrU32(T.outpps, Number(r.outPps & U32));
  w.attrU32(T.inbps, Number(r.inBps & U32));
  w.attrU32(T.outbps, Number(r.outBps & U32));
  w.endNested(nest);
}

/** `IPVS_*_ATTR_STATS64`: every counter 64-bit. */
function writeStats64(rw: ReplyWriter, type: number, s: Stats, r: Record<keyof Rates, bigint>): void {
  const nest = rw.w.beginNested(type);
  const values = [s.conns, s.inPackets, s.outPackets, s.inBytes, s.outBytes, r.cps, r.inPps, r.outPps, r.inBps, r.outBps];
  const ids = [T.conns, T.inpkts, T.outpkts, T.inbytes, T.outbytes, T.cps, T.inpps, T.outpps, T.inbps, T.outbps];
  for (let i = 0; i < ids.length; i++) rw.u64(ids[i] as number, values[i] as bigint, T.pad);
  rw.w.endNested(nest);
}

/** STATS then STATS64 of one object, as both fill functions end. */
function writeBothStats(rw: ReplyWriter, id32: number, id64: number, box: StatsBox): void {
  const { stats, rates } = box.show();
  writeStats(rw, id32, stats, rates);
  writeStats64(rw, id64, stats, rates);
}

/** The `IPVS_CMD_ATTR_SERVICE` nest of a service. */
export function writeService(rw: ReplyWriter, svc: SvcEntry, hz: number): void {
  const w = rw.w;
  const nest = w.beginNested(C.service);
  w.attrU16(S.af, svc.af);
  if (svc.fwmark) {
    w.attrU32(S.fwmark, svc.fwmark);
  } else {
    w.attrU16(S.protocol, svc.protocol);
    w.attrBytes(S.addr, svc.addr);
    w.attrBe16(S.port, svc.port);
  }
  w.attrString(S.schedName, svc.sched ?? 'none');
  if (svc.pe) w.attrString(S.peName, svc.pe);
  w.attrFlags(S.flags, svc.flags, 0xffffffff);
  w.attrU32(S.timeout, Math.floor(svc.timeoutJiffies / hz));
  w.attrBytes(S.netmask, svc.netmask);
  writeBothStats(rw, S.stats, S.stats64, svc.stats);
  w.endNested(nest);
}

/** The `IPVS_CMD_ATTR_DEST` nest of a destination. */
export function writeDest(rw: ReplyWriter, d: DestEntry, counts: ConnCounts): void {
  const w = rw.w;
  const nest = w.beginNested(C.dest);
  w.attrBytes(D.addr, d.addr);
  w.attrBe16(D.port, d.port);
  w.attrU32(D.fwdMethod, d.fwd);
  w.attrU32(D.weight, d.weight >>> 0);
  w.attrU8(D.tunType, d.tunType & 0xff);
  w.attrBe16(D.tunPort, d.tunPort);
  w.attrU16(D.tunFlags, d.tunFlags);
  w.attrU32(D.uThresh, d.uThresh);
  w.attrU32(D.lThresh, d.lThresh);
  w.attrU32(D.activeConns, counts.active);
  w.attrU32(D.inactConns, counts.inactive);
  w.attrU32(D.persistConns, counts.persistent);
  w.attrU16(D.addrFamily, d.af);
  writeBothStats(rw, D.stats, D.stats64, d.stats);
  w.endNested(nest);
}

/** The `IPVS_CMD_ATTR_DAEMON` nest of a running daemon. */
export function writeDaemon(rw: ReplyWriter, state: number, c: DaemonCfg): void {
  const w = rw.w;
  const nest = w.beginNested(C.daemon);
  w.attrU32(M.state, state);
  w.attrString(M.mcastIfn, c.ifn);
  w.attrU32(M.syncId, c.syncId >>> 0);
  w.attrU16(M.syncMaxlen, c.maxlen);
  w.attrU16(M.mcastPort, c.port);
  w.attrU8(M.mcastTtl, c.ttl);
  if (c.mcastAf === AF_INET6) w.attrBytes(M.mcastGroup6, c.group);
  else w.attrBytes(M.mcastGroup, c.group.subarray(0, 4));
  w.endNested(nest);
}
