/**
 * The lab (`npm run lab`): runs inside a User-Mode Linux guest and builds the
 * classic LVS experiment with real processes and real packets — a director
 * with a virtual IP, real HTTP servers, a client — then lets `ipvs-agent`
 * manage it from the shipped example configurations and shows, with
 * numbers, what it does: the request distribution, a real server stopped
 * (the agent's log, the traffic moving to the others), and started again.
 *
 * Act 1 is direct routing with rr over three servers (examples/dr-rr.yaml),
 * act 2 is NAT with wrr 1:2 and a sorry server (examples/nat-wrr.yaml).
 * `node lib/lab/main.js [dr|nat]` runs one act.
 * @module
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildDr, buildNat, labScript, shIn, spawnIn, teardown, type LabHost, type LabNetwork } from './topology';

const ROOT = join(__dirname, '..', '..');
const AGENT = join(ROOT, 'lib', 'agent', 'main.js');
const tty = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const c = (code: string, s: string): string => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = (s: string): string => c('1', s);
const dim = (s: string): string => c('2', s);
const green = (s: string): string => c('32', s);
const red = (s: string): string => c('31', s);
const yellow = (s: string): string => c('33', s);

const out = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};
const step = (s: string): void => out(`\n${bold('▸')} ${s}`);
const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;

/** Fails the lab with a message (cleanup runs in main's finally). */
class LabError extends Error {}

/** A child process whose stdout lines are kept and can be waited for. */
class Proc {
  readonly lines: string[] = [];
  private waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  exited = false;
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
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    // 'close', not 'exit': the last lines of stdout may still be unread at 'exit'.
    child.on('close', () => {
      this.exited = true;
      if (err.trim()) for (const l of err.trim().split('\n')) out(dim(`  ${name} (stderr) │ ${l}`));
    });
  }

  /** Resolves with the first line (already seen or coming) that matches; fails after `ms`. */
  waitLine(pred: (l: string) => boolean, ms: number, what: string): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new LabError(`${what}: nothing after ${ms / 1000} s`)), ms);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('close', () => resolve());
      this.child.kill(signal);
    });
  }
}

/** A parsed agent log line. */
interface AgentEvent {
  time: string;
  level: string;
  event?: string;
  msg: string;
  [k: string]: unknown;
}

/** The agent's log line as the lab shows it: time, event, message. */
function showEvent(e: AgentEvent): void {
  const colour = e.event === 'health-down' || e.event === 'quorum-lost' || e.event === 'sorry-server-on' ? red : e.event === 'health-up' ? green : e.event?.startsWith('kernel') ? yellow : (s: string) => s;
  out(`  ${dim('agent │')} ${dim(e.time.slice(11, 23))} ${colour(`${(e.event ?? e.level).padEnd(15)}`)} ${e.msg}`);
}

