/**
 * The agent's life cycle: configuration, health subscriptions, the pass
 * loop, reloads, the snapshot file, the state directory, and stopping
 * without flushing.
 *
 * Passes run one at a time: every `interval`, and at once (coalesced) when a
 * health verdict changes or the configuration is reloaded.
 * @module
 */
import type { Logger } from 'pino';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Operation } from '../ipvs/client';
import type { ServiceEntry, ServiceRule } from '../ipvs/model';
import { serviceId } from '../ipvs/plan';
import type { HealthChange, HealthSource, ProbeResult, Subscription } from './checks/types';
import { loadConfig } from './config/load';
import type { AgentConfig, RealServerSpec, ServiceSpec } from './config/types';
import { ConfigError, formatProblem } from './config/validate';
import { writeFileAtomic } from './files';
import { Reconciler, opFields, type KernelPort, type PassReport } from './reconciler';
import { formatOperation, formatSave, ipvsadmOrder } from './save-format';
import { StateStore } from './state';
import { AgentMetrics } from './metrics';

/** The kernel as the agent uses it: a pass's needs plus counters for /metrics. */
export interface AgentKernel extends KernelPort {
  snapshot(): Promise<ServiceEntry[]>;
}

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** The configuration file (YAML or JSON). */
  configFile: string;
  kernel: AgentKernel;
  health: HealthSource;
  log: Logger;
  /** Where state.json (owned services, drains) and, by default, the snapshot live. None: nothing is persisted. */
  stateDir?: string;
  /** The ipvsadm-save snapshot of the agent's rules (default `<stateDir>/rules.save`; none without a state dir). */
  snapshotFile?: string;
  /** Plan and report, change nothing. */
  dryRun?: boolean;
  /** On stop, delete the services the agent owns (never anything else). */
  cleanupOnExit?: boolean;
  now?: () => number;
}

/** The subscription id of a real server of a service: `tcp/192.0.2.10:80/192.0.2.11:80`. */
export function subscriptionId(service: ServiceSpec, rs: RealServerSpec): string {
  return `${service.id.replace(/^service /, '').replace(/ /g, '/')}/${rs.id}`;
}

/** The agent. Construct, {@link start}, and {@link stop} when done. */
export class Agent {
  readonly reconciler: Reconciler;
  readonly metrics = new AgentMetrics();
  private readonly store: StateStore;
  private readonly snapshotFile: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = false;
  private immediate: NodeJS.Immediate | undefined;
  private stopped = false;
  private snapshotWritten = false;
  /** Subscription id → the real server it is for. */
  private subs = new Map<string, { service: ServiceSpec; rs: RealServerSpec; sub: Subscription }>();
  /** The same, by real server (the desired-state computation asks per real server). */
  private subByRs = new Map<RealServerSpec, Subscription>();
  /** Latest probe per subscription id (for /metrics and /status). */
  readonly probes = new Map<string, ProbeResult>();
  lastPass: (PassReport & { at: number }) | undefined;
  readonly startedAt = Date.now();

  constructor(private readonly opts: AgentOptions) {
    this.store = new StateStore(opts.dryRun ? undefined : opts.stateDir);
    this.snapshotFile = opts.snapshotFile ?? (opts.stateDir && !opts.dryRun ? join(opts.stateDir, 'rules.save') : undefined);
    this.reconciler = new Reconciler({
      kernel: opts.kernel,
      log: opts.log,
      health: (service, rs) => this.healthOf(service, rs),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
    });
    opts.health.on('change', (c) => this.onHealthChange(c));
    opts.health.on('probe', (ids, result) => {
      for (const id of ids) this.probes.set(id, result);
      this.metrics.probe(result);
    });
  }

  /** The configuration in use. */
  get config(): AgentConfig {
    return this.reconciler.current;
  }

  private healthOf(_service: ServiceSpec, rs: RealServerSpec): boolean {
    const sub = this.subByRs.get(rs);
    if (!sub) return rs.check?.initial === 'up';
    return this.opts.health.health(sub.id)?.healthy ?? sub.check.initial === 'up';
  }

