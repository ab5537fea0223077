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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc, burst, startWeb, stream, tally, waitServing, weightChange, type AgentEvent, type Hit, type Proc } from './procs';
import { buildDr, buildNat, shIn, spawnIn, teardown, type LabHost, type LabNetwork } from './topology';

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

/** The agent's log line as the lab shows it: time, event, message. */
function showEvent(e: AgentEvent): void {
  if (e.level === 'debug') return;
  const colour = e.event === 'health-down' || e.event === 'quorum-lost' || e.event === 'sorry-server-on' ? red : e.event === 'health-up' ? green : e.event?.startsWith('kernel') ? yellow : (s: string) => s;
  out(`  ${dim('agent │')} ${dim(e.time.slice(11, 23))} ${colour(`${(e.event ?? e.level).padEnd(15)}`)} ${e.msg}`);
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

function ipvsadm(net: LabNetwork): void {
  const text = shIn(net.director.netns, 'ipvsadm -L -n');
  for (const l of text.trimEnd().split('\n')) out(dim(`    ${l}`));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Agents whose log is no longer shown (stopping). */
const quiet = new WeakSet<AgentProc>();

/** Everything started, to stop on the way out. */
const cleanup: (() => Promise<void> | void)[] = [];

async function startAgent(net: LabNetwork, config: string): Promise<AgentProc> {
  const stateDir = mkdtempSync(join(tmpdir(), 'ipvs-lab-state-'));
  cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
  const agent = new AgentProc(
    spawnIn(net.director.netns, ['node', AGENT, '--config', config, '--state-dir', stateDir, '--listen', '127.0.0.1:9586']),
    (e) => {
      if (!quiet.has(agent)) showEvent(e);
    },
    (l) => out(`  agent │ ${l}`),
  );
  cleanup.push(() => agent.stop());
  await agent.waitEvent((e) => e.event === 'start', 20_000, 'the agent to start');
  return agent;
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
  const loAddrs = shIn(rs1.netns, 'ip -4 -br addr show dev lo').trim().split(/\s+/).slice(2).join(' ');
  const sysctls = shIn(rs1.netns, 'sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce').trim().split('\n');
  out(dim(`    ${rs1.name}: lo holds ${loAddrs}; arp_ignore=${sysctls[0]}, arp_announce=${sysctls[1]}`));
  const expire = shIn(net.director.netns, 'sysctl -n net.ipv4.vs.expire_nodest_conn').trim();
  out(dim(`    director: net.ipv4.vs.expire_nodest_conn=${expire} (a removed server's connections end at once: docs/agent.md)`));

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

  quiet.add(agent);
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

  quiet.add(agent);
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
