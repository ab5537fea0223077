/**
 * Converts between the domain model (model.ts) and wire attributes
 * (schema.ts), checking every value before it is sent: a bad value is an
 * {@link InvalidArgumentError} naming the field, and nothing reaches the
 * kernel.
 * @module
 */
import { AttrView, attrIds, type AttrValues, type FlagsValue } from '../netlink/attributes';
import { readU32, writeU32 } from '../netlink/hostorder';
import { formatAddress, formatAddrPort, parseAddress, type Family, type ParsedAddress } from './address';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_LOCALNODE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_CONN_F_TUNNEL_TYPE_GRE,
  IP_VS_CONN_F_TUNNEL_TYPE_GUE,
  IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
  IP_VS_IFNAME_MAXLEN,
  IP_VS_PENAME_MAXLEN,
  IP_VS_SCHEDNAME_MAXLEN,
  IP_VS_STATE_BACKUP,
  IP_VS_STATE_MASTER,
  IP_VS_SVC_F_HASHED,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IP_VS_SVC_F_SCHED1,
  IP_VS_SVC_F_SCHED2,
  IP_VS_SVC_F_SCHED3,
  IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
  IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
} from './constants';
import { invalidArgument } from './errors';
import { DEST_ATTRS, SERVICE_ATTRS, STATS64_ATTRS, STATS_ATTRS } from './schema';
import {
  isFwmarkKey,
  zeroRates,
  zeroStats,
  type DaemonState,
  type Destination,
  type DestinationRule,
  type ServiceRule,
  type DestinationConfig,
  type DestinationInput,
  type DestinationKey,
  type ForwardingMethod,
  type Protocol,
  type Rates,
  type SchedFlag,
  type Service,
  type ServiceConfig,
  type ServiceInput,
  type ServiceKey,
  type Stats,
  type SyncDaemon,
  type TunnelType,
} from './model';

// ---------------------------------------------------------------- vocabulary

/** Protocol numbers (internal: the bulk encoder uses them). */
export const PROTO_NUM: Record<Protocol, number> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };

/** The IP protocol number of a (checked) service key's protocol. */
export function protocolNumber(p: Protocol | number): number {
  return typeof p === 'number' ? p : PROTO_NUM[p];
}

/** A protocol number as the model gives it: a name when IPVS has one, else the number. */
export function protocolOf(n: number): Protocol | number {
  return PROTO_NAME.get(n) ?? n;
}
const PROTO_NAME = new Map<number, Protocol>([
  [IPPROTO_TCP, 'tcp'],
  [IPPROTO_UDP, 'udp'],
  [IPPROTO_SCTP, 'sctp'],
]);
/** Forwarding method numbers (internal). */
export const FWD_NUM: Record<ForwardingMethod, number> = {
  masq: IP_VS_CONN_F_MASQ,
  local: IP_VS_CONN_F_LOCALNODE,
  tunnel: IP_VS_CONN_F_TUNNEL,
  route: IP_VS_CONN_F_DROUTE,
};
const FWD_NAME: ForwardingMethod[] = ['masq', 'local', 'tunnel', 'route'];
/** Tunnel type numbers (internal). */
export const TUN_NUM: Record<TunnelType, number> = {
  ipip: IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
  gue: IP_VS_CONN_F_TUNNEL_TYPE_GUE,
  gre: IP_VS_CONN_F_TUNNEL_TYPE_GRE,
};
const TUN_NAME: TunnelType[] = ['ipip', 'gue', 'gre'];

const SCHED_FLAG_BIT: Record<SchedFlag, number> = {
  'flag-1': IP_VS_SVC_F_SCHED1,
  'sh-fallback': IP_VS_SVC_F_SCHED1,
  'mh-fallback': IP_VS_SVC_F_SCHED1,
  'flag-2': IP_VS_SVC_F_SCHED2,
  'sh-port': IP_VS_SVC_F_SCHED2,
  'mh-port': IP_VS_SVC_F_SCHED2,
  'flag-3': IP_VS_SVC_F_SCHED3,
};

