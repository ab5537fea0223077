/**
 * The fake IPVS kernel shipped as `ipvs/testing`.
 *
 * It speaks netlink bytes through the same {@link Transport} boundary as the
 * real socket, so the whole client stack (framing, sequence numbers,
 * batches, typed errors) runs against it, and it follows the kernel's rules
 * as seen on Linux 6.1 (docs/kernel-notes.md). The same behaviour suite
 * (test/behaviour/) runs against it and against the real kernel in
 * User-Mode Linux, so the two cannot drift apart.
 *
 * ```ts
 * import { IpvsClient } from 'ipvs';
 * import { FakeKernel } from 'ipvs/testing';
 * const kernel = new FakeKernel();
 * const client = await IpvsClient.open(kernel.clientOptions());
 * ```
 * @module
 */
import { formatAddress, parseAddress, type Family } from '../ipvs/address';
import { PROTO_NUM, normalizeDestinationKey, normalizeServiceKey, protocolNumber, schedFlagNames } from '../ipvs/codec';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPVS_CMD,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
  IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
} from '../ipvs/constants';
import { isFwmarkKey, type DestinationKey, type ForwardingMethod, type Protocol, type Rates, type ServiceKey, type ServiceRule, type Stats, type SyncDaemon, type Timeouts, type TunnelType } from '../ipvs/model';
import type { ProcReader } from '../ipvs/client';
import { TEMPLATE_STATES, isActive, stateNames, stateTimeout, procConnText, procRulesText, procStatsText, type ConnEntry } from './conns';
import { errnoNumber } from './errno';
import type { FamilyContext } from './ipvs-family';
import type { ConnCounts } from './ipvs-replies';
import { receiveDatagram, type Injected, type Receiver } from './netlink-rcv';
import { IpvsState, keepAddr, type DestEntry, type SvcEntry } from './state';
import { StatsBox, checkCounters } from './stats';
import { FakeTransport, type SocketHost } from './transport';

/** The schedulers Debian's 6.1 kernel ships as modules (`ip_vs_<name>`). */
export const IN_TREE_SCHEDULERS: readonly string[] = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh'];

/** Options of a {@link FakeKernel}. Every one has the real kernel's default. */
export interface FakeKernelOptions {
  /** Scheduler modules that load (default: {@link IN_TREE_SCHEDULERS}); `none` is always accepted. */
  schedulers?: readonly string[];
  /** Persistence engines that load (default: `['sip']`). */
  persistenceEngines?: readonly string[];
  /** IPv6 available (default true); false answers EAFNOSUPPORT for IPv6 services and real servers. */
  ipv6?: boolean;
  /**
   * Refuses more new real-server addresses (EINVAL), on top of the kernel's
   * own rule, which accepts any unicast address, routed or not, and refuses
   * 0.0.0.0/8, 255.255.255.255, multicast, `::`, IPv4-mapped IPv6 and
   * link-local IPv6 (unless local). Use it for what the host's local
   * routing table would refuse, such as a subnet's broadcast address.
   */
  routable?: (address: string, family: Family) => boolean;
  /** The host's own addresses (default `127.0.0.1`, `::1`): a local link-local IPv6 real server is accepted. */
  localAddresses?: readonly string[];
  /** Network interfaces by name with their MTU, for sync daemons (default `{ lo: 65536, eth0: 1500 }`). */
  interfaces?: Readonly<Record<string, number>>;
  /** False: the `ip_vs` module is not loaded, so the family does not resolve (default true). */
  moduleLoaded?: boolean;
  /** False: the caller lacks CAP_NET_ADMIN, so every IPVS command is EPERM (default true). */
  capNetAdmin?: boolean;
  /** The family id nlctrl hands out (default 28, as seen on 6.1). */
  familyId?: number;
  /** The kernel's HZ (default 100, as Debian's UML kernel): timeouts are kept in jiffies and wrap as there. */
  hz?: number;
  /** Connection table size reported by GET_INFO (default 4096). */
  connTableSize?: number;
  /**
   * PAD attributes before 64-bit counters (default true, as on UML; x86-64
   * kernels do not pad). Clients must accept both.
   */
  statsPadding?: boolean;
  /** Most bytes in one dump datagram (default 32448: 32 KiB less the kernel's skb overhead, as measured). */
  dumpBytes?: number;
  /** Answers a socket can hold before the kernel drops them (ENOBUFS); default unlimited. */
  receiveBufferBytes?: number;
  /** Stands in for the namespace pointer the kernel mixes into its service hash (default 0). */
  hashSeed?: number;
  /** How long a deleted real server stays in the trash, from which a re-add revives it with its counters (default 120 s). */
  destTrashSeconds?: number;
}

