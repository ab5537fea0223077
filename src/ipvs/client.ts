/**
 * The IPVS client: every command of the kernel's generic netlink API, typed
 * and async, plus the connection table and totals from /proc.
 *
 * The client never logs, never loads modules and never changes sysctls: it
 * does what it is asked over one netlink socket and nothing else.
 * @module
 */
import { addon } from '../native/addon';
import { AttrView, attrIds, type AttrValues } from '../netlink/attributes';
import { NetlinkConnection, stackless, type ConnectionOptions, type MessageRef, type RequestSpec } from '../netlink/connection';
import { NetlinkError, NetlinkSocketError, NetlinkTimeoutError } from '../netlink/errors';
import { openNetlinkSocket, type Transport } from '../netlink/transport';
import { FamilyNotFoundError, GenlRequest, genlAttrs, genlView, resolveFamily, type GenlFamily } from '../genetlink/ctrl';
import {
  checkMixedFamily,
  completeDestinationConfig,
  completeServiceConfig,
  daemonAttrs,
  daemonStateNumber,
  decodeDaemon,
  decodeDestination,
  decodeService,
  decodeServiceRule,
  decodeDestinationRule,
  decodeDestinationRuleInto,
  blankDestinationRule,
  destinationAttrs,
  destinationKeyAttrs,
  destinationKeyText,
  normalizeDestinationKey,
  normalizeServiceKey,
  serviceAttrs,
  serviceKeyAttrs,
  serviceKeyText,
  type NormalKey,
} from './codec';
import { IPVS_CMD, IPVS_GENL_NAME, IPVS_GENL_VERSION } from './constants';
import {
  ERROR_CODES,
  InvalidArgumentError,
  IpvsError,
  IpvsTimeoutError,
  KernelError,
  PermissionError,
  errorFromKernel,
  invalidArgument,
  ipvsNotAvailable,
  type ErrorContext,
} from './errors';
import type {
  Connection,
  DaemonState,
  Destination,
  DestinationConfig,
  DestinationInput,
  DestinationKey,
  Info,
  Service,
  ServiceConfig,
  DestinationRule,
  ServiceEntry,
  ServiceRule,
  ServiceInput,
  ServiceKey,
  SyncDaemon,
  Timeouts,
  Totals,
} from './model';
import { isFwmarkKey } from './model';
import { CMD_ATTRS, DEST_ATTRS, INFO_ATTRS, SERVICE_ATTRS } from './schema';
import { BulkEncoder, isBulkOp } from './bulk';
import { NlWriter } from '../netlink/writer';
import type { Family } from './address';
import type { NlMessage } from '../netlink/message';
import { parseConnections, parseTotals, procServiceName, ProcRuleTable } from './proc';

/** Reads one of IPVS's /proc/net files (text, or its bytes) in the client's namespace. */
export type ProcReader = (file: 'ip_vs_conn' | 'ip_vs_stats' | 'ip_vs') => Promise<string | Buffer>;

/** Options of {@link IpvsClient.eachRule}. */
export interface EachRuleOptions {
  /** Rearranges the services in place before their real servers are read; they are visited in this order. */
  order?: (services: ServiceRule[]) => void;
  /** Reuse the real-server objects from one service to the next (the visitor must not keep them). */
  reuse?: boolean;
  /**
   * `'save'`: only what ipvsadm-save prints is read. Real servers' thresholds,
   * and the tunnel settings of real servers that do not tunnel (the kernel
   * keeps them, unused), are reported as 0 and the defaults. This lets the
   * client read every real server from `/proc/net/ip_vs` in one pass instead
   * of one netlink dump per service (a fifth of the time for 5,000 services
   * under UML); services the file cannot describe in full (a tunnelling real
   * server, a firewall mark used by both families, a service added meanwhile)
   * are read by netlink as usual. Default `'all'`.
   */
  fields?: 'all' | 'save';
}

/** Options for {@link IpvsClient.open}. */
export interface IpvsClientOptions extends ConnectionOptions {
  /**
   * A network namespace to work in: a file such as `/run/netns/lb` (what
   * `ip netns add lb` creates) or `/proc/PID/ns/net`. Default: the caller's.
   */
  netns?: string;
  /** Carry netlink over this transport instead of a socket (the fake kernel uses it). */
  transport?: Transport;
  /** Read /proc files through this (the fake kernel provides one). */
  procReader?: ProcReader;
}

