/**
 * The domain model: what a user of the library reads and writes.
 *
 * Identity (protocol, address, port — or firewall mark), configuration and
 * observed state (counters, rates, connection counts) are separate objects,
 * so a configuration can be compared, diffed and written back without
 * dragging statistics along.
 * @module
 */
import type { Family } from './address';

/** Transport protocol of an address-based virtual service. */
export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A virtual service identified by protocol, virtual IP and port. */
export interface AddressServiceKey {
  /**
   * `tcp`, `udp` or `sctp`; or an IP protocol number for a protocol IPVS has
   * no name for. The kernel's netlink path does not check the protocol, so
   * another tool can create such a service; the library reads (and can write)
   * it rather than failing on the whole table. Numbers 6, 17 and 132 are
   * always given as their names.
   */
  protocol: Protocol | number;
  /** Virtual IP, IPv4 or IPv6 (its family is the service's). */
  address: string;
  /** 0..65535; 0 is the kernel's catch-all port (persistent services). */
  port: number;
}

/** A virtual service identified by a firewall mark (and an address family). */
export interface FwmarkServiceKey {
  /** 1..2^32-1. */
  fwmark: number;
  family: Family;
}

/** The identity of a virtual service. */
export type ServiceKey = AddressServiceKey | FwmarkServiceKey;

/** True for a firewall-mark key. */
export function isFwmarkKey(key: ServiceKey): key is FwmarkServiceKey {
  return (key as FwmarkServiceKey).fwmark !== undefined;
}

/**
 * Scheduler flags in ipvsadm's vocabulary. The kernel has three bits
 * (IP_VS_SVC_F_SCHED1..3); `sh` and `mh` give the first two a meaning:
 * fallback (skip an unavailable server) and port (hash the source port too).
 */
export type SchedFlag = 'flag-1' | 'flag-2' | 'flag-3' | 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port';

/** How a virtual service schedules. The kernel replaces all of it on edit. */
export interface ServiceConfig {
  /** Scheduler module name without `ip_vs_` (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, or `none`). */
  scheduler: string;
  /** Client affinity (IP_VS_SVC_F_PERSISTENT). */
  persistent: boolean;
  /** Persistence timeout in seconds. The kernel keeps it even when not persistent. */
  timeout: number;
  /** Persistence granularity: an IPv4 netmask (`255.255.255.0`) or an IPv6 prefix length (`64`). */
  netmask: string | number;
  /** Persistence engine (the kernel has `sip`), or undefined. */
  persistenceEngine?: string;
  /** One-packet scheduling (IP_VS_SVC_F_ONEPACKET). */
  onePacket: boolean;
  /** Scheduler flags; listed with the scheduler's own names on read. */
  schedFlags: SchedFlag[];
}

/** What adding a service accepts: any part of {@link ServiceConfig}; the rest defaults. */
export type ServiceInput = Partial<ServiceConfig>;

/** Forwarding method of a real server (the low bits of IP_VS_CONN_F_FWD_MASK). */
export type ForwardingMethod = 'masq' | 'local' | 'tunnel' | 'route';

/** Tunnel encapsulation for `tunnel` forwarding (kernel 5.2+ for gue/gre). */
export type TunnelType = 'ipip' | 'gue' | 'gre';

/** The identity of a real server within a service. */
export interface DestinationKey {
  /** Real server address; may differ in family from the service for tunnels. */
  address: string;
  /** 0..65535. */
  port: number;
}

/** How traffic reaches a real server. The kernel replaces all of it on edit. */
export interface DestinationConfig {
  /** `route` (direct routing, ipvsadm -g), `masq` (NAT, -m), `tunnel` (-i) or `local`. */
  forwarding: ForwardingMethod;
  /** 0..2^31-1; 0 takes the server out of new scheduling (quiesced). */
  weight: number;
  /** Upper connection threshold; 0 = no limit. */
  upperThreshold: number;
  /** Lower connection threshold; must not exceed the upper one. */
  lowerThreshold: number;
  tunnelType: TunnelType;
  /** UDP port for GUE (required non-zero for GUE). */
  tunnelPort: number;
  /** Tunnel checksum (IP_VS_TUNNEL_ENCAP_FLAG_CSUM). */
  tunnelCsum: boolean;
  /** Remote checksum offload (IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM). */
  tunnelRemcsum: boolean;
}

