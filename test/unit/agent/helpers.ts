/**
 * Test helpers for the agent's unit tests: the shipped fake kernel
 * (`ipvs/testing`) behind a real IpvsClient, with a second client acting
 * "behind the agent's back", a scripted HealthSource, and a pino logger whose
 * JSON lines the tests parse.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { IpvsClient, type ApplyResult, type Operation } from '../../../src/ipvs/client';
import type { IpvsError } from '../../../src/ipvs/errors';
import type { ServiceKey, ServiceRule } from '../../../src/ipvs/model';
import { serviceId } from '../../../src/ipvs/plan';
import { FakeKernel } from '../../../src/testing';
import type { Health, HealthChange, HealthSource, ProbeResult, Subscription } from '../../../src/agent/checks/types';
import type { AgentKernel } from '../../../src/agent/agent';

/**
 * A fake kernel with the client the agent uses (`port`, recording every
 * bulk apply) and an administrator's client (`exec`) for changes made
 * behind the agent's back.
 */
export class FakeIpvs {
  /** Every batch the agent gave to apply(). */
  readonly batches: Operation[][] = [];
  private conns = new Map<string, { service: ServiceKey; address: string; port: number; n: number }>();

  private constructor(
    readonly kernel: FakeKernel,
    readonly client: IpvsClient,
    private readonly admin: IpvsClient,
  ) {}

  static async open(): Promise<FakeIpvs> {
    const kernel = new FakeKernel();
    return new FakeIpvs(kernel, await IpvsClient.open(kernel.clientOptions()), await IpvsClient.open(kernel.clientOptions()));
  }

  /** What the agent is given: the client, with apply() recorded. */
  get port(): AgentKernel {
    const c = this.client;
    return {
      rules: () => c.rules(),
      eachRule: (visit) => c.eachRule(visit),
      listDestinations: (k) => c.listDestinations(k),
      snapshot: () => c.snapshot(),
      apply: (ops): Promise<ApplyResult> => {
        this.batches.push([...ops]);
        return c.apply(ops);
      },
    };
  }

  /** The kernel's rules now. */
  rules(): ServiceRule[] {
    return this.kernel.rules();
  }

  /** Runs one operation as an administrator would (ipvsadm); returns its error, if any. */
  async exec(op: Operation): Promise<IpvsError | null> {
    return (await this.admin.apply([op])).errors[0] ?? null;
  }

  /** Sets a real server's established connections to `n` (rebuilding the fake's connection table). */
  setConns(service: ServiceKey, address: string, port: number, n: number): void {
    this.conns.set(`${serviceId(service)}|${address}|${port}`, { service, address, port, n });
    this.kernel.clearConnections();
    let clientPort = 10000;
    for (const c of this.conns.values()) {
      if (!this.kernel.rules().some((s) => serviceId(s.key) === serviceId(c.service) && s.destinations.some((d) => d.key.address === c.address && d.key.port === c.port))) continue;
      const family = 'fwmark' in c.service ? c.service.family : c.service.address.includes(':') ? 'ipv6' : 'ipv4';
      for (let i = 0; i < c.n; i++) {
        this.kernel.addConnection({
          service: c.service,
          destination: { address: c.address, port: c.port },
          client: { address: family === 'ipv6' ? '2001:db8:ff::1' : '203.0.113.200', port: clientPort++ },
        });
      }
    }
  }

  /** All operations the agent applied, flattened. */
  get operations(): Operation[] {
    return this.batches.flat();
  }

  /** The real servers of a service as `address:port@weight`, sorted; undefined when the service is missing. */
  view(key: ServiceKey): string[] | undefined {
    const s = this.kernel.rules().find((x) => serviceId(x.key) === serviceId(key));
    return s?.destinations.map((d) => `${d.key.address}:${d.key.port}@${d.config.weight}`).sort();
  }

  close(): void {
    this.client.close();
    this.admin.close();
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

/** A configuration with one service `web` (tcp 192.0.2.10:80, rr) over `servers`, as YAML. */
export function webYaml(o: { top?: string; check: string; extra?: string; servers: string[] }): string {
  return `${o.top ?? ''}services:
  - name: web
    protocol: tcp
    address: 192.0.2.10
    port: 80
    scheduler: rr
    check: ${o.check}
${o.extra ?? ''}    realServers:
${o.servers.map((a) => `      - address: ${a}\n`).join('')}`;
}
