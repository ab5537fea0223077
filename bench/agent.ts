/**
 * Agent benchmarks (issue 4), inside User-Mode Linux (`npm run bench -- agent`):
 *
 * 1. A no-op reconciliation pass (the kernel already converged) over 5,000
 *    services × 10 real servers, against a bare dump of the same table
 *    (`IpvsClient.rules()`), interleaved in the same boot. Target: the pass
 *    costs at most 1.3× the dump. Reported for the steady state (nothing
 *    changed since the last pass), right after one health verdict changed
 *    (its service recomputed) and after a reload (every service recomputed).
 * 2. Failure detection to kernel change: in the DR lab, a real server is
 *    killed again and again under the agent (checks every 1 s, fall 2); the
 *    distribution of the time from the kill to the kernel change, and of its
 *    excess over interval × fall.
 *
 * `IPVS_BENCH_SCALE` (default 1) scales the detection trials (20 × scale).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { IpvsClient, type Operation, type ServiceKey } from '../src/index';
import { validateConfig } from '../src/agent/config/validate';
import { Reconciler } from '../src/agent/reconciler';
import { AgentProc, startWeb, waitServing, weightChange, type Proc } from '../src/lab/procs';
import { buildDr, spawnIn, teardown } from '../src/lab/topology';
import { createNetns, disposeNetns } from './netns';

const SERVICES = 5000;
const DESTS = 10;

function serviceKey(s: number): ServiceKey {
  return { protocol: 'tcp', address: `203.0.113.${1 + (s % 250)}`, port: 1000 + Math.floor(s / 250) };
}
function destAddr(d: number): { address: string; port: number } {
  return { address: `198.51.100.${10 + (d % 240)}`, port: 80 + Math.floor(d / 240) };
}

async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

function stats(values: number[]): { n: number; min: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, min: s[0] ?? NaN, p50: quantile(s, 0.5), p90: quantile(s, 0.9), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

const fmt = (v: number): string => v.toFixed(1).padStart(8);

async function noOpPass(): Promise<Record<string, unknown>> {
  const path = createNetns('benchagent');
  const client = await IpvsClient.open({ netns: path });
  const ops: Operation[] = [];
  const raw = { services: [] as unknown[] };
  for (let s = 0; s < SERVICES; s++) {
    const k = serviceKey(s) as { protocol: 'tcp'; address: string; port: number };
    ops.push({ type: 'add-service', service: k, config: { scheduler: 'wlc' } });
    const rs: unknown[] = [];
    for (let d = 0; d < DESTS; d++) {
      ops.push({ type: 'add-destination', service: k, destination: destAddr(d), config: { forwarding: 'masq', weight: 1 } });
      rs.push(destAddr(d));
    }
    raw.services.push({ protocol: 'tcp', address: k.address, port: k.port, scheduler: 'wlc', forwarding: 'masq', realServers: rs });
  }
  const loaded = await client.apply(ops);
  if (loaded.applied !== ops.length) throw new Error(`loaded ${loaded.applied} of ${ops.length}`);
  const v = validateConfig(raw);
  if (!v.config) throw new Error(`bench configuration invalid: ${v.problems?.[0]?.path} ${v.problems?.[0]?.message}`);
  const rec = new Reconciler({ kernel: client, log: pino({ level: 'silent' }), health: () => true });
  rec.setConfig(v.config);

  const first = await rec.pass();
  if (first.operations.length !== 0 || first.error) throw new Error(`the first pass was not a no-op: ${first.operations.length} operations, ${first.error?.message ?? 'no error'}`);
  // Warm up both paths (JIT, heap growth), then interleave measurements.
  for (let i = 0; i < 3; i++) {
    await client.rules();
    await rec.pass();
  }
  const dump: number[] = [];
  const cached: number[] = [];
  const oneChanged: number[] = [];
  const recomputed: number[] = [];
  const rounds = 20;
  const noop = async (): Promise<void> => {
    const r = await rec.pass();
    if (r.operations.length || r.error) throw new Error('a no-op pass changed something');
  };
  for (let i = 0; i < rounds; i++) {
    dump.push(await ms(() => client.rules()));
    cached.push(await ms(noop));
    // A health verdict of one real server changed (to the same result, so still a no-op).
    rec.invalidate(v.config.services[i]!.id);
    oneChanged.push(await ms(noop));
    // A reload: every service recomputed.
    rec.invalidate();
    recomputed.push(await ms(noop));
  }
  client.close();
  disposeNetns('benchagent');
  const d = stats(dump);
  const c = stats(cached);
  const o = stats(oneChanged);
  const r = stats(recomputed);
  process.stdout.write(`\nno-op pass over ${SERVICES} services x ${DESTS} real servers (${rounds} interleaved rounds, ms)\n`);
  process.stdout.write(`  ${''.padEnd(46)}     min      p50      max\n`);
  process.stdout.write(`  ${'bare dump: IpvsClient.rules()'.padEnd(46)}${fmt(d.min)} ${fmt(d.p50)} ${fmt(d.max)}\n`);
  process.stdout.write(`  ${'no-op pass, steady state (desired cached)'.padEnd(46)}${fmt(c.min)} ${fmt(c.p50)} ${fmt(c.max)}\n`);
  process.stdout.write(`  ${'no-op pass after one health change'.padEnd(46)}${fmt(o.min)} ${fmt(o.p50)} ${fmt(o.max)}\n`);
  process.stdout.write(`  ${'no-op pass after a reload (all recomputed)'.padEnd(46)}${fmt(r.min)} ${fmt(r.p50)} ${fmt(r.max)}\n`);
  process.stdout.write(`  steady-state pass / dump (median):      ${(c.p50 / d.p50).toFixed(3)}x (target <= 1.3x)\n`);
  process.stdout.write(`  after one health change / dump (median): ${(o.p50 / d.p50).toFixed(3)}x\n`);
  process.stdout.write(`  after a reload / dump (median):          ${(r.p50 / d.p50).toFixed(3)}x\n`);
  return { dump: d, cachedPass: c, oneChangedPass: o, reloadPass: r, ratioCached: c.p50 / d.p50, ratioOneChanged: o.p50 / d.p50, ratioReload: r.p50 / d.p50 };
}

async function detection(): Promise<Record<string, unknown>> {
  const modprobe = process.env.IPVS_UML_MODPROBE ?? 'modprobe';
  execFileSync(modprobe, ['-a', 'veth', 'bridge', 'ip_vs_rr']);
  const net = buildDr('bench', 3);
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-agent-bench-'));
  const config = join(dir, 'agent.yaml');
  const interval = 1000;
  const fall = 2;
  writeFileSync(
    config,
    `interval: 5s
services:
  - { protocol: tcp, address: 192.0.2.10, port: 80, scheduler: rr, forwarding: route,
      check: { type: http, path: /health, interval: ${interval}ms, timeout: 500ms, fall: ${fall}, rise: 1 },
      realServers: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }, { address: 192.0.2.13 }] }
`,
  );
  const webs = new Map<string, Proc>();
  const agentMain = join(__dirname, '..', 'src', 'agent', 'main.js');
  let agent: AgentProc | undefined;
  const trials = 20 * Number(process.env.IPVS_BENCH_SCALE ?? 1);
  const total: number[] = [];
  const excess: number[] = [];
  const overhead: number[] = [];
  try {
    for (const h of net.realServers) webs.set(h.name, await startWeb(h, 80));
    agent = new AgentProc(spawnIn(net.director.netns, ['node', agentMain, '--config', config, '--state-dir', join(dir, 'state'), '--listen', 'none']));
    await waitServing(agent, ['192.0.2.11:80', '192.0.2.12:80', '192.0.2.13:80'], 30_000);
    for (let i = 0; i < trials; i++) {
      const host = net.realServers[i % net.realServers.length]!;
      const rs = `${host.address}:80`;
      // A random phase against the probe schedule, as a real failure has.
      await new Promise((r) => setTimeout(r, 200 + Math.random() * interval));
      const mark = agent.events.length;
      const killedAt = Date.now();
      await webs.get(host.name)!.stop('SIGKILL');
      const change = await agent.waitEvent((e) => weightChange(e, rs, false), 15_000, `${rs} removed`, mark);
      const down = agent.events.slice(mark).find((e) => e.event === 'health-down' && e.realServer === rs);
      const at = Date.parse(change.time);
      total.push(at - killedAt);
      excess.push(at - killedAt - interval * fall);
      if (down) overhead.push(at - Date.parse(down.time));
      webs.set(host.name, await startWeb(host, 80));
      await waitServing(agent, [rs], 15_000, mark);
    }
  } finally {
    await agent?.stop();
    await Promise.all([...webs.values()].map((w) => w.stop('SIGKILL')));
    teardown(net);
    rmSync(dir, { recursive: true, force: true });
  }
  const t = stats(total);
  const x = stats(excess);
  const o = stats(overhead);
  process.stdout.write(`\nfailure detection to kernel change (${trials} kills; checks every ${interval} ms, fall ${fall}; ms)\n`);
  process.stdout.write(`  ${''.padEnd(46)}     min      p50      p90      p99      max\n`);
  const row = (name: string, s: ReturnType<typeof stats>): void => {
    process.stdout.write(`  ${name.padEnd(46)}${fmt(s.min)} ${fmt(s.p50)} ${fmt(s.p90)} ${fmt(s.p99)} ${fmt(s.max)}\n`);
  };
  row('kill -> kernel change', t);
  row(`beyond interval x fall (${interval * fall} ms)`, x);
  row('health verdict -> kernel change (agent)', o);
  return { trials, intervalMs: interval, fall, total: t, excess: x, agentOverhead: o };
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'all';
  const result: Record<string, unknown> = {};
  if (which === 'all' || which === 'noop') result.noOpPass = await noOpPass();
  if (which === 'all' || which === 'detect') result.detection = await detection();
  process.stdout.write(`\nBENCH_JSON ${JSON.stringify(result)}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