  private onHealthChange(c: HealthChange): void {
    const s = this.subs.get(c.id);
    if (!s) return;
    this.opts.log[c.healthy ? 'info' : 'warn'](
      {
        event: c.healthy ? 'health-up' : 'health-down',
        service: s.service.name,
        vip: s.service.id.replace(/^service /, ''),
        realServer: s.rs.id,
        check: s.sub.check.kind,
        reason: c.result.reason,
        latencyMs: c.result.latencyMs,
      },
      `${s.rs.id} (${s.service.name}) is ${c.healthy ? 'up' : 'down'}: ${c.result.reason}`,
    );
    this.reconciler.invalidate(s.service.id);
    this.soon();
  }

  /**
   * Loads the configuration and the state, subscribes the checks, runs the
   * first pass and starts the loop. Throws {@link ConfigError} (having
   * changed nothing) when the configuration is invalid.
   */
  async start(): Promise<PassReport> {
    const config = await loadConfig(this.opts.configFile);
    // Made now, so a directory the agent cannot write is reported before any change.
    if (this.opts.stateDir && !this.opts.dryRun) await mkdir(this.opts.stateDir, { recursive: true, mode: 0o750 });
    if (this.snapshotFile) await mkdir(dirname(this.snapshotFile), { recursive: true });
    const state = await this.store.load((why, movedTo) =>
      this.opts.log.error({ event: 'state-damaged', file: this.store.file, why, movedTo }, `state file damaged (${why}); set aside as ${movedTo}, starting without it`),
    );
    await this.subscribe(config);
    this.reconciler.setConfig(config, state);
    this.opts.log.info(
      { event: 'start', config: this.opts.configFile, services: config.services.length, realServers: count(config), drains: state.drains.length, dryRun: !!this.opts.dryRun },
      `managing ${config.services.length} service(s) from ${this.opts.configFile}`,
    );
    await this.exclusive(() => this.runPass(false));
    return this.lastPass as PassReport;
  }