/** The address family number (AF_INET/AF_INET6). */
export function afNumber(family: Family): number {
  return family === 'ipv4' ? AF_INET : AF_INET6;
}

function afName(af: number): Family {
  if (af === AF_INET) return 'ipv4';
  if (af === AF_INET6) return 'ipv6';
  throw invalidArgument('af', `unknown address family ${af}`);
}

/** The kernel's bits for a list of scheduler flags. */
export function schedFlagBits(flags: readonly SchedFlag[]): number {
  let bits = 0;
  for (const f of flags) {
    const b = SCHED_FLAG_BIT[f];
    if (b === undefined) throw invalidArgument('schedFlags', `unknown scheduler flag '${String(f)}'`);
    bits |= b;
  }
  return bits;
}

/** Scheduler flag bits in the scheduler's own names (as ipvsadm shows them). */
export function schedFlagNames(bits: number, scheduler: string): SchedFlag[] {
  const out: SchedFlag[] = [];
  const pre = scheduler === 'sh' || scheduler === 'mh' ? scheduler : undefined;
  if (bits & IP_VS_SVC_F_SCHED1) out.push(pre ? (`${pre}-fallback` as SchedFlag) : 'flag-1');
  if (bits & IP_VS_SVC_F_SCHED2) out.push(pre ? (`${pre}-port` as SchedFlag) : 'flag-2');
  if (bits & IP_VS_SVC_F_SCHED3) out.push('flag-3');
  return out;
}

// ---------------------------------------------------------------- key texts

/** A service in the user's words: `tcp 203.0.113.10:80`, `fwmark 7`, `fwmark 7 ipv6`. */
export function serviceKeyText(key: ServiceKey): string {
  if (isFwmarkKey(key)) return `service fwmark ${key.fwmark}${key.family === 'ipv6' ? ' ipv6' : ''}`;
  const proto = typeof key.protocol === 'number' ? `protocol ${key.protocol}` : key.protocol;
  return `service ${proto} ${formatAddrPort(key.address, key.port)}`;
}

/** A destination in the user's words: `destination 198.51.100.2:80`. */
export function destinationKeyText(key: DestinationKey): string {
  return `destination ${formatAddrPort(key.address, key.port)}`;
}

// ---------------------------------------------------------------- checks
//
// The checks build their field names (`config.weight`) only when they fail:
// bulk loads run them hundreds of thousands of times.

function path(prefix: string, name: string): string {
  return name ? `${prefix}.${name}` : prefix;
}

