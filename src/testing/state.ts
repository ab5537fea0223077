/**
 * The IPVS state of one fake network namespace and the kernel's rules for
 * changing it: `ip_vs_add_service`, `ip_vs_edit_service`, `ip_vs_add_dest`,
 * `ip_vs_edit_dest`, `ip_vs_del_dest`, the destination trash, ZERO, FLUSH,
 * timeouts and sync daemons (net/netfilter/ipvs/ip_vs_ctl.c, ip_vs_sync.c).
 *
 * Commands take the values already parsed from the request (as the kernel's
 * `ip_vs_service_user_kern` / `ip_vs_dest_user_kern`) and answer 0 or a
 * positive errno, checking in the kernel's order so that a request with two
 * faults gets the same errno as from the kernel.
 * @module
 */
import { AF_INET, AF_INET6, IP_VS_CONN_F_TUNNEL, IP_VS_CONN_F_TUNNEL_TYPE_GUE, IP_VS_STATE_BACKUP, IP_VS_STATE_MASTER, IP_VS_SVC_F_HASHED } from '../ipvs/constants';
import { unicastForDestination } from './addr-type';
import { EAFNOSUPPORT, EEXIST, EINVAL, ENODEV, ENOENT, ERANGE, ESRCH } from './errno';
import { StatsBox } from './stats';

/** A service as a request describes it (`struct ip_vs_service_user_kern`). */
export interface ServiceUser {
  af: number;
  protocol: number;
  /** 16 bytes; only the first 4 count for IPv4. */
  addr: Buffer;
  port: number;
  fwmark: number;
  /** Present on NEW/SET only. */
  full?: { flags: number; mask: number; sched: string; pe: string | undefined; timeout: number; netmask: Buffer };
}

/** A destination as a request describes it (`struct ip_vs_dest_user_kern`). */
export interface DestUser {
  af: number;
  addr: Buffer;
  port: number;
  fwd: number;
  /** Signed, as the kernel's `int weight`. */
  weight: number;
  uThresh: number;
  lThresh: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
}

/** A virtual service (`struct ip_vs_service`). */
export interface SvcEntry {
  af: number;
  protocol: number;
  addr: Buffer;
  port: number;
  fwmark: number;
  flags: number;
  /** null: the `none` scheduler. */
  sched: string | null;
  pe: string | null;
  /** Persistence timeout in jiffies, an unsigned int (seconds × HZ wrap, as in the kernel). */
  timeoutJiffies: number;
  /** The raw `__be32` netmask: an IPv4 mask, or an IPv6 prefix length in host order. */
  netmask: Buffer;
  /** Newest first (`list_add`). */
  dests: DestEntry[];
  stats: StatsBox;
}

/** A real server (`struct ip_vs_dest`): the request's fields as last set, and its own state. */
export interface DestEntry extends DestUser {
  stats: StatsBox;
  /** The service it is (or was last) bound to. */
  svc: SvcEntry;
  /** The service identity it was created for (trash matching). */
  vfwmark: number;
  vprotocol: number;
  vaddr: Buffer;
  vport: number;
  /** When it went to the trash (ms), or undefined while linked. */
  trashedAt?: number;
}

/** A sync daemon's configuration (`struct ipvs_sync_daemon_cfg`). */
export interface DaemonCfg {
  ifn: string;
  syncId: number;
  maxlen: number;
  mcastAf: number;
  /** 16 bytes. */
  group: Buffer;
  port: number;
  ttl: number;
}

/** What the rules of one namespace depend on. */
export interface StateOptions {
  schedulers: ReadonlySet<string>;
  engines: ReadonlySet<string>;
  ipv6: boolean;
  hz: number;
  /** Extra refusal of new destination addresses (on top of the kernel's unicast rule). */
  routable: (address: string, family: 'ipv4' | 'ipv6') => boolean;
  isLocal: (address: string) => boolean;
  /** Interface name → MTU. */
  interfaces: ReadonlyMap<string, number>;
  hashSeed: number;
  trashMs: number;
  formatAddress: (bytes: Buffer, family: 'ipv4' | 'ipv6') => string;
}