/** A service, or one of its real servers: what counters can be set on. */
export interface CounterTarget {
  service: ServiceKey;
  destination?: DestinationKey;
}

/** A connection to put in the table (and in `/proc/net/ip_vs_conn`). */
export interface FakeConnection {
  service: ServiceKey;
  /** The real server it was scheduled to; must belong to the service. */
  destination: DestinationKey;
  /** The client's address (the service's family) and port. */
  client: { address: string; port: number };
  /** Firewall-mark services: the packet's protocol (default tcp). */
  protocol?: Protocol;
  /** Firewall-mark services: the address and port the packet was sent to. */
  virtual?: { address: string; port: number };
  /** Protocol state as the kernel names it (default ESTABLISHED; UDP connections are `UDP`). */
  state?: string;
  /** Seconds left (default: the state's timeout). */
  expires?: number;
  /** Persistence engine data (a SIP Call-ID) for the template of a service with an engine. */
  peData?: string;
  /** State of a newly made persistence template: NONE (default) or ASSURED. */
  templateState?: (typeof TEMPLATE_STATES)[number];
}

/** What the fake kernel has received, for tests that count system calls. */
export interface FakeCounters {
  /** Datagrams (sendmsg calls). */
  datagrams: number;
  /** Netlink messages. */
  messages: number;
  /** Messages that asked for an ACK (NLM_F_ACK). */
  ackRequests: number;
  /** Dumps run. */
  dumps: number;
}

