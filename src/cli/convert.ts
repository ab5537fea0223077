/**
 * From ipvsadm's command entry (grammar.ts) to the library's model: service
 * and real-server keys, full configurations (ipvsadm's edits replace the
 * whole entry, and so do these), sync daemons.
 * @module
 */
import { formatAddress } from '../ipvs/address';
import { schedFlagNames } from '../ipvs/codec';
import { AF_INET6, IPPROTO_SCTP, IPPROTO_UDP } from '../ipvs/constants';
import type { DestinationConfig, DestinationKey, ServiceConfig, ServiceKey, SyncDaemon } from '../ipvs/model';
import { inetNtoa } from './cparse';
import { FWD, SVC_F, TUN_F, type DaemonEntry, type DestEntry, type SvcEntry } from './grammar';

// The parser hands out one buffer per distinct address text: remember its text form.
const texts = new WeakMap<Buffer, string>();

/** The text of a parsed address (16 bytes, of family `af`), remembered per buffer. */
export function addressText(af: number, addr: Buffer): string {
  let t = texts.get(addr);
  if (t === undefined) {
    t = formatAddress(addr, af === AF_INET6 ? 'ipv6' : 'ipv4');
    texts.set(addr, t);
  }
  return t;
}

/** The service key of a parsed service. */
export function serviceKeyOf(svc: SvcEntry): ServiceKey {
  const family = svc.af === AF_INET6 ? 'ipv6' : 'ipv4';
  if (svc.fwmark) return { fwmark: svc.fwmark, family };
  const protocol = svc.protocol === IPPROTO_UDP ? 'udp' : svc.protocol === IPPROTO_SCTP ? 'sctp' : 'tcp';
  return { protocol, address: addressText(svc.af, svc.addr), port: svc.port };
}

/** ipvsadm sends no service to ZERO when it names none or only 0.0.0.0:0 (libipvs `ipvs_zero_service`). */
export function zeroesEverything(svc: SvcEntry): boolean {
  return svc.fwmark === 0 && svc.port === 0 && svc.addr.every((b) => b === 0);
}

/** The full configuration ipvsadm sends for -A/-E. */
export function serviceConfigOf(svc: SvcEntry): ServiceConfig {
  const v6 = svc.af === AF_INET6;
  const cfg: ServiceConfig = {
    scheduler: svc.sched,
    persistent: (svc.flags & SVC_F.PERSISTENT) !== 0,
    timeout: svc.timeout,
    // The netmask bytes are what ipvsadm sends: an IPv4 mask, or an IPv6
    // prefix length in host order.
    netmask: v6 ? svc.netmask.readUInt32LE(0) : inetNtoa(svc.netmask),
    onePacket: (svc.flags & SVC_F.ONEPACKET) !== 0,
    schedFlags: schedFlagNames(svc.flags, svc.sched),
  };
  if (svc.pe !== '') cfg.persistenceEngine = svc.pe;
  return cfg;
}

/** The real server key of a parsed -r. */
export function destKeyOf(dest: DestEntry): DestinationKey {
  return { address: addressText(dest.af, dest.addr), port: dest.port };
}

const FWD_NAMES = { [FWD.MASQ]: 'masq', [FWD.LOCALNODE]: 'local', [FWD.TUNNEL]: 'tunnel', [FWD.DROUTE]: 'route' } as const;
const TUN_TYPES = ['ipip', 'gue', 'gre'] as const;

/** The full configuration ipvsadm sends for -a/-e. */
export function destConfigOf(dest: DestEntry): DestinationConfig {
  return {
    forwarding: FWD_NAMES[dest.fwd as 0 | 1 | 2 | 3],
    weight: dest.weight,
    upperThreshold: dest.uThreshold,
    lowerThreshold: dest.lThreshold,
    tunnelType: TUN_TYPES[dest.tunType] ?? 'ipip',
    tunnelPort: dest.tunPort,
    tunnelCsum: (dest.tunFlags & TUN_F.CSUM) !== 0,
    tunnelRemcsum: (dest.tunFlags & TUN_F.REMCSUM) !== 0,
  };
}

/** The daemon ipvsadm starts: optional fields only when given (ipvsadm sends them only when non-zero). */
export function daemonOf(d: DaemonEntry): SyncDaemon {
  const out: SyncDaemon = { state: d.state, interface: d.ifname, syncId: d.syncId };
  if (d.maxLen) out.maxLen = d.maxLen;
  if (d.port) out.port = d.port;
  if (d.ttl) out.ttl = d.ttl;
  if (d.groupAf) out.group = formatAddress(d.group, d.groupAf === AF_INET6 ? 'ipv6' : 'ipv4');
  return out;
}