/** One operation of a bulk {@link IpvsClient.apply}. */
export type Operation =
  | { type: 'add-service'; service: ServiceKey; config?: ServiceInput }
  /** Full replacement, as the kernel does it: every field of `config` is written. */
  | { type: 'edit-service'; service: ServiceKey; config: ServiceConfig }
  | { type: 'delete-service'; service: ServiceKey }
  | { type: 'add-destination'; service: ServiceKey; destination: DestinationKey; config?: DestinationInput }
  /** Full replacement, as the kernel does it: every field of `config` is written. */
  | { type: 'edit-destination'; service: ServiceKey; destination: DestinationKey; config: DestinationConfig }
  | { type: 'delete-destination'; service: ServiceKey; destination: DestinationKey }
  | { type: 'zero'; service?: ServiceKey }
  | { type: 'set-timeouts'; timeouts: Partial<Timeouts> }
  | { type: 'flush' };

/** What became of a bulk {@link IpvsClient.apply}. */
export interface ApplyResult {
  /** One entry per operation, in order: `null` when it was applied, otherwise why not. */
  errors: (IpvsError | null)[];
  /** How many operations were applied. */
  applied: number;
  /** The operations that were not applied, in order. */
  failures: { index: number; operation: Operation; error: IpvsError }[];
}

/** Thrown by {@link IpvsClient.apply} when operations fail the checks; nothing was sent. */
export class InvalidOperationsError extends IpvsError {
  constructor(readonly failures: { index: number; error: IpvsError }[]) {
    super(
      ERROR_CODES.INVALID_ARGUMENT,
      `${failures.length} operation(s) are invalid, nothing was applied: ` +
        failures
          .slice(0, 5)
          .map((f) => `#${f.index}: ${f.error.message}`)
          .join('; ') +
        (failures.length > 5 ? '; …' : ''),
    );
  }
}

interface Prepared {
  spec: RequestSpec;
  /** Built only when needed: an error message names the objects. */
  ctx(): ErrorContext;
}

// Reply decoding reuses one view per nest kind (decoding is synchronous).
const cmdView = new AttrView(CMD_ATTRS);
const serviceView = new AttrView(SERVICE_ATTRS);
const destView = new AttrView(DEST_ATTRS);

function serviceView_(m: NlMessage | MessageRef): AttrView {
  if (!genlView(m, cmdView).nested(CMD_ID.service, serviceView)) {
    throw new KernelError(ERROR_CODES.KERNEL, 'a service reply without a service');
  }
  return serviceView;
}

function serviceOf(m: NlMessage): Service {
  return decodeService(serviceView_(m));
}

function destView_(m: NlMessage | MessageRef): AttrView {
  if (!genlView(m, cmdView).nested(CMD_ID.dest, destView)) {
    throw new KernelError(ERROR_CODES.KERNEL, 'a destination reply without a destination');
  }
  return destView;
}

function destinationOf(m: NlMessage | MessageRef, family: Family): Destination {
  return decodeDestination(destView_(m), family);
}

const CMD_ID = attrIds(CMD_ATTRS, ['service', 'dest', 'daemon']);

function defaultProcReader(netns?: string): ProcReader {
  return async (file) => {
    // /proc/net follows the reading thread's namespace: with a netns, the
    // addon reads from a thread that has entered it.
    const path = netns ? `/proc/thread-self/net/${file}` : `/proc/net/${file}`;
    if (file !== 'ip_vs') return addon().readFile(path, netns);
    // The rule table runs to megabytes: read straight into one buffer big
    // enough (only the pages written are touched) instead of growing copies.
    for (let size = 16 << 20; ; size *= 2) {
      const buf = Buffer.allocUnsafe(size);
      const n = await addon().readFile(path, netns, buf);
      if (n < size) return buf.subarray(0, n);
    }
  };
}

/** A client for the kernel's IPVS. Open with {@link IpvsClient.open}; close when done. */
export class IpvsClient {
  private constructor(
    private readonly conn: NetlinkConnection,
    private readonly family: GenlFamily,
    private readonly readProc: ProcReader,
  ) {}

  /**
   * Opens a netlink socket (in `options.netns` if given) and resolves the
   * IPVS family. Throws {@link IpvsNotAvailableError} when the kernel has no
   * IPVS (the library never loads modules itself).
   */
  static async open(options: IpvsClientOptions = {}): Promise<IpvsClient> {
    let transport: Transport;
    try {
      transport = options.transport ?? openNetlinkSocket(options.netns !== undefined ? { netns: options.netns } : {});
    } catch (e) {
      throw e instanceof NetlinkSocketError ? socketOpenError(e, options.netns) : e;
    }
    const conn = new NetlinkConnection(transport, options);
    let family: GenlFamily;
    try {
      family = await resolveFamily(conn, IPVS_GENL_NAME);
    } catch (e) {
      conn.close();
      if (e instanceof FamilyNotFoundError) throw ipvsNotAvailable(options.netns);
      throw e;
    }
    return new IpvsClient(conn, family, options.procReader ?? defaultProcReader(options.netns));
  }