  /** Starts the periodic loop (after {@link start}). */
  loop(): void {
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => this.requestPass(), this.config.intervalMs);
  }

  /** Runs a pass soon, coalescing requests made in the same turn of the event loop. */
  private soon(): void {
    if (this.stopped || this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.requestPass();
    });
  }

  /** Runs a pass now, or right after the one in progress. */
  requestPass(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    void this.exclusive(() => this.runPass(true));
  }

  /**
   * Runs `fn` while nothing else runs: passes and reloads never overlap, so
   * a pass never mixes two configurations.
   */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running) await this.running;
    const p = fn();
    this.running = p.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await p;
    } finally {
      this.running = undefined;
      if (this.pending && !this.stopped) {
        this.pending = false;
        this.requestPass();
      }
    }
  }

  private async runPass(rearm: boolean): Promise<void> {
    clearTimeout(this.timer);
    const report = await this.reconciler.pass();
    this.lastPass = { ...report, at: Date.now() };
    this.metrics.pass(report);
    if (!report.dryRun) {
      try {
        if (report.applied > 0 || !this.snapshotWritten) await this.writeSnapshot();
        const { state, dirty } = this.reconciler.takeState();
        if (dirty) await this.store.save(state);
      } catch (e) {
        this.opts.log.error({ event: 'write-failed', err: e }, `cannot write the agent's files: ${(e as Error).message}`);
      }
    }
    if (rearm) this.arm();
  }

  private async writeSnapshot(): Promise<void> {
    if (!this.snapshotFile) return;
    const rules = (await this.opts.kernel.rules()).filter((s) => this.reconciler.owns(s.key));
    await writeFileAtomic(this.snapshotFile, formatSave(ipvsadmOrder(rules)));
    this.snapshotWritten = true;
    this.opts.log.debug({ event: 'snapshot-written', file: this.snapshotFile, services: rules.length }, `snapshot written to ${this.snapshotFile}`);
  }

  /**
   * (Re)builds the health subscriptions. A real server that is serving in
   * the kernel (weight > 0) when its subscription starts keeps serving until
   * its check says otherwise (initial `up`): a restart or a reload must not
   * take working servers out while the first probes run.
   */
  private async subscribe(config: AgentConfig): Promise<void> {
    let current: ServiceRule[] = [];
    try {
      current = await this.opts.kernel.rules();
    } catch (e) {
      this.opts.log.warn({ event: 'kernel-unreadable', err: e }, `cannot read the kernel's rules to adopt serving real servers: ${(e as Error).message}`);
    }
    const serving = new Set<string>();
    for (const s of current) {
      const sid = serviceId(s.key);
      for (const d of s.destinations) if (d.config.weight > 0) serving.add(`${sid}|${d.key.address}|${d.key.port}`);
    }
    const next = new Map<string, { service: ServiceSpec; rs: RealServerSpec; sub: Subscription }>();
    for (const service of config.services) {
      for (const rs of service.realServers) {
        if (!rs.check) continue;
        const id = subscriptionId(service, rs);
        const old = this.subs.get(id);
        let check = rs.check;
        if (old && sameCheck(old.rs.check, rs.check)) check = old.sub.check;
        else if (serving.has(`${service.id}|${rs.key.address}|${rs.key.port}`)) check = { ...rs.check, initial: 'up' };
        const sub: Subscription = { id, target: { address: rs.check.address ?? rs.key.address, port: rs.check.port ?? rs.key.port }, check };
        next.set(id, { service, rs, sub });
      }
    }
    this.subs = next;
    this.subByRs = new Map([...next.values()].map((s) => [s.rs, s.sub]));
    this.opts.health.update([...next.values()].map((s) => s.sub));
    for (const id of [...this.probes.keys()]) if (!next.has(id)) this.probes.delete(id);
  }

  /**
   * Reloads the configuration file. An invalid file changes nothing: the
   * agent keeps running the old configuration and logs why. Returns whether
   * the new file was accepted.
   */
  async reload(): Promise<boolean> {
    let config: AgentConfig;
    try {
      config = await loadConfig(this.opts.configFile);
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems.map(formatProblem) : [(e as Error).message];
      this.metrics.reload(false);
      this.opts.log.error(
        { event: 'reload-refused', config: this.opts.configFile, problems },
        `reload refused, still running the previous configuration: ${problems.join('; ')}`,
      );
      return false;
    }
    const before = new Set(this.config.services.map((s) => s.id));
    const after = new Set(config.services.map((s) => s.id));
    await this.exclusive(async () => {
      await this.subscribe(config);
      this.reconciler.setConfig(config);
    });
    this.metrics.reload(true);
    this.opts.log.info(
      {
        event: 'reload-accepted',
        config: this.opts.configFile,
        services: config.services.length,
        added: [...after].filter((id) => !before.has(id)).map((id) => id.replace(/^service /, '')),
        removed: [...before].filter((id) => !after.has(id)).map((id) => id.replace(/^service /, '')),
      },
      `configuration reloaded: ${config.services.length} service(s)`,
    );
    this.requestPass();
    return true;
  }

  /** Waits for the pass in progress (and any requested after it). */
  async settle(): Promise<void> {
    while (this.running || this.immediate) {
      if (this.running) await this.running;
      else await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Stops: no more passes, checks stopped, state saved. The kernel is left
   * as it is (never flushed); with `cleanupOnExit`, the owned services — and
   * only they — are deleted.
   */
  async stop(reason = 'stop'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    await this.running;
    await this.opts.health.stop();
    let removed = 0;
    if (this.opts.cleanupOnExit && !this.opts.dryRun) {
      try {
        const ops: Operation[] = this.reconciler.cleanupOperations(await this.opts.kernel.rules());
        const result = await this.opts.kernel.apply(ops);
        ops.forEach((op, i) => {
          const err = result.errors[i];
          if (err) this.opts.log.error({ event: 'kernel-change-failed', action: op.type, ...opFields(op), reason: 'cleanup on exit', err: err.message }, `${formatOperation(op)} failed: ${err.message}`);
          else this.opts.log.info({ event: 'kernel-change', action: op.type, ...opFields(op), reason: 'cleanup on exit' }, `${formatOperation(op)} (cleanup on exit)`);
        });
        removed = result.applied;
      } catch (e) {
        this.opts.log.error({ event: 'cleanup-failed', err: e }, `cleanup on exit failed: ${(e as Error).message}`);
      }
    }
    try {
      const { state, dirty } = this.reconciler.takeState();
      if (dirty) await this.store.save(state);
    } catch (e) {
      this.opts.log.error({ event: 'write-failed', err: e }, `cannot save the state: ${(e as Error).message}`);
    }
    this.opts.log.info({ event: 'stop', reason, cleanup: !!this.opts.cleanupOnExit, removedServices: removed }, `stopped (${reason}); kernel rules left in place${this.opts.cleanupOnExit ? `, except ${removed} owned service(s) removed` : ''}`);
  }

  /** The agent's view for /status (JSON-ready). */
  status(): Record<string, unknown> {
    const lp = this.lastPass;
    return {
      config: this.opts.configFile,
      startedAt: new Date(this.startedAt).toISOString(),
      intervalMs: this.config.intervalMs,
      dryRun: !!this.opts.dryRun,
      lastPass: lp && {
        at: new Date(lp.at).toISOString(),
        durationMs: Math.round(lp.durationMs * 100) / 100,
        operations: lp.operations.length,
        applied: lp.applied,
        failed: lp.failed,
        converged: lp.converged,
        error: lp.error?.message,
      },
      services: this.config.services.map((s) => {
        const d = this.reconciler.latest.get(s.id);
        return {
          name: s.name,
          vip: s.id.replace(/^service /, ''),
          scheduler: s.config.scheduler,
          failurePolicy: s.failurePolicy,
          healthyCount: d?.healthyCount,
          healthyWeight: d?.healthyWeight,
          quorum: s.quorum && { ...s.quorum, met: d?.quorumMet },
          sorryServer: s.sorryServer && { address: s.sorryServer.id, active: d?.sorryActive ?? false },
          realServers: s.realServers.map((rs) => {
            const id = subscriptionId(s, rs);
            const h = rs.check ? this.opts.health.health(id) : undefined;
            const inDesired = d?.rule.destinations.find((x) => x.key.address === rs.key.address && x.key.port === rs.key.port);
            return {
              address: rs.id,
              weight: rs.config.weight,
              forwarding: rs.config.forwarding,
              healthy: rs.check ? (h?.healthy ?? null) : true,
              since: h ? new Date(h.since).toISOString() : undefined,
              check: rs.check?.kind ?? 'none',
              lastProbe: this.probes.get(id),
              desired: inDesired ? (inDesired.config.weight === 0 ? 'weight 0' : 'active') : 'absent',
              reason: d?.reasons.get(rs.id),
            };
          }),
        };
      }),
      drains: this.reconciler.drainRecords().map((r) => ({
        vip: r.serviceId.replace(/^service /, ''),
        realServer: r.destinationId,
        reason: r.reason,
        startedAt: new Date(r.startedAt).toISOString(),
        deadline: new Date(r.deadline).toISOString(),
      })),
    };
  }

  /** Prometheus text for /metrics (reads the kernel's counters now). */
  async renderMetrics(): Promise<string> {
    let entries: ServiceEntry[] = [];
    let error: Error | undefined;
    try {
      entries = (await this.opts.kernel.snapshot()).filter((s) => this.reconciler.owns(s.key));
    } catch (e) {
      error = e as Error;
      this.metrics.netlinkError();
    }
    return this.metrics.render({
      entries,
      config: this.config,
      latest: this.reconciler.latest,
      health: (s, rs) => (rs.check ? (this.opts.health.health(subscriptionId(s, rs))?.healthy ?? null) : true),
      probe: (s, rs) => this.probes.get(subscriptionId(s, rs)),
      drains: this.reconciler.drainRecords().length,
      scrapeError: error,
    });
  }
}

function count(config: AgentConfig): number {
  return config.services.reduce((n, s) => n + s.realServers.length, 0);
}

function sameCheck(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
