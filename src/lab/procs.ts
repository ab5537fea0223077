/**
 * The processes of a lab network — real servers, the client, the agent —
 * and what is read from them: the lab (main.ts) and the agent's kernel tests
 * drive the same ones.
 * @module
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { labScript, spawnIn, type LabHost, type LabNetwork } from './topology';

/** A wait that ran out. */
export class WaitError extends Error {}

/** A child process whose stdout lines are kept and can be waited for. */
export class Proc {
  readonly lines: string[] = [];
  private waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  exited = false;
  /** What it wrote on stderr. */
  stderr = '';
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    onLine?: (l: string) => void,
  ) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      this.lines.push(l);
      onLine?.(l);
      this.waiters = this.waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // 'close', not 'exit': the last lines of stdout may still be unread at 'exit'.
    child.on('close', () => (this.exited = true));
  }

  /** Resolves with the first line (already seen or coming) that matches; fails after `ms`. */
  waitLine(pred: (l: string) => boolean, ms: number, what: string): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new WaitError(`${what}: nothing after ${ms / 1000} s`)), ms);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  /** Sends `signal` and resolves once the process is gone. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('close', () => resolve());
      this.child.kill(signal);
    });
  }
}

/** A parsed agent log line (pino JSON). */
export interface AgentEvent {
  time: string;
  level: string;
  event?: string;
  msg: string;
  [k: string]: unknown;
}

/** The agent as a child process: its JSON log parsed into events that can be waited for. */
export class AgentProc extends Proc {
  readonly events: AgentEvent[] = [];
  private eventWaiters: { pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }[] = [];

  constructor(child: ChildProcess, onEvent?: (e: AgentEvent) => void, onOther?: (l: string) => void) {
    super('agent', child, (l) => {
      let e: AgentEvent;
      try {
        e = JSON.parse(l) as AgentEvent;
      } catch {
        onOther?.(l);
        return;
      }
      this.events.push(e);
      onEvent?.(e);
      this.eventWaiters = this.eventWaiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
  }

  /** Waits for an event matching `pred` at index `since` or later of `events`. */
  waitEvent(pred: (e: AgentEvent) => boolean, ms: number, what: string, since = 0): Promise<AgentEvent> {
    const found = this.events.slice(since).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new WaitError(`${what}: not seen after ${ms / 1000} s`)), ms);
      this.eventWaiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** The events named `name`. */
  named(name: string, since = 0): AgentEvent[] {
    return this.events.slice(since).filter((e) => e.event === name);
  }
}

/** True for the agent's kernel change that gives `realServer` a weight (`serving`) or takes it away (weight 0, or deleted). */
export function weightChange(e: AgentEvent, realServer: string, serving: boolean): boolean {
  if (e.event !== 'kernel-change' || e.realServer !== realServer) return false;
  const w = (e.config as { weight?: number } | undefined)?.weight;
  return serving ? w !== undefined && w > 0 : e.action === 'delete-destination' || w === 0;
}

/** Waits until every address (`ip:port`) serves in the kernel, per the agent's log. */
export async function waitServing(agent: AgentProc, addresses: string[], ms: number, since = 0): Promise<void> {
  for (const a of addresses) await agent.waitEvent((e) => weightChange(e, a, true), ms, `${a} to serve`, since);
}

/** One request's outcome as the client prints it. */
export interface Hit {
  /** When it was sent (ms since the epoch). */
  t: number;
  server?: string;
  error?: string;
  /** The client's source port, when the connection got one. */
  port?: number;
  ms: number;
}

/** Requests per server (and per error). */
export function tally(hits: readonly Hit[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const h of hits) {
    const k = h.server ?? `error: ${h.error}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function parseHits(text: string): Hit[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Hit);
}

/**
 * Sends `n` requests from the client namespace (4 at a time), each on its own
 * connection; with `localPort`, one at a time from that source port.
 */
export function burst(net: LabNetwork, url: string, n: number, options: { localPort?: number; timeoutMs?: number } = {}): Hit[] {
  const args = [url, '--count', String(n), '--concurrency', options.localPort ? '1' : '4'];
  if (options.localPort) args.push('--local-port', String(options.localPort));
  if (options.timeoutMs) args.push('--timeout', String(options.timeoutMs));
  return parseHits(
    execFileSync('ip', ['netns', 'exec', net.client.netns, 'node', labScript('traffic.js'), ...args], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
}

/** Continuous traffic from the client at `rate` requests per second; `stop()` ends it and returns every request. */
export interface Flow {
  proc: Proc;
  stop(): Promise<Hit[]>;
}

/** Starts continuous traffic from the client namespace. */
export function stream(net: LabNetwork, url: string, rate: number): Flow {
  const proc = new Proc('client', spawnIn(net.client.netns, ['node', labScript('traffic.js'), url, '--rate', String(rate)]));
  return {
    proc,
    stop: async () => {
      await proc.stop('SIGTERM');
      return parseHits(proc.lines.join('\n'));
    },
  };
}

/** Starts a lab web server on a host and waits until it listens. */
export async function startWeb(host: LabHost, port: number): Promise<Proc> {
  const p = new Proc(host.name, spawnIn(host.netns, ['node', labScript('web.js'), host.name, String(port)]));
  await p.waitLine((l) => l === 'listening', 15_000, `${host.name} to start`);
  return p;
}