  /** Closes the socket. */
  close(): void {
    this.conn.close();
  }

  /** Netlink usage counters (messages, sendmsg calls, stray replies). */
  get counters(): Readonly<NetlinkConnection['counters']> {
    return this.conn.counters;
  }

  private spec(cmd: number, attrs: AttrValues): RequestSpec {
    return new GenlRequest(this.family.id, cmd, IPVS_GENL_VERSION, CMD_ATTRS, attrs);
  }

  private translate(e: unknown, ctx: ErrorContext): unknown {
    if (e instanceof NetlinkError) return errorFromKernel(e.errno, ctx, e.extack);
    if (e instanceof NetlinkTimeoutError) return new IpvsTimeoutError(ERROR_CODES.TIMEOUT, e.message, 110, ctx);
    if (e instanceof NetlinkSocketError)
      return new KernelError(ERROR_CODES.KERNEL, e.message, e.errno, ctx);
    return e;
  }

  private async doRequest(cmd: number, attrs: AttrValues, ctx: ErrorContext) {
    try {
      return await this.conn.request(this.spec(cmd, attrs), ctx.service ?? commandLabel(cmd));
    } catch (e) {
      throw this.translate(e, { ...ctx, command: cmd });
    }
  }

  private async doDump(cmd: number, attrs: AttrValues, ctx: ErrorContext) {
    try {
      return await this.conn.dump(this.spec(cmd, attrs), commandLabel(cmd));
    } catch (e) {
      throw this.translate(e, { ...ctx, command: cmd });
    }
  }

  // ------------------------------------------------------------ info & config

  /** IPVS version and connection table size. */
  async info(): Promise<Info> {
    const [reply] = await this.doRequest(IPVS_CMD.GET_INFO, {}, {});
    if (!reply) throw new KernelError(ERROR_CODES.KERNEL, 'GET_INFO: no reply');
    const a = genlAttrs(reply, INFO_ATTRS);
    const code = typeof a.version === 'number' ? a.version : 0;
    return {
      versionCode: code,
      version: `${(code >> 16) & 0xff}.${(code >> 8) & 0xff}.${code & 0xff}`,
      connTableSize: typeof a.connTabSize === 'number' ? a.connTabSize : 0,
    };
  }

  /** Connection timeouts (seconds). */
  async getTimeouts(): Promise<Timeouts> {
    const [reply] = await this.doRequest(IPVS_CMD.GET_CONFIG, {}, {});
    if (!reply) throw new KernelError(ERROR_CODES.KERNEL, 'GET_CONFIG: no reply');
    const a = genlAttrs(reply, CMD_ATTRS);
    const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
    return { tcp: n(a.timeoutTcp), tcpFin: n(a.timeoutTcpFin), udp: n(a.timeoutUdp) };
  }

  /** Sets connection timeouts; an omitted (or 0) value keeps the current one. */
  async setTimeouts(t: Partial<Timeouts>): Promise<void> {
    const p = this.prepare({ type: 'set-timeouts', timeouts: t });
    await this.runOne(p);
  }

  // ------------------------------------------------------------ services

  /**
   * Every virtual service, in kernel order. An empty table is `[]`. A
   * service a non-atomic dump showed twice is listed once.
   */
  async listServices(): Promise<Service[]> {
    const replies = await this.doDump(IPVS_CMD.GET_SERVICE, {}, {});
    return dedupe(replies.map(serviceOf));
  }

  /** One service; throws {@link ServiceNotFoundError} when it does not exist. */
  async getService(key: ServiceKey): Promise<Service> {
    const n = normalizeServiceKey(key);
    const ctx = { service: serviceKeyText(n.key) };
    const [reply] = await this.doRequest(IPVS_CMD.GET_SERVICE, { service: serviceKeyAttrs(n) }, ctx);
    if (!reply) throw errorFromKernel(3, { ...ctx, command: IPVS_CMD.GET_SERVICE });
    return serviceOf(reply);
  }

  /** Adds a service; unspecified settings take ipvsadm's defaults (wlc, not persistent). */
  async addService(key: ServiceKey, config: ServiceInput = {}): Promise<void> {
    await this.runOne(this.prepare({ type: 'add-service', service: key, config }));
  }

