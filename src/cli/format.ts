/**
 * ipvsadm's listing and save formats, byte for byte (ipvsadm.c
 * `print_title`, `print_service_entry`, `print_largenum`, `list_all`),
 * including its column widths, trailing blanks and truncations: a service
 * name is cut at 33 characters and a real server at 28 (IPv4 only), any
 * address:port at 59.
 *
 * Two deliberate differences, listed in docs/cli.md: per-real-server
 * counters and rates are printed with all 64 bits (ipvsadm 1.31 reads them
 * with a 32-bit getter), and firewall marks of 2^31 and more are printed
 * unsigned (Debian's build prints them with %d, negative).
 * @module
 */
import { formatAddrPort } from '../ipvs/address';
import type { Operation } from '../ipvs/client';
import { schedFlagBits } from '../ipvs/codec';
import type { Family } from '../ipvs/address';
import { isFwmarkKey, type Destination, type DestinationConfig, type DestinationRule, type Info, type Protocol, type ServiceConfig, type ServiceEntry, type ServiceKey, type ServiceRule } from '../ipvs/model';
import { FMT } from './grammar';
import { hostName, portToService } from './names';
import type { Lines } from './sink';
import { sortDestinations } from './sort';

/** A service as listings need it: a rule set entry, or a snapshot entry with counters. */
export type ListedService = ServiceRule | ServiceEntry;
type ListedDest = DestinationRule | Destination;

const SCHED1 = 0x8;
const SCHED2 = 0x10;
const SCHED3 = 0x20;

/**
 * ipvsadm's `addrport_to_anyname`: `addr:port` (IPv6 in brackets), names
 * instead of numbers without FMT_NUMERIC, cut at 59 characters (its buffer).
 * `proto` undefined means no service names (fwmark services).
 */
export function addrPortName(address: string, port: number, proto: Protocol | undefined, format: number): string {
  let s: string;
  if (format & FMT.NUMERIC) s = formatAddrPort(address, port);
  else {
    const host = hostName(address);
    const p = (proto && portToService(port, proto)) ?? String(port);
    s = address.includes(':') ? `[${host}]:${p}` : `${host}:${p}`;
  }
  return s.length > 59 ? s.slice(0, 59) : s;
}

/** `print_largenum`: 9 columns, scaled with K/M/G/T unless FMT_EXACT. Counters are bigint, rates numbers. */
export function largenum(n: bigint | number, format: number): string {
  const v = typeof n === 'bigint' ? n : BigInt(n);
  if (format & FMT.EXACT) {
    const s = v.toString();
    return s.padStart(s.length <= 8 ? 9 : s.length + 1);
  }
  if (v < 100000000n) return v.toString().padStart(9);
  if (v < 1000000000n) return `${(v / 1000n).toString().padStart(8)}K`;
  if (v < 100000000000n) return `${(v / 1000000n).toString().padStart(8)}M`;
  if (v < 100000000000000n) return `${(v / 1000000000n).toString().padStart(8)}G`;
  return `${(v / 1000000000000n).toString().padStart(8)}T`;
}

function pad(s: string | number, width: number): string {
  return String(s).padEnd(width);
}

/** The version line `list_all` prints first (full listings, not -S). */
export function versionLine(info: Info): string {
  const c = info.versionCode;
  return `IP Virtual Server version ${(c >> 16) & 0xff}.${(c >> 8) & 0xff}.${c & 0xff} (size=${info.connTableSize})\n`;
}

/** `print_title`: the column headings (nothing for -S). */
export function title(format: number): string {
  const head = 'Prot LocalAddress:Port'.padEnd(33);
  const cols = (names: string[], w: number, right: boolean): string => names.map((n) => ` ${right ? n.padStart(w) : n.padEnd(w)}`).join('');
  if (format & FMT.STATS) return `${head}${cols(['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'], 8, true)}\n  -> RemoteAddress:Port\n`;
  if (format & FMT.RATE) return `${head}${cols(['CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS'], 8, true)}\n  -> RemoteAddress:Port\n`;
  if (format & FMT.THRESHOLDS) return `${head}${cols(['Uthreshold', 'Lthreshold', 'ActiveConn', 'InActConn'], 10, false)}\n  -> RemoteAddress:Port\n`;
  if (format & FMT.PERSISTENTCONN) {
    return `${head} ${'Weight'.padEnd(9)} ${'PersistConn'.padEnd(11)} ${'ActiveConn'.padEnd(10)} ${'InActConn'.padEnd(10)}\n  -> RemoteAddress:Port\n`;
  }
  if (format & FMT.TUN_INFO) {
    return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n';
  }
  if (!(format & FMT.RULE)) return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
  return '';
}