/** What adding a destination accepts; the rest defaults (route, weight 1). */
export type DestinationInput = Partial<DestinationConfig>;

/** Counters since the last zero. All 64-bit (bigint). */
export interface Stats {
  conns: bigint;
  inPackets: bigint;
  outPackets: bigint;
  inBytes: bigint;
  outBytes: bigint;
}

/**
 * Rate estimates (per second), refreshed by the kernel about every 2 s.
 * The kernel sends them as u64, but no real rate comes near 2^53 (that is
 * 9 PB/s), so they are plain numbers, exact. Counters ({@link Stats}) can
 * pass 2^53 (a 100 Gbit/s byte counter does in about 8 days) and are bigint.
 */
export interface Rates {
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}

/** A virtual service as the kernel reports it. */
export interface Service {
  key: ServiceKey;
  /** The service's address family. */
  family: Family;
  config: ServiceConfig;
  stats: Stats;
  rates: Rates;
  /** `stats64` when the kernel sent 64-bit counters (4.1+), else `stats` (32-bit). */
  statsSource: 'stats64' | 'stats';
  /** Raw flags as dumped (including the kernel-internal HASHED bit). */
  rawFlags: number;
}

/** A real server's identity and configuration: what a rule set holds. */
export interface DestinationRule {
  key: DestinationKey;
  family: Family;
  config: DestinationConfig;
}

/** A virtual service's identity, configuration and real servers: what `ipvsadm -S` shows. */
export interface ServiceRule {
  key: ServiceKey;
  family: Family;
  config: ServiceConfig;
  destinations: DestinationRule[];
}

/** A real server as the kernel reports it: its rule plus observed state. */
export interface Destination extends DestinationRule {
  /** Active connections (established). */
  activeConns: number;
  /** Inactive connections (any other state). */
  inactiveConns: number;
  /** Persistence templates pointing at this server. */
  persistentConns: number;
  stats: Stats;
  rates: Rates;
  statsSource: 'stats64' | 'stats';
}

/** A service with its destinations (what a snapshot holds). */
export interface ServiceEntry extends Service {
  destinations: Destination[];
}

/** IPVS version and connection table size (GET_INFO). */
export interface Info {
  /** Version code, e.g. 0x010201. */
  versionCode: number;
  /** Dotted version, e.g. `1.2.1`. */
  version: string;
  /** Connection hash table size. */
  connTableSize: number;
}

/** Connection timeouts in seconds (GET_CONFIG). 0 in a set means "keep". */
export interface Timeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

/** Sync daemon role. */
export type DaemonState = 'master' | 'backup';

/** A connection synchronization daemon. */
export interface SyncDaemon {
  state: DaemonState;
  /** Multicast interface, e.g. `eth0`. */
  interface: string;
  /** 0..255. */
  syncId: number;
  /** UDP payload size; 0 = derived from the MTU (kernel 4.3+). */
  maxLen?: number;
  /** Multicast group (IPv4 or IPv6), default 224.0.0.81 (kernel 4.3+). */
  group?: string;
  /** Multicast port, default 8848 (kernel 4.3+). */
  port?: number;
  /** Multicast TTL, default 1 (kernel 4.3+). */
  ttl?: number;
}

/** A row of `/proc/net/ip_vs_conn`. */
export interface Connection {
  /** Protocol name as the kernel prints it: TCP, UDP, SCTP, IP (templates), ... */
  protocol: string;
  clientAddress: string;
  clientPort: number;
  /** Virtual address; for fwmark templates the kernel puts the mark here. */
  virtualAddress: string;
  virtualPort: number;
  destinationAddress: string;
  destinationPort: number;
  /** ESTABLISHED, SYN_RECV, FIN_WAIT, ..., UDP, NONE (templates), ... */
  state: string;
  /** Seconds until it expires. */
  expires: number;
  /** Persistence engine name and data (SIP Call-ID), when present. */
  peName?: string;
  peData?: string;
  /** True for a persistence template (protocol IP, or state NONE with port 0). */
  template: boolean;
}

/** The netns totals of `/proc/net/ip_vs_stats`. */
export interface Totals {
  stats: Stats;
  rates: Rates;
}

/** Zeroed counters. */
export function zeroStats(): Stats {
  return { conns: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n };
}

/** Zeroed rates. */
export function zeroRates(): Rates {
  return { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };
}