  /**
   * Changes some settings of a service and keeps the rest. The kernel's edit
   * replaces the whole entry, so the current entry is read first and merged:
   * scheduler, persistence, engine and flags not named in `patch` stay.
   */
  async editService(key: ServiceKey, patch: ServiceInput): Promise<void> {
    const current = await this.getService(key);
    const merged: ServiceInput = { ...current.config, ...patch };
    if ('persistenceEngine' in patch && !patch.persistenceEngine) delete merged.persistenceEngine;
    // Scheduler flags are named per scheduler: carry the bits over a change of scheduler.
    const config = completeServiceConfig(current.family, merged);
    await this.runOne(this.prepare({ type: 'edit-service', service: key, config }));
  }

  /** Replaces a service's whole configuration (the kernel's own edit). */
  async replaceService(key: ServiceKey, config: ServiceConfig): Promise<void> {
    await this.runOne(this.prepare({ type: 'edit-service', service: key, config }));
  }

  /** Deletes a service and its destinations. */
  async deleteService(key: ServiceKey): Promise<void> {
    await this.runOne(this.prepare({ type: 'delete-service', service: key }));
  }

  // ------------------------------------------------------------ destinations

  /**
   * The destinations of a service, in kernel order (newest first). Throws
   * {@link ServiceNotFoundError} when the service does not exist.
   *
   * The kernel's dump cannot tell on its own: it ends empty for a missing
   * service, and when the service is deleted between two parts of the dump
   * (the kernel locks per part) it just ends early, with no error. So the
   * service is looked up once the dump is over: a list cut short by a delete
   * is reported as the missing service it is (test/kernel/lib/scale.ts).
   */
  async listDestinations(service: ServiceKey): Promise<Destination[]> {
    const n = normalizeServiceKey(service);
    const replies = await this.doDump(IPVS_CMD.GET_DEST, { service: serviceKeyAttrs(n) }, { service: serviceKeyText(n.key) });
    await this.getService(n.key); // throws when the service is missing
    return replies.map((m) => destinationOf(m, n.family));
  }

  /** Adds a real server; unspecified settings take ipvsadm's defaults (route, weight 1). */
  async addDestination(service: ServiceKey, destination: DestinationKey, config: DestinationInput = {}): Promise<void> {
    await this.runOne(this.prepare({ type: 'add-destination', service, destination, config }));
  }

  /**
   * Changes some settings of a real server and keeps the rest (forwarding,
   * weight, thresholds and tunnel settings not named in `patch`).
   */
  async editDestination(service: ServiceKey, destination: DestinationKey, patch: DestinationInput): Promise<void> {
    const d = normalizeDestinationKey(destination);
    const current = (await this.listDestinations(service)).find(
      (x) => x.key.address === d.key.address && x.key.port === d.key.port,
    );
    if (!current) {
      const n = normalizeServiceKey(service);
      throw errorFromKernel(2, {
        command: IPVS_CMD.SET_DEST,
        service: serviceKeyText(n.key),
        destination: destinationKeyText(d.key),
      });
    }
    const config = completeDestinationConfig({ ...current.config, ...patch });
    await this.runOne(this.prepare({ type: 'edit-destination', service, destination, config }));
  }

  /** Replaces a real server's whole configuration (the kernel's own edit). */
  async replaceDestination(service: ServiceKey, destination: DestinationKey, config: DestinationConfig): Promise<void> {
    await this.runOne(this.prepare({ type: 'edit-destination', service, destination, config }));
  }

  /** Deletes a real server from a service. */
  async deleteDestination(service: ServiceKey, destination: DestinationKey): Promise<void> {
    await this.runOne(this.prepare({ type: 'delete-destination', service, destination }));
  }

  // ------------------------------------------------------------ snapshot

  /**
   * Every service with its destinations and their counters: one service
   * dump, then one destination dump per service, all in one round trip.
   * IPVS dumps are not atomic (the kernel holds its lock per chunk), so a
   * table changing meanwhile can show an entry twice or not at all;
   * duplicates are dropped here. A service deleted during the snapshot can
   * show some or none of its destinations (its dump ends early, without an
   * error); one untouched meanwhile is always complete.
   */
  async snapshot(): Promise<ServiceEntry[]> {
    const replies = await this.doDump(IPVS_CMD.GET_SERVICE, {}, {});
    const services = dedupe(replies.map(serviceOf)).map((s) => ({ ...s, destinations: [] as Destination[] }));
    await this.dumpDestinations(services, (e, m) => e.destinations.push(destinationOf(m, e.family)));
    return services;
  }

  /**
   * The rule set: every service and real server with its configuration, no
   * counters (what `ipvsadm -S` shows). Cheaper than {@link snapshot}; this
   * is what save, restore and reconciliation compare.
   */
  async rules(): Promise<ServiceRule[]> {
    const services = await this.serviceRules();
    await this.dumpDestinations(services, (e, m) => e.destinations.push(decodeDestinationRule(destView_(m), e.family)));
    return services;
  }