/**
 * `print_sched_flags`: the scheduler's own names. ipvsadm has no sh/mh name
 * for the third bit and prints nothing for it; `all` (save --full) names it
 * `flag-3`, which ipvsadm accepts with any scheduler.
 */
function schedFlagsText(bits: number, scheduler: string, all = false): string {
  const f: string[] = [];
  if (scheduler === 'sh' || scheduler === 'mh') {
    if (bits & SCHED1) f.push(`${scheduler}-fallback`);
    if (bits & SCHED2) f.push(`${scheduler}-port`);
    if (all && bits & SCHED3) f.push('flag-3');
  } else {
    if (bits & SCHED1) f.push('flag-1');
    if (bits & SCHED2) f.push('flag-2');
    if (bits & SCHED3) f.push('flag-3');
  }
  return f.join(',');
}

const RULE_OPTION: Record<string, string> = { tcp: '-t', udp: '-u', sctp: '--sctp-service' };
const LIST_NAME: Record<string, string> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };
const FWD_NAME: Record<string, string> = { masq: 'Masq', local: 'Local', tunnel: 'Tunnel', route: 'Route' };
const FWD_SWITCH: Record<string, string> = { masq: '-m', local: '-g', tunnel: '-i', route: '-g' };
const TUN_FLAG_OPT = ['--tun-nocsum', '--tun-csum', '--tun-remcsum'];
const TUN_FLAG_INFO = ['-c', '+c', 'r+c'];

/** The kernel's tunnel flags as the index ipvsadm uses (0 none, 1 csum, 2 remcsum). */
function tunFlagIndex(d: ListedDest): number {
  // ipvsadm indexes its tables with the raw value; both bits set (which
  // ipvsadm cannot configure) would be out of its table: show remcsum.
  return d.config.tunnelRemcsum ? 2 : d.config.tunnelCsum ? 1 : 0;
}

/** `fwd_tun_info`: the --tun-info column, or undefined for a non-tunnel server. */
function tunInfo(d: ListedDest): string | undefined {
  if (d.config.forwarding !== 'tunnel') return undefined;
  const c = d.config;
  let s: string;
  if (c.tunnelType === 'ipip') s = 'ipip';
  else if (c.tunnelType === 'gue') s = `gue:${c.tunnelPort}:${TUN_FLAG_INFO[tunFlagIndex(d)]}`;
  else s = `gre:${TUN_FLAG_INFO[tunFlagIndex(d)]}`;
  return s.slice(0, 15);
}

/** What `ipvs save --full` keeps that ipvsadm-save drops. */
export interface RuleExtras {
  /** Real server thresholds (-x, -y). */
  thresholds: boolean;
}

/**
 * Appends one service and its real servers as `print_service_entry` prints
 * them for `format` (FMT_RULE: the -S lines). Real servers are sorted
 * unless FMT_NOSORT.
 */
