/**
 * A stand-in {@link HealthSource} so the agent, the lab and the end-to-end
 * tests run before the real check engine (src/agent/checks/, built in
 * parallel) lands. It implements the same contract for the `tcp`, `http` and
 * `https` kinds only; the engine replaces it in src/agent/main.ts (one line)
 * and this file is then deleted.
 * @module
 */
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CheckSpec, Health, HealthChange, HealthSource, ProbeResult, Subscription } from './checks/types';

interface Schedule {
  key: string;
  sub: Subscription;
  ids: Set<string>;
  healthy: boolean;
  since: number;
  streak: number;
  last?: ProbeResult;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
  stopped: boolean;
}

/** The interim engine: one probe schedule per distinct target and check. */
export class InterimHealthSource extends EventEmitter implements HealthSource {
  private schedules = new Map<string, Schedule>();
  private byId = new Map<string, Schedule>();

  update(subscriptions: readonly Subscription[]): void {
    const keep = new Set<string>();
    const byId = new Map<string, Schedule>();
    for (const sub of subscriptions) {
      if (!['tcp', 'http', 'https'].includes(sub.check.kind)) throw new Error(`check kind '${sub.check.kind}' needs the check engine`);
      const key = JSON.stringify([sub.target, sub.check]);
      keep.add(key);
      let s = this.schedules.get(key);
      if (!s) {
        s = { key, sub, ids: new Set(), healthy: sub.check.initial === 'up', since: Date.now(), streak: 0, stopped: false };
        this.schedules.set(key, s);
        this.arm(s, Math.random() * sub.check.intervalMs);
      }
      s.ids.add(sub.id);
      byId.set(sub.id, s);
    }
    for (const [key, s] of this.schedules) {
      if (keep.has(key)) {
        for (const id of s.ids) if (byId.get(id) !== s) s.ids.delete(id);
        continue;
      }
      s.stopped = true;
      clearTimeout(s.timer);
      this.schedules.delete(key);
    }
    this.byId = byId;
  }

  health(id: string): Health | undefined {
    const s = this.byId.get(id);
    if (!s) return undefined;
    const h: Health = { healthy: s.healthy, since: s.since };
    if (s.last) h.last = s.last;
    return h;
  }

  async stop(): Promise<void> {
    const inFlight: Promise<void>[] = [];
    for (const s of this.schedules.values()) {
      s.stopped = true;
      clearTimeout(s.timer);
      if (s.inFlight) inFlight.push(s.inFlight);
    }
    this.schedules.clear();
    this.byId.clear();
    await Promise.all(inFlight);
  }

  private arm(s: Schedule, delay: number): void {
    s.timer = setTimeout(() => {
      s.inFlight = this.probe(s).finally(() => {
        s.inFlight = undefined;
        if (!s.stopped) this.arm(s, s.sub.check.intervalMs);
      });
    }, delay);
    s.timer.unref?.();
  }

  private async probe(s: Schedule): Promise<void> {
    const result = await probe(s.sub);
    if (s.stopped) return;
    s.last = result;
    this.emit('probe', [...s.ids], result);
    if (result.ok === s.healthy) {
      s.streak = 0;
      return;
    }
    s.streak++;
    if (s.streak < (result.ok ? s.sub.check.rise : s.sub.check.fall)) return;
    s.healthy = result.ok;
    s.since = Date.now();
    s.streak = 0;
    for (const id of s.ids) this.emit('change', { id, healthy: s.healthy, result } satisfies HealthChange);
  }
}

function probe(sub: Subscription): Promise<ProbeResult> {
  const c: CheckSpec = sub.check;
  const address = c.address ?? sub.target.address;
  const port = c.port ?? sub.target.port;
  const started = performance.now();
  const done = (ok: boolean, reason: string): ProbeResult => ({ ok, reason, latencyMs: Math.round((performance.now() - started) * 10) / 10 });
  return new Promise((resolve) => {
    if (c.kind === 'tcp') {
      const sock = connect({ host: address, port, timeout: c.timeoutMs });
      sock.once('connect', () => {
        sock.destroy();
        resolve(done(true, 'connected'));
      });
      sock.once('timeout', () => {
        sock.destroy();
        resolve(done(false, `connect timed out after ${c.timeoutMs} ms`));
      });
      sock.once('error', (e: NodeJS.ErrnoException) => resolve(done(false, `connect ${e.code ?? e.message}`)));
      return;
    }
    if (c.kind !== 'http' && c.kind !== 'https') return resolve(done(false, `unsupported kind ${c.kind}`));
    const req = (c.kind === 'https' ? httpsRequest : httpRequest)({
      host: address,
      port,
      method: c.method,
      path: c.path,
      headers: { host: c.host ?? address, connection: 'close' },
      timeout: c.timeoutMs,
      agent: false,
      ...(c.kind === 'https' ? { rejectUnauthorized: c.tlsVerify, servername: c.sni ?? c.host } : {}),
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => {
        if (body.length < 65536) body += d;
      });
      res.once('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (!c.expectStatus.includes(status)) return resolve(done(false, `status ${status}`));
        if (c.expectBody !== undefined && !new RegExp(c.expectBody).test(body)) return resolve(done(false, 'body does not match'));
        resolve(done(true, `status ${status}`));
      });
      res.once('error', (e) => {
        clearTimeout(timer);
        resolve(done(false, e.message));
      });
    });
    req.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(done(false, e.code ? `connect ${e.code}` : e.message));
    });
    req.end();
  });
}
