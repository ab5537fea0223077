/**
 * Benchmark: can one agent process on one core keep 10,000 HTTP check targets
 * checked every 2 s (5,000 probes a second)?
 *
 *   node .build/bench/checks.js [--targets 10000] [--interval 2s] [--timeout 1s]
 *        [--duration 30s] [--servers 3] [--client raw|node] [--concurrency 1024]
 *        [--body] [--agent-cpu N | --no-pin] [--pin-servers] [--profile] [--json]
 *
 * Loopback only: target i is 127.77.x.y:8080, served by a few server
 * processes that each listen on a share of those addresses (all of 127/8 is
 * local on `lo`). The agent process runs the real HealthMonitor and probers
 * and is pinned to one CPU (taskset; the last one unless --agent-cpu) apart
 * from the servers. It measures
 * after one interval of warm-up (all schedules started) for a bounded time,
 * then stops by itself. `--client node` swaps in node's http.request to
 * compare clients. Prints a table and, with --json, one JSON line.
 *
 * Meant for the host: under User-Mode Linux (`npm run bench`) a probe costs
 * ten times more CPU, all of it system-call emulation; the report says so.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseDuration } from '../src/agent/checks/duration';
import { HealthMonitor } from '../src/agent/checks/monitor';
import { createProber } from '../src/agent/checks/probe';
import type { CheckSpec, HttpCheck, ProbeResult, ProbeTarget, Subscription } from '../src/agent/checks/types';

const PORT = 8080;
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');

interface Options {
  targets: number;
  intervalMs: number;
  timeoutMs: number;
  durationMs: number;
  servers: number;
  client: 'raw' | 'node';
  concurrency: number;
  body: boolean;
  json: boolean;
  /** Write a V8 CPU profile of the agent to the temporary directory. */
  profile: boolean;
  /** Pin the agent to CPU 0 and the servers to the others (default: when taskset exists). */
  pin: boolean;
  /** The CPU the agent is pinned to (default: the last one). */
  agentCpu: number | undefined;
  /**
   * Keep the servers off the agent's CPU. Off by default: on a shared
   * machine the other CPUs may be busy, and starved servers answer late,
   * which holds the rate down through the concurrency limit, not the agent.
   */
  pinServers: boolean;
}

