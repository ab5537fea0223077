/**
 * The health monitor: probe schedules shared by every subscription to the same
 * target and check, a rise/fall state machine per schedule, jittered starts
 * and a global limit on probes in flight. It never logs; it emits events.
 * @module
 */
import { EventEmitter } from 'node:events';
import { normalizeAddress } from '../../ipvs/address';
import type { Prober } from './attempt';
import { createProber, probeTarget } from './probe';
import type { CheckSpec, Health, HealthChange, HealthSource, ProbeResult, ProbeTarget, Subscription } from './types';

/** Time as the monitor sees it; injectable so tests can drive it. */
export interface Clock {
  /** Milliseconds since the epoch (used for {@link Health.since}). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Default {@link HealthMonitorOptions.concurrency}. */
export const DEFAULT_CONCURRENCY = 1024;

/** How a {@link HealthMonitor} runs. Every field has a default. */
export interface HealthMonitorOptions {
  /**
   * The most probes in flight at once (default 1024). Probes due beyond it
   * wait their turn in order. Size it as probes per second × the timeout of
   * an unanswered probe: 10,000 targets every 2 s that all hang for 1 s need
   * 5,000 to keep their schedule.
   */
  concurrency?: number;
  /** Default {@link systemClock}. */
  clock?: Clock;
  /** Returns [0, 1); places the first probe of a schedule (default Math.random). */
  random?: () => number;
  /** Default {@link createProber}; tests inject fakes. */
  createProber?: (target: ProbeTarget, check: CheckSpec) => Prober;
}

/** Counts for metrics: how loaded the engine is. */
export interface MonitorStats {
  /** Distinct probe schedules (targets × check settings). */
  schedules: number;
  /** Subscriptions served by them. */
  subscriptions: number;
  /** Probes running now. */
  inFlight: number;
  /** Probes due but waiting for the concurrency limit. */
  queued: number;
}

/**
 * The key that makes probes shared: where the probe goes (after the check's
 * own address and port) and every check setting. Two subscriptions with the
 * same key get one schedule.
 */
export function scheduleKey(target: ProbeTarget, check: CheckSpec): string {
  const to = probeTarget(target, check);
  let address = to.address;
  try {
    address = normalizeAddress(address);
  } catch {
    // Not an address: keep the text, the probe will say what is wrong with it.
  }
  // Sorted keys, so that key order in the caller's objects does not matter.
  const keys = Object.keys(check)
    .filter((k) => k !== 'address' && k !== 'port')
    .sort();
  return `${address}|${to.port}|${JSON.stringify(check, keys)}`;
}

class Schedule {
  ids: readonly string[] = [];
  healthy: boolean;
  since: number;
  last: ProbeResult | undefined;
  successes = 0;
  failures = 0;
  timer: unknown = undefined;
  /** A probe is running. */
  running = false;
  /** The interval passed while a probe was running: probe again at once after it. */
  overdue = false;
  /** Still subscribed to; a removed schedule's late result is dropped. */
  active = true;
  readonly onDue: () => void;

