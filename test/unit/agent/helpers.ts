/**
 * Test helpers for the agent's unit tests: a small in-memory kernel (until
 * the shipped fake kernel lands on main; it follows the same rules where the
 * agent depends on them: whole-entry edits, EEXIST/ESRCH/ENOENT, newest-first
 * destinations), a scripted HealthSource, and a pino logger whose JSON lines
 * the tests parse.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { ApplyResult, Operation } from '../../../src/ipvs/client';
import { completeDestinationConfig, completeServiceConfig, normalizeDestinationKey, normalizeServiceKey } from '../../../src/ipvs/codec';
import { IPVS_CMD } from '../../../src/ipvs/constants';
import { errorFromKernel, type IpvsError } from '../../../src/ipvs/errors';
import type { Destination, ServiceEntry, ServiceKey, ServiceRule } from '../../../src/ipvs/model';
import { zeroRates, zeroStats } from '../../../src/ipvs/model';
import { serviceId } from '../../../src/ipvs/plan';
import type { Health, HealthChange, HealthSource, ProbeResult, Subscription } from '../../../src/agent/checks/types';
import type { AgentKernel } from '../../../src/agent/agent';

const did = (k: { address: string; port: number }): string => `${k.address}|${k.port}`;

/** An in-memory IPVS table. `conns` sets a destination's active+inactive connection count. */
export class StubKernel implements AgentKernel {
  services: ServiceRule[] = [];
  conns = new Map<string, number>();
  /** Every batch given to apply(). */
  batches: Operation[][] = [];
  reads = 0;

  rules(): Promise<ServiceRule[]> {
    this.reads++;
    return Promise.resolve(structuredClone(this.services));
  }

  eachRule(visit: (rule: ServiceRule) => void): Promise<number> {
    this.reads++;
    for (const s of structuredClone(this.services)) visit(s);
    return Promise.resolve(this.services.length);
  }

  snapshot(): Promise<ServiceEntry[]> {
    return Promise.resolve(
      this.services.map((s) => ({
        ...structuredClone(s),
        stats: { ...zeroStats(), conns: 2n ** 60n + 1n },
        rates: zeroRates(),
        statsSource: 'stats64' as const,
        rawFlags: 2,
        destinations: s.destinations.map((d) => this.dest(s, d)),
      })),
    );
  }

  private dest(s: ServiceRule, d: ServiceRule['destinations'][number]): Destination {
    return {
      ...structuredClone(d),
      activeConns: this.conns.get(`${serviceId(s.key)}|${did(d.key)}`) ?? 0,
      inactiveConns: 0,
      persistentConns: 0,
      stats: zeroStats(),
      rates: zeroRates(),
      statsSource: 'stats64',
    };
  }

  /** Sets the connection count of a destination. */
  setConns(service: ServiceKey, address: string, port: number, n: number): void {
    this.conns.set(`${serviceId(service)}|${address}|${port}`, n);
  }

  listDestinations(service: ServiceKey): Promise<Destination[]> {
    const s = this.find(service);
    if (!s) return Promise.reject(errorFromKernel(3, { command: IPVS_CMD.GET_DEST, service: serviceId(service) }));
    return Promise.resolve(s.destinations.map((d) => this.dest(s, d)));
  }

  private find(key: ServiceKey): ServiceRule | undefined {
    const id = serviceId(key);
    return this.services.find((s) => serviceId(s.key) === id);
  }