/** Target i's address: 127.77.1.1, 127.77.1.2, ... 250 to a /24, clear of .0 and .255. */
function address(i: number): string {
  return `127.77.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    targets: 10_000,
    intervalMs: 2000,
    timeoutMs: 1000,
    durationMs: 30_000,
    servers: 3,
    client: 'raw',
    concurrency: 1024,
    body: false,
    json: false,
    profile: false,
    pin: true,
    agentCpu: undefined,
    pinServers: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const duration = (): number => {
      const v = value();
      const ms = parseDuration(v);
      if (ms === undefined) throw new Error(`${flag}: not a duration: ${v}`);
      return ms;
    };
    switch (flag) {
      case '--targets': o.targets = Number(value()); break;
      case '--interval': o.intervalMs = duration(); break;
      case '--timeout': o.timeoutMs = duration(); break;
      case '--duration': o.durationMs = duration(); break;
      case '--servers': o.servers = Number(value()); break;
      case '--client': o.client = value() === 'node' ? 'node' : 'raw'; break;
      case '--concurrency': o.concurrency = Number(value()); break;
      case '--body': o.body = true; break;
      case '--json': o.json = true; break;
      case '--profile': o.profile = true; break;
      case '--no-pin': o.pin = false; break;
      case '--agent-cpu': o.agentCpu = Number(value()); break;
      case '--pin-servers': o.pinServers = true; break;
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  if (o.targets > 250 * 250) throw new Error('at most 62,500 targets');
  return o;
}

// ---------------------------------------------------------------- server

/** Listens on targets [from, to) and answers every request with 200 "ok". */
async function serve(from: number, to: number): Promise<void> {
  let served = 0;
  const onConnection = (socket: import('node:net').Socket): void => {
    socket.on('error', () => {}); // the checker resets its connections
    socket.once('data', () => {
      served++;
      socket.end(RESPONSE);
    });
  };
  const listening: Promise<void>[] = [];
  for (let i = from; i < to; i++) {
    const server = createServer(onConnection);
    listening.push(new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: PORT, host: address(i), backlog: 511 }, resolve);
    }));
  }
  await Promise.all(listening);
  process.stdout.write('ready\n');
  // Ends when the parent closes our stdin (or dies): never outlives the run.
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  process.stdin.on('end', () => {
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(`${JSON.stringify({ served, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 })}\n`);
    process.exit(0);
  });
  process.stdin.resume();
}

// ---------------------------------------------------------------- agent

/** node's own client, for comparison: one request per probe, no keep-alive. */
function nodeHttpProber(target: ProbeTarget, check: CheckSpec): () => Promise<ProbeResult> {
  const c = check as HttpCheck;
  return () =>
    new Promise<ProbeResult>((resolve) => {
      const start = performance.now();
      let done = false;
      const finish = (ok: boolean, reason: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.destroy();
        resolve({ ok, latencyMs: performance.now() - start, reason });
      };
      const req = request({ host: target.address, port: target.port, path: c.path, method: c.method, agent: false, headers: { Connection: 'close' } }, (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => finish(c.expectStatus.includes(status), `status ${status}`));
        res.on('error', () => {});
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(false, `error ${err.code ?? err.message}`));
      const timer = setTimeout(() => finish(false, `timeout after ${c.timeoutMs} ms`), c.timeoutMs);
      req.end();
    });
}

interface AgentReport {
  client: string;
  targets: number;
  intervalMs: number;
  measuredMs: number;
  probes: number;
  failed: number;
  failureReasons: Record<string, number>;
  rate: number;
  required: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** user+sys CPU time per second of wall time (1.0 = one core saturated). */
  cpuPerSecond: number;
  rssMiB: number;
  rssMaxMiB: number;
  heapUsedMiB: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  loopDelayMs: { p50: number; p99: number; max: number };
  perTarget: { min: number; max: number };
  maxInFlight: number;
  maxQueued: number;
  /**
   * Time the main thread was ready to run but waited for a CPU, per second:
   * on a shared machine this, not the engine, is what holds the rate down.
   */
  runQueueWaitPerSecond: number;
}

async function agent(o: Options): Promise<void> {
  const check: HttpCheck = {
    kind: 'http',
    intervalMs: o.intervalMs,
    timeoutMs: o.timeoutMs,
    rise: 2,
    fall: 3,
    initial: 'down',
    method: 'GET',
    path: '/healthz',
    expectStatus: [200],
    tlsVerify: true,
    ...(o.body ? { expectBody: '^ok$' } : {}),
  };
  const monitor = new HealthMonitor({
    concurrency: o.concurrency,
    createProber: o.client === 'node' ? nodeHttpProber : createProber,
  });
  const subs: Subscription[] = [];
  for (let i = 0; i < o.targets; i++) subs.push({ id: `t${i}`, target: { address: address(i), port: PORT }, check });

  // Recording costs the agent too, so it is kept small: one Float64Array slot
  // per probe, counters, nothing retained per probe otherwise.
  const capacity = Math.ceil((o.targets / o.intervalMs) * o.durationMs * 1.5) + 1000;
  const latencies = new Float64Array(capacity);
  const perTarget = new Uint32Array(o.targets);
  let measuring = false;
  let probes = 0;
  let failed = 0;
  const reasons: Record<string, number> = {};
  monitor.on('probe', (ids, r) => {
    if (!measuring) return;
    if (probes < capacity) latencies[probes] = r.latencyMs;
    probes++;
    if (!r.ok) {
      failed++;
      reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
    }
    const id = ids[0]!;
    perTarget[Number(id.slice(1))]!++;
  });

  monitor.update(subs);
  // Warm-up: every schedule has started (jitter spreads them over one interval).
  await sleep(o.intervalMs + 500);

  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  let rssMax = 0;
  let maxInFlight = 0;
  let maxQueued = 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
    const s = monitor.stats();
    maxInFlight = Math.max(maxInFlight, s.inFlight);
    maxQueued = Math.max(maxQueued, s.queued);
  }, 250);
  loop.enable();
  const cpu0 = process.cpuUsage();
  const sched0 = schedstat();
  const t0 = performance.now();
  measuring = true;
  await sleep(o.durationMs);
  measuring = false;
  const measuredMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sched1 = schedstat();
  loop.disable();
  clearInterval(sampler);
  const mem = process.memoryUsage();
  await monitor.stop();

  const n = Math.min(probes, capacity);
  const sorted = latencies.subarray(0, n).sort();
  const pct = (p: number): number => round(sorted[Math.min(n - 1, Math.floor(p * n))] ?? NaN);
  let min = Infinity;
  let max = 0;
  for (const c of perTarget) {
    min = Math.min(min, c);
    max = Math.max(max, c);
  }
  const report: AgentReport = {
    client: o.client,
    targets: o.targets,
    intervalMs: o.intervalMs,
    measuredMs: round(measuredMs),
    probes,
    failed,
    failureReasons: reasons,
    rate: round((probes / measuredMs) * 1000),
    required: round((o.targets / o.intervalMs) * 1000),
    cpuUserMs: round(cpu.user / 1000),
    cpuSystemMs: round(cpu.system / 1000),
    cpuPerSecond: round((cpu.user + cpu.system) / 1000 / measuredMs),
    rssMiB: round(mem.rss / 2 ** 20),
    rssMaxMiB: round(Math.max(rssMax, mem.rss) / 2 ** 20),
    heapUsedMiB: round(mem.heapUsed / 2 ** 20),
    latencyMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), p999: pct(0.999), max: round(sorted[n - 1] ?? NaN) },
    // The histogram holds the sampling period plus the delay: keep the delay.
    loopDelayMs: { p50: lag(loop.percentile(50)), p99: lag(loop.percentile(99)), max: lag(loop.max) },
    perTarget: { min, max },
    maxInFlight,
    maxQueued,
    runQueueWaitPerSecond: sched0 && sched1 ? round((sched1.waitNs - sched0.waitNs) / 1e6 / measuredMs) : NaN,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** The main thread's time on a CPU and waiting for one (Linux schedstat, ns). */
function schedstat(): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return run !== undefined && wait !== undefined ? { runNs: run, waitNs: wait } : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- driver

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const LOOP_RESOLUTION_MS = 10;

function lag(ns: number): number {
  return round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS));
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs this file in `mode`, pinned to `cpu` when taskset is there. */
function child(mode: string, args: string[], cpu: string | undefined, nodeFlags: string[] = []): ChildProcess {
  const argv = [process.execPath, ...nodeFlags, __filename, mode, ...args];
  const [cmd, ...rest] = cpu !== undefined ? ['taskset', '-c', cpu, ...argv] : argv;
  return spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'inherit'] });
}

function firstLine(p: ChildProcess, predicate: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: p.stdout! });
    rl.on('line', (line) => {
      if (predicate(line)) {
        rl.close();
        resolve(line);
      }
    });
    p.once('exit', (code) => reject(new Error(`${p.spawnfile} exited (${code}) before reporting`)));
  });
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'serve') return serve(Number(rest[0]), Number(rest[1]));
  const o = parseOptions(mode === 'agent' ? rest : process.argv.slice(2));
  if (mode === 'agent') return agent(o);

  // The agent on one CPU, the servers on the others (when there are others).
  // The last CPU by default: the UML test runs pin themselves to CPU 0.
  const pin = o.pin && hasTaskset();
  const n = cpus().length;
  const agentCpu = o.agentCpu ?? n - 1;
  const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== agentCpu);
  const serverCpus = others.length > 0 ? others.join(',') : String(agentCpu);
  const servers: ChildProcess[] = [];
  const per = Math.ceil(o.targets / o.servers);
  try {
    for (let s = 0; s < o.servers; s++) {
      const from = s * per;
      const to = Math.min(o.targets, from + per);
      if (from >= to) break;
      servers.push(child('serve', [String(from), String(to)], pin && o.pinServers ? serverCpus : undefined));
    }
    await Promise.all(servers.map((p) => firstLine(p, (l) => l === 'ready')));
    // The agent reads the same options (--agent-cpu included, which it ignores).
    const flags = process.argv.slice(2).filter((a) => !['--json', '--profile', '--no-pin', '--pin-servers'].includes(a));
    const a = child('agent', flags, pin ? String(agentCpu) : undefined, o.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), 'ipvs-bench-profile')}`] : []);
    const line = await firstLine(a, (l) => l.startsWith('{'));
    const report = JSON.parse(line) as AgentReport;
    // The servers' own CPU, to tell a slow agent from overloaded servers.
    const done = servers.map((p) => firstLine(p, (l) => l.startsWith('{')).then((l) => JSON.parse(l) as { cpuMs: number; wallMs: number }));
    for (const p of servers) p.stdin?.end();
    const used = await Promise.all(done);
    const serverCpu = used.reduce((sum, u) => sum + u.cpuMs / u.wallMs, 0);
    print(report, o, pin ? agentCpu : undefined, serverCpu);
    if (o.json) process.stdout.write(`${JSON.stringify({ ...report, serverCpuPerSecond: round(serverCpu) })}\n`);
  } finally {
    for (const p of servers) if (p.exitCode === null) p.stdin?.end();
  }
}