  constructor(
    readonly key: string,
    readonly check: CheckSpec,
    readonly prober: Prober,
    healthy: boolean,
    since: number,
    onDue: (s: Schedule) => void,
  ) {
    this.healthy = healthy;
    this.since = since;
    this.onDue = () => onDue(this);
  }
}

/**
 * Keeps subscriptions checked and reports their verdicts: the engine behind
 * {@link HealthSource}.
 *
 * Each distinct (target, check settings) is one schedule: it probes every
 * `intervalMs` from the start of its previous probe (a probe that outlives its
 * interval is followed at once by the next), its first probe placed at a
 * random fraction of the interval so a thousand new targets do not fire
 * together. A schedule's verdict starts at `initial`, turns up after `rise`
 * consecutive successes and down after `fall` consecutive failures; every
 * subscription to it sees that verdict.
 *
 * Events: `probe` (ids served, result) after every probe, then `change`
 * ({ id, healthy, result }) once per subscription id when the verdict flips.
 */
export class HealthMonitor extends EventEmitter implements HealthSource {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly makeProber: (target: ProbeTarget, check: CheckSpec) => Prober;
  private readonly limit: number;
  private readonly schedules = new Map<string, Schedule>();
  private readonly bySubscription = new Map<string, Schedule>();
  private readonly queue: Schedule[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private stopped = false;
  private drained: (() => void) | undefined;

  constructor(options: HealthMonitorOptions = {}) {
    super();
    const limit = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be an integer >= 1, not ${limit}`);
    this.limit = limit;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.makeProber = options.createProber ?? createProber;
  }

  override on(event: 'change', listener: (change: HealthChange) => void): this;
  override on(event: 'probe', listener: (ids: readonly string[], result: ProbeResult) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /**
   * Replaces the set of subscriptions. Schedules that stay keep their verdict,
   * counters and timing. A new schedule starts at a random fraction of its
   * interval; its verdict starts at the check's `initial`, or, when a
   * subscription moves to it (its check settings changed), at the verdict that
   * subscription had, so a reload that edits a check does not take healthy
   * servers down. A subscription that moves to a schedule whose verdict
   * differs from its old one gets a `change` event (emitted before returning).
   * Throws (changing nothing) on a duplicate id or a check that cannot be run.
   */
  update(subscriptions: readonly Subscription[]): void {
    if (this.stopped) throw new Error('the health monitor is stopped');
    const groups = new Map<string, { sub: Subscription; ids: string[] }>();
    const keyOf = new Map<string, string>();
    for (const sub of subscriptions) {
      if (keyOf.has(sub.id)) throw new TypeError(`duplicate subscription id '${sub.id}'`);
      const key = scheduleKey(sub.target, sub.check);
      keyOf.set(sub.id, key);
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { sub, ids: [sub.id] });
      else g.ids.push(sub.id);
    }
    // Build what is new before touching anything, so a throw changes nothing.
    const created: Schedule[] = [];
    let now = 0;
    for (const [key, g] of groups) {
      if (this.schedules.has(key)) continue;
      if (created.length === 0) now = this.clock.now();
      const prober = this.makeProber(g.sub.target, g.sub.check);
      // Seed from a subscription that moves here, else the check's initial state.
      let seed: Schedule | undefined;
      for (const id of g.ids) if ((seed = this.bySubscription.get(id)) !== undefined) break;
      const healthy = seed !== undefined ? seed.healthy : g.sub.check.initial === 'up';
      created.push(new Schedule(key, g.sub.check, prober, healthy, seed?.since ?? now, (s) => this.due(s)));
    }
    for (const s of created) this.schedules.set(s.key, s);
    for (const [key, s] of this.schedules) {
      if (groups.has(key)) continue;
      s.active = false;
      if (s.timer !== undefined) this.clock.clearTimeout(s.timer);
      s.timer = undefined;
      this.schedules.delete(key);
    }
    const moved: HealthChange[] = [];
    for (const [id, key] of keyOf) {
      const s = this.schedules.get(key)!;
      const old = this.bySubscription.get(id);
      if (old !== undefined && old !== s && old.healthy !== s.healthy) {
        moved.push({ id, healthy: s.healthy, result: s.last ?? { ok: s.healthy, latencyMs: 0, reason: 'check settings changed' } });
      }
    }
    this.bySubscription.clear();
    for (const [key, g] of groups) {
      const s = this.schedules.get(key)!;
      // A new array, never a mutated one: a `probe` listener may keep it.
      s.ids = g.ids;
      for (const id of g.ids) this.bySubscription.set(id, s);
    }
    for (const s of created) s.timer = this.clock.setTimeout(s.onDue, Math.floor(this.random() * s.check.intervalMs));
    for (const c of moved) this.emit('change', c);
  }

  /** The verdict of a subscription, or undefined when it is not subscribed. */
  health(id: string): Health | undefined {
    const s = this.bySubscription.get(id);
    if (s === undefined) return undefined;
    return s.last === undefined ? { healthy: s.healthy, since: s.since } : { healthy: s.healthy, since: s.since, last: s.last };
  }

  /** How loaded the engine is (for metrics). */
  stats(): MonitorStats {
    return {
      schedules: this.schedules.size,
      subscriptions: this.bySubscription.size,
      inFlight: this.inFlight,
      queued: this.queue.length - this.queueHead,
    };
  }

  /**
   * Stops every schedule, drops queued probes and resolves once the probes in
   * flight have finished (each within its timeout). Their results are not
   * reported. Verdicts stay readable; update() throws from now on.
   */
  stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.schedules.values()) {
      s.active = false;
      if (s.timer !== undefined) this.clock.clearTimeout(s.timer);
      s.timer = undefined;
    }
    this.queue.length = 0;
    this.queueHead = 0;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  private due(s: Schedule): void {
    s.timer = undefined;
    if (!s.active) return;
    if (s.running) {
      s.overdue = true;
    } else if (this.inFlight < this.limit) {
      this.launch(s);
    } else {
      this.queue.push(s);
    }
  }

  private launch(s: Schedule): void {
    this.inFlight++;
    s.running = true;
    // Fixed rate from the start of this probe; the timer runs during the probe.
    s.timer = this.clock.setTimeout(s.onDue, s.check.intervalMs);
    s.prober().then(
      (r) => this.settle(s, r),
      // A prober resolves, by contract; a broken one still must not stall the schedule.
      (err: unknown) => this.settle(s, { ok: false, latencyMs: 0, reason: `probe error: ${String(err)}` }),
    );
  }

  private settle(s: Schedule, r: ProbeResult): void {
    this.inFlight--;
    s.running = false;
    let flipped = false;
    const report = s.active;
    if (report) {
      s.last = r;
      if (r.ok) {
        s.failures = 0;
        if (++s.successes >= s.check.rise && !s.healthy) flipped = true;
      } else {
        s.successes = 0;
        if (++s.failures >= s.check.fall && s.healthy) flipped = true;
      }
      if (flipped) {
        s.healthy = !s.healthy;
        s.since = this.clock.now();
      }
    }
    this.pump();
    if (s.active && s.overdue) {
      s.overdue = false;
      this.due(s);
    }
    if (this.inFlight === 0 && this.drained !== undefined) {
      const drained = this.drained;
      this.drained = undefined;
      drained();
    }
    // Events last: the bookkeeping is whole whatever a listener does.
    if (!report) return;
    const ids = s.ids;
    this.emit('probe', ids, r);
    if (flipped) for (const id of ids) this.emit('change', { id, healthy: s.healthy, result: r } satisfies HealthChange);
  }

  /** Starts queued probes while there is room, oldest first. */
  private pump(): void {
    const q = this.queue;
    while (this.inFlight < this.limit && this.queueHead < q.length) {
      const s = q[this.queueHead++]!;
      if (s.active) this.launch(s);
    }
    if (this.queueHead === q.length) {
      q.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > q.length) {
      q.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}