class AgentProc extends Proc {
  readonly events: AgentEvent[] = [];
  private eventWaiters: { pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }[] = [];
  quiet = false;
  constructor(child: ChildProcess) {
    super('agent', child, (l) => {
      let e: AgentEvent;
      try {
        e = JSON.parse(l) as AgentEvent;
      } catch {
        out(`  agent │ ${l}`);
        return;
      }
      this.events.push(e);
      if (!this.quiet && e.level !== 'debug') showEvent(e);
      this.eventWaiters = this.eventWaiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
  }

  /** Waits for an event matching `pred` at index `since` or later of `events`. */
  waitEvent(pred: (e: AgentEvent) => boolean, ms: number, what: string, since = 0): Promise<AgentEvent> {
    const found = this.events.slice(since).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new LabError(`${what}: not seen after ${ms / 1000} s`)), ms);
      this.eventWaiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}

/** One request's outcome as the client prints it. */
interface Hit {
  t: number;
  server?: string;
  error?: string;
  ms: number;
}

function tally(hits: Hit[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const h of hits) m.set(h.server ?? `error: ${h.error}`, (m.get(h.server ?? `error: ${h.error}`) ?? 0) + 1);
  return m;
}

/** Prints a distribution as bars, servers in the given order, errors last. */
function showDistribution(hits: Hit[], servers: string[], weights?: Map<string, number>): void {
  const t = tally(hits);
  const max = Math.max(1, ...t.values());
  const width = 40;
  for (const name of [...servers, ...[...t.keys()].filter((k) => !servers.includes(k)).sort()]) {
    const n = t.get(name) ?? 0;
    const bar = '█'.repeat(Math.round((n / max) * width));
    const w = weights?.get(name);
    const label = name.startsWith('error') ? red(name.padEnd(8)) : name.padEnd(8);
    out(`    ${label} ${String(n).padStart(4)}  ${name.startsWith('error') ? red(bar) : bar}${w !== undefined ? dim(`  (weight ${w})`) : ''}`);
  }
  const errors = hits.filter((h) => h.error).length;
  out(dim(`    ${hits.length} requests, ${errors} failed`));
}

/** Sends `n` requests from the client namespace (4 at a time), each on its own connection. */
function burst(net: LabNetwork, url: string, n: number): Hit[] {
  const text = execFileSync('ip', ['netns', 'exec', net.client.netns, 'node', labScript('traffic.js'), url, '--count', String(n), '--concurrency', '4'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Hit);
}

/** Continuous traffic from the client at `rate` requests per second until stopped. */
function stream(net: LabNetwork, url: string, rate: number): { proc: Proc; stop: () => Promise<Hit[]> } {
  const proc = new Proc('client', spawnIn(net.client.netns, ['node', labScript('traffic.js'), url, '--rate', String(rate)]));
  return {
    proc,
    stop: async () => {
      await proc.stop('SIGTERM');
      return proc.lines.filter(Boolean).map((l) => JSON.parse(l) as Hit);
    },
  };
}

function startWeb(host: LabHost, port: number): Promise<Proc> {
  const p = new Proc(host.name, spawnIn(host.netns, ['node', labScript('web.js'), host.name, String(port)]));
  return p.waitLine((l) => l === 'listening', 15_000, `${host.name} to start`).then(() => p);
}

function ipvsadm(net: LabNetwork): void {
  const text = shIn(net.director.netns, 'ipvsadm -L -n');
  for (const l of text.trimEnd().split('\n')) out(dim(`    ${l}`));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Everything started, to stop on the way out. */
const cleanup: (() => Promise<void> | void)[] = [];

async function startAgent(net: LabNetwork, config: string): Promise<AgentProc> {
  const stateDir = mkdtempSync(join(tmpdir(), 'ipvs-lab-state-'));
  cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
  const agent = new AgentProc(spawnIn(net.director.netns, ['node', AGENT, '--config', config, '--state-dir', stateDir, '--listen', '127.0.0.1:9586']));
  cleanup.push(() => agent.stop());
  await agent.waitEvent((e) => e.event === 'start', 20_000, 'the agent to start');
  return agent;
}

/** True for the agent's kernel change that gives `realServer` a weight (`> 0`) or takes it (`0`, or deleted). */
function weightChange(e: AgentEvent, realServer: string, serving: boolean): boolean {
  if (e.event !== 'kernel-change' || e.realServer !== realServer) return false;
  const w = (e.config as { weight?: number } | undefined)?.weight;
  return serving ? w !== undefined && w > 0 : e.action === 'delete-destination' || w === 0;
}

/** Waits until every configured real server serves in the kernel (after its checks rose). */
async function waitServing(agent: AgentProc, addresses: string[], ms: number, since = 0): Promise<void> {
  for (const a of addresses) await agent.waitEvent((e) => weightChange(e, a, true), ms, `${a} to serve`, since);
}

function metric(net: LabNetwork, name: string): string[] {
  const text = shIn(net.director.netns, 'curl -s http://127.0.0.1:9586/metrics');
  return text.split('\n').filter((l) => l.startsWith(name));
}

// ---------------------------------------------------------------- act 1: DR

async function actDr(): Promise<void> {
  out(bold('\n━━ Act 1 · direct routing (LVS-DR), round robin over three web servers ━━'));
  out(`
    client 192.0.2.100 ─┐
    director 192.0.2.1  ├─ one layer-2 segment (a bridge)
      VIP 192.0.2.10    │
    web1 192.0.2.11 ────┤  each web server also holds the VIP on lo (/32) with
    web2 192.0.2.12 ────┤  arp_ignore=1, arp_announce=2: only the director answers
    web3 192.0.2.13 ────┘  ARP for it; replies go straight back to the client`);
  step('building the network (namespaces, veth pairs, a bridge)');
  const net = buildDr('dr');
  cleanup.push(() => teardown(net));
  const rs1 = net.realServers[0] as LabHost;
  out(dim(`    ${rs1.name}: ${shIn(rs1.netns, 'ip -4 -o addr show dev lo | grep 192.0.2.10').trim().replace(/\s+/g, ' ')}`));
  out(dim(`    ${rs1.name}: ${shIn(rs1.netns, 'sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce').trim().replace(/\n/g, ', ')}`));

  step('starting the three web servers (node, one namespace each)');
  const webs = new Map<string, Proc>();
  for (const h of net.realServers) webs.set(h.name, await startWeb(h, 80));
  cleanup.push(async () => void (await Promise.all([...webs.values()].map((w) => w.stop()))));

  step(`starting ipvs-agent on the director with ${bold('examples/dr-rr.yaml')} (checks every 1 s, fall 2, rise 2)`);
  const t0 = Date.now();
  const agent = await startAgent(net, join(ROOT, 'examples', 'dr-rr.yaml'));
  await waitServing(agent, net.realServers.map((h) => `${h.address}:80`), 20_000);
  out(dim(`    all three real servers in the kernel ${((Date.now() - t0) / 1000).toFixed(1)} s after starting the agent (new servers must pass 2 checks)`));
  await sleep(200);
  out('\n  the director\'s table (ipvsadm -L -n):');
  ipvsadm(net);

  step('300 requests from the client to http://192.0.2.10/ (a new connection each)');
  const names = net.realServers.map((h) => h.name);
  const first = burst(net, 'http://192.0.2.10/', 300);
  showDistribution(first, names);
  const arp = shIn(net.client.netns, 'ip neigh show 192.0.2.10').trim();
  const dirMac = shIn(net.director.netns, 'cat /sys/class/net/eth0/address').trim();
  out(dim(`    client's ARP entry for the VIP: ${arp} — the director's eth0 is ${dirMac}`));
  if (!arp.includes(dirMac)) throw new LabError('the VIP resolved to another MAC than the director\'s: the ARP setup is wrong');

  step(`stopping ${bold('web2')} (its HTTP server is killed) under continuous traffic, 40 requests/s`);
  const flow = stream(net, 'http://192.0.2.10/', 40);
  await sleep(1000);
  const mark = agent.events.length;
  const killedAt = Date.now();
  await (webs.get('web2') as Proc).stop('SIGKILL');
  const removed = await agent.waitEvent((e) => weightChange(e, '192.0.2.12:80', false), 10_000, 'web2 to be removed', mark);
  const removedAt = Date.parse(removed.time);
  await sleep(2000);
  const during = await flow.stop();
  // By when each request ended: one in flight when web2 died fails with it.
  const before = during.filter((h) => h.t + h.ms < killedAt);
  const window = during.filter((h) => h.t + h.ms >= killedAt && h.t < removedAt);
  const after = during.filter((h) => h.t >= removedAt);
  out(`\n    web2 removed ${bold(`${((removedAt - killedAt) / 1000).toFixed(2)} s`)} after it died (interval 1 s × fall 2 = 2 s at most, plus the pass)`);
  out(`    while it was being detected: ${window.filter((h) => h.error).length} of ${window.length} requests failed (in flight to web2, or sent to it)`);
  out(`    after the removal: ${after.filter((h) => h.error).length === 0 ? green('0 failed') : red(`${after.filter((h) => h.error).length} failed`)} of ${after.length}; served by ${[...tally(after).entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (before.some((h) => h.error)) throw new LabError('requests failed before web2 was stopped');
  if (after.some((h) => h.error)) throw new LabError('requests failed after web2 was removed');

  step('300 requests now:');
  showDistribution(burst(net, 'http://192.0.2.10/', 300), names);

  step(`starting ${bold('web2')} again`);
  const mark2 = agent.events.length;
  const revivedAt = Date.now();
  webs.set('web2', await startWeb(net.realServers[1] as LabHost, 80));
  const back = await agent.waitEvent((e) => weightChange(e, '192.0.2.12:80', true), 10_000, 'web2 to return', mark2);
  out(`\n    web2 back in ${bold(`${((Date.parse(back.time) - revivedAt) / 1000).toFixed(2)} s`)} (rise 2 × interval 1 s, counting its start-up)`);
  step('300 requests:');
  showDistribution(burst(net, 'http://192.0.2.10/', 300), names);

  step('what else the agent offers (on 127.0.0.1:9586 of the director)');
  for (const l of metric(net, 'ipvs_agent_real_server_connections_total')) out(dim(`    ${l}`));
  for (const l of metric(net, 'ipvs_agent_check_latency_seconds').slice(0, 1)) out(dim(`    ${l}`));
  out(dim('    … /metrics (Prometheus), /status (JSON), /healthz'));

  agent.quiet = true;
  await agent.stop();
  out(dim(`\n    agent stopped; the kernel keeps its rules (the agent never flushes): ${shIn(net.director.netns, 'ipvsadm -S -n | wc -l').trim()} lines in ipvsadm -S`));
  await Promise.all([...webs.values()].map((w) => w.stop()));
  teardown(net);
}

// ---------------------------------------------------------------- act 2: NAT

async function actNat(): Promise<void> {
  out(bold('\n━━ Act 2 · NAT (LVS-NAT), weighted round robin 1:2, a sorry server ━━'));
  out(`
    client 203.0.113.100 ── 203.0.113.1 director 198.51.100.1 ──┬── app1 198.51.100.11:8080 (weight 1)
                            VIP 203.0.113.10:80                  ├── app2 198.51.100.12:8080 (weight 2)
                                                                 └── sorry 198.51.100.99:8080
    the real servers route back through the director, which rewrites addresses both ways`);
  step('building the network');
  const net = buildNat('nat', 2, true);
  cleanup.push(() => teardown(net));
  const webs = new Map<string, Proc>();
  for (const h of net.realServers) webs.set(h.name, await startWeb(h, 8080));
  cleanup.push(async () => void (await Promise.all([...webs.values()].map((w) => w.stop()))));

  step(`starting ipvs-agent with ${bold('examples/nat-wrr.yaml')} (failure policy: inhibit)`);
  const agent = await startAgent(net, join(ROOT, 'examples', 'nat-wrr.yaml'));
  await waitServing(agent, ['198.51.100.11:8080', '198.51.100.12:8080'], 20_000);
  await sleep(200);
  ipvsadm(net);
  const names = ['app1', 'app2', 'sorry'];
  const weights = new Map([
    ['app1', 1],
    ['app2', 2],
  ]);
  step('300 requests to http://203.0.113.10/:');
  showDistribution(burst(net, 'http://203.0.113.10/', 300), names, weights);

  step(`stopping ${bold('app1')}: inhibited (weight 0), not deleted`);
  const mark = agent.events.length;
  await (webs.get('app1') as Proc).stop('SIGKILL');
  await agent.waitEvent((e) => weightChange(e, '198.51.100.11:8080', false), 10_000, 'app1 to be inhibited', mark);
  await sleep(200);
  ipvsadm(net);
  step('300 requests:');
  showDistribution(burst(net, 'http://203.0.113.10/', 300), names, weights);

  step(`stopping ${bold('app2')} too: nothing healthy is left, the sorry server takes over`);
  const mark2 = agent.events.length;
  await (webs.get('app2') as Proc).stop('SIGKILL');
  await agent.waitEvent((e) => weightChange(e, '198.51.100.99:8080', true), 10_000, 'the sorry server', mark2);
  await sleep(200);
  step('30 requests:');
  showDistribution(burst(net, 'http://203.0.113.10/', 30), names, weights);

  step(`starting ${bold('app1')} and ${bold('app2')} again`);
  const mark3 = agent.events.length;
  webs.set('app1', await startWeb(net.realServers[0] as LabHost, 8080));
  webs.set('app2', await startWeb(net.realServers[1] as LabHost, 8080));
  await waitServing(agent, ['198.51.100.11:8080', '198.51.100.12:8080'], 10_000, mark3);
  await sleep(300);
  ipvsadm(net);
  step('300 requests:');
  showDistribution(burst(net, 'http://203.0.113.10/', 300), names, weights);

  agent.quiet = true;
  await agent.stop();
  await Promise.all([...webs.values()].map((w) => w.stop()));
  teardown(net);
}

async function main(): Promise<number> {
  const which = process.argv[2] ?? process.env.IPVS_LAB_VARIANT ?? 'all';
  if (!['all', 'dr', 'nat'].includes(which)) {
    out('usage: lab [all|dr|nat]');
    return 2;
  }
  out(bold(`ipvs lab — Linux Virtual Server in a real Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()} kernel (User-Mode Linux)`));
  out(dim('every host below is a network namespace of this kernel; every request is a real TCP connection through IPVS'));
  try {
    if (which !== 'nat') await actDr();
    if (which !== 'dr') await actNat();
  } catch (e) {
    out(red(`\nlab failed: ${(e as Error).message}`));
    return 1;
  } finally {
    for (const f of cleanup.reverse()) {
      try {
        await f();
      } catch {
        // Best effort: the guest powers off anyway.
      }
    }
  }
  out(bold(`\n━━ done in ${elapsed()} ━━`));
  out('the agent: docs/agent.md · the configurations: examples/ · run one act: npm run lab -- dr | nat');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    out(red(`lab: ${e.stack ?? e.message}`));
    process.exit(1);
  },
);