const FWD_NAME: ForwardingMethod[] = ['masq', 'local', 'tunnel', 'route'];
const TUN_NAME: TunnelType[] = ['ipip', 'gue', 'gre'];
const PROTO_NAME: Record<number, Protocol> = { [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp', [IPPROTO_SCTP]: 'sctp' };

let nextPort = 0x7a000;

/** A fake IPVS kernel: one network namespace's worth of IPVS, reached through netlink bytes. */
export class FakeKernel {
  /** What has arrived so far. */
  readonly counters: FakeCounters = { datagrams: 0, messages: 0, ackRequests: 0, dumps: 0 };
  private readonly state: IpvsState;
  private readonly conns: ConnEntry[] = [];
  private readonly injected: Injected[] = [];
  private readonly o: Required<Omit<FakeKernelOptions, 'routable' | 'localAddresses' | 'interfaces' | 'schedulers' | 'persistenceEngines'>>;
  private readonly host: SocketHost & Receiver;

  constructor(options: FakeKernelOptions = {}) {
    this.o = {
      ipv6: options.ipv6 ?? true,
      moduleLoaded: options.moduleLoaded ?? true,
      capNetAdmin: options.capNetAdmin ?? true,
      familyId: options.familyId ?? 28,
      hz: options.hz ?? 100,
      connTableSize: options.connTableSize ?? 4096,
      statsPadding: options.statsPadding ?? true,
      dumpBytes: options.dumpBytes ?? 32448,
      receiveBufferBytes: options.receiveBufferBytes ?? Number.POSITIVE_INFINITY,
      hashSeed: options.hashSeed ?? 0,
      destTrashSeconds: options.destTrashSeconds ?? 120,
    };
    if (this.o.familyId <= 0x10 || this.o.familyId > 0xffff) throw new RangeError('familyId must be 17..65535 (16 is nlctrl)');
    const local = new Set((options.localAddresses ?? ['127.0.0.1', '::1']).map((a) => parseAddress(a).text));
    this.state = new IpvsState({
      schedulers: new Set(options.schedulers ?? IN_TREE_SCHEDULERS),
      engines: new Set(options.persistenceEngines ?? ['sip']),
      ipv6: this.o.ipv6,
      hz: this.o.hz,
      routable: options.routable ?? (() => true),
      isLocal: (a) => local.has(a),
      interfaces: new Map(Object.entries(options.interfaces ?? { lo: 65536, eth0: 1500 })),
      hashSeed: this.o.hashSeed,
      trashMs: this.o.destTrashSeconds * 1000,
      formatAddress: (b, f) => formatAddress(b, f),
    });
    const self = this;
    this.host = {
      get receiveBufferBytes() {
        return self.o.receiveBufferBytes;
      },
      capNetAdmin: this.o.capNetAdmin,
      receive: (portId, datagram, dump) => receiveDatagram(this.host, portId, datagram, this.o.statsPadding, dump),
      closed: () => undefined,
      family: (portId) => (this.o.moduleLoaded ? this.familyContext(portId) : undefined),
      takeInjected: (cmd) => {
        const i = this.injected.findIndex((x) => x.cmd === cmd);
        return i < 0 ? undefined : this.injected.splice(i, 1)[0];
      },
      count: (what) => {
        this.counters[what]++;
      },
    };
  }

  private familyContext(portId: number): FamilyContext {
    return {
      state: this.state,
      familyId: this.o.familyId,
      portId,
      hz: this.o.hz,
      pad: this.o.statsPadding,
      dumpBytes: this.o.dumpBytes,
      versionCode: 0x010201,
      connTabSize: this.o.connTableSize,
      counts: (d) => this.counts(d),
    };
  }

  /** A new netlink socket on this kernel (its own port id). */
  openTransport(): FakeTransport {
    return new FakeTransport(this.host, nextPort++);
  }

  /** Options for `IpvsClient.open()`: a new socket on this kernel and its /proc files. */
  clientOptions(): { transport: FakeTransport; procReader: ProcReader } {
    return { transport: this.openTransport(), procReader: async (file) => this.readProc(file) };
  }

  /** The text of `/proc/net/ip_vs_conn`, `/proc/net/ip_vs_stats` or `/proc/net/ip_vs`. */
  readProc(file: 'ip_vs_conn' | 'ip_vs_stats' | 'ip_vs'): string {
    if (!this.o.moduleLoaded) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '/proc/net/${file}'`), { code: 'ENOENT', errno: 2 });
    }
    if (file === 'ip_vs_conn') return procConnText(this.conns);
    if (file === 'ip_vs') return procRulesText(this.state.services(), this.o.connTableSize, (d) => this.counts(d));
    const { stats, rates } = this.state.totals.show();
    return procStatsText(stats, rates);
  }

  // ------------------------------------------------------------ inspection

  /** The rules as the kernel holds them, in dump order (services by hash bucket, real servers newest first). */
  rules(): ServiceRule[] {
    return this.state.services().map((s) => this.ruleOf(s));
  }

  private ruleOf(s: SvcEntry): ServiceRule {
    const family: Family = s.af === AF_INET6 ? 'ipv6' : 'ipv4';
    let key: ServiceKey;
    if (s.fwmark) {
      key = { fwmark: s.fwmark, family };
    } else {
      key = { protocol: PROTO_NAME[s.protocol] ?? s.protocol, address: formatAddress(s.addr, family), port: s.port };
    }
    const scheduler = s.sched ?? 'none';
    const config: ServiceRule['config'] = {
      scheduler,
      persistent: (s.flags & IP_VS_SVC_F_PERSISTENT) !== 0,
      timeout: Math.floor(s.timeoutJiffies / this.o.hz),
      netmask: family === 'ipv6' ? s.netmask.readUInt32LE(0) : formatAddress(s.netmask, 'ipv4'),
      onePacket: (s.flags & IP_VS_SVC_F_ONEPACKET) !== 0,
      schedFlags: schedFlagNames(s.flags, scheduler),
    };
    if (s.pe) config.persistenceEngine = s.pe;
    return {
      key,
      family,
      config,
      destinations: s.dests.map((d) => {
        const df: Family = d.af === AF_INET6 ? 'ipv6' : 'ipv4';
        return {
          key: { address: formatAddress(d.addr, df), port: d.port },
          family: df,
          config: {
            forwarding: FWD_NAME[d.fwd] ?? 'route',
            weight: d.weight,
            upperThreshold: d.uThresh,
            lowerThreshold: d.lThresh,
            tunnelType: TUN_NAME[d.tunType] ?? 'ipip',
            tunnelPort: d.tunPort,
            tunnelCsum: (d.tunFlags & IP_VS_TUNNEL_ENCAP_FLAG_CSUM) !== 0,
            tunnelRemcsum: (d.tunFlags & IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM) !== 0,
          },
        };
      }),
    };
  }

  /** Running sync daemons (master first), as GET_DAEMON lists them. */
  daemons(): SyncDaemon[] {
    const out: SyncDaemon[] = [];
    for (const [state, c] of [['master', this.state.daemons.master], ['backup', this.state.daemons.backup]] as const) {
      if (!c) continue;
      out.push({
        state,
        interface: c.ifn,
        syncId: c.syncId,
        maxLen: c.maxlen,
        group: formatAddress(c.group, c.mcastAf === AF_INET6 ? 'ipv6' : 'ipv4'),
        port: c.port,
        ttl: c.ttl,
      });
    }
    return out;
  }

  /** Connection timeouts in seconds. */
  timeouts(): Timeouts {
    return this.state.getTimeouts();
  }

  // ------------------------------------------------------------ injection

  private findService(key: ServiceKey): SvcEntry {
    const n = normalizeServiceKey(key);
    const svc = isFwmarkKey(n.key)
      ? this.state.find({ af: n.family === 'ipv6' ? AF_INET6 : AF_INET, protocol: IPPROTO_TCP, addr: Buffer.alloc(16), port: 0, fwmark: n.key.fwmark })
      : this.state.find({ af: n.family === 'ipv6' ? AF_INET6 : AF_INET, protocol: protocolNumber(n.key.protocol), addr: n.addr as Buffer, port: n.key.port, fwmark: 0 });
    if (!svc) throw new Error(`the fake kernel has no ${JSON.stringify(n.key)}`);
    return svc;
  }

  private findDest(svc: SvcEntry, key: DestinationKey): DestEntry {
    const d = normalizeDestinationKey(key);
    const af = d.family === 'ipv6' ? AF_INET6 : AF_INET;
    const addr = keepAddr(af, d.addr);
    const dest = svc.dests.find((x) => x.af === af && x.addr.equals(addr) && x.port === d.key.port);
    if (!dest) throw new Error(`the service has no destination ${JSON.stringify(d.key)}`);
    return dest;
  }

  private statsOf(target: CounterTarget): StatsBox {
    const svc = this.findService(target.service);
    return target.destination ? this.findDest(svc, target.destination).stats : svc.stats;
  }

  /**
   * Sets what a service or real server reports from now on: the counters
   * named in `stats` (since the last zero) and the rates named in `rates`.
   * Nothing else moves (use {@link addTraffic} for traffic that also counts
   * in the service and the namespace totals).
   */
  setStats(target: CounterTarget, values: { stats?: Partial<Stats>; rates?: Partial<Rates> }): void {
    checkCounters('stats', values.stats, 'stats');
    checkCounters('rates', values.rates, 'rates');
    const box = this.statsOf(target);
    if (values.stats) box.set(values.stats);
    if (values.rates) box.setRates(values.rates);
  }

  /**
   * Counts traffic as the kernel does: a real server's counters, its
   * service's and the namespace totals (`/proc/net/ip_vs_stats`) all grow.
   * Without a destination, only the service and the totals grow.
   */
  addTraffic(target: CounterTarget, delta: Partial<Stats>): void {
    checkCounters('delta', delta, 'stats');
    const svc = this.findService(target.service);
    if (target.destination) this.findDest(svc, target.destination).stats.add(delta);
    svc.stats.add(delta);
    this.state.totals.add(delta);
  }

  /** Sets what `/proc/net/ip_vs_stats` shows (the counters and rates named). */
  setTotals(values: { stats?: Partial<Stats>; rates?: Partial<Rates> }): void {
    checkCounters('stats', values.stats, 'stats');
    checkCounters('rates', values.rates, 'rates');
    if (values.stats) this.state.totals.set(values.stats);
    if (values.rates) this.state.totals.setRates(values.rates);
  }

  /**
   * Adds a connection as if the kernel had scheduled one: it appears in
   * `/proc/net/ip_vs_conn`, counts in its real server's active or inactive
   * connections (TCP SYN_SENT, SYN_RECV and ESTABLISHED and SCTP
   * ESTABLISHED are active; UDP never is) and in the `conns` counters. For a
   * persistent service a persistence template is made too, unless the
   * client's network already has one: protocol `IP` with the mark as its
   * virtual address for firewall-mark services, ports 0 for port-0 services,
   * the client address masked by the service's netmask.
   */
  addConnection(c: FakeConnection): void {
    const svc = this.findService(c.service);
    const dest = this.findDest(svc, c.destination);
    const family: Family = svc.af === AF_INET6 ? 'ipv6' : 'ipv4';
    const client = parseAddress(c.client.address);
    if (client.family !== family) throw new Error(`client ${c.client.address} is not ${family} like the service`);
    const port = (n: number, what: string): number => {
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`${what} must be 0..65535`);
      return n;
    };
    let protocol = svc.protocol;
    let vaddr = svc.addr;
    let vport = svc.port;
    if (svc.fwmark) {
      if (!c.virtual) throw new Error('a firewall-mark service needs the connection\'s virtual address and port');
      const v = parseAddress(c.virtual.address);
      if (v.family !== family) throw new Error(`virtual ${c.virtual.address} is not ${family} like the service`);
      protocol = PROTO_NUM[c.protocol ?? 'tcp'];
      vaddr = keepAddr(svc.af, v.bytes);
      vport = port(c.virtual.port, 'virtual.port');
    }
    const state = c.state ?? (protocol === IPPROTO_UDP ? 'UDP' : 'ESTABLISHED');
    const stateTimeoutSecs = stateTimeout(protocol, state, this.state.getTimeouts());
    if (stateTimeoutSecs === undefined) {
      throw new Error(`'${state}' is not a ${PROTO_NAME[protocol] ?? protocol} state (${stateNames(protocol).join(', ')})`);
    }
    const caddr = keepAddr(svc.af, client.bytes);
    if (svc.flags & IP_VS_SVC_F_PERSISTENT) this.template(svc, dest, protocol, caddr, vaddr, vport, c);
    this.conns.push({
      protocol,
      af: svc.af,
      caddr,
      cport: port(c.client.port, 'client.port'),
      vaddr,
      vport,
      daf: dest.af,
      daddr: dest.addr,
      dport: dest.port || vport,
      state,
      template: false,
      expires: c.expires ?? stateTimeoutSecs,
      dest,
    });
    for (const box of [dest.stats, svc.stats, this.state.totals]) box.add({ conns: 1n });
  }

  private template(svc: SvcEntry, dest: DestEntry, protocol: number, caddr: Buffer, vaddr: Buffer, vport: number, c: FakeConnection): void {
    const snet = Buffer.alloc(16);
    if (svc.af === AF_INET6) {
      const plen = svc.netmask.readUInt32LE(0);
      for (let i = 0; i < 16; i++) {
        const bits = Math.max(0, Math.min(8, plen - i * 8));
        snet[i] = (caddr[i] as number) & ((0xff << (8 - bits)) & 0xff);
      }
    } else {
      for (let i = 0; i < 4; i++) snet[i] = (caddr[i] as number) & (svc.netmask[i] as number);
    }
    const fwm = Buffer.alloc(16);
    fwm.writeUInt32BE(svc.fwmark, 0);
    const noPorts = svc.fwmark !== 0 || svc.port === 0;
    const t: Omit<ConnEntry, 'dest'> = {
      protocol: svc.fwmark ? 0 : protocol,
      af: svc.af,
      caddr: snet,
      cport: 0,
      vaddr: svc.fwmark ? fwm : vaddr,
      vport: noPorts ? 0 : vport,
      daf: dest.af,
      daddr: dest.addr,
      dport: noPorts ? 0 : dest.port,
      state: c.templateState ?? 'NONE',
      template: true,
      expires: Math.floor(svc.timeoutJiffies / this.o.hz),
    };
    const exists = this.conns.some(
      (x) => x.template && x.protocol === t.protocol && x.af === t.af && x.caddr.equals(t.caddr) && x.vaddr.equals(t.vaddr) && x.vport === t.vport,
    );
    if (exists) return;
    if (svc.pe && c.peData !== undefined) {
      t.peName = svc.pe;
      t.peData = c.peData;
    }
    this.conns.push({ ...t, dest });
  }

  /** Empties the connection table (connection counts drop to 0). */
  clearConnections(): void {
    this.conns.length = 0;
  }

  private counts(dest: DestEntry): ConnCounts {
    const out = { active: 0, inactive: 0, persistent: 0 };
    for (const c of this.conns) {
      if (c.dest !== dest) continue;
      if (c.template) out.persistent++;
      else if (isActive(c)) out.active++;
      else out.inactive++;
    }
    return out;
  }

  /**
   * Makes the next request carrying IPVS command `cmd` fail with `errno`
   * (and extended-ACK `message`, if given) before the kernel looks at it.
   * Queued failures are used once each, in order.
   */
  failNext(cmd: number | keyof typeof IPVS_CMD, errno: number | string, message?: string): void {
    const num = typeof cmd === 'number' ? cmd : IPVS_CMD[cmd];
    if (num === undefined || !Object.values(IPVS_CMD).includes(num as never)) throw new TypeError(`unknown IPVS command ${String(cmd)}`);
    this.injected.push({ cmd: num, errno: errnoNumber(errno), ...(message !== undefined ? { message } : {}) });
  }
}