  /**
   * The rule set, one service at a time: `visit` gets each service with its
   * real servers as soon as its destination dump has ended, and nothing is
   * kept once it returns. For consumers that format and discard (a save of
   * 50,000 real servers): memory stays flat. Resolves with the number of
   * services visited.
   *
   * Options: `order` rearranges the services (read first, in one dump)
   * before their real servers are read, and they are visited in that order;
   * with `reuse`, the real-server objects handed to `visit` are refilled for
   * the next service, so `visit` must not keep them past its return.
   */
  async eachRule(visit: (rule: ServiceRule) => void, options: EachRuleOptions = {}): Promise<number> {
    const list = await this.serviceRules();
    options.order?.(list);
    const pool: DestinationRule[] = [];
    let pooled = 0;
    const make = options.reuse
      ? (): DestinationRule => {
          if (pooled === pool.length) pool.push(blankDestinationRule());
          return pool[pooled++] as DestinationRule;
        }
      : blankDestinationRule;
    let visited = 0;
    const table = options.fields === 'save' && list.length > 0 ? await this.procRuleTable() : undefined;
    if (table) {
      // Services the file describes in full are visited from it; the others
      // are dumped, a run at a time, and visited in their place in the order.
      let run: ServiceRule[] = [];
      const dumpRun = async (): Promise<void> => {
        const services = run;
        run = [];
        await this.dumpDestinations(
          services,
          (e, m) => void e.destinations.push(decodeDestinationRule(destView_(m), e.family)),
          (i) => {
            visited++;
            visit(services[i] as ServiceRule);
          },
        );
      };
      for (const s of list) {
        pooled = 0;
        if (table.destinations(procServiceName(s.key, s.family), make, s.destinations)) {
          if (run.length > 0) await dumpRun();
          visited++;
          visit(s);
        } else run.push(s);
      }
      if (run.length > 0) await dumpRun();
      return visited;
    }
    const services: (ServiceRule | undefined)[] = list;
    // Real servers of one service at a time: dumps are answered in order.
    await this.dumpDestinations(
      list,
      (e, m) => void e.destinations.push(decodeDestinationRuleInto(destView_(m), e.family, make())),
      (i) => {
        const rule = services[i];
        services[i] = undefined; // let it go once visited
        pooled = 0;
        if (rule) {
          visited++;
          visit(rule);
        }
      },
    );
    return visited;
  }

  /**
   * Every service's rule (no real servers yet), decoded where the replies
   * landed: no copy of each message (5,000 services are 1.5 MB of replies).
   */
  private async serviceRules(): Promise<ServiceRule[]> {
    const list: ServiceRule[] = [];
    let failures;
    try {
      failures = await this.conn.dumpEach(
        1,
        this.family.id,
        (_i, w) => w.genlHeader(IPVS_CMD.GET_SERVICE, IPVS_GENL_VERSION),
        commandLabel(IPVS_CMD.GET_SERVICE),
        (_i, m) => void list.push(decodeServiceRule(serviceView_(m))),
      );
    } catch (e) {
      throw this.translate(e, { command: IPVS_CMD.GET_SERVICE });
    }
    for (const err of failures.values()) throw this.translate(err, { command: IPVS_CMD.GET_SERVICE });
    return dedupe(list);
  }