export function serviceLines(out: Lines, s: ListedService, format: number, extras?: RuleExtras): void {
  const k = s.key;
  const cfg = s.config;
  // A protocol IPVS has no name for (a number) gets no port names.
  const proto = isFwmarkKey(k) || typeof k.protocol === 'number' ? undefined : k.protocol;
  const name = serviceName(k, s.family, format);
  const bits = schedFlagBits(cfg.schedFlags);
  const anySched = (bits & (SCHED1 | SCHED2 | SCHED3)) !== 0;
  const mask = (): string | undefined => {
    if (s.family === 'ipv4') return cfg.netmask !== '255.255.255.255' ? String(cfg.netmask) : undefined;
    return cfg.netmask !== 128 ? String(cfg.netmask) : undefined;
  };
  const counters = 'stats' in s ? s : undefined;
  if (format & FMT.RULE) {
    out.push(`-A ${name}${serviceRuleOptions(cfg, s.family, extras !== undefined)}`, '\n');
  } else if (format & (FMT.STATS | FMT.RATE)) {
    let line = name.padEnd(33);
    if (counters) {
      if (format & FMT.STATS) {
        const t = counters.stats;
        line += largenum(t.conns, format) + largenum(t.inPackets, format) + largenum(t.outPackets, format) + largenum(t.inBytes, format) + largenum(t.outBytes, format);
      } else {
        const r = counters.rates;
        line += largenum(r.cps, format) + largenum(r.inPps, format) + largenum(r.outPps, format) + largenum(r.inBps, format) + largenum(r.outBps, format);
      }
    }
    out.push(line, '\n');
  } else {
    let line = `${name} ${cfg.scheduler}`;
    if (anySched) line += ` (${schedFlagsText(bits, cfg.scheduler)})`;
    if (cfg.persistent) {
      line += ` persistent ${cfg.timeout}`;
      const m = mask();
      if (m !== undefined) line += ` mask ${m}`;
      if (cfg.persistenceEngine) line += ` pe ${cfg.persistenceEngine}`;
    }
    if (cfg.onePacket) line += ' ops';
    out.push(line, '\n');
  }

  let dests: readonly ListedDest[] = s.destinations;
  if (!(format & FMT.NOSORT)) dests = sortDestinations(dests);
  for (const d of dests) {
    let dname = addrPortName(d.key.address, d.key.port, proto, format);
    if (!(format & FMT.RULE) && d.family !== 'ipv6' && dname.length > 28) dname = dname.slice(0, 28);
    const c = d.config;
    if (format & FMT.RULE) {
      out.push(`-a ${name} -r ${dname}${destinationRuleOptions(c, extras?.thresholds === true)}`, '\n');
      continue;
    }
    const live = 'activeConns' in d ? d : undefined;
    const active = live?.activeConns ?? 0;
    const inactive = live?.inactiveConns ?? 0;
    if (format & FMT.STATS) {
      let line = `  -> ${pad(dname, 28)}`;
      if (live) {
        const t = live.stats;
        line += largenum(t.conns, format) + largenum(t.inPackets, format) + largenum(t.outPackets, format) + largenum(t.inBytes, format) + largenum(t.outBytes, format);
      }
      out.push(line, '\n');
    } else if (format & FMT.RATE) {
      let line = `  -> ${pad(dname, 28)}`;
      if (live) {
        const r = live.rates;
        line += ` ${r.cps.toString().padStart(8)} ${r.inPps.toString().padStart(8)} ${r.outPps.toString().padStart(8)}`;
        line += largenum(r.inBps, format) + largenum(r.outBps, format);
      }
      out.push(line, '\n');
    } else if (format & FMT.THRESHOLDS) {
      out.push(`  -> ${pad(dname, 28)} ${pad(c.upperThreshold, 10)} ${pad(c.lowerThreshold, 10)} ${pad(active, 10)} ${pad(inactive, 10)}\n`);
    } else if (format & FMT.PERSISTENTCONN) {
      out.push(`  -> ${pad(dname, 28)} ${pad(c.weight, 9)} ${pad(live?.persistentConns ?? 0, 11)} ${pad(active, 10)} ${pad(inactive, 10)}\n`);
    } else if (format & FMT.TUN_INFO) {
      out.push(`  -> ${pad(dname, 28)} ${pad(FWD_NAME[c.forwarding] as string, 7)} ${pad(tunInfo(d) ?? 'n/a', 13)} ${pad(c.weight, 6)} ${pad(active, 10)} ${pad(inactive, 10)}\n`);
    } else {
      out.push(`  -> ${pad(dname, 28)} ${pad(FWD_NAME[c.forwarding] as string, 7)} ${pad(c.weight, 6)} ${pad(active, 10)} ${pad(inactive, 10)}\n`);
    }
  }
}

/**
 * The options of a service's `-A` line after its name, as ipvsadm -S
 * prints them (` -s wrr -p 300 -M 255.255.255.0 --pe sip -o -b sh-port`).
 * `all` also names the sh/mh third flag (`flag-3`), which ipvsadm -S drops.
 */
export function serviceRuleOptions(cfg: ServiceConfig, family: Family, all = false): string {
  let line = ` -s ${cfg.scheduler}`;
  if (cfg.persistent) {
    line += ` -p ${cfg.timeout}`;
    if (family === 'ipv4' ? cfg.netmask !== '255.255.255.255' : cfg.netmask !== 128) line += ` -M ${cfg.netmask}`;
  }
  if (cfg.persistenceEngine) line += ` --pe ${cfg.persistenceEngine}`;
  if (cfg.onePacket) line += ' -o';
  const bits = schedFlagBits(cfg.schedFlags);
  if (bits & (SCHED1 | SCHED2 | SCHED3)) line += ` -b ${schedFlagsText(bits, cfg.scheduler, all)}`;
  return line;
}

/**
 * The options of a real server's `-a` line after `-r ADDR:PORT`, as
 * ipvsadm -S prints them (` -i -w 1 --tun-type gue --tun-port 6080
 * --tun-nocsum`); `thresholds` adds `-x`/`-y` (non-zero ones), which
 * ipvsadm -S drops although ipvsadm -R accepts them.
 */