/** Checks an integer in [min, max]. */
export function checkInt(prefix: string, name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidArgument(path(prefix, name), `must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Checks a kernel name (scheduler, engine, interface): 1..max-1 bytes, no NUL. */
export function checkName(prefix: string, name: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) > max - 1 || v.includes('\0')) {
    throw invalidArgument(path(prefix, name), `must be a name of 1 to ${max - 1} bytes (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Checks a boolean. */
export function checkBool(prefix: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalidArgument(path(prefix, name), `must be true or false (got ${JSON.stringify(v)})`);
  return v;
}

/** A service key checked and put in canonical form, with its family and address bytes. */
export interface NormalKey {
  key: ServiceKey;
  family: Family;
  addr?: Buffer;
}

/** Checks a service key and canonicalizes its address (inet_ntop form). */
export function normalizeServiceKey(key: ServiceKey, field = 'service'): NormalKey {
  if (key === null || typeof key !== 'object') throw invalidArgument(field, 'must be an object');
  if (isFwmarkKey(key)) {
    const fwmark = checkInt(field, 'fwmark', key.fwmark, 1, 0xffffffff);
    const family = key.family ?? 'ipv4';
    if (family !== 'ipv4' && family !== 'ipv6') throw invalidArgument(`${field}.family`, "must be 'ipv4' or 'ipv6'");
    return { key: { fwmark, family }, family };
  }
  const k = key as { protocol?: unknown; address?: unknown; port?: unknown };
  let protocol: Protocol | number;
  if (k.protocol === 'tcp' || k.protocol === 'udp' || k.protocol === 'sctp') protocol = k.protocol;
  else if (typeof k.protocol === 'number' && Number.isInteger(k.protocol) && k.protocol >= 0 && k.protocol <= 65535) {
    protocol = protocolOf(k.protocol);
  } else {
    throw invalidArgument(
      `${field}.protocol`,
      `must be 'tcp', 'udp', 'sctp' or an IP protocol number (got ${JSON.stringify(k.protocol)})`,
    );
  }
  if (typeof k.address !== 'string') throw invalidArgument(`${field}.address`, 'must be an IP address');
  let parsed;
  try {
    parsed = parseAddress(k.address);
  } catch {
    throw invalidArgument(`${field}.address`, `'${k.address}' is not an IPv4 or IPv6 address`);
  }
  const port = checkInt(field, 'port', k.port, 0, 65535);
  return {
    key: { protocol, address: parsed.text, port },
    family: parsed.family,
    addr: parsed.bytes,
  };
}

/** Checks a destination key; returns it canonical with family and bytes. */
export function normalizeDestinationKey(
  key: DestinationKey,
  field = 'destination',
): { key: DestinationKey; family: Family; addr: Buffer } {
  if (key === null || typeof key !== 'object') throw invalidArgument(field, 'must be an object');
  if (typeof key.address !== 'string') throw invalidArgument(`${field}.address`, 'must be an IP address');
  let parsed;
  try {
    parsed = parseAddress(key.address);
  } catch {
    throw invalidArgument(`${field}.address`, `'${key.address}' is not an IPv4 or IPv6 address`);
  }
  const port = checkInt(field, 'port', key.port, 0, 65535);
  return { key: { address: parsed.text, port }, family: parsed.family, addr: parsed.bytes };
}

/** The default persistence netmask of a family (a single client address). */
export function defaultNetmask(family: Family): string | number {
  return family === 'ipv4' ? '255.255.255.255' : 128;
}

/** Default persistence timeout when persistence is asked for without one (ipvsadm's 360 s). */
export const DEFAULT_PERSISTENCE_TIMEOUT = 360;

/**
 * A checked service configuration, as primitives. {@link checkServiceInput}
 * fills one shared record so the bulk encoder can check and write without
 * allocating; {@link completeServiceConfig} copies it into an object.
 */
export interface CheckedService {
  scheduler: string;
  persistent: boolean;
  timeout: number;
  /** IPv4: dotted mask; IPv6: prefix length. */
  netmask: string | number;
  onePacket: boolean;
  persistenceEngine: string | undefined;
  /** IP_VS_SVC_F_SCHED1..3 bits. */
  schedBits: number;
}

const serviceScratch: CheckedService = {
  scheduler: '',
  persistent: false,
  timeout: 0,
  netmask: 0,
  onePacket: false,
  persistenceEngine: undefined,
  schedBits: 0,
};

/**
 * Checks a service configuration with ipvsadm's defaults (wlc, no
 * persistence; 360 s when persistent without a timeout). Returns a shared
 * record, valid until the next call.
 */
export function checkServiceInput(family: Family, input: ServiceInput | undefined, field = 'config'): CheckedService {
  const c = serviceScratch;
  const i = input ?? {};
  if (i === null || typeof i !== 'object') throw invalidArgument(field, 'must be an object');
  c.persistent = i.persistent === undefined ? false : checkBool(field, 'persistent', i.persistent);
  c.scheduler = checkName(field, 'scheduler', i.scheduler ?? 'wlc', IP_VS_SCHEDNAME_MAXLEN);
  c.timeout = checkInt(field, 'timeout', i.timeout ?? (c.persistent ? DEFAULT_PERSISTENCE_TIMEOUT : 0), 0, 0xffffffff);
  c.netmask = checkNetmask(field, family, i.netmask ?? defaultNetmask(family));
  c.onePacket = i.onePacket === undefined ? false : checkBool(field, 'onePacket', i.onePacket);
  c.persistenceEngine =
    i.persistenceEngine === undefined || i.persistenceEngine === null
      ? undefined
      : checkName(field, 'persistenceEngine', i.persistenceEngine, IP_VS_PENAME_MAXLEN);
  const flags = i.schedFlags ?? [];
  if (!Array.isArray(flags)) throw invalidArgument(path(field, 'schedFlags'), 'must be a list of scheduler flags');
  let bits = 0;
  for (const f of flags) {
    const b = SCHED_FLAG_BIT[f as SchedFlag];
    if (b === undefined) {
      throw invalidArgument(
        path(field, 'schedFlags'),
        `unknown scheduler flag ${JSON.stringify(f)} (flag-1..3, sh-fallback, sh-port, mh-fallback, mh-port)`,
      );
    }
    bits |= b;
  }
  c.schedBits = bits;
  return c;
}

/** Fills in defaults (ipvsadm's: wlc, no persistence) and checks every field. */
export function completeServiceConfig(family: Family, input: ServiceInput = {}, field = 'config'): ServiceConfig {
  const c = checkServiceInput(family, input, field);
  const cfg: ServiceConfig = {
    scheduler: c.scheduler,
    persistent: c.persistent,
    timeout: c.timeout,
    netmask: c.netmask,
    onePacket: c.onePacket,
    schedFlags: schedFlagNames(c.schedBits, c.scheduler),
  };
  if (c.persistenceEngine !== undefined) cfg.persistenceEngine = c.persistenceEngine;
  return cfg;
}

const PREFIX_MASKS: string[] = Array.from({ length: 33 }, (_v, n) => {
  const bits = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return `${bits >>> 24}.${(bits >>> 16) & 255}.${(bits >>> 8) & 255}.${bits & 255}`;
});

/** Checks a persistence netmask: IPv4 dotted (or a prefix length), IPv6 prefix 1..128. */
function checkNetmask(field: string, family: Family, v: unknown): string | number {
  if (family === 'ipv6') {
    // The kernel rejects an IPv6 service whose prefix is not 1..128 (EINVAL).
    return checkInt(field, 'netmask', v, 1, 128);
  }
  if (typeof v === 'number') return PREFIX_MASKS[checkInt(field, 'netmask', v, 0, 32)] as string;
  if (typeof v === 'string') {
    let p: ParsedAddress | undefined;
    try {
      p = parseAddress(v);
    } catch {
      p = undefined;
    }
    if (p && p.family === 'ipv4') return p.text;
  }
  throw invalidArgument(
    path(field, 'netmask'),
    `must be an IPv4 netmask like 255.255.255.0 or a prefix length 0..32 (got ${JSON.stringify(v)})`,
  );
}

/** A checked destination configuration, as primitives (see {@link CheckedService}). */
export interface CheckedDestination {
  forwarding: ForwardingMethod;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  tunnelType: TunnelType;
  tunnelPort: number;
  tunnelCsum: boolean;
  tunnelRemcsum: boolean;
}

/** A destination configuration with ipvsadm's defaults, every field present. */
function blankDestinationConfig(): CheckedDestination {
  return {
    forwarding: 'route',
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
    tunnelType: 'ipip',
    tunnelPort: 0,
    tunnelCsum: false,
    tunnelRemcsum: false,
  };
}

const destinationScratch = blankDestinationConfig();

/**
 * Checks a destination configuration with ipvsadm's defaults (route, weight
 * 1). Returns a shared record, valid until the next call.
 */
export function checkDestinationInput(input: DestinationInput | undefined, field = 'config'): CheckedDestination {
  const c = destinationScratch;
  const i = input ?? {};
  if (i === null || typeof i !== 'object') throw invalidArgument(field, 'must be an object');
  const forwarding = i.forwarding ?? 'route';
  if (FWD_NUM[forwarding] === undefined) {
    throw invalidArgument(path(field, 'forwarding'), `must be 'route', 'masq', 'tunnel' or 'local' (got ${JSON.stringify(forwarding)})`);
  }
  const tunnelType = i.tunnelType ?? 'ipip';
  if (TUN_NUM[tunnelType] === undefined) {
    throw invalidArgument(path(field, 'tunnelType'), `must be 'ipip', 'gue' or 'gre' (got ${JSON.stringify(tunnelType)})`);
  }
  c.forwarding = forwarding;
  c.tunnelType = tunnelType;
  c.weight = checkInt(field, 'weight', i.weight ?? 1, 0, 0x7fffffff);
  c.upperThreshold = checkInt(field, 'upperThreshold', i.upperThreshold ?? 0, 0, 0x7fffffff);
  c.lowerThreshold = checkInt(field, 'lowerThreshold', i.lowerThreshold ?? 0, 0, 0x7fffffff);
  c.tunnelPort = checkInt(field, 'tunnelPort', i.tunnelPort ?? 0, 0, 65535);
  c.tunnelCsum = i.tunnelCsum === undefined ? false : checkBool(field, 'tunnelCsum', i.tunnelCsum);
  c.tunnelRemcsum = i.tunnelRemcsum === undefined ? false : checkBool(field, 'tunnelRemcsum', i.tunnelRemcsum);
  if (c.lowerThreshold > c.upperThreshold) {
    // The kernel answers ERANGE, even for upper = 0 ("no limit").
    throw invalidArgument(path(field, 'lowerThreshold'), `must not exceed upperThreshold (${c.upperThreshold})`);
  }
  // The kernel checks this whatever the forwarding method (ip_vs_add_dest and
  // ip_vs_edit_dest look at tun_type alone): EINVAL for a masq server too.
  if (c.tunnelType === 'gue' && c.tunnelPort === 0) {
    throw invalidArgument(path(field, 'tunnelPort'), 'a GUE tunnel needs a port (1..65535)');
  }
  return c;
}

/** Fills in ipvsadm's defaults (route, weight 1) and checks every field. */
export function completeDestinationConfig(input: DestinationInput = {}, field = 'config'): DestinationConfig {
  const c = checkDestinationInput(input, field);
  return {
    forwarding: c.forwarding,
    weight: c.weight,
    upperThreshold: c.upperThreshold,
    lowerThreshold: c.lowerThreshold,
    tunnelType: c.tunnelType,
    tunnelPort: c.tunnelPort,
    tunnelCsum: c.tunnelCsum,
    tunnelRemcsum: c.tunnelRemcsum,
  };
}

/**
 * A real server of another address family than its service is allowed only
 * with tunnel forwarding (the kernel answers EINVAL otherwise).
 */
export function checkMixedFamily(n: NormalKey, destFamily: Family, forwarding: ForwardingMethod, address: string, port: number): void {
  // The address and port as values, not a closure: a bulk load checks 50,000 real servers.
  if (destFamily !== n.family && forwarding !== 'tunnel') {
    throw invalidArgument(
      'destination.address',
      `${destinationKeyText({ address, port })} is ${destFamily} but ${serviceKeyText(n.key)} is ${n.family}: mixed address families need tunnel forwarding`,
    );
  }
}

// ---------------------------------------------------------------- encode

/** Identity attributes of a service (what DEL/GET/dest commands carry). */
export function serviceKeyAttrs(n: NormalKey): AttrValues {
  const k = n.key;
  if (isFwmarkKey(k)) return { af: afNumber(n.family), fwmark: k.fwmark };
  return { af: afNumber(n.family), protocol: protocolNumber(k.protocol), addr: n.addr as Buffer, port: k.port };
}

/** Netmask bytes as the kernel reads them (a raw __be32). */
function netmaskBytes(family: Family, netmask: string | number): Buffer {
  const b = Buffer.alloc(4);
  if (family === 'ipv6') writeU32(b, netmask as number, 0);
  else parseAddress(String(netmask)).bytes.copy(b, 0, 0, 4);
  return b;
}

/** The full service attributes for NEW_SERVICE / SET_SERVICE. */
export function serviceAttrs(n: NormalKey, cfg: ServiceConfig): AttrValues {
  let flags = schedFlagBits(cfg.schedFlags);
  if (cfg.persistent) flags |= IP_VS_SVC_F_PERSISTENT;
  if (cfg.onePacket) flags |= IP_VS_SVC_F_ONEPACKET;
  const a = serviceKeyAttrs(n);
  a.schedName = cfg.scheduler;
  if (cfg.persistenceEngine) a.peName = cfg.persistenceEngine;
  // Mask all bits: the kernel computes new = (old & ~mask) | (flags & mask).
  a.flags = { flags, mask: 0xffffffff } satisfies FlagsValue;
  a.timeout = cfg.timeout;
  a.netmask = netmaskBytes(n.family, cfg.netmask);
  return a;
}

/** Identity attributes of a destination (what DEL_DEST carries). */
export function destinationKeyAttrs(d: { key: DestinationKey; family: Family; addr: Buffer }): AttrValues {
  return { addrFamily: afNumber(d.family), addr: d.addr, port: d.key.port };
}

/** The full destination attributes for NEW_DEST / SET_DEST. */
export function destinationAttrs(d: { key: DestinationKey; family: Family; addr: Buffer }, cfg: DestinationConfig): AttrValues {
  // A literal, not a spread of destinationKeyAttrs(): this runs once per
  // destination of a bulk load and spreads are slow.
  return {
    addrFamily: afNumber(d.family),
    addr: d.addr,
    port: d.key.port,
    fwdMethod: FWD_NUM[cfg.forwarding],
    weight: cfg.weight,
    tunType: TUN_NUM[cfg.tunnelType],
    tunPort: cfg.tunnelPort,
    tunFlags: (cfg.tunnelCsum ? IP_VS_TUNNEL_ENCAP_FLAG_CSUM : 0) | (cfg.tunnelRemcsum ? IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM : 0),
    uThresh: cfg.upperThreshold,
    lThresh: cfg.lowerThreshold,
  };
}

// ---------------------------------------------------------------- decode

const S = attrIds(SERVICE_ATTRS, [
  'af', 'protocol', 'addr', 'port', 'fwmark', 'schedName', 'peName', 'flags', 'timeout', 'netmask', 'stats', 'stats64',
]);
const D = attrIds(DEST_ATTRS, [
  'addrFamily', 'addr', 'port', 'fwdMethod', 'weight', 'tunType', 'tunPort', 'tunFlags', 'uThresh', 'lThresh',
  'activeConns', 'inactConns', 'persistConns', 'stats', 'stats64',
]);
const T = attrIds(STATS_ATTRS, ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes', 'cps', 'inpps', 'outpps', 'inbps', 'outbps']);

// Decoding is synchronous, so one view per nest kind serves every call.
const statsView = new AttrView(STATS_ATTRS);
const stats64View = new AttrView(STATS64_ATTRS);

function statsOf(v: AttrView, id32: number, id64: number): { stats: Stats; rates: Rates; statsSource: 'stats64' | 'stats' } {
  // Prefer the 64-bit counters (4.1+); fall back to the 32-bit set.
  const s = v.nested(id64, stats64View) ? stats64View : v.nested(id32, statsView) ? statsView : undefined;
  if (!s) return { stats: zeroStats(), rates: zeroRates(), statsSource: 'stats' };
  return {
    stats: {
      conns: s.counter(T.conns),
      inPackets: s.counter(T.inpkts),
      outPackets: s.counter(T.outpkts),
      inBytes: s.counter(T.inbytes),
      outBytes: s.counter(T.outbytes),
    },
    rates: { cps: s.rate(T.cps), inPps: s.rate(T.inpps), outPps: s.rate(T.outpps), inBps: s.rate(T.inbps), outBps: s.rate(T.outbps) },
    statsSource: s === stats64View ? 'stats64' : 'stats',
  };
}

function required(v: AttrView, id: number, what: string): void {
  if (!v.has(id)) throw invalidArgument(what, 'missing from the kernel reply');
}

/** A service from a loaded `IPVS_CMD_ATTR_SERVICE` view (GET_SERVICE reply). */
export function decodeService(v: AttrView): Service {
  // A new object, not the rule with fields added: a Service has no
  // `destinations` (an empty list there would read as "no real servers").
  const r = decodeServiceRule(v);
  const { stats, rates, statsSource } = statsOf(v, S.stats, S.stats64);
  return { key: r.key, family: r.family, config: r.config, stats, rates, statsSource, rawFlags: v.flags(S.flags).flags };
}

/**
 * A service's identity and configuration, without counters, from a loaded
 * `IPVS_CMD_ATTR_SERVICE` view. `destinations` starts empty.
 */
export function decodeServiceRule(v: AttrView): ServiceRule {
  required(v, S.af, 'service.af');
  const family = afName(v.int(S.af, 0));
  const fwmark = v.int(S.fwmark, 0);
  let key: ServiceKey;
  if (fwmark !== 0) {
    key = { fwmark, family };
  } else {
    required(v, S.protocol, 'service.protocol');
    // Any number: the kernel does not check it (docs/kernel-notes.md).
    const protocol = protocolOf(v.int(S.protocol, 0));
    const addr = v.bytesAt(S.addr);
    if (addr < 0 || v.length(S.addr) < (family === 'ipv4' ? 4 : 16)) throw invalidArgument('service.addr', 'missing from the kernel reply');
    key = { protocol, address: formatAddress(v.buf, family, addr), port: v.int(S.port, 0) };
  }
  const rawFlags = v.flags(S.flags).flags;
  const scheduler = v.str(S.schedName) ?? '';
  const nm = v.bytesAt(S.netmask);
  const netmask =
    nm < 0 || v.length(S.netmask) < 4
      ? defaultNetmask(family)
      : family === 'ipv6'
        ? v.wordAt(nm)
        : formatAddress(v.buf, 'ipv4', nm);
  const config: ServiceConfig = {
    scheduler,
    persistent: (rawFlags & IP_VS_SVC_F_PERSISTENT) !== 0,
    timeout: v.int(S.timeout, 0),
    netmask,
    onePacket: (rawFlags & IP_VS_SVC_F_ONEPACKET) !== 0,
    schedFlags: schedFlagNames(rawFlags, scheduler),
  };
  const pe = v.str(S.peName);
  if (pe) config.persistenceEngine = pe;
  return { key, family, config, destinations: [] };
}

/**
 * A service configuration as one comparable string: equal strings mean the
 * kernel would hold the same entry (flag names are compared as bits).
 */
export function comparableServiceConfig(c: ServiceConfig): string {
  return `${c.scheduler}|${c.persistent ? 1 : 0}|${c.timeout}|${c.netmask}|${c.onePacket ? 1 : 0}|${schedFlagBits(c.schedFlags)}|${c.persistenceEngine ?? ''}`;
}

/** Flags to compare, without the kernel-internal HASHED bit. */
export function comparableFlags(rawFlags: number): number {
  return rawFlags & ~IP_VS_SVC_F_HASHED;
}

/** A destination from a loaded `IPVS_CMD_ATTR_DEST` view (GET_DEST reply). */
export function decodeDestination(v: AttrView, serviceFamily: Family): Destination {
  const d = decodeDestinationRule(v, serviceFamily) as Destination;
  d.activeConns = v.int(D.activeConns, 0);
  d.inactiveConns = v.int(D.inactConns, 0);
  d.persistentConns = v.int(D.persistConns, 0);
  const { stats, rates, statsSource } = statsOf(v, D.stats, D.stats64);
  d.stats = stats;
  d.rates = rates;
  d.statsSource = statsSource;
  return d;
}

/** A destination's identity and configuration, without counters. */
export function decodeDestinationRule(v: AttrView, serviceFamily: Family): DestinationRule {
  return decodeDestinationRuleInto(v, serviceFamily, blankDestinationRule());
}

/** A destination rule for {@link decodeDestinationRuleInto} to fill. */
export function blankDestinationRule(): DestinationRule {
  return { key: { address: '', port: 0 }, family: 'ipv4', config: blankDestinationConfig() };
}

/**
 * Decodes a destination into `d` (made by {@link blankDestinationRule}),
 * every field overwritten: a caller that formats and forgets real servers
 * one at a time allocates nothing per real server (addresses come from a
 * cache).
 */
export function decodeDestinationRuleInto(v: AttrView, serviceFamily: Family, d: DestinationRule): DestinationRule {
  // ADDR_FAMILY comes after ADDR (and not at all before 3.18): the view has
  // both before either is read.
  const af = v.int(D.addrFamily, 0);
  const family = af !== 0 ? afName(af) : serviceFamily;
  const addr = v.bytesAt(D.addr);
  if (addr < 0 || v.length(D.addr) < (family === 'ipv4' ? 4 : 16)) throw invalidArgument('dest.addr', 'missing from the kernel reply');
  const fwd = v.int(D.fwdMethod, IP_VS_CONN_F_DROUTE) & IP_VS_CONN_F_FWD_MASK;
  const tunFlags = v.int(D.tunFlags, 0);
  const c = d.config;
  c.forwarding = FWD_NAME[fwd] ?? 'route';
  c.weight = v.int(D.weight, 0) | 0;
  c.upperThreshold = v.int(D.uThresh, 0);
  c.lowerThreshold = v.int(D.lThresh, 0);
  c.tunnelType = TUN_NAME[v.int(D.tunType, 0)] ?? 'ipip';
  c.tunnelPort = v.int(D.tunPort, 0);
  c.tunnelCsum = (tunFlags & IP_VS_TUNNEL_ENCAP_FLAG_CSUM) !== 0;
  c.tunnelRemcsum = (tunFlags & IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM) !== 0;
  d.key.address = formatAddress(v.buf, family, addr);
  d.key.port = v.int(D.port, 0);
  d.family = family;
  return d;
}

// ---------------------------------------------------------------- daemons

/** The kernel's number for a daemon state. */
export function daemonStateNumber(state: DaemonState): number {
  if (state === 'master') return IP_VS_STATE_MASTER;
  if (state === 'backup') return IP_VS_STATE_BACKUP;
  throw invalidArgument('daemon.state', `must be 'master' or 'backup' (got ${JSON.stringify(state)})`);
}

/** NEW_DAEMON attributes, checked. */
export function daemonAttrs(d: SyncDaemon): AttrValues {
  const a: AttrValues = {
    state: daemonStateNumber(d.state),
    mcastIfn: checkName('daemon', 'interface', d.interface, IP_VS_IFNAME_MAXLEN),
    syncId: checkInt('daemon', 'syncId', d.syncId ?? 0, 0, 255),
  };
  if (d.maxLen !== undefined) a.syncMaxlen = checkInt('daemon', 'maxLen', d.maxLen, 0, 65535);
  if (d.group !== undefined) {
    let g;
    try {
      g = parseAddress(d.group);
    } catch {
      throw invalidArgument('daemon.group', `'${d.group}' is not an IP address`);
    }
    if (g.family === 'ipv4') a.mcastGroup = Buffer.from(g.bytes.subarray(0, 4));
    else a.mcastGroup6 = g.bytes;
  }
  if (d.port !== undefined) a.mcastPort = checkInt('daemon', 'port', d.port, 0, 65535);
  if (d.ttl !== undefined) a.mcastTtl = checkInt('daemon', 'ttl', d.ttl, 0, 255);
  return a;
}

/** A daemon from a GET_DAEMON reply (decoded attributes of the daemon nest). */
export function decodeDaemon(a: AttrValues): SyncDaemon {
  const num = (name: string, fallback: number): number => (typeof a[name] === 'number' ? (a[name] as number) : fallback);
  const st = num('state', 0);
  const d: SyncDaemon = {
    state: st === IP_VS_STATE_BACKUP ? 'backup' : 'master',
    interface: typeof a.mcastIfn === 'string' ? a.mcastIfn : '',
    syncId: num('syncId', 0),
  };
  if (typeof a.syncMaxlen === 'number') d.maxLen = a.syncMaxlen;
  if (Buffer.isBuffer(a.mcastGroup)) d.group = formatAddress(a.mcastGroup, 'ipv4');
  else if (Buffer.isBuffer(a.mcastGroup6)) d.group = formatAddress(a.mcastGroup6, 'ipv6');
  if (typeof a.mcastPort === 'number') d.port = a.mcastPort;
  if (typeof a.mcastTtl === 'number') d.ttl = a.mcastTtl;
  return d;
}
