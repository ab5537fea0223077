/**
 * The fake connection table and the /proc/net files made from it.
 *
 * Formats follow `ip_vs_conn_seq_show` (ip_vs_conn.c) and `ip_vs_stats_show`
 * (ip_vs_ctl.c), checked against 6.1 in UML: IPv4 addresses as `%08X` of the
 * host-order value, IPv6 as the full `%pI6` form, the destination column in
 * the destination's own family (a mixed-family tunnel shows a hex client and
 * an IPv6 real server), ports as `%04X`, the state padded to 11, the seconds
 * left as `%7u`, then ` <pe> <data>` when a persistence engine left data.
 * @module
 */
import {
  AF_INET6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_LOCALNODE,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
} from '../ipvs/constants';
import type { Rates, Stats } from '../ipvs/model';
import type { DestEntry, SvcEntry } from './state';

/** One connection or persistence template (`struct ip_vs_conn`). */
export interface ConnEntry {
  /** IP protocol number; 0 (`IP`) for firewall-mark templates. */
  protocol: number;
  /** The connection's family (the service's). */
  af: number;
  caddr: Buffer;
  cport: number;
  vaddr: Buffer;
  vport: number;
  /** The destination's family. */
  daf: number;
  daddr: Buffer;
  dport: number;
  state: string;
  template: boolean;
  /** Seconds left, as the file shows it. */
  expires: number;
  peName?: string;
  peData?: string;
  dest: DestEntry;
}

/** TCP states and their timeouts in seconds (`tcp_timeouts`); `tcp` and `tcpFin` follow the timeouts set with SET_CONFIG. */
export const TCP_STATES: Record<string, number | 'tcp' | 'tcpFin'> = {
  NONE: 2,
  ESTABLISHED: 'tcp',
  SYN_SENT: 120,
  SYN_RECV: 60,
  FIN_WAIT: 'tcpFin',
  TIME_WAIT: 120,
  CLOSE: 10,
  CLOSE_WAIT: 60,
  LAST_ACK: 30,
  LISTEN: 120,
  SYNACK: 120,
};

/** SCTP states (`sctp_state_name_table`) and timeouts in seconds (`sctp_timeouts`, HZ units removed). */
export const SCTP_STATES: Record<string, number> = {
  NONE: 2,
  INIT1: 4,
  INIT: 61,
  'C-SENT': 61,
  'C-REPLIED': 61,
  'C-WAIT': 61,
  COOKIE: 61,
  'C-ECHOED': 61,
  ESTABLISHED: 900,
  'S-SENT': 61,
  'S-RECEIVED': 61,
  'S-ACK-SENT': 61,
  REJECTED: 4,
  CLOSED: 61,
};

/** A state's timeout in seconds for `protocol`, or undefined when the protocol has no such state. */
export function stateTimeout(protocol: number, state: string, t: { tcp: number; tcpFin: number; udp: number }): number | undefined {
  if (protocol === IPPROTO_TCP) {
    const v = TCP_STATES[state];
    return v === 'tcp' ? t.tcp : v === 'tcpFin' ? t.tcpFin : v;
  }
  if (protocol === IPPROTO_SCTP) return SCTP_STATES[state];
  if (protocol === IPPROTO_UDP) return state === 'UDP' ? t.udp : undefined;
  return undefined;
}

/** The state names of `protocol`. */
export function stateNames(protocol: number): string[] {
  if (protocol === IPPROTO_TCP) return Object.keys(TCP_STATES);
  if (protocol === IPPROTO_SCTP) return Object.keys(SCTP_STATES);
  return ['UDP'];
}

/** Template states (`ip_vs_ctpl_state_name_table`). */
export const TEMPLATE_STATES = ['NONE', 'ASSURED'] as const;

/** Whether a connection counts as active for its destination (`tcp_state_active`; SCTP: ESTABLISHED only; UDP never). */
export function isActive(c: ConnEntry): boolean {
  if (c.template) return false;
  if (c.protocol === IPPROTO_TCP) return c.state === 'ESTABLISHED' || c.state === 'SYN_SENT' || c.state === 'SYN_RECV';
  if (c.protocol === IPPROTO_SCTP) return c.state === 'ESTABLISHED';
  return false;
}

/** `ip_vs_proto_name`. */
export function protoName(p: number): string {
  switch (p) {
    case IPPROTO_TCP:
      return 'TCP';
    case IPPROTO_UDP:
      return 'UDP';
    case IPPROTO_SCTP:
      return 'SCTP';
    case 1:
      return 'ICMP';
    case 58:
      return 'ICMPv6';
    case 0:
      return 'IP';
  }
  return `IP_${p}`;
}

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');