export function destinationRuleOptions(c: DestinationConfig, thresholds: boolean): string {
  let line = ` ${FWD_SWITCH[c.forwarding]} -w ${c.weight}`;
  if (c.forwarding === 'tunnel') {
    const flags = TUN_FLAG_OPT[c.tunnelRemcsum ? 2 : c.tunnelCsum ? 1 : 0];
    if (c.tunnelType === 'gre') line += ` --tun-type gre ${flags}`;
    else if (c.tunnelType === 'gue') line += ` --tun-type gue --tun-port ${c.tunnelPort} ${flags}`;
    else line += ' --tun-type ipip';
  }
  if (thresholds) {
    if (c.upperThreshold !== 0) line += ` -x ${c.upperThreshold}`;
    if (c.lowerThreshold !== 0) line += ` -y ${c.lowerThreshold}`;
  }
  return line;
}

/** A service as ipvsadm -S -n names it: `-t 192.0.2.10:80`, `-f 7`, `-f 8 -6`. */
export function serviceRuleName(key: ServiceKey): string {
  const family = isFwmarkKey(key) ? key.family : key.address.includes(':') ? 'ipv6' : 'ipv4';
  return serviceName(key, family, FMT.RULE | FMT.NUMERIC);
}

/**
 * An operation as the ipvsadm arguments that would do it (`-e -t
 * 192.0.2.10:80 -r 198.51.100.2:80 -m -w 0`), for dry runs and logs.
 * Configurations are printed whole, thresholds and sh/mh flag-3 included,
 * as `ipvs save --full` prints them.
 */
export function operationArgs(op: Operation): string {
  switch (op.type) {
    case 'add-service':
    case 'edit-service': {
      const family = isFwmarkKey(op.service) ? op.service.family : op.service.address.includes(':') ? 'ipv6' : 'ipv4';
      const options = op.config ? serviceRuleOptions(op.config as ServiceConfig, family, true) : '';
      return `${op.type === 'add-service' ? '-A' : '-E'} ${serviceRuleName(op.service)}${options}`;
    }
    case 'delete-service':
      return `-D ${serviceRuleName(op.service)}`;
    case 'add-destination':
    case 'edit-destination': {
      const options = op.config ? destinationRuleOptions(op.config as DestinationConfig, true) : '';
      return `${op.type === 'add-destination' ? '-a' : '-e'} ${serviceRuleName(op.service)} -r ${formatAddrPort(op.destination.address, op.destination.port)}${options}`;
    }
    case 'delete-destination':
      return `-d ${serviceRuleName(op.service)} -r ${formatAddrPort(op.destination.address, op.destination.port)}`;
    case 'zero':
      return `-Z${op.service ? ` ${serviceRuleName(op.service)}` : ''}`;
    case 'set-timeouts':
      return `--set ${op.timeouts.tcp ?? 0} ${op.timeouts.tcpFin ?? 0} ${op.timeouts.udp ?? 0}`;
    case 'flush':
      return '-C';
  }
}

/**
 * How a listing names a service: `-t 192.0.2.1:80` or `-f 7 -6` in rules,
 * `TCP  192.0.2.1:80` (cut at 33 characters for IPv4) or `FWM  7 IPv6` in
 * listings; a protocol IPVS has no name for is ipvsadm's `--xxx-service`/`?`.
 */
export function serviceName(k: ServiceKey, family: Family, format: number): string {
  const v6 = family === 'ipv6';
  if (isFwmarkKey(k)) {
    if (format & FMT.RULE) return v6 ? `-f ${k.fwmark} -6` : `-f ${k.fwmark}`;
    return v6 ? `FWM  ${k.fwmark} IPv6` : `FWM  ${k.fwmark}`;
  }
  const proto = typeof k.protocol === 'number' ? undefined : k.protocol;
  const vname = addrPortName(k.address, k.port, proto, format);
  if (format & FMT.RULE) return `${RULE_OPTION[String(k.protocol)] ?? '--xxx-service'} ${vname}`;
  const name = `${(LIST_NAME[String(k.protocol)] ?? '?').padEnd(4)} ${vname}`;
  return !v6 && name.length > 33 ? name.slice(0, 33) : name;
}

/** Every address a listing of `services` will name (for reverse lookups before formatting). */
export function listedAddresses(services: readonly ListedService[]): string[] {
  const out: string[] = [];
  for (const s of services) {
    if (!isFwmarkKey(s.key)) out.push(s.key.address);
    for (const d of s.destinations) out.push(d.key.address);
  }
  return out;
}