  /** `/proc/net/ip_vs`, or undefined when it cannot be read (netlink then reads everything). */
  private async procRuleTable(): Promise<ProcRuleTable | undefined> {
    try {
      const text = await this.readProc('ip_vs');
      return new ProcRuleTable(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
    } catch {
      return undefined;
    }
  }

  private async dumpDestinations<E extends { key: ServiceKey; family: Family }>(
    services: E[],
    add: (entry: E, m: MessageRef) => void,
    ended?: (index: number) => void,
  ): Promise<void> {
    const enc = new BulkEncoder();
    let failures;
    try {
      failures = await this.conn.dumpEach(
        services.length,
        this.family.id,
        (i, w) => enc.writeQuery(IPVS_CMD.GET_DEST, (services[i] as E).key, w),
        'destination dump',
        (i, m) => add(services[i] as E, m),
        ended,
      );
    } catch (e) {
      throw this.translate(e, { command: IPVS_CMD.GET_DEST });
    }
    for (const [i, err] of failures) {
      throw this.translate(err, { command: IPVS_CMD.GET_DEST, service: serviceKeyText((services[i] as E).key) });
    }
  }

  // ------------------------------------------------------------ daemons, zero, flush

  /** Running sync daemons (master first). None running is `[]`. */
  async listDaemons(): Promise<SyncDaemon[]> {
    const replies = await this.doDump(IPVS_CMD.GET_DAEMON, {}, {});
    return replies.map((m) => decodeDaemon(genlAttrs(m, CMD_ATTRS).daemon as AttrValues));
  }

  /** Starts a connection sync daemon. */
  async startDaemon(daemon: SyncDaemon): Promise<void> {
    const ctx = { daemon: daemon.state, interface: daemon.interface };
    await this.doRequest(IPVS_CMD.NEW_DAEMON, { daemon: daemonAttrs(daemon) }, ctx);
  }

  /**
   * Stops the master or backup sync daemon.
   *
   * The DEL_DAEMON goes out without an ACK request, followed in the same
   * datagram by a GET_INFO that asks for one. The kernel (6.1) sends no
   * answer at all to a DEL_DAEMON that stops a sync thread which has not run
   * yet, as right after {@link startDaemon}: kthread_stop() returns -EINTR and
   * netlink_rcv_skb() takes -EINTR as "the answer comes later" (it is how
   * dumps work), so waiting for that ACK waits for ever; the daemon is
   * stopped all the same (seen in UML: test/kernel/lib/errors.ts). The kernel
   * handles a datagram's messages in order and answers a refusal (ESRCH) with
   * an error of its own, so the GET_INFO's answer proves the DEL_DAEMON was
   * handled, and any refusal of it has arrived first. (With `batchMessages:
   * 1` the two go in separate datagrams and the race is back.)
   */
  async stopDaemon(state: DaemonState): Promise<void> {
    const del = this.spec(IPVS_CMD.DEL_DAEMON, { daemon: { state: daemonStateNumber(state) } });
    const probe = this.spec(IPVS_CMD.GET_INFO, {});
    const ctx: ErrorContext = { daemon: state, command: IPVS_CMD.DEL_DAEMON };
    let failures;
    try {
      failures = await this.conn.batch(2, this.family.id, (i, w) => (i === 0 ? del : probe).write(w), 'del daemon');
    } catch (e) {
      throw this.translate(e, ctx);
    }
    const refused = failures.get(0);
    if (refused) throw this.translate(refused, ctx);
    const probeFailed = failures.get(1);
    if (probeFailed) throw this.translate(probeFailed, { ...ctx, command: IPVS_CMD.GET_INFO });
  }

  /** Zeroes counters: of one service (and its destinations), or of everything. */
  async zero(service?: ServiceKey): Promise<void> {
    await this.runOne(this.prepare(service ? { type: 'zero', service } : { type: 'zero' }));
  }

  /** Deletes every service and destination in the namespace. */
  async flush(): Promise<void> {
    await this.runOne(this.prepare({ type: 'flush' }));
  }

  // ------------------------------------------------------------ /proc

  /** The connection table (`/proc/net/ip_vs_conn`), templates included. */
  async connections(): Promise<Connection[]> {
    return parseConnections(await this.readProcFile('ip_vs_conn'));
  }

  /** Namespace totals (`/proc/net/ip_vs_stats`). */
  async totals(): Promise<Totals> {
    return parseTotals(await this.readProcFile('ip_vs_stats'));
  }

  private async readProcFile(file: 'ip_vs_conn' | 'ip_vs_stats'): Promise<string> {
    try {
      const text = await this.readProc(file);
      return typeof text === 'string' ? text : text.toString('utf8');
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === 2) throw ipvsNotAvailable();
      throw e;
    }
  }

  // ------------------------------------------------------------ bulk

