/**
 * ipvsadm 1.31's command-line grammar, as the Debian binary implements it:
 * the option table, the order in which options are read and checked, the
 * command/option legality table, the semantic checks and their messages.
 *
 * {@link parseCommand} turns one argv (a command line, or a line of `-R`
 * input) into a {@link CommandEntry} — what ipvsadm would send to the
 * kernel — or throws a {@link UsageError} carrying ipvsadm's message and exit
 * status. Options are applied in the order given, as ipvsadm does, so order
 * effects are the same (`-r HOST` takes the service port known *so far*;
 * `-M` is read as IPv4 or IPv6 by the service family known so far).
 *
 * Nothing here touches the kernel; host names are resolved through
 * names.ts (see {@link NeedsLookup}).
 * @module
 */
import { AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from '../ipvs/constants';
import { atoi, inetAton, inetPton4, inetPton6, strtol10, stringToNumber } from './cparse';
import { hostToAddr, serviceToPort } from './names';
import { BADOPT, Popt, type OptionSpec } from './popt';

// ---------------------------------------------------------------- commands

/** ipvsadm's commands (CMD_*), in its order: the legality table is indexed by it. */
export const CMD = {
  NONE: 0,
  ADD: 1,
  EDIT: 2,
  DEL: 3,
  FLUSH: 4,
  LIST: 5,
  ADDDEST: 6,
  DELDEST: 7,
  EDITDEST: 8,
  TIMEOUT: 9,
  STARTDAEMON: 10,
  STOPDAEMON: 11,
  RESTORE: 12,
  SAVE: 13,
  ZERO: 14,
} as const;
export type Cmd = (typeof CMD)[keyof typeof CMD];

const CMD_NAMES = [
  'add-service',
  'edit-service',
  'delete-service',
  'flush',
  'list',
  'add-server',
  'delete-server',
  'edit-server',
  'set',
  'start-daemon',
  'stop-daemon',
  'restore',
  'save',
  'zero',
];

/** Option indices (OPTC_*), in ipvsadm's order: messages and checks go in this order. */
export const OPT = {
  NUMERIC: 0,
  CONNECTION: 1,
  SERVICE: 2,
  SCHEDULER: 3,
  PERSISTENT: 4,
  NETMASK: 5,
  SERVER: 6,
  FORWARD: 7,
  WEIGHT: 8,
  UTHRESHOLD: 9,
  LTHRESHOLD: 10,
  MCAST: 11,
  TIMEOUT: 12,
  DAEMON: 13,
  STATS: 14,
  RATE: 15,
  THRESHOLDS: 16,
  PERSISTENTCONN: 17,
  NOSORT: 18,
  SYNCID: 19,
  EXACT: 20,
  ONEPACKET: 21,
  PE: 22,
  SCHED_FLAGS: 23,
  MCAST_GROUP: 24,
  MCAST_PORT: 25,
  MCAST_TTL: 26,
  SYNC_MAXLEN: 27,
  TUN_INFO: 28,
  TUN_TYPE: 29,
  TUN_PORT: 30,
  TUN_NOCSUM: 31,
  TUN_CSUM: 32,
  TUN_REMCSUM: 33,
} as const;

const OPT_NAMES = [
  'numeric',
  'connection',
  'service-address',
  'scheduler',
  'persistent',
  'netmask',
  'real-server',
  'forwarding-method',
  'weight',
  'u-threshold',
  'l-threshold',
  'mcast-interface',
  'timeout',
  'daemon',
  'stats',
  'rate',
  'thresholds',
  'persistent-conn',
  'nosort',
  'syncid',
  'exact',
  'ops',
  'pe',
  'sched-flags',
  'mcast-group',
  'mcast-port',
  'mcast-ttl',
  'sync-maxlen',
  'tun-info',
  'tun-type',
  'tun-port',
  'tun-nocsum',
  'tun-csum',
  'tun-remcsum',
];

/**
 * Which options each command takes: '+' required, 'x' illegal, '1' at most
 * one of the '1's, ' ' optional. One string per command (ADD..ZERO), one
 * character per option (OPT order). ipvsadm's `commands_v_options`.
 */
const LEGAL = [
  /* ADD      */ 'xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx',
  /* EDIT     */ 'xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx',
  /* DEL      */ 'xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  /* FLUSH    */ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  /* LIST     */ ' 11xxxxxxxxx11       xxxxxxx xxxxx',
  /* ADDDEST  */ 'xx+xxx+    xxxxxxxxxxxxxxxxxx     ',
  /* DELDEST  */ 'xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx',
  /* EDITDEST */ 'xx+xxx+    xxxxxxxxxxxxxxxxxx     ',
  /* TIMEOUT  */ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  /* STARTD   */ 'xxxxxxxxxxx xxxxxxx xxxx    xxxxxx',
  /* STOPD    */ 'xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx',
  /* RESTORE  */ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  /* SAVE     */ ' xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  /* ZERO     */ 'xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
];

/** Tunnel types and the tunnel options they take (TUN_PORT, NOCSUM, CSUM, REMCSUM). */
const TUN_NAMES = ['ipip', 'gue', 'gre'];
const TUN_OPTS = [OPT.TUN_PORT, OPT.TUN_NOCSUM, OPT.TUN_CSUM, OPT.TUN_REMCSUM];
const TUN_LEGAL = ['xxxx', '+111', 'x11x'];

// ---------------------------------------------------------------- flags

/** Service flags (IP_VS_SVC_F_*). */
export const SVC_F = { PERSISTENT: 0x1, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;
/** Forwarding methods (IP_VS_CONN_F_*). */
export const FWD = { MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3 } as const;
/** Tunnel encapsulation flags. */
export const TUN_F = { NOCSUM: 0, CSUM: 1, REMCSUM: 2 } as const;

/** Listing format bits (FMT_*). */
export const FMT = {
  NUMERIC: 0x1,
  RULE: 0x2,
  STATS: 0x4,
  RATE: 0x8,
  THRESHOLDS: 0x10,
  PERSISTENTCONN: 0x20,
  NOSORT: 0x40,
  EXACT: 0x80,
  TUN_INFO: 0x100,
} as const;

// ---------------------------------------------------------------- entries

/** A virtual service as ipvsadm fills `ipvs_service_t`. */
export interface SvcEntry {
  /** 0 (not given yet), AF_INET or AF_INET6. */
  af: number;
  protocol: number;
  /** 16 bytes; IPv4 in the first four. */
  addr: Buffer;
  port: number;
  fwmark: number;
  sched: string;
  flags: number;
  timeout: number;
  /** The netmask as the 4 bytes ipvsadm sends (an IPv4 mask, or an IPv6 prefix length in host order). */
  netmask: Buffer;
  pe: string;
}

/** A real server as ipvsadm fills `ipvs_dest_t`. */
export interface DestEntry {
  af: number;
  addr: Buffer;
  port: number;
  fwd: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
}

/** A sync daemon as ipvsadm fills `ipvs_daemon_t`. */
export interface DaemonEntry {
  state: 'master' | 'backup';
  ifname: string;
  syncId: number;
  maxLen: number;
  /** 0 (none), AF_INET or AF_INET6. */
  groupAf: number;
  group: Buffer;
  port: number;
  ttl: number;
}

/** What one ipvsadm command line asks for. */
export interface CommandEntry {
  cmd: Cmd;
  svc: SvcEntry;
  dest: DestEntry;
  daemon: DaemonEntry;
  timeouts: { tcp: number; tcpFin: number; udp: number };
  /** Which options were given (OPT indices). */
  has: boolean[];
  /** FMT bits. */
  format: number;
  /** `--json` (an ipvs extension, listings only). */
  json: boolean;
}

/** A command that is not a kernel operation. */
export type SpecialCommand = { cmd: 'help' } | { cmd: 'version' };

/**
 * A usage or parse error, with ipvsadm's message and exit status. `fatal`
 * errors end the process (ipvsadm's `fail()` and `tryhelp_exit()`); the
 * others end only the current line when replaying `-R` input (popt errors
 * after the command option).
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly fatal = true,
  ) {
    super(message);
  }
}

/** The program name used in messages that name it. */
export const PROGRAM = 'ipvs';

const MAX_TIMEOUT = 86400 * 31;
/** Debian's ipvsadm accepts weights up to INT_MAX (upstream: 65535). */
const MAX_WEIGHT = 2147483647;
const INT_MAX = 2147483647;
const DEFAULT_PERSISTENT_TIMEOUT = 360;

function fail(message: string): never {
  throw new UsageError(message, 2);
}

/** "Try `ipvs -h' ..." and exit 255 (ipvsadm's tryhelp_exit(-1)). */
export function tryHelp(): UsageError {
  return new UsageError(`Try \`${PROGRAM} -h' or '${PROGRAM} --help' for more information.`, 255);
}

// ---------------------------------------------------------------- option table

type OptId =
  | 'A' | 'E' | 'D' | 'C' | 'L' | 'l' | 'Z' | 'a' | 'e' | 'd' | 'set' | 'h' | 'v' | 'R' | 'S'
  | 'start-daemon' | 'stop-daemon' | 't' | 'u' | 'sctp' | 'f' | 's' | 'p' | 'M' | 'r' | 'm' | 'i' | 'g'
  | 'w' | 'x' | 'y' | 'n' | 'c' | 'mcast-interface' | 'syncid' | 'timeout' | 'daemon' | 'stats' | 'rate'
  | 'thresholds' | 'persistent-conn' | 'nosort' | 'sort' | 'X' | '6' | 'o' | 'pe' | 'b' | 'mcast-group'
  | 'mcast-port' | 'mcast-ttl' | 'sync-maxlen' | 'tun-info' | 'tun-type' | 'tun-port' | 'tun-nocsum'
  | 'tun-csum' | 'tun-remcsum' | 'json';

const o = (long: string, short: string | undefined, arg: 'none' | 'required' | 'optional', id: OptId): OptionSpec<OptId> =>
  short === undefined ? { long, arg, id } : { long, short, arg, id };

/** ipvsadm's popt table (plus `--json`). Order matters only for duplicate short names: `-l` and `-L` are both "list". */
const TABLE: OptionSpec<OptId>[] = [
  o('add-service', 'A', 'none', 'A'),
  o('edit-service', 'E', 'none', 'E'),
  o('delete-service', 'D', 'none', 'D'),
  o('clear', 'C', 'none', 'C'),
  o('list', 'L', 'none', 'L'),
  { short: 'l', arg: 'none', id: 'l' },
  o('zero', 'Z', 'none', 'Z'),
  o('add-server', 'a', 'none', 'a'),
  o('edit-server', 'e', 'none', 'e'),
  o('delete-server', 'd', 'none', 'd'),
  o('set', undefined, 'none', 'set'),
  o('help', 'h', 'none', 'h'),
  o('version', 'v', 'none', 'v'),
  o('restore', 'R', 'none', 'R'),
  o('save', 'S', 'none', 'S'),
  o('start-daemon', undefined, 'required', 'start-daemon'),
  o('stop-daemon', undefined, 'required', 'stop-daemon'),
  o('tcp-service', 't', 'required', 't'),
  o('udp-service', 'u', 'required', 'u'),
  o('sctp-service', undefined, 'required', 'sctp'),
  o('fwmark-service', 'f', 'required', 'f'),
  o('scheduler', 's', 'required', 's'),
  o('persistent', 'p', 'optional', 'p'),
  o('netmask', 'M', 'required', 'M'),
  o('real-server', 'r', 'required', 'r'),
  o('masquerading', 'm', 'none', 'm'),
  o('ipip', 'i', 'none', 'i'),
  o('gatewaying', 'g', 'none', 'g'),
  o('weight', 'w', 'required', 'w'),
  o('u-threshold', 'x', 'required', 'x'),
  o('l-threshold', 'y', 'required', 'y'),
  o('numeric', 'n', 'none', 'n'),
  o('connection', 'c', 'none', 'c'),
  o('mcast-interface', undefined, 'required', 'mcast-interface'),
  o('syncid', undefined, 'required', 'syncid'),
  o('timeout', undefined, 'none', 'timeout'),
  o('daemon', undefined, 'none', 'daemon'),
  o('stats', undefined, 'none', 'stats'),
  o('rate', undefined, 'none', 'rate'),
  o('thresholds', undefined, 'none', 'thresholds'),
  o('persistent-conn', undefined, 'none', 'persistent-conn'),
  o('nosort', undefined, 'none', 'nosort'),
  o('sort', undefined, 'none', 'sort'),
  o('exact', 'X', 'none', 'X'),
  o('ipv6', '6', 'none', '6'),
  o('ops', 'o', 'none', 'o'),
  o('pe', undefined, 'required', 'pe'),
  o('sched-flags', 'b', 'required', 'b'),
  o('mcast-group', undefined, 'required', 'mcast-group'),
  o('mcast-port', undefined, 'required', 'mcast-port'),
  o('mcast-ttl', undefined, 'required', 'mcast-ttl'),
  o('sync-maxlen', undefined, 'required', 'sync-maxlen'),
  o('tun-info', undefined, 'none', 'tun-info'),
  o('tun-type', undefined, 'required', 'tun-type'),
  o('tun-port', undefined, 'required', 'tun-port'),
  o('tun-nocsum', undefined, 'none', 'tun-nocsum'),
  o('tun-csum', undefined, 'none', 'tun-csum'),
  o('tun-remcsum', undefined, 'none', 'tun-remcsum'),
  o('json', undefined, 'none', 'json'),
];

// ---------------------------------------------------------------- value parsers

/** What {@link parseService} found in a text: an address, and a port. */
export const SERVICE_ADDR = 1;
export const SERVICE_PORT = 2;

function protoName(protocol: number): 'tcp' | 'udp' | 'sctp' | undefined {
  return protocol === IPPROTO_TCP ? 'tcp' : protocol === IPPROTO_UDP ? 'udp' : protocol === IPPROTO_SCTP ? 'sctp' : undefined;
}

/** ipvsadm's `str_is_digit` (true for the empty string too). */
function allDigits(s: string): boolean {
  for (const c of s) if (c < '0' || c > '9') return false;
  return true;
}

/** Where `parseService` writes: the fields ipvsadm's `parse_service` may set. */
interface AddrTarget {
  af: number;
  addr: Buffer;
  port: number;
  netmask?: Buffer;
  protocol: number;
}

const NETMASK_V6_128 = (() => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(128, 0);
  return b;
})();

function hostOrderU32(v: number): Buffer {
  const b = Buffer.alloc(4);
  // ipvsadm keeps the IPv6 prefix in a host-order u32 (little-endian here, as on every host IPVS is run on).
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

/**
 * Address texts already converted (inet_pton6 or inet_aton only, never host
 * names, which can change): a restore names the same few addresses tens of
 * thousands of times. The buffers are shared and never written.
 */
const numeric = new Map<string, Buffer | null>();

/** inet_pton(AF_INET6), remembered (misses too: most texts are IPv4). */
function ipv6Address(text: string): Buffer | null {
  // A dot before any colon is an IPv4 address (with a port, perhaps): in
  // IPv6 a dotted quad can only end the address, after its colons. Said
  // without a lookup: a restore's real servers are mostly new texts.
  const dot = text.indexOf('.');
  if (dot >= 0) {
    const colon = text.indexOf(':');
    if (colon < 0 || dot < colon) return null;
  }
  const hit = numeric.get(text);
  if (hit !== undefined) return hit;
  const v6 = inetPton6(text);
  if (numeric.size > 65536) numeric.clear();
  numeric.set(text, v6);
  return v6;
}

/** A {@link parseService} success that depends on its text alone (see {@link numericService}). */
export interface NumericService {
  /** SERVICE_ADDR, with SERVICE_PORT when the text has a port. */
  result: number;
  af: number;
  /** 16 bytes, shared and never written: one buffer per distinct address text. */
  addr: Buffer;
  port: number;
}

/**
 * Service texts already parsed whose outcome depends on nothing else: a
 * numeric address (no host name) and a numeric port or none. Consecutive
 * `-a` lines of a restore repeat their service, and real servers repeat
 * across services: one lookup instead of two, and no slicing.
 */
const numericServices = new Map<string, NumericService>();

/**
 * What {@link parseService} makes of a text whose address is numeric and
 * whose port is numeric or absent — the outcome then depends on the text
 * alone, not on the protocol or the name services — or undefined for any
 * other text (a host or port name, not an address at all). Remembered
 * unless `remember` is false (texts seen once: a restore's real servers).
 */
export function numericService(text: string, remember = true): NumericService | undefined {
  const hit = numericServices.get(text);
  if (hit !== undefined) return hit;
  if (allDigits(text)) return undefined;
  const parts = serviceParts(text);
  return parts && numericParts(text, parts, remember);
}

/**
 * A service text split as parse_service splits it: `[HOST]:PORT` first
 * loses its brackets; HOST an IPv6 address keeps the bracket's port (none
 * without brackets), anything else is split at its last colon. Quirk kept:
 * `[1.2.3.4]:80` is 1.2.3.4 without a port (the bracket's port is dropped).
 * Undefined: a bracket not followed by `]:`.
 */
interface ServiceParts {
  /** The IPv6 address HOST is, or null. */
  v6: Buffer | null;
  host: string;
  portText: string | undefined;
}

function serviceParts(text: string): ServiceParts | undefined {
  let host = text;
  let bracketPort: string | undefined;
  if (host[0] === '[') {
    const close = host.indexOf(']');
    if (close < 0 || host[close + 1] !== ':') return undefined;
    bracketPort = host.slice(close + 2);
    host = host.slice(1, close);
  }
  const v6 = ipv6Address(host);
  if (v6) return { v6, host, portText: bracketPort };
  const colon = host.lastIndexOf(':');
  if (colon < 0) return { v6: null, host, portText: undefined };
  return { v6: null, host: host.slice(0, colon), portText: host.slice(colon + 1) };
}

/** {@link numericService} of split parts: undefined unless the address and any port are numeric. */
function numericParts(text: string, parts: ServiceParts, remember: boolean): NumericService | undefined {
  const addr = parts.v6 ?? ipv4Numeric(parts.host);
  if (!addr) return undefined;
  let result = SERVICE_ADDR;
  let port = 0;
  if (parts.portText !== undefined) {
    result |= SERVICE_PORT;
    port = stringToNumber(parts.portText, 0, 65535);
    if (port === -1) return undefined;
  }
  const parsed = { result, af: parts.v6 ? AF_INET6 : AF_INET, addr, port };
  if (remember) {
    if (numericServices.size > 65536) numericServices.clear();
    numericServices.set(text, parsed);
  }
  return parsed;
}

/**
 * ipvsadm's `parse_service`: `[v6]:port`, a bare IPv6 address (no port), or
 * an IPv4 address or host name with an optional `:port` (number or service
 * name for the protocol). Returns SERVICE_ADDR|SERVICE_PORT bits (0 when it
 * is not an address). Numeric texts are remembered ({@link numericService});
 * names are looked up each time.
 */
function parseService(text: string, t: AddrTarget): number {
  let hit = numericServices.get(text);
  let parts: ServiceParts | undefined;
  if (hit === undefined) {
    if (allDigits(text)) return 0;
    parts = serviceParts(text);
    if (!parts) return 0;
    hit = numericParts(text, parts, true);
  }
  if (hit !== undefined) {
    // The same writes as below, in the same order.
    t.addr = hit.addr;
    t.af = hit.af;
    if (hit.af === AF_INET6 && t.netmask !== undefined) t.netmask = NETMASK_V6_128;
    if (hit.result & SERVICE_PORT) t.port = hit.port;
    return hit.result;
  }
  // A host name, a port name, or not an address.
  const p = parts as ServiceParts;
  if (p.v6) {
    t.addr = p.v6;
    t.af = AF_INET6;
    if (t.netmask !== undefined) t.netmask = NETMASK_V6_128;
  } else {
    let a = ipv4Numeric(p.host);
    if (!a) {
      const h = hostToAddr(p.host);
      if (!h) return 0;
      a = Buffer.alloc(16);
      h.copy(a);
    }
    t.addr = a;
    t.af = AF_INET;
  }
  let result = SERVICE_ADDR;
  if (p.portText !== undefined) {
    result |= SERVICE_PORT;
    let port = stringToNumber(p.portText, 0, 65535);
    if (port === -1) {
      const proto = protoName(t.protocol);
      port = proto ? serviceToPort(p.portText, proto) : -1;
    }
    if (port === -1) return 0;
    t.port = port;
  }
  return result;
}

const numeric4 = new Map<string, Buffer>();

/**
 * inet_aton, remembered: 16 bytes, IPv4 in the first four; null if the text
 * is not a numeric address (then ipvsadm tries it as a host name). Only
 * numeric forms are kept: what a name resolves to may change.
 */
function ipv4Numeric(text: string): Buffer | null {
  const hit = numeric4.get(text);
  if (hit) return hit;
  const a = inetAton(text);
  if (!a) return null;
  const addr = Buffer.alloc(16);
  a.copy(addr);
  if (numeric4.size > 65536) numeric4.clear();
  numeric4.set(text, addr);
  return addr;
}

/** Forgets the address texts remembered above (for tests: a first parse and a remembered one must agree). */
export function forgetParsedAddresses(): void {
  numeric.clear();
  numeric4.clear();
  numericServices.clear();
}

/** ipvsadm's `parse_netmask` for IPv4: inet_aton, else a host name. */
function parseNetmask4(text: string): Buffer | null {
  return inetAton(text) ?? hostToAddr(text);
}

function parseTimeout(text: string | undefined, min: number, max: number): number {
  if (text === undefined) return DEFAULT_PERSISTENT_TIMEOUT;
  const v = stringToNumber(text, min, max);
  if (v === -1) fail(`invalid timeout value \`${text}' specified`);
  return v;
}

function parseFwmark(text: string, signed: boolean): number {
  const r = strtol10(text);
  if (signed && r.value < 0n && r.value >= -2147483648n && r.end === text.length && r.end !== 0) return Number(BigInt.asUintN(32, r.value));
  // ipvsadm keeps strtol's result in an unsigned long: negatives wrap to huge values.
  const v = BigInt.asUintN(64, r.value);
  if (r.end !== text.length || r.end === 0 || r.erange || v === 0n || v > 0xffffffffn) {
    fail(`invalid fwmark value \`${text}' specified`);
  }
  return Number(v);
}

function parseSchedFlags(sched: string, arg: string): number {
  const scheduler = sched === '' ? 'wlc' : sched;
  let flags = 0;
  // strtok: empty fields are skipped. ipvsadm crashes on a list of only
  // commas; here it is an invalid flag.
  const list = arg.split(',').filter((f) => f !== '');
  if (list.length === 0) fail(`invalid scheduler flag \`${arg}'`);
  for (const flag of list) {
    switch (flag) {
      case 'flag-1':
        flags |= SVC_F.SCHED1;
        break;
      case 'flag-2':
        flags |= SVC_F.SCHED2;
        break;
      case 'flag-3':
        flags |= SVC_F.SCHED3;
        break;
      case 'sh-fallback':
      case 'sh-port':
      case 'mh-fallback':
      case 'mh-port':
        flags |= flag.endsWith('fallback') ? SVC_F.SCHED1 : SVC_F.SCHED2;
        if (scheduler !== flag.slice(0, 2)) fail(`incompatible scheduler flag \`${flag}'`);
        break;
      default:
        fail(`invalid scheduler flag \`${flag}'`);
    }
  }
  return flags;
}

// ---------------------------------------------------------------- entries

// Shared, never written: parsers replace these buffers, they do not fill them.
const ZERO16 = Buffer.alloc(16);
const MASK32 = Buffer.from([0xff, 0xff, 0xff, 0xff]);

const NO_OPTIONS: readonly boolean[] = new Array<boolean>(OPT_NAMES.length).fill(false);

function newEntry(): CommandEntry {
  return {
    cmd: CMD.NONE,
    svc: {
      af: 0,
      protocol: 0,
      addr: ZERO16,
      port: 0,
      fwmark: 0,
      sched: '',
      flags: 0,
      timeout: 0,
      netmask: MASK32,
      pe: '',
    },
    dest: {
      af: 0,
      addr: ZERO16,
      port: 0,
      fwd: FWD.DROUTE,
      weight: 1,
      uThreshold: 0,
      lThreshold: 0,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
    },
    daemon: { state: 'master', ifname: '', syncId: 0, maxLen: 0, groupAf: 0, group: ZERO16, port: 0, ttl: 0 },
    timeouts: { tcp: 0, tcpFin: 0, udp: 0 },
    has: NO_OPTIONS.slice(),
    format: 0,
    json: false,
  };
}

function setOption(e: CommandEntry, opt: number): void {
  if (e.has[opt]) fail(`multiple '${OPT_NAMES[opt]}' options specified`);
  e.has[opt] = true;
}

/** C's strncpy into a buffer of `size` bytes (the last kept for NUL): at most size-1 characters. */
function truncate(s: string, keep: number): string {
  return s.length > keep ? s.slice(0, keep) : s;
}

/** How {@link parseCommand} reads a line. */
export interface ParseOptions {
  /** A line of `-R` input (or of a restore file): a nested `-R` is refused. */
  replaying?: boolean;
  /**
   * Accept negative firewall marks as the unsigned marks they stand for:
   * Debian's ipvsadm-save writes marks of 2^31 and more with %d
   * (`-f -1294967296` for 3000000000). Only `ipvs restore` reads them.
   */
  signedMarks?: boolean;
}

function setCommand(e: CommandEntry, cmd: Cmd): void {
  if (e.cmd !== CMD.NONE) fail('multiple commands specified');
  e.cmd = cmd;
}

/** The command option (popt's first): sets `e.cmd`, or returns -h/-v. */
function startCommand(e: CommandEntry, id: OptId, arg: string | undefined): SpecialCommand | undefined {
  switch (id) {
    case 'A': setCommand(e, CMD.ADD); break;
    case 'E': setCommand(e, CMD.EDIT); break;
    case 'D': setCommand(e, CMD.DEL); break;
    case 'a': setCommand(e, CMD.ADDDEST); break;
    case 'e': setCommand(e, CMD.EDITDEST); break;
    case 'd': setCommand(e, CMD.DELDEST); break;
    case 'C': setCommand(e, CMD.FLUSH); break;
    case 'L':
    case 'l': setCommand(e, CMD.LIST); break;
    case 'Z': setCommand(e, CMD.ZERO); break;
    case 'set': setCommand(e, CMD.TIMEOUT); break;
    case 'R': setCommand(e, CMD.RESTORE); break;
    case 'S': setCommand(e, CMD.SAVE); break;
    case 'start-daemon':
    case 'stop-daemon': {
      const start = id === 'start-daemon';
      setCommand(e, start ? CMD.STARTDAEMON : CMD.STOPDAEMON);
      if (arg === 'master' || arg === 'backup') e.daemon.state = arg;
      else fail(start ? 'illegal start-daemon parameter specified' : 'illegal start_daemon specified');
      break;
    }
    case 'h':
      return { cmd: 'help' };
    case 'v':
      return { cmd: 'version' };
    default:
      throw tryHelp();
  }
  return undefined;
}

// Where -t/-u/--sctp-service and -r are parsed into, then copied from:
// reused, as a restore parses two addresses a line (nothing keeps them).
const serviceTarget: AddrTarget = { af: 0, addr: ZERO16, port: 0, netmask: MASK32, protocol: 0 };
// No netmask: a real server's parse must not set one.
const serverTarget: AddrTarget = { af: 0, addr: ZERO16, port: 0, protocol: 0 };

/** What the options after the command leave for the checks at the end. */
interface ParseState {
  schedFlagsArg: string;
  signedMarks: boolean;
}

/**
 * One option after the command, applied to `e` as ipvsadm does. Returns
 * false for an option that has no place there (a second command, -h, -v).
 */
function applyOption(e: CommandEntry, id: OptId, value: string | undefined, st: ParseState): boolean {
  const svc = e.svc;
  const dest = e.dest;
  const arg = value as string;
  switch (id) {
    case 't':
    case 'u':
    case 'sctp': {
      setOption(e, OPT.SERVICE);
      svc.protocol = id === 't' ? IPPROTO_TCP : id === 'u' ? IPPROTO_UDP : IPPROTO_SCTP;
      const target = serviceTarget;
      target.af = svc.af;
      target.addr = svc.addr;
      target.port = svc.port;
      target.netmask = svc.netmask;
      target.protocol = svc.protocol;
      const parsed = parseService(arg, target);
      svc.af = target.af;
      svc.addr = target.addr;
      svc.port = target.port;
      svc.netmask = target.netmask as Buffer;
      if (!(parsed & SERVICE_ADDR)) fail('illegal virtual server address[:port] specified');
      break;
    }
    case 'f':
      setOption(e, OPT.SERVICE);
      svc.af = AF_INET;
      svc.protocol = IPPROTO_TCP;
      svc.fwmark = parseFwmark(arg, st.signedMarks);
      break;
    case 's':
      setOption(e, OPT.SCHEDULER);
      svc.sched = truncate(arg, 15);
      break;
    case 'p':
      setOption(e, OPT.PERSISTENT);
      svc.flags |= SVC_F.PERSISTENT;
      svc.timeout = parseTimeout(value, 1, MAX_TIMEOUT);
      break;
    case 'M':
      setOption(e, OPT.NETMASK);
      if (svc.af !== AF_INET6) {
        const m = parseNetmask4(arg);
        if (!m) fail('illegal virtual server persistent mask specified');
        svc.netmask = Buffer.from(m);
      } else {
        const n = atoi(arg) >>> 0;
        svc.netmask = hostOrderU32(n);
        if (n < 1 || n > 128) fail('illegal ipv6 netmask specified');
      }
      break;
    case 'r': {
      setOption(e, OPT.SERVER);
      // ipvsadm parses into a copy of the service: the protocol (for a
      // port name) and, when only an address is given, the port are the
      // service's as read so far.
      const target = serverTarget;
      target.af = svc.af;
      target.addr = svc.addr;
      target.port = svc.port;
      target.protocol = svc.protocol;
      const parsed = parseService(arg, target);
      dest.af = target.af;
      dest.addr = target.addr;
      dest.port = target.port;
      if (!(parsed & SERVICE_ADDR)) fail('illegal real server address[:port] specified');
      if (parsed === SERVICE_ADDR) dest.port = svc.port;
      break;
    }
    case 'i':
      setOption(e, OPT.FORWARD);
      dest.fwd = FWD.TUNNEL;
      break;
    case 'g':
      setOption(e, OPT.FORWARD);
      dest.fwd = FWD.DROUTE;
      break;
    case 'm':
      setOption(e, OPT.FORWARD);
      dest.fwd = FWD.MASQ;
      break;
    case 'w':
      setOption(e, OPT.WEIGHT);
      dest.weight = stringToNumber(arg, 0, MAX_WEIGHT);
      if (dest.weight === -1) fail('illegal weight specified');
      break;
    case 'x':
      setOption(e, OPT.UTHRESHOLD);
      dest.uThreshold = stringToNumber(arg, 0, INT_MAX);
      if (dest.uThreshold === -1) fail('illegal u_threshold specified');
      break;
    case 'y':
      setOption(e, OPT.LTHRESHOLD);
      dest.lThreshold = stringToNumber(arg, 0, INT_MAX);
      if (dest.lThreshold === -1) fail('illegal l_threshold specified');
      break;
    case 'c':
      setOption(e, OPT.CONNECTION);
      break;
    case 'n':
      setOption(e, OPT.NUMERIC);
      e.format |= FMT.NUMERIC;
      break;
    case 'mcast-interface':
      setOption(e, OPT.MCAST);
      e.daemon.ifname = truncate(arg, 15);
      break;
    case 'syncid':
      setOption(e, OPT.SYNCID);
      e.daemon.syncId = stringToNumber(arg, 0, 255);
      if (e.daemon.syncId === -1) fail('illegal syncid specified');
      break;
    case 'timeout':
      setOption(e, OPT.TIMEOUT);
      break;
    case 'daemon':
      setOption(e, OPT.DAEMON);
      break;
    case 'stats':
      setOption(e, OPT.STATS);
      e.format |= FMT.STATS;
      break;
    case 'rate':
      setOption(e, OPT.RATE);
      e.format |= FMT.RATE;
      break;
    case 'thresholds':
      setOption(e, OPT.THRESHOLDS);
      e.format |= FMT.THRESHOLDS;
      break;
    case 'persistent-conn':
      setOption(e, OPT.PERSISTENTCONN);
      e.format |= FMT.PERSISTENTCONN;
      break;
    case 'nosort':
      setOption(e, OPT.NOSORT);
      e.format |= FMT.NOSORT;
      break;
    case 'sort':
      // The default; accepted for compatibility.
      break;
    case 'X':
      setOption(e, OPT.EXACT);
      e.format |= FMT.EXACT;
      break;
    case '6':
      if (svc.fwmark) {
        svc.af = AF_INET6;
        svc.netmask = NETMASK_V6_128;
      } else fail('-6 used before -f\n');
      break;
    case 'o':
      setOption(e, OPT.ONEPACKET);
      svc.flags |= SVC_F.ONEPACKET;
      break;
    case 'pe':
      setOption(e, OPT.PE);
      svc.pe = truncate(arg, 16);
      break;
    case 'b':
      setOption(e, OPT.SCHED_FLAGS);
      st.schedFlagsArg = truncate(arg, 127);
      break;
    case 'mcast-group': {
      setOption(e, OPT.MCAST_GROUP);
      if (arg.includes(':')) {
        const g = inetPton6(arg);
        if (!g || g[0] !== 0xff) fail(`invalid IPv6 mcast-group \`${arg}'`);
        e.daemon.group = g;
        e.daemon.groupAf = AF_INET6;
      } else {
        const g = inetPton4(arg);
        if (!g || (g[0] as number) < 224 || (g[0] as number) > 239) fail(`invalid IPv4 mcast-group \`${arg}'`);
        e.daemon.group = Buffer.alloc(16);
        g.copy(e.daemon.group);
        e.daemon.groupAf = AF_INET;
      }
      break;
    }
    case 'mcast-port':
      setOption(e, OPT.MCAST_PORT);
      e.daemon.port = stringToNumber(arg, 1, 65535);
      if (e.daemon.port === -1) fail('illegal mcast-port specified');
      break;
    case 'mcast-ttl':
      setOption(e, OPT.MCAST_TTL);
      e.daemon.ttl = stringToNumber(arg, 1, 255);
      if (e.daemon.ttl === -1) fail('illegal mcast-ttl specified');
      break;
    case 'sync-maxlen':
      setOption(e, OPT.SYNC_MAXLEN);
      e.daemon.maxLen = stringToNumber(arg, 1, 65535 - 20 - 8);
      if (e.daemon.maxLen === -1) fail('illegal sync-maxlen specified');
      break;
    case 'tun-info':
      setOption(e, OPT.TUN_INFO);
      e.format |= FMT.TUN_INFO;
      break;
    case 'tun-type': {
      setOption(e, OPT.TUN_TYPE);
      const t = TUN_NAMES.indexOf(arg);
      if (t < 0) fail('illegal tunnel type specified');
      dest.tunType = t;
      break;
    }
    case 'tun-port':
      setOption(e, OPT.TUN_PORT);
      dest.tunPort = stringToNumber(arg, 1, 65535);
      if (dest.tunPort === -1) fail('illegal tunnel port specified');
      break;
    case 'tun-nocsum':
      setOption(e, OPT.TUN_NOCSUM);
      dest.tunFlags |= TUN_F.NOCSUM;
      break;
    case 'tun-csum':
      setOption(e, OPT.TUN_CSUM);
      dest.tunFlags |= TUN_F.CSUM;
      break;
    case 'tun-remcsum':
      setOption(e, OPT.TUN_REMCSUM);
      dest.tunFlags |= TUN_F.REMCSUM;
      break;
    case 'json':
      if (e.json) fail("multiple 'json' options specified");
      e.json = true;
      break;
    default:
      return false;
  }
  return true;
}

/**
 * Parses one ipvsadm command line (argv[0] is the program name) and runs
 * ipvsadm's checks. Returns what to do, or throws {@link UsageError}.
 */
export function parseCommand(argv: readonly string[], options: ParseOptions = {}): CommandEntry | SpecialCommand {
  const replaying = options.replaying ?? false;
  const e = newEntry();
  const popt = new Popt<OptId>(argv, TABLE);
  const first = popt.next();
  if (first === null || 'error' in first) throw tryHelp();
  const special = startCommand(e, first.id, first.arg);
  if (special) return special;
  const st: ParseState = { schedFlagsArg: '', signedMarks: options.signedMarks ?? false };
  for (;;) {
    const r = popt.next();
    if (r === null) break;
    if ('error' in r) {
      // ipvsadm prints popt's error and returns -1: the process exits 255,
      // but a `-R` replay goes on with the next line.
      throw new UsageError(`${popt.badOption()}: ${r.error}`, 255, false);
    }
    // A second command, -h or -v after the command.
    if (!applyOption(e, r.id, r.arg, st)) fail(`invalid option \`${popt.badOption()}'`);
  }
  return finishCommand(e, popt, st, replaying);
}

const SHORT_WORDS = new Array<OptionSpec<OptId> | undefined>(128).fill(undefined);
const LONG_WORDS = new Map<string, OptionSpec<OptId>>();
for (const opt of TABLE) {
  if (opt.short !== undefined) SHORT_WORDS[opt.short.charCodeAt(0)] = opt;
  if (opt.long !== undefined) LONG_WORDS.set(`--${opt.long}`, opt);
}

/**
 * The option a whole word names (`-t`, `--tcp-service`): what popt reads it
 * as when nothing is attached to the name (no cluster, no `=`).
 */
function wholeWord(w: string): OptionSpec<OptId> | undefined {
  // "-x" by its character code: no hashing of a word that is new every line.
  if (w.length === 2 && w.charCodeAt(0) === 45) return SHORT_WORDS[w.charCodeAt(1)];
  return LONG_WORDS.get(w);
}

const NO_LEFTOVERS: Leftovers = { arg: () => undefined };
const specs: OptionSpec<OptId>[] = [];

/**
 * {@link parseCommand} for a line already split into words, without popt,
 * when every word is an option written whole and followed by its argument
 * (`-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 1`: every line ipvsadm-save
 * and `ipvs save` write). For such a line popt has nothing to decide —
 * no clusters, no attached arguments, no leftovers, no errors — so the
 * options are applied and checked by the same code, in the same order,
 * and the result and errors are parseCommand's. Returns undefined, having
 * done nothing, for any other line: the caller then runs parseCommand.
 * A restore parses 55,000 lines; popt's per-word work was a third of it.
 */
export function parseWords(words: readonly string[], options: ParseOptions = {}): CommandEntry | SpecialCommand | undefined {
  const n = words.length;
  if (n === 0) return undefined;
  // First: are all words whole options with their arguments? (No side
  // effects; the options found are kept in `specs`, a scratch array.)
  let count = 0;
  for (let i = 0; i < n; ) {
    const opt = wholeWord(words[i] as string);
    if (opt === undefined) return undefined;
    specs[count++] = opt;
    i++;
    if (opt.arg === 'required') {
      // popt's "missing argument": leave it to popt.
      if (i === n) return undefined;
      i++;
    } else if (opt.arg === 'optional' && i < n && (words[i] as string)[0] !== '-') i++;
  }
  const e = newEntry();
  const first = specs[0] as OptionSpec<OptId>;
  let i = 1;
  let arg: string | undefined;
  if (first.arg === 'required') arg = words[i++];
  const special = startCommand(e, first.id, arg);
  if (special) return special;
  const st: ParseState = { schedFlagsArg: '', signedMarks: options.signedMarks ?? false };
  for (let k = 1; k < count; k++) {
    const opt = specs[k] as OptionSpec<OptId>;
    i++;
    arg = undefined;
    if (opt.arg === 'required' || (opt.arg === 'optional' && i < n && (words[i] as string)[0] !== '-')) arg = words[i++];
    // popt's badOption is the last word read: the argument, if any.
    if (!applyOption(e, opt.id, arg, st)) fail(`invalid option \`${words[i - 1]}'`);
  }
  return finishCommand(e, NO_LEFTOVERS, st, options.replaying ?? false);
}

/** The leftover words (not options) of a line, in order. */
interface Leftovers {
  arg(): string | undefined;
}

/** After the last option: the --set values, leftovers, scheduler flags and ipvsadm's checks. */
function finishCommand(e: CommandEntry, rest: Leftovers, st: ParseState, replaying: boolean): CommandEntry {
  const svc = e.svc;
  const dest = e.dest;
  if (e.cmd === CMD.TIMEOUT) {
    const a = rest.arg();
    const b = a === undefined ? undefined : rest.arg();
    const c = b === undefined ? undefined : rest.arg();
    if (a === undefined || b === undefined || c === undefined) fail('--set option requires 3 timeout values');
    e.timeouts.tcp = parseTimeout(a, 0, MAX_TIMEOUT);
    e.timeouts.tcpFin = parseTimeout(b, 0, MAX_TIMEOUT);
    e.timeouts.udp = parseTimeout(c, 0, MAX_TIMEOUT);
  }
  const extra = rest.arg();
  if (extra !== undefined) fail(`unexpected argument ${extra}`);
  if (st.schedFlagsArg !== '') {
    svc.flags &= ~(SVC_F.SCHED1 | SVC_F.SCHED2 | SVC_F.SCHED3);
    svc.flags |= parseSchedFlags(svc.sched, st.schedFlagsArg);
  }

  checkLegality(e.cmd, e.has);
  if (e.json && e.cmd !== CMD.LIST) fail(`Illegal 'json' option with the '${CMD_NAMES[e.cmd - 1]}' command`);

  if (e.cmd === CMD.ADD || e.cmd === CMD.EDIT) {
    if (!svc.fwmark && !svc.port && !(svc.flags & SVC_F.PERSISTENT)) fail('Zero port specified for non-persistent service');
    if (svc.flags & SVC_F.ONEPACKET && !svc.fwmark && svc.protocol !== IPPROTO_UDP) {
      fail('One-Packet Scheduling is only for UDP virtual services');
    }
    if (svc.sched === '') svc.sched = 'wlc';
  }
  if (e.cmd === CMD.STARTDAEMON && e.daemon.ifname === '') e.daemon.ifname = 'eth0';
  if (e.cmd === CMD.ADDDEST || e.cmd === CMD.EDITDEST) {
    // Direct routing and tunnels cannot change the port.
    if (!svc.fwmark && (dest.fwd === FWD.TUNNEL || dest.fwd === FWD.DROUTE)) dest.port = svc.port;
    if (dest.af !== svc.af && dest.fwd !== FWD.TUNNEL) fail('Different address family is allowed only for tunneling servers');
    const h = e.has;
    const tunOpts = h[OPT.TUN_TYPE] || h[OPT.TUN_PORT] || h[OPT.TUN_NOCSUM] || h[OPT.TUN_CSUM] || h[OPT.TUN_REMCSUM];
    if (tunOpts && dest.fwd !== FWD.TUNNEL) fail('Tunnel options conflict with forward method');
    checkTunnel(dest.tunType, e.has);
  }
  if (e.cmd === CMD.LIST) {
    const h = e.has;
    if (
      ((h[OPT.CONNECTION] || h[OPT.TIMEOUT] || h[OPT.DAEMON]) && (h[OPT.STATS] || h[OPT.RATE] || h[OPT.THRESHOLDS])) ||
      ((h[OPT.TIMEOUT] || h[OPT.DAEMON]) && h[OPT.PERSISTENTCONN])
    ) {
      fail('options conflicts in the list command');
    }
  }
  if (e.cmd === CMD.RESTORE && replaying) throw tryHelp();
  if (e.cmd === CMD.SAVE) e.format |= FMT.RULE;
  return e;
}

function checkLegality(cmd: Cmd, has: boolean[]): void {
  const row = LEGAL[cmd - 1] as string;
  const name = CMD_NAMES[cmd - 1] as string;
  let count = 0;
  let last = 0;
  // Character codes, not one-character strings: this runs for every line of a restore.
  for (let j = 0; j < OPT_NAMES.length; j++) {
    const rule = row.charCodeAt(j);
    if (!has[j]) {
      if (rule === 43 /* + */) fail(`You need to supply the '${OPT_NAMES[j]}' option for the '${name}' command`);
      continue;
    }
    if (rule === 120 /* x */) fail(`Illegal '${OPT_NAMES[j]}' option with the '${name}' command`);
    if (rule === 49 /* 1 */) {
      if (++count === 1) {
        last = j;
        continue;
      }
      fail(`The option '${OPT_NAMES[j]}' conflicts with the '${OPT_NAMES[last]}' option in the '${name}' command`);
    }
  }
}

function checkTunnel(type: number, has: boolean[]): void {
  const row = TUN_LEGAL[type] as string;
  const name = TUN_NAMES[type] as string;
  let count = 0;
  let last = 0;
  for (let j = 0; j < TUN_OPTS.length; j++) {
    const k = TUN_OPTS[j] as number;
    const rule = row[j];
    if (!has[k]) {
      if (rule === '+') fail(`You need to supply the '${OPT_NAMES[k]}' option for the '${name}' tunnel type`);
      continue;
    }
    if (rule === 'x') fail(`Illegal '${OPT_NAMES[k]}' option with the '${name}' tunnel type`);
    if (rule === '1') {
      if (++count === 1) {
        last = k;
        continue;
      }
      fail(`The option '${OPT_NAMES[k]}' conflicts with the '${OPT_NAMES[last]}' option in the '${name}' tunnel type`);
    }
  }
}

/** For messages: BADOPT is popt's "unknown option". */
export { BADOPT };