/** True inside User-Mode Linux, where every system call traps to the host. */
function underUml(): boolean {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').includes('User Mode Linux');
  } catch {
    return false;
  }
}

function print(r: AgentReport, o: Options, pinned: number | undefined, serverCpu: number): void {
  const ok = r.rate >= r.required * 0.98 && r.cpuPerSecond < 1;
  const perProbe = ((r.cpuUserMs + r.cpuSystemMs) * 1000) / r.probes;
  const lines = [
    `checks benchmark: ${r.targets} HTTP targets every ${r.intervalMs} ms, client ${r.client}${o.body ? ', body pattern' : ''}, ${(r.measuredMs / 1000).toFixed(1)} s measured${pinned !== undefined ? `, agent pinned to CPU ${pinned}` : ''}`,
    `  probe rate      ${r.rate.toFixed(0)}/s (required ${r.required.toFixed(0)}/s)  probes ${r.probes}, failed ${r.failed}${r.failed ? ' ' + JSON.stringify(r.failureReasons) : ''}`,
    `  per target      ${r.perTarget.min}..${r.perTarget.max} probes (expected ~${Math.round(r.measuredMs / r.intervalMs)})`,
    `  CPU             ${(r.cpuPerSecond * 100).toFixed(1)}% of one core (user ${(r.cpuUserMs / 1000).toFixed(2)} s + sys ${(r.cpuSystemMs / 1000).toFixed(2)} s)`,
    `  CPU per probe   ${perProbe.toFixed(0)} µs (user ${((r.cpuUserMs * 1000) / r.probes).toFixed(0)} + sys ${((r.cpuSystemMs * 1000) / r.probes).toFixed(0)}): ${((perProbe * r.required) / 1e4).toFixed(0)}% of a core at the required rate`,
    `  memory          RSS ${r.rssMiB.toFixed(0)} MiB (max ${r.rssMaxMiB.toFixed(0)}), heap used ${r.heapUsedMiB.toFixed(0)} MiB`,
    `  latency ms      p50 ${r.latencyMs.p50}  p90 ${r.latencyMs.p90}  p99 ${r.latencyMs.p99}  p99.9 ${r.latencyMs.p999}  max ${r.latencyMs.max}`,
    `  CPU contention  the agent waited for a CPU ${(r.runQueueWaitPerSecond * 100).toFixed(0)}% of the time (other processes on its core)`,
    `  event loop ms   delay p50 ${r.loopDelayMs.p50}  p99 ${r.loopDelayMs.p99}  max ${r.loopDelayMs.max}`,
    `  servers         ${o.servers} processes, ${(serverCpu * 100).toFixed(0)}% of a core in all (over their whole life)`,
    `  in flight       max ${r.maxInFlight}, queued max ${r.maxQueued} (limit ${o.concurrency})`,
    `  verdict         ${ok ? 'sustained' : 'NOT sustained'}`,
  ];
  if (underUml()) {
    lines.push('  note            run under User-Mode Linux: each system call traps to the host, so this measures UML, not the engine (run it on the host)');
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