const TAB_BITS = 8;
const TAB_SIZE = 1 << TAB_BITS;
const INT_MAX = 0x7fffffff;
const SYNC_GROUP = Buffer.from([224, 0, 0, 81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const SYNC_PORT = 8848;

/** `ip_vs_addr_copy`: an address as the kernel keeps it (IPv4: 4 bytes, then zeros). */
export function keepAddr(af: number, addr: Buffer): Buffer {
  const out = Buffer.alloc(16);
  addr.copy(out, 0, 0, Math.min(af === AF_INET ? 4 : 16, addr.length));
  return out;
}

/** The IPVS tables and rules of one namespace. */
export class IpvsState {
  private readonly svcTab: SvcEntry[][] = Array.from({ length: TAB_SIZE }, () => []);
  private readonly fwmTab: SvcEntry[][] = Array.from({ length: TAB_SIZE }, () => []);
  private readonly trash: DestEntry[] = [];
  /** Timeouts in jiffies (timeout_table entries). */
  private timeouts = { tcp: 0, tcpFin: 0, udp: 0 };
  readonly daemons: { master?: DaemonCfg; backup?: DaemonCfg } = {};
  readonly totals = new StatsBox();

  constructor(readonly opt: StateOptions) {
    this.timeouts = { tcp: 900 * opt.hz, tcpFin: 120 * opt.hz, udp: 300 * opt.hz };
  }

  // ------------------------------------------------------------ lookup

  private svcHash(af: number, protocol: number, addr: Buffer, port: number): number {
    const fold =
      af === AF_INET6 ? addr.readUInt32BE(0) ^ addr.readUInt32BE(4) ^ addr.readUInt32BE(8) ^ addr.readUInt32BE(12) : addr.readUInt32BE(0);
    return ((protocol ^ fold ^ this.opt.hashSeed ^ (port >>> TAB_BITS) ^ port) >>> 0) & (TAB_SIZE - 1);
  }

  private fwmHash(fwmark: number): number {
    return ((this.opt.hashSeed ^ fwmark) >>> 0) & (TAB_SIZE - 1);
  }

  /** `__ip_vs_service_find` / `__ip_vs_svc_fwm_find`. */
  find(u: ServiceUser): SvcEntry | undefined {
    if (u.fwmark) return this.fwmTab[this.fwmHash(u.fwmark)]?.find((s) => s.fwmark === u.fwmark && s.af === u.af);
    const addr = keepAddr(u.af, u.addr);
    return this.svcTab[this.svcHash(u.af, u.protocol, addr, u.port)]?.find(
      (s) => s.af === u.af && s.addr.equals(addr) && s.port === u.port && s.protocol === u.protocol,
    );
  }

  /** Every service in dump order: the address table bucket by bucket, then the fwmark table. */
  services(): SvcEntry[] {
    return [...this.svcTab.flat(), ...this.fwmTab.flat()];
  }

  /** `ip_vs_lookup_dest`. */
  private lookupDest(svc: SvcEntry, af: number, addr: Buffer, port: number): DestEntry | undefined {
    return svc.dests.find((d) => d.af === af && d.addr.equals(addr) && d.port === port);
  }

  /** Destinations whose family differs from their service's (`mixed_address_family_dests`). */
  mixedFamilyDests(): number {
    let n = 0;
    for (const s of this.services()) for (const d of s.dests) if (d.af !== s.af) n++;
    return n;
  }

  /** `ip_vs_is_af_valid`. */
  afValid(af: number): boolean {
    return af === AF_INET || (af === AF_INET6 && this.opt.ipv6);
  }

  // ------------------------------------------------------------ services

  /** `ip_vs_add_service` (the caller has checked that it does not exist). */
  addService(u: ServiceUser): number {
    const f = u.full as NonNullable<ServiceUser['full']>;
    if (f.sched !== 'none' && !this.opt.schedulers.has(f.sched)) return ENOENT;
    if (f.pe && !this.opt.engines.has(f.pe)) return ENOENT;
    if (u.af === AF_INET6 && !this.ipv6PrefixOk(f.netmask)) return EINVAL;
    const svc: SvcEntry = {
      af: u.af,
      protocol: u.protocol,
      addr: keepAddr(u.af, u.addr),
      port: u.port,
      fwmark: u.fwmark,
      // The flags/mask merge starts from 0 for a new service; HASHED is the kernel's own.
      flags: (f.flags & f.mask & ~IP_VS_SVC_F_HASHED) | IP_VS_SVC_F_HASHED,
      sched: f.sched === 'none' ? null : f.sched,
      pe: f.pe ? f.pe : null,
      timeoutJiffies: Math.imul(f.timeout, this.opt.hz) >>> 0,
      netmask: Buffer.from(f.netmask),
      dests: [],
      stats: new StatsBox(),
    };
    const bucket = svc.fwmark ? this.fwmTab[this.fwmHash(svc.fwmark)] : this.svcTab[this.svcHash(svc.af, svc.protocol, svc.addr, svc.port)];
    (bucket as SvcEntry[]).unshift(svc);
    return 0;
  }

  private ipv6PrefixOk(netmask: Buffer): boolean {
    // The kernel reads the raw __be32 as a host-order prefix length.
    const plen = netmask.readUInt32LE(0);
    return plen >= 1 && plen <= 128;
  }

  /**
   * `ip_vs_edit_service`: a whole-entry replacement. The flags merge as the
   * kernel's parser merges them: new = (old & ~mask) | (flags & mask).
   */
  editService(svc: SvcEntry, u: ServiceUser): number {
    const f = u.full as NonNullable<ServiceUser['full']>;
    if (f.sched !== 'none' && !this.opt.schedulers.has(f.sched)) return ENOENT;
    if (f.pe && !this.opt.engines.has(f.pe)) return ENOENT;
    if (u.af === AF_INET6 && !this.ipv6PrefixOk(f.netmask)) return EINVAL;
    svc.sched = f.sched === 'none' ? null : f.sched;
    svc.flags = (((svc.flags & ~f.mask) | (f.flags & f.mask)) | IP_VS_SVC_F_HASHED) >>> 0;
    svc.timeoutJiffies = Math.imul(f.timeout, this.opt.hz) >>> 0;
    svc.netmask = Buffer.from(f.netmask);
    // No PE_NAME (or an empty one) removes the engine: the edit is whole.
    svc.pe = f.pe ? f.pe : null;
    return 0;
  }

  /** `ip_vs_del_service`: unhash; the destinations go to the trash. */
  delService(svc: SvcEntry): void {
    for (const tab of [this.svcTab, this.fwmTab]) {
      for (const bucket of tab) {
        const i = bucket.indexOf(svc);
        if (i >= 0) bucket.splice(i, 1);
      }
    }
    for (const d of svc.dests) this.toTrash(d);
    svc.dests = [];
  }

  /** FLUSH: every service goes; sync daemons and timeouts stay. */
  flush(): void {
    for (const s of this.services()) this.delService(s);
  }

  // ------------------------------------------------------------ destinations

  private destChecks(ud: DestUser): number {
    if (ud.weight < 0) return ERANGE;
    if (ud.lThresh >>> 0 > ud.uThresh >>> 0) return ERANGE;
    // Checked whatever the forwarding method.
    if (ud.tunType === IP_VS_CONN_F_TUNNEL_TYPE_GUE && ud.tunPort === 0) return EINVAL;
    return 0;
  }

  /** `ip_vs_add_dest`. */
  addDest(svc: SvcEntry, ud: DestUser): number {
    const bad = this.destChecks(ud);
    if (bad) return bad;
    const addr = keepAddr(ud.af, ud.addr);
    if (this.lookupDest(svc, ud.af, addr, ud.port)) return EEXIST;
    let dest = this.fromTrash(svc, ud.af, addr, ud.port);
    if (!dest) {
      const family = ud.af === AF_INET ? 'ipv4' : 'ipv6';
      const text = this.opt.formatAddress(addr, family);
      if (!unicastForDestination(family, addr, () => this.opt.isLocal(text)) || !this.opt.routable(text, family)) return EINVAL;
      // The configuration is written by updateDest below, as for a revived one.
      dest = { ...ud, addr, stats: new StatsBox(), svc, vfwmark: svc.fwmark, vprotocol: svc.protocol, vaddr: svc.addr, vport: svc.port };
    } else if (dest.svc !== svc) {
      // Revived for a new incarnation of its service: counters restart.
      dest.stats.zero();
      dest.svc = svc;
    }
    this.updateDest(dest, ud);
    svc.dests.unshift(dest);
    return 0;
  }

  /** `ip_vs_edit_dest`. */
  editDest(svc: SvcEntry, ud: DestUser): number {
    const bad = this.destChecks(ud);
    if (bad) return bad;
    const dest = this.lookupDest(svc, ud.af, keepAddr(ud.af, ud.addr), ud.port);
    if (!dest) return ENOENT;
    this.updateDest(dest, ud);
    return 0;
  }

  /** `ip_vs_del_dest`. */
  delDest(svc: SvcEntry, ud: DestUser): number {
    const dest = this.lookupDest(svc, ud.af, keepAddr(ud.af, ud.addr), ud.port);
    if (!dest) return ENOENT;
    svc.dests.splice(svc.dests.indexOf(dest), 1);
    this.toTrash(dest);
    return 0;
  }

  /** `__ip_vs_update_dest`: the whole configuration is replaced. */
  private updateDest(dest: DestEntry, ud: DestUser): void {
    dest.weight = ud.weight;
    dest.fwd = ud.fwd;
    dest.tunType = ud.tunType;
    dest.tunPort = ud.tunPort;
    dest.tunFlags = ud.tunFlags;
    dest.uThresh = ud.uThresh >>> 0;
    dest.lThresh = ud.lThresh >>> 0;
    dest.af = ud.af;
  }

  private toTrash(dest: DestEntry): void {
    dest.trashedAt = Date.now();
    this.trash.unshift(dest);
  }

  /**
   * `ip_vs_trash_get_dest`: a destination deleted from this service's
   * identity less than the trash period ago comes back with its counters.
   */
  private fromTrash(svc: SvcEntry, af: number, addr: Buffer, port: number): DestEntry | undefined {
    const now = Date.now();
    for (let i = this.trash.length - 1; i >= 0; i--) {
      const d = this.trash[i] as DestEntry;
      if (now - (d.trashedAt ?? now) >= this.opt.trashMs) this.trash.splice(i, 1);
    }
    const i = this.trash.findIndex(
      (d) =>
        d.af === af &&
        d.addr.equals(addr) &&
        d.port === port &&
        d.vfwmark === svc.fwmark &&
        d.vprotocol === svc.protocol &&
        (svc.fwmark !== 0 || (d.vaddr.equals(svc.addr) && d.vport === svc.port)),
    );
    if (i < 0) return undefined;
    const [dest] = this.trash.splice(i, 1);
    delete (dest as DestEntry).trashedAt;
    return dest;
  }

  // ------------------------------------------------------------ zero, timeouts

  /** ZERO of one service: it and its destinations. */
  zeroService(svc: SvcEntry): void {
    for (const d of svc.dests) d.stats.zero();
    svc.stats.zero();
  }

  /** ZERO without a service: everything, the namespace totals included. */
  zeroAll(): void {
    for (const s of this.services()) this.zeroService(s);
    this.totals.zero();
  }

  /** Timeouts in seconds (`__ip_vs_get_timeouts`). */
  getTimeouts(): { tcp: number; tcpFin: number; udp: number } {
    const hz = this.opt.hz;
    return { tcp: Math.floor(this.timeouts.tcp / hz), tcpFin: Math.floor(this.timeouts.tcpFin / hz), udp: Math.floor(this.timeouts.udp / hz) };
  }

  /** `ip_vs_set_timeout`: values are the kernel's ints; 0 keeps. */
  setTimeouts(t: { tcp: number; tcpFin: number; udp: number }): number {
    const max = Math.floor(INT_MAX / this.opt.hz);
    for (const v of [t.tcp, t.tcpFin, t.udp]) if ((v | 0) < 0 || (v | 0) > max) return EINVAL;
    if (t.tcp) this.timeouts.tcp = t.tcp * this.opt.hz;
    if (t.tcpFin) this.timeouts.tcpFin = t.tcpFin * this.opt.hz;
    if (t.udp) this.timeouts.udp = t.udp * this.opt.hz;
    return 0;
  }

  // ------------------------------------------------------------ daemons

  /** `ip_vs_genl_new_daemon` after parsing, then `start_sync_thread`. */
  startDaemon(state: number, c: DaemonCfg): number {
    if (this.mixedFamilyDests() > 0) return EINVAL;
    if (c.mcastAf === 0) {
      c.mcastAf = AF_INET;
      c.group = Buffer.from(SYNC_GROUP);
    }
    if (!c.port) c.port = SYNC_PORT;
    if (!c.ttl) c.ttl = 1;
    const mtu = this.opt.interfaces.get(c.ifn);
    if (mtu === undefined) return ENODEV;
    const hlen = c.mcastAf === AF_INET6 ? 40 + 8 : 20 + 8;
    const backup = state === IP_VS_STATE_BACKUP;
    const dmtu = backup ? Math.min(Math.max(mtu, 1500), 65535) : 1500;
    const min = backup ? 1024 : 1;
    c.maxlen = c.maxlen ? Math.min(Math.max(c.maxlen, min), 65535 - hlen) : dmtu - hlen;
    if (state === IP_VS_STATE_MASTER) {
      if (this.daemons.master) return EEXIST;
      this.daemons.master = c;
    } else if (backup) {
      if (this.daemons.backup) return EEXIST;
      this.daemons.backup = c;
    } else {
      return EINVAL;
    }
    return 0;
  }

  /** `stop_sync_thread`. */
  stopDaemon(state: number): number {
    if (state === IP_VS_STATE_MASTER) {
      if (!this.daemons.master) return ESRCH;
      delete this.daemons.master;
      return 0;
    }
    if (state === IP_VS_STATE_BACKUP) {
      if (!this.daemons.backup) return ESRCH;
      delete this.daemons.backup;
      return 0;
    }
    return EINVAL;
  }

  /** Whether any sync daemon runs (`ipvs->sync_state`). */
  syncRunning(): boolean {
    return this.daemons.master !== undefined || this.daemons.backup !== undefined;
  }

  // ------------------------------------------------------------ the command dispatcher's checks

  /**
   * The destination part of `ip_vs_genl_set_cmd`: the family defaults to the
   * service's, must be valid, and a family other than the service's needs
   * tunnel forwarding and no running sync daemon (DEL_DEST excepted).
   */
  destFamilyCheck(svc: SvcEntry, ud: DestUser, isDelete: boolean): number {
    if (ud.af === 0) ud.af = svc.af;
    if (!this.afValid(ud.af)) return EAFNOSUPPORT;
    if (ud.af !== svc.af && !isDelete) {
      if (this.syncRunning()) return EINVAL;
      if (ud.fwd !== IP_VS_CONN_F_TUNNEL) return EINVAL;
    }
    return 0;
  }
}