/** `%pI6`: eight groups of four lower-case hex digits. */
function fullIPv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(i * 2).toString(16).padStart(4, '0'));
  return groups.join(':');
}

function addrField(af: number, b: Buffer): string {
  return af === AF_INET6 ? fullIPv6(b) : hex(b.readUInt32BE(0), 8);
}

/** The text of `/proc/net/ip_vs_conn`. */
export function procConnText(conns: readonly ConnEntry[]): string {
  let out = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n';
  for (const c of conns) {
    const pe = c.peName !== undefined && c.peData !== undefined ? ` ${c.peName} ${c.peData}` : '';
    out +=
      `${protoName(c.protocol).padEnd(3)} ${addrField(c.af, c.caddr)} ${hex(c.cport, 4)} ${addrField(c.af, c.vaddr)} ${hex(c.vport, 4)}` +
      ` ${addrField(c.daf, c.daddr)} ${hex(c.dport, 4)} ${c.state.padEnd(11)} ${String(c.expires).padStart(7)}${pe}\n`;
  }
  return out;
}

const hexL = (n: bigint, width: number): string => n.toString(16).toUpperCase().padStart(width, ' ');

/** The text of `/proc/net/ip_vs_stats` (all hex). */
export function procStatsText(s: Stats, r: Record<keyof Rates, bigint>): string {
  return (
    '   Total Incoming Outgoing         Incoming         Outgoing\n' +
    '   Conns  Packets  Packets            Bytes            Bytes\n' +
    `${hexL(s.conns, 8)} ${hexL(s.inPackets, 8)} ${hexL(s.outPackets, 8)} ${hexL(s.inBytes, 16)} ${hexL(s.outBytes, 16)}\n\n` +
    ' Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n' +
    `${hexL(r.cps, 8)} ${hexL(r.inPps, 8)} ${hexL(r.outPps, 8)} ${hexL(r.inBps, 16)} ${hexL(r.outBps, 16)}\n`
  );
}

/** `ip_vs_fwd_name`: the forwarding method's word in `/proc/net/ip_vs`. */
function fwdName(fwd: number): string {
  switch (fwd & IP_VS_CONN_F_FWD_MASK) {
    case IP_VS_CONN_F_LOCALNODE:
      return 'Local';
    case IP_VS_CONN_F_TUNNEL:
      return 'Tunnel';
    case IP_VS_CONN_F_DROUTE:
      return 'Route';
    default:
      return 'Masq';
  }
}

/**
 * The text of `/proc/net/ip_vs` (`ip_vs_info_seq_show`): services in the
 * order given (the kernel's: address table, then firewall-mark table), each
 * followed by its real servers. The persistence timeout is in jiffies, as
 * the kernel prints it.
 */
export function procRulesText(services: readonly SvcEntry[], connTabSize: number, counts: (d: DestEntry) => { active: number; inactive: number }): string {
  let out =
    `IP Virtual Server version 1.2.1 (size=${connTabSize})\n` +
    'Prot LocalAddress:Port Scheduler Flags\n' +
    '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n';
  for (const s of services) {
    const sched = s.sched ?? 'none';
    const ops = s.flags & IP_VS_SVC_F_ONEPACKET ? 'ops ' : '';
    if (s.fwmark) out += `FWM  ${hex(s.fwmark, 8)} ${sched} ${ops}`;
    else if (s.af === AF_INET6) out += `${protoName(s.protocol)}  [${fullIPv6(s.addr)}]:${hex(s.port, 4)} ${sched} `;
    else out += `${protoName(s.protocol)}  ${addrField(s.af, s.addr)}:${hex(s.port, 4)} ${sched} ${ops} `;
    out += s.flags & IP_VS_SVC_F_PERSISTENT ? `persistent ${s.timeoutJiffies | 0} ${hex(s.netmask.readUInt32BE(0), 8)}\n` : '\n';
    for (const d of s.dests) {
      const c = counts(d);
      const addr = d.af === AF_INET6 ? `[${fullIPv6(d.addr)}]` : addrField(d.af, d.addr);
      out += `  -> ${addr}:${hex(d.port, 4)}      ${fwdName(d.fwd).padEnd(7)} ${String(d.weight | 0).padEnd(6)} ${String(c.active).padEnd(10)} ${String(c.inactive).padEnd(10)}\n`;
    }
  }
  return out;
}