  /**
   * Applies operations in order with as few system calls as the kernel
   * allows, and returns one result per operation.
   *
   * Every operation is checked first; if any is invalid, nothing is sent and
   * {@link InvalidOperationsError} lists them. The kernel carries on after a
   * refused operation, so later operations still run; each refusal is in its
   * own result. Order matters: add a service before its destinations.
   */
  async apply(operations: readonly Operation[]): Promise<ApplyResult> {
    const enc = new BulkEncoder();
    // First pass: check everything (the encoder's own checks, without
    // writing), keeping nothing: a load of 55,000 operations must not pin
    // 55,000 objects.
    const invalid: { index: number; error: IpvsError }[] = [];
    for (let index = 0; index < operations.length; index++) {
      const op = operations[index] as Operation;
      try {
        if (op !== null && typeof op === 'object' && isBulkOp(op)) enc.write(op, undefined);
        else this.prepare(op);
      } catch (e) {
        if (e instanceof IpvsError) invalid.push({ index, error: e });
        else throw e;
      }
    }
    if (invalid.length) throw new InvalidOperationsError(invalid);
    // Second pass: each operation is encoded straight into the datagram
    // being packed.
    let refused;
    try {
      refused = await this.conn.batch(
        operations.length,
        this.family.id,
        (i, w) => {
          const op = operations[i] as Operation;
          if (isBulkOp(op)) enc.write(op, w);
          else this.prepare(op).spec.write(w);
        },
        'bulk apply',
      );
    } catch (e) {
      throw this.translate(e, {});
    }
    const errors: (IpvsError | null)[] = new Array<IpvsError | null>(operations.length).fill(null);
    const failures: { index: number; operation: Operation; error: IpvsError }[] = [];
    for (const [index, err] of [...refused].sort((x, y) => x[0] - y[0])) {
      const operation = operations[index] as Operation;
      const ctx = this.prepare(operation).ctx();
      // These errors are results, not throws: a stack trace would only say
      // "apply()", and capturing 50,000 of them costs seconds.
      const error = stackless(() =>
        err instanceof NetlinkError ? errorFromKernel(err.errno, ctx, err.extack) : new KernelError(ERROR_CODES.KERNEL, err.message, err.errno, ctx),
      );
      errors[index] = error;
      failures.push({ index, operation, error });
    }
    return { errors, applied: operations.length - failures.length, failures };
  }

  private async runOne(p: Prepared): Promise<void> {
    try {
      await this.conn.request(p.spec, commandLabel((p.spec as GenlRequest).cmd));
    } catch (e) {
      throw this.translate(e, p.ctx());
    }
  }

  /** Checks and encodes one operation. Throws {@link InvalidArgumentError}. */
  private prepare(op: Operation): Prepared {
    if (op === null || typeof op !== 'object') throw invalidArgument('operation', 'must be an object');
    const svc = (): NormalKey => normalizeServiceKey((op as { service: ServiceKey }).service);
    switch (op.type) {
      case 'add-service':
      case 'edit-service': {
        const n = svc();
        const cfg = completeServiceConfig(n.family, op.config ?? {});
        const command = op.type === 'add-service' ? IPVS_CMD.NEW_SERVICE : IPVS_CMD.SET_SERVICE;
        const ctx = (): ErrorContext => {
          const c: ErrorContext = { command, service: serviceKeyText(n.key), scheduler: cfg.scheduler };
          if (cfg.persistenceEngine) c.persistenceEngine = cfg.persistenceEngine;
          return c;
        };
        return { spec: this.spec(command, { service: serviceAttrs(n, cfg) }), ctx };
      }
      case 'delete-service': {
        const n = svc();
        return {
          spec: this.spec(IPVS_CMD.DEL_SERVICE, { service: serviceKeyAttrs(n) }),
          ctx: () => ({ command: IPVS_CMD.DEL_SERVICE, service: serviceKeyText(n.key) }),
        };
      }
      case 'add-destination':
      case 'edit-destination':
      case 'delete-destination': {
        const n = svc();
        const d = normalizeDestinationKey(op.destination);
        const command =
          op.type === 'add-destination' ? IPVS_CMD.NEW_DEST : op.type === 'edit-destination' ? IPVS_CMD.SET_DEST : IPVS_CMD.DEL_DEST;
        const ctx = (): ErrorContext => ({ command, service: serviceKeyText(n.key), destination: destinationKeyText(d.key) });
        let dest: AttrValues;
        if (op.type === 'delete-destination') {
          dest = destinationKeyAttrs(d);
        } else {
          const cfg = completeDestinationConfig(op.config ?? {});
          checkMixedFamily(n, d.family, cfg.forwarding, d.key.address, d.key.port);
          dest = destinationAttrs(d, cfg);
        }
        return { spec: this.spec(command, { service: serviceKeyAttrs(n), dest }), ctx };
      }
      case 'zero': {
        if (!op.service) return { spec: this.spec(IPVS_CMD.ZERO, {}), ctx: () => ({ command: IPVS_CMD.ZERO }) };
        const n = svc();
        return {
          spec: this.spec(IPVS_CMD.ZERO, { service: serviceKeyAttrs(n) }),
          ctx: () => ({ command: IPVS_CMD.ZERO, service: serviceKeyText(n.key) }),
        };
      }
      case 'set-timeouts': {
        const t = op.timeouts ?? {};
        const a: AttrValues = {};
        const check = (field: string, v: number | undefined): number | undefined => {
          if (v === undefined) return undefined;
          if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw invalidArgument(`timeouts.${field}`, 'must be an integer number of seconds (0 keeps the current value)');
          return v;
        };
        const tcp = check('tcp', t.tcp);
        const fin = check('tcpFin', t.tcpFin);
        const udp = check('udp', t.udp);
        if (tcp !== undefined) a.timeoutTcp = tcp;
        if (fin !== undefined) a.timeoutTcpFin = fin;
        if (udp !== undefined) a.timeoutUdp = udp;
        return { spec: this.spec(IPVS_CMD.SET_CONFIG, a), ctx: () => ({ command: IPVS_CMD.SET_CONFIG }) };
      }
      case 'flush':
        return { spec: this.spec(IPVS_CMD.FLUSH, {}), ctx: () => ({ command: IPVS_CMD.FLUSH }) };
    }
    throw invalidArgument('operation.type', `unknown operation ${JSON.stringify((op as { type?: unknown }).type)}`);
  }
}

