/**
 * Level-triggered reconciliation. Each pass reads the kernel's rules, computes
 * the desired state (configuration ∩ healthy, see desired.ts), adds the
 * drains (drain.ts), and applies the smallest change with one bulk apply():
 * edits in place, adds before removals, nothing touched that is already right.
 *
 * The agent owns only the services in its configuration (and those it is
 * retiring after they left it): the planner is scoped to them, so a service
 * created by anyone else is never read into a plan, edited or deleted.
 *
 * Because every pass starts from what the kernel holds, changes made behind
 * the agent's back (`ipvsadm -C`, `-d`, `-e`) are undone by the next pass;
 * nothing depends on remembering what was done before.
 * @module
 */
import type { Logger } from 'pino';
import type { ApplyResult, Operation } from '../ipvs/client';
import type { Destination, DestinationConfig, DestinationRule, ServiceKey, ServiceRule } from '../ipvs/model';
import { planChanges, sameDestinationConfig, sameServiceConfig, serviceId, type PlanSummary } from '../ipvs/plan';
import { serviceKeyText } from '../ipvs/codec';
import { formatAddrPort } from '../ipvs/address';
import { ServiceNotFoundError } from '../ipvs/errors';
import type { AgentConfig, DrainSettings, ServiceSpec } from './config/types';
import { desiredService, type DesiredService, type HealthOf } from './desired';
import { decideDrain, drainKey, drainsOnTimer, type DrainRecord } from './drain';
import { formatOperation } from './save-format';
import type { AgentState } from './state';

/** The part of {@link IpvsClient} a pass uses (the fake kernel and the real one both provide it). */
export interface KernelPort {
  rules(): Promise<ServiceRule[]>;
  /** The rule set one service at a time, nothing retained (what a pass reads). */
  eachRule(visit: (rule: ServiceRule) => void): Promise<number>;
  apply(operations: readonly Operation[]): Promise<ApplyResult>;
  listDestinations(service: ServiceKey): Promise<Destination[]>;
}

/** What a pass did. */
export interface PassReport {
  /** Wall time of the pass. */
  durationMs: number;
  /** The operations planned (applied unless a dry run). */
  operations: Operation[];
  summary: PlanSummary;
  /** Operations the kernel accepted. */
  applied: number;
  /** Operations the kernel refused. */
  failed: number;
  /** Indexes (in `operations`) of the refused ones. */
  refused: number[];
  /** True when the kernel now holds (as far as this pass knows) what is desired. */
  converged: boolean;
  dryRun: boolean;
  /** Set when the pass could not run (the kernel could not be read or written). */
  error?: Error;
}

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions {
  kernel: KernelPort;
  log: Logger;
  /** Health of a real server right now. */
  health: HealthOf;
  /** Clock (ms since the epoch), read once per pass. */
  now?: () => number;
  /** Plan and report, change nothing. */
  dryRun?: boolean;
}

/** A desired service indexed for comparison with a dumped one. */
interface DesiredIndexEntry {
  desired: DesiredService;
  /** Destination id (`198.51.100.11:80`) → configuration. */
  dests: Map<string, DestinationConfig>;
}

/** The desired state of every configured service, in configuration order, indexed. */
interface DesiredCache {
  desired: DesiredService[];
  index: Map<string, DesiredIndexEntry>;
  /** Service id → its position in `desired`. */
  position: Map<string, number>;
}

function indexEntry(d: DesiredService): DesiredIndexEntry {
  return { desired: d, dests: new Map(d.rule.destinations.map((x) => [destId(x), x.config])) };
}

/** True when a dumped service is exactly its desired state (configuration and every real server). */
function sameAsDesired(rule: ServiceRule, want: DesiredIndexEntry): boolean {
  if (rule.destinations.length !== want.dests.size || !sameServiceConfig(rule.config, want.desired.rule.config)) return false;
  for (const d of rule.destinations) {
    const w = want.dests.get(destId(d));
    if (!w || !sameDestinationConfig(d.config, w)) return false;
  }
  return true;
}