  /** Applies one operation like the kernel would (used by tests to act "behind the agent's back" too). */
  exec(op: Operation): IpvsError | null {
    const ctx = (command: number) => ({ command, service: 'service' in op && op.service ? serviceId(op.service) : undefined });
    switch (op.type) {
      case 'flush':
        this.services = [];
        return null;
      case 'add-service': {
        if (this.find(op.service)) return errorFromKernel(17, ctx(IPVS_CMD.NEW_SERVICE));
        const n = normalizeServiceKey(op.service);
        this.services.push({ key: n.key, family: n.family, config: completeServiceConfig(n.family, op.config ?? {}), destinations: [] });
        return null;
      }
      case 'edit-service': {
        const s = this.find(op.service);
        if (!s) return errorFromKernel(3, ctx(IPVS_CMD.SET_SERVICE));
        s.config = structuredClone(op.config);
        return null;
      }
      case 'delete-service': {
        const s = this.find(op.service);
        if (!s) return errorFromKernel(3, ctx(IPVS_CMD.DEL_SERVICE));
        this.services = this.services.filter((x) => x !== s);
        return null;
      }
      case 'add-destination':
      case 'edit-destination':
      case 'delete-destination': {
        const s = this.find(op.service);
        const cmd = op.type === 'add-destination' ? IPVS_CMD.NEW_DEST : op.type === 'edit-destination' ? IPVS_CMD.SET_DEST : IPVS_CMD.DEL_DEST;
        if (!s) return errorFromKernel(3, ctx(cmd));
        const d = normalizeDestinationKey(op.destination);
        const i = s.destinations.findIndex((x) => did(x.key) === did(d.key));
        if (op.type === 'add-destination') {
          if (i >= 0) return errorFromKernel(17, ctx(cmd));
          // The kernel lists the newest destination first.
          s.destinations.unshift({ key: d.key, family: d.family, config: completeDestinationConfig(op.config ?? {}) });
          return null;
        }
        if (i < 0) return errorFromKernel(2, ctx(cmd));
        if (op.type === 'edit-destination') (s.destinations[i] as { config: unknown }).config = structuredClone(op.config);
        else s.destinations.splice(i, 1);
        return null;
      }
      default:
        return null;
    }
  }

  apply(operations: readonly Operation[]): Promise<ApplyResult> {
    this.batches.push([...operations]);
    const errors = operations.map((op) => this.exec(op));
    const failures = errors.flatMap((error, index) => (error ? [{ index, operation: operations[index] as Operation, error }] : []));
    return Promise.resolve({ errors, applied: operations.length - failures.length, failures });
  }

  /** All operations applied so far, flattened. */
  get operations(): Operation[] {
    return this.batches.flat();
  }

  /** The destinations of a service as `address:port@weight`, sorted. */
  view(key: ServiceKey): string[] | undefined {
    const s = this.find(key);
    return s?.destinations.map((d) => `${d.key.address}:${d.key.port}@${d.config.weight}`).sort();
  }
}

/** A HealthSource whose verdicts the test sets. */
export class ScriptedHealth extends EventEmitter implements HealthSource {
  subscriptions: Subscription[] = [];
  verdicts = new Map<string, Health>();
  updates = 0;
  stopped = false;

  update(subscriptions: readonly Subscription[]): void {
    this.updates++;
    const keep = new Map<string, Health>();
    for (const s of subscriptions) keep.set(s.id, this.verdicts.get(s.id) ?? { healthy: s.check.initial === 'up', since: 0 });
    this.verdicts = keep;
    this.subscriptions = [...subscriptions];
  }

  health(id: string): Health | undefined {
    return this.verdicts.get(id);
  }

  /** Sets a verdict and emits `change` (when it changed) and `probe`. */
  set(id: string, healthy: boolean, reason = healthy ? 'status 200' : 'connect ECONNREFUSED', latencyMs = 3): void {
    const before = this.verdicts.get(id);
    if (!before) throw new Error(`not subscribed: ${id} (have ${[...this.verdicts.keys()].join(', ')})`);
    const result: ProbeResult = { ok: healthy, latencyMs, reason };
    this.verdicts.set(id, { healthy, since: Date.now(), last: result });
    this.emit('probe', [id], result);
    if (before.healthy !== healthy) this.emit('change', { id, healthy, result } satisfies HealthChange);
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

/** A logger whose lines are collected as parsed JSON objects. */
export function captureLog(): { log: Logger; lines: Record<string, unknown>[]; events: (name: string) => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'debug' }, stream);
  return { log, lines, events: (name) => lines.filter((l) => l.event === name) };
}

/** Waits until `cond` holds (polling every few ms), or fails after `ms`. */
export async function until(cond: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