/**
 * Why the socket could not be opened, as an {@link IpvsError}: a `netns`
 * that is not a network namespace file (open gives ENOENT, setns EINVAL) is
 * a bad argument; entering a namespace needs CAP_SYS_ADMIN (EPERM).
 */
function socketOpenError(e: NetlinkSocketError, netns: string | undefined): IpvsError {
  const where = netns !== undefined ? ` in network namespace ${netns}` : '';
  if (netns !== undefined && (e.code === 'ENOENT' || e.code === 'ENOTDIR' || e.code === 'EINVAL')) {
    return new InvalidArgumentError(
      ERROR_CODES.INVALID_ARGUMENT,
      `netns: '${netns}' is not a network namespace file (${e.syscall}: ${e.code})`,
      e.errno,
      {},
      undefined,
      'netns',
    );
  }
  if (e.code === 'EPERM' || e.code === 'EACCES') {
    return new PermissionError(
      ERROR_CODES.PERMISSION,
      `permission denied opening a netlink socket${where} (${e.syscall}): entering a network namespace needs CAP_SYS_ADMIN`,
      e.errno,
    );
  }
  return new KernelError(ERROR_CODES.KERNEL, e.message, e.errno);
}

/**
 * Drops entries a non-atomic dump showed twice (first one wins); the list
 * itself when there are none, as almost always. Keys are hashed where they
 * lie into one table of indexes: an id string and a set entry per service
 * were a third of what reading 5,000 services allocated.
 */
function dedupe<T extends { key: ServiceKey }>(list: T[]): T[] {
  let size = 16;
  while (size < list.length * 2) size *= 2;
  const slots = new Int32Array(size).fill(-1);
  let twice: Uint8Array | undefined;
  for (let i = 0; i < list.length; i++) {
    const key = (list[i] as T).key;
    let h = serviceKeyHash(key) & (size - 1);
    for (let j = slots[h] as number; j >= 0; j = slots[h] as number) {
      if (sameServiceKey((list[j] as T).key, key)) {
        (twice ??= new Uint8Array(list.length))[i] = 1;
        break;
      }
      h = (h + 1) & (size - 1);
    }
    if (!twice?.[i]) slots[h] = i;
  }
  return twice ? list.filter((_s, i) => !(twice as Uint8Array)[i]) : list;
}

/** A 32-bit hash of a service key's identity (what {@link sameServiceKey} compares). */
function serviceKeyHash(key: ServiceKey): number {
  let h: number;
  if (isFwmarkKey(key)) h = Math.imul(key.fwmark ^ (key.family === 'ipv6' ? 0x5bd1e995 : 0), 0x9e3779b1);
  else {
    const p = key.protocol;
    h = Math.imul((typeof p === 'number' ? p : p.length * 131 + p.charCodeAt(0)) ^ (key.port << 8), 0x9e3779b1);
    const a = key.address;
    for (let k = 0; k < a.length; k++) h = Math.imul(h ^ a.charCodeAt(k), 0x01000193);
  }
  return (h ^ (h >>> 15)) >>> 0;
}

/** The same service as {@link serviceKeyText} tells them apart (keys as decoded: canonical addresses). */
function sameServiceKey(a: ServiceKey, b: ServiceKey): boolean {
  if (isFwmarkKey(a) || isFwmarkKey(b)) return isFwmarkKey(a) && isFwmarkKey(b) && a.fwmark === b.fwmark && (a.family === 'ipv6') === (b.family === 'ipv6');
  return a.protocol === b.protocol && a.port === b.port && a.address === b.address;
}

function commandLabel(cmd: number): string {
  for (const [k, v] of Object.entries(IPVS_CMD)) if (v === cmd) return k.toLowerCase().replace('_', ' ');
  return `command ${cmd}`;
}