/** A destination of the pass's reading of the kernel, by service and destination id. */
type DestIndex = Map<string, Map<string, DestinationRule>>;

const destId = (d: { key: { address: string; port: number } }): string => formatAddrPort(d.key.address, d.key.port);

/** Runs reconciliation passes for one configuration at a time. */
export class Reconciler {
  private config: AgentConfig = { intervalMs: 5000, drain: { timeoutMs: 300_000, udpTimeoutMs: 0 }, services: [] };
  private specs = new Map<string, ServiceSpec>();
  /** Configured and retiring services, by id. */
  private owned = new Map<string, ServiceKey>();
  private drains = new Map<string, DrainRecord>();
  private quorum = new Map<string, boolean>();
  private sorry = new Map<string, boolean>();
  private version = 0;
  private cache: DesiredCache | undefined;
  /** Services whose desired state must be recomputed ('all' after a configuration change). */
  private dirty: Set<string> | 'all' = 'all';
  private lastConverged: { version: number } | undefined;
  private stateDirty = false;
  private readonly now: () => number;
  /** The latest desired state per service (for /status and metrics). */
  latest = new Map<string, DesiredService>();

  constructor(private readonly opts: ReconcilerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Sets the configuration. Services that leave it (and services the
   * persisted state says the agent owned) stay owned until retired: their
   * real servers drain, then the service is deleted.
   */
  setConfig(config: AgentConfig, persisted?: AgentState): void {
    if (persisted) {
      for (const k of persisted.owned) this.owned.set(serviceId(k), k);
      for (const d of persisted.drains) this.drains.set(drainKey(d.serviceId, d.destinationId), d);
    }
    this.config = config;
    this.specs = new Map(config.services.map((s) => [s.id, s]));
    for (const s of config.services) this.owned.set(s.id, s.key);
    for (const id of [...this.quorum.keys()]) if (!this.specs.has(id)) this.quorum.delete(id);
    this.stateDirty = true;
    this.invalidate();
  }

  /** The configuration in use. */
  get current(): AgentConfig {
    return this.config;
  }

  /**
   * Health verdicts changed: the next pass recomputes the desired state of
   * `serviceId` (an id as in {@link ServiceSpec.id}), or of every service.
   */
  invalidate(serviceId?: string): void {
    this.version++;
    if (serviceId === undefined) this.dirty = 'all';
    else if (this.dirty !== 'all') this.dirty.add(serviceId);
  }

  /** True when a service is the agent's (configured or being retired). */
  owns(key: ServiceKey): boolean {
    return this.owned.has(serviceId(key));
  }

  /** The owned services' keys. */
  ownedKeys(): ServiceKey[] {
    return [...this.owned.values()];
  }

  /** Running drains. */
  drainRecords(): DrainRecord[] {
    return [...this.drains.values()];
  }

  /** The state to persist, and whether it changed since the last call. */
  takeState(): { state: AgentState; dirty: boolean } {
    const dirty = this.stateDirty;
    this.stateDirty = false;
    return { state: { owned: this.ownedKeys(), drains: this.drainRecords() }, dirty };
  }

  private desired(): DesiredCache {
    const cache = this.cache;
    if (cache && this.dirty !== 'all') {
      // Only the services whose health changed are recomputed: one real
      // server's verdict must not cost a walk over 50,000 of them.
      for (const id of this.dirty) {
        const pos = cache.position.get(id);
        const spec = this.specs.get(id);
        if (pos === undefined || !spec) continue;
        const d = this.evaluate(spec);
        cache.desired[pos] = d;
        cache.index.set(id, indexEntry(d));
      }
      this.dirty.clear();
      return cache;
    }
    const desired = this.config.services.map((spec) => this.evaluate(spec));
    for (const id of [...this.latest.keys()]) if (!this.specs.has(id)) this.latest.delete(id);
    this.cache = {
      desired,
      index: new Map(desired.map((d) => [d.spec.id, indexEntry(d)])),
      position: new Map(desired.map((d, i) => [d.spec.id, i])),
    };
    this.dirty = new Set();
    return this.cache;
  }

  /** The desired state of one service now, logging quorum and sorry-server transitions. */
  private evaluate(spec: ServiceSpec): DesiredService {
    const { log } = this.opts;
    const prevQ = this.quorum.get(spec.id);
    const d = desiredService(spec, this.opts.health, prevQ);
    if (d.quorumMet !== undefined && d.quorumMet !== prevQ) {
      this.quorum.set(spec.id, d.quorumMet);
      const q = spec.quorum;
      const fields = { service: spec.name, vip: spec.id, healthyWeight: d.healthyWeight, min: q?.min, hysteresis: q?.hysteresis, onLost: q?.onLost };
      if (!d.quorumMet) log.warn({ event: 'quorum-lost', ...fields }, `${spec.name}: below quorum`);
      else if (prevQ === false) log.info({ event: 'quorum-regained', ...fields }, `${spec.name}: quorum regained`);
    }
    const prevSorry = this.sorry.get(spec.id) ?? false;
    if (d.sorryActive !== prevSorry) {
      this.sorry.set(spec.id, d.sorryActive);
      log.warn(
        { event: d.sorryActive ? 'sorry-server-on' : 'sorry-server-off', service: spec.name, vip: spec.id, sorryServer: spec.sorryServer?.id },
        d.sorryActive ? `${spec.name}: sorry server in use` : `${spec.name}: sorry server no longer needed`,
      );
    }
    this.latest.set(spec.id, d);
    return d;
  }

  /** One reconciliation pass. Never throws: a failed pass is reported and the next one tries again. */
  async pass(): Promise<PassReport> {
    const started = performance.now();
    const dryRun = this.opts.dryRun ?? false;
    const report = (r: Omit<PassReport, 'durationMs' | 'dryRun'>): PassReport => ({ ...r, durationMs: performance.now() - started, dryRun });
    const empty: PlanSummary = { addServices: 0, editServices: 0, deleteServices: 0, addDestinations: 0, editDestinations: 0, deleteDestinations: 0, unchanged: 0 };
    const version = this.version;
    const { desired, index } = this.desired();
    // One streaming dump, compared service by service with the desired
    // state as it arrives: equal services are dropped at once, so a
    // converged table costs a dump and nothing is planned. Only services
    // that differ (or are missing, or being retired) are kept and planned.
    const current: ServiceRule[] = [];
    const present = new Set<string>();
    try {
      await this.opts.kernel.eachRule((rule) => {
        // Dumped keys are canonical already (inet_ntop form).
        const id = serviceKeyText(rule.key);
        if (!this.owned.has(id)) return; // not the agent's: not even looked at
        present.add(id);
        const want = index.get(id);
        if (!want || !sameAsDesired(rule, want)) current.push(rule);
      });
    } catch (e) {
      this.opts.log.error({ event: 'pass-failed', err: e }, `cannot read the kernel's rules: ${(e as Error).message}`);
      return report({ operations: [], summary: empty, applied: 0, failed: 0, refused: [], converged: false, error: e as Error });
    }
    const differing = new Set(current.map((r) => serviceKeyText(r.key)));
    const subset = desired.filter((d) => !present.has(d.spec.id) || differing.has(d.spec.id));
    const owns = (k: ServiceKey): boolean => this.owned.has(serviceId(k));
    let plan = planChanges(current, subset.map((d) => d.rule), { owns });

    // Fast path: nothing to remove and nothing draining.
    const removals = plan.summary.deleteDestinations + plan.summary.deleteServices;
    const now = this.now();
    const decisions = new Map<string, string>();
    const drainSteps = new Set<string>();
    if (removals > 0 || this.drains.size > 0) {
      const overlay = await this.drainOverlay(current, desired, subset, plan.operations, now, decisions, drainSteps);
      if (overlay) plan = planChanges(current, overlay, { owns });
    }

    const ops = plan.operations;
    if (dryRun) {
      for (const op of ops) this.opts.log.info({ event: 'would-change', action: op.type, ...opFields(op), command: formatOperation(op) }, `would run: ${formatOperation(op)}`);
      return report({ operations: ops, summary: plan.summary, applied: 0, failed: 0, refused: [], converged: ops.length === 0 });
    }
    if (ops.length === 0) {
      this.lastConverged = { version };
      this.retireGone(present);
      return report({ operations: ops, summary: plan.summary, applied: 0, failed: 0, refused: [], converged: true });
    }
    let result: ApplyResult;
    try {
      result = await this.opts.kernel.apply(ops);
    } catch (e) {
      this.opts.log.error({ event: 'pass-failed', err: e }, `cannot apply ${ops.length} change(s): ${(e as Error).message}`);
      return report({ operations: ops, summary: plan.summary, applied: 0, failed: ops.length, refused: ops.map((_o, i) => i), converged: false, error: e as Error });
    }
    // A change while nothing the agent knows of changed is a repair of drift.
    const drift = this.lastConverged?.version === version;
    const reasons = new Map<string, DesiredService>(desired.map((d) => [d.spec.id, d]));
    ops.forEach((op, i) => {
      const err = result.errors[i];
      // Plans hold service and destination operations only.
      const sid = serviceId((op as { service: ServiceKey }).service);
      const spec = this.specs.get(sid);
      const did = 'destination' in op ? formatAddrPort(op.destination.address, op.destination.port) : undefined;
      const why = (did !== undefined ? decisions.get(drainKey(sid, did)) : undefined) ?? reasonOf(op, reasons.get(sid), did);
      // Drain steps happen on their own clock; anything else without a new desired state is a repair.
      const repair = drift && !drainSteps.has(drainKey(sid, did ?? ''));
      const fields = { action: op.type, service: spec?.name ?? sid.replace(/^service /, ''), ...opFields(op), reason: why, ...(repair ? { repair: true } : {}) };
      if (err) this.opts.log.error({ event: 'kernel-change-failed', ...fields, code: err.code, errno: err.errnoName, err: err.message }, `${formatOperation(op)} failed: ${err.message}`);
      else this.opts.log.info({ event: 'kernel-change', ...fields }, `${formatOperation(op)} (${why})`);
    });
    const converged = result.failures.length === 0;
    if (converged) this.lastConverged = { version };
    else this.lastConverged = undefined;
    // Retired services that are now gone leave the owned set.
    const deleted = new Set<string>();
    ops.forEach((op, i) => {
      if (op.type === 'delete-service' && !result.errors[i]) deleted.add(serviceId(op.service));
    });
    this.retireGone(present, deleted);
    return report({ operations: ops, summary: plan.summary, applied: result.applied, failed: result.failures.length, refused: result.failures.map((f) => f.index), converged });
  }

  /** Drops retiring services that no longer exist in the kernel (not `present`, or just `deleted`) from the owned set. */
  private retireGone(present: ReadonlySet<string>, deleted = new Set<string>()): void {
    for (const [id] of this.owned) {
      if (this.specs.has(id)) continue;
      if (!present.has(id) || deleted.has(id)) {
        this.owned.delete(id);
        this.stateDirty = true;
        for (const [k, d] of this.drains) if (d.serviceId === id) this.drains.delete(k);
      }
    }
  }

  /**
   * Turns the plan's removals into drains where they should be: returns the
   * desired rules of `subset` with the held (weight 0) destinations added, or
   * undefined when the first plan stands. `current` holds the services that
   * differ from their desired state (the only ones a drain can be in).
   * Records what was decided in `decisions`.
   */
  private async drainOverlay(
    current: readonly ServiceRule[],
    desired: readonly DesiredService[],
    subset: readonly DesiredService[],
    ops: readonly Operation[],
    now: number,
    decisions: Map<string, string>,
    drainSteps: Set<string>,
  ): Promise<ServiceRule[] | undefined> {
    const { log } = this.opts;
    const byId = new Map<string, ServiceRule>(current.map((s) => [serviceId(s.key), s]));
    const wanted = new Map<string, DesiredService>(desired.map((d) => [d.spec.id, d]));
    const index: DestIndex = new Map();
    const destsOf = (sid: string): Map<string, DestinationRule> => {
      let m = index.get(sid);
      if (!m) {
        m = new Map((byId.get(sid)?.destinations ?? []).map((d) => [destId(d), d]));
        index.set(sid, m);
      }
      return m;
    };

    // Candidates: destinations the plan would delete that did not fail a check.
    const candidates: { sid: string; key: ServiceKey; dest: DestinationRule; reason: string }[] = [];
    for (const op of ops) {
      if (op.type === 'delete-destination') {
        const sid = serviceId(op.service);
        const did = formatAddrPort(op.destination.address, op.destination.port);
        const d = wanted.get(sid);
        if (d?.failed.has(did)) continue;
        const dest = destsOf(sid).get(did);
        if (!dest) continue;
        const reason = d?.spec.sorryServer?.id === did ? 'sorry server no longer needed' : 'not in the configuration';
        candidates.push({ sid, key: op.service, dest, reason });
      } else if (op.type === 'delete-service') {
        const sid = serviceId(op.service);
        for (const dest of destsOf(sid).values()) candidates.push({ sid, key: op.service, dest, reason: 'its service left the configuration' });
      }
    }
    // Drains whose real server is wanted again, or gone, end here.
    const candidateKeys = new Set(candidates.map((c) => drainKey(c.sid, destId(c.dest))));
    for (const [k, rec] of this.drains) {
      if (candidateKeys.has(k)) continue;
      const inKernel = destsOf(rec.serviceId).has(rec.destinationId);
      const desiredAgain = wanted.get(rec.serviceId)?.rule.destinations.some((d) => destId(d) === rec.destinationId) ?? false;
      // Still in the kernel at weight 0 and still unwanted: a candidate again (the plan left it alone).
      if (inKernel && !desiredAgain) {
        const dest = destsOf(rec.serviceId).get(rec.destinationId) as DestinationRule;
        candidates.push({ sid: rec.serviceId, key: rec.service, dest, reason: rec.reason });
        continue;
      }
      this.drains.delete(k);
      this.stateDirty = true;
      const fields = { service: this.specs.get(rec.serviceId)?.name ?? rec.serviceId, vip: rec.serviceId, realServer: rec.destinationId };
      if (desiredAgain) log.info({ event: 'drain-cancelled', ...fields }, `${rec.destinationId}: drain cancelled, it is wanted again`);
      else log.info({ event: 'drain-finished', ...fields, why: 'gone', drainedMs: now - rec.startedAt }, `${rec.destinationId}: drain over, it was removed from the kernel`);
    }
    if (candidates.length === 0) return undefined;

    // Connection counts of the services concerned (one dump each).
    const conns = new Map<string, Map<string, number>>();
    await Promise.all(
      [...new Set(candidates.map((c) => c.sid))].map(async (sid) => {
        const key = (byId.get(sid) as ServiceRule).key;
        let list: Destination[] = [];
        try {
          list = await this.opts.kernel.listDestinations(key);
        } catch (e) {
          if (!(e instanceof ServiceNotFoundError)) throw e;
        }
        conns.set(sid, new Map(list.map((d) => [destId(d), d.activeConns + d.inactiveConns])));
      }),
    );

    const held = new Map<string, DestinationRule[]>();
    for (const c of candidates) {
      const did = destId(c.dest);
      const k = drainKey(c.sid, did);
      const spec = this.specs.get(c.sid);
      const svc = byId.get(c.sid) as ServiceRule;
      // A retiring service has no spec any more: the top-level settings apply.
      const settings: DrainSettings = spec?.drain ?? this.config.drain;
      const n = conns.get(c.sid)?.get(did) ?? 0;
      const decision = decideDrain({
        existing: this.drains.get(k),
        connections: n,
        now,
        settings,
        timerBased: drainsOnTimer(svc.key, svc.config.onePacket),
        make: () => ({ service: svc.key, serviceId: c.sid, destination: c.dest.key, destinationId: did, reason: c.reason }),
      });
      const fields = { service: spec?.name ?? c.sid.replace(/^service /, ''), vip: c.sid, realServer: did, connections: n };
      if (decision.action === 'hold' || decision.record) drainSteps.add(k);
      if (decision.action === 'hold') {
        if (decision.started) {
          this.drains.set(k, decision.record);
          this.stateDirty = true;
          log.info(
            { event: 'drain-started', ...fields, reason: c.reason, deadline: new Date(decision.record.deadline).toISOString() },
            `${did}: draining (${c.reason}), ${n} connection(s), deadline in ${Math.round((decision.record.deadline - now) / 1000)} s`,
          );
          decisions.set(k, `drain started: ${c.reason}`);
        } else decisions.set(k, `draining: ${c.reason}`);
        const list = held.get(c.sid) ?? [];
        list.push({ key: c.dest.key, family: c.dest.family, config: { ...c.dest.config, weight: 0 } });
        held.set(c.sid, list);
      } else {
        if (decision.record) {
          this.drains.delete(k);
          this.stateDirty = true;
          log.info(
            { event: 'drain-finished', ...fields, why: decision.why, drainedMs: now - decision.record.startedAt },
            `${did}: drain finished (${decision.why})`,
          );
        }
        decisions.set(k, `${c.reason}; ${decision.why}`);
      }
    }
    if (held.size === 0) return undefined;
    // The same subset as the first plan: services equal to their desired state stay out of it.
    const out: ServiceRule[] = subset.map((d) => {
      const extra = held.get(d.spec.id);
      return extra ? { ...d.rule, destinations: [...d.rule.destinations, ...extra] } : d.rule;
    });
    // A retiring service stays, as it is, while its real servers drain.
    for (const [sid, extra] of held) {
      if (wanted.has(sid)) continue;
      const svc = byId.get(sid) as ServiceRule;
      out.push({ key: svc.key, family: svc.family, config: svc.config, destinations: extra });
    }
    return out;
  }

  /** Operations that delete every owned service (for --cleanup-on-exit). */
  cleanupOperations(current: readonly ServiceRule[]): Operation[] {
    return current.filter((s) => this.owned.has(serviceId(s.key))).map((s) => ({ type: 'delete-service', service: s.key }) as Operation);
  }
}

/** The objects an operation names, as log fields. */
export function opFields(op: Operation): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  if ('service' in op && op.service) f.vip = serviceId(op.service).replace(/^service /, '');
  if ('destination' in op) f.realServer = formatAddrPort(op.destination.address, op.destination.port);
  if ('config' in op && op.config) f.config = op.config;
  return f;
}

function reasonOf(op: Operation, d: DesiredService | undefined, did: string | undefined): string {
  switch (op.type) {
    case 'add-service':
      return 'configured';
    case 'edit-service':
      return 'configuration differs';
    case 'delete-service':
      return 'retired: it left the configuration';
    default: {
      const r = did !== undefined ? d?.reasons.get(did) : undefined;
      if (r) return r;
      return op.type === 'delete-destination' ? 'not in the configuration' : 'configured';
    }
  }
}
