/**
 * Helpers for the agent's kernel tests (test/kernel/agent/): a lab network
 * (src/lab/topology.ts) with running web servers, the real `ipvs-agent`
 * started as a process on its director, and `ipvsadm` to look at (and
 * tamper with) the kernel behind the agent's back.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { AgentProc, startWeb, type Proc } from '../../src/lab/procs';
import { buildDr, buildNat, shIn, spawnIn, teardown, type LabHost, type LabNetwork } from '../../src/lab/topology';
import { inGuest } from './harness';

const AGENT = join(__dirname, '..', '..', 'src', 'agent', 'main.js');
let modulesLoaded = false;
let counter = 0;

/** A lab network with its web servers, a configuration file and a state directory. */
export interface AgentLab {
  net: LabNetwork;
  /** Web servers by host name (web1…, or app1…, sorry). */
  webs: Map<string, Proc>;
  dir: string;
  configFile: string;
  stateDir: string;
  /** The agent started last (if any). */
  agent?: AgentProc;
  /** Writes the configuration file. */
  writeConfig(text: string): void;
  /** Starts `ipvs-agent` on the director (default flags: the config, the state dir, no HTTP). */
  startAgent(args?: string[]): Promise<AgentProc>;
  /** Runs the agent to completion (for --once, --dry-run); returns exit code, stdout, stderr. */
  runAgent(args: string[], options?: { asNobody?: boolean }): { code: number; stdout: string; stderr: string };
  /** Runs a shell command on the director; returns stdout. */
  director(cmd: string): string;
  /** `ipvsadm -S -n` on the director. */
  save(): string;
  /** Stops (kills) a web server. */
  kill(name: string): Promise<void>;
  /** (Re)starts a web server. */
  revive(name: string): Promise<void>;
}

function loadModules(): void {
  if (modulesLoaded) return;
  const modprobe = process.env.IPVS_UML_MODPROBE ?? 'modprobe';
  // The relay boots with ip_vs only; the lab networks need veth pairs and a bridge.
  execFileSync(modprobe, ['-a', 'veth', 'bridge', 'ip_vs_rr', 'ip_vs_wrr']);
  modulesLoaded = true;
}

/**
 * Builds a lab network (`dr` with 3 web servers on :80, or `nat` with 2 on
 * :8080 plus the sorry server), runs `fn`, and tears everything down. When
 * the test failed, the agent's log is printed as TAP comments.
 */
export async function withLab<T>(t: Test, mode: 'dr' | 'nat', fn: (lab: AgentLab) => Promise<T>): Promise<T> {
  if (!inGuest()) throw new Error('kernel tests must run inside User-Mode Linux (npm test boots it)');
  loadModules();
  const prefix = `a${process.pid % 1000}x${++counter}`;
  const net = mode === 'dr' ? buildDr(prefix, 3) : buildNat(prefix, 2, true);
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-agent-kt-'));
  const port = mode === 'dr' ? 80 : 8080;
  const webs = new Map<string, Proc>();
  const agents: AgentProc[] = [];
  const hosts = new Map<string, LabHost>(net.realServers.map((h) => [h.name, h]));
  const lab: AgentLab = {
    net,
    webs,
    dir,
    configFile: join(dir, 'agent.yaml'),
    stateDir: join(dir, 'state'),
    writeConfig(text) {
      writeFileSync(lab.configFile, text);
    },
    async startAgent(args = []) {
      const a = new AgentProc(spawnIn(net.director.netns, ['node', AGENT, '--config', lab.configFile, '--state-dir', lab.stateDir, '--listen', 'none', ...args]));
      agents.push(a);
      lab.agent = a;
      await a.waitEvent((e) => e.event === 'start' || e.level === 'fatal', 30_000, 'the agent to start');
      return a;
    },
    runAgent(args, options = {}) {
      const argv = ['node', AGENT, '--config', lab.configFile, '--state-dir', lab.stateDir, '--listen', 'none', ...args];
      const cmd = options.asNobody
        ? // Only CAP_NET_ADMIN, as the systemd unit grants it: no root, nothing else.
          ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all,+net_admin', '--ambient-caps=-all,+net_admin', '--bounding-set=-all,+net_admin', ...argv]
        : argv;
      try {
        const stdout = execFileSync('ip', ['netns', 'exec', net.director.netns, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        return { code: 0, stdout, stderr: '' };
      } catch (e) {
        const err = e as { status?: number; stdout?: string; stderr?: string };
        return { code: err.status ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      }
    },
    director: (cmd) => shIn(net.director.netns, cmd),
    save: () => shIn(net.director.netns, 'ipvsadm -S -n'),
    async kill(name) {
      await webs.get(name)?.stop('SIGKILL');
    },
    async revive(name) {
      const h = hosts.get(name);
      if (!h) throw new Error(`no host ${name}`);
      webs.set(name, await startWeb(h, h.name === 'sorry' ? 8080 : port));
    },
  };
  let threw = false;
  try {
    const started = await Promise.all(net.realServers.map((h) => startWeb(h, port)));
    net.realServers.forEach((h, i) => webs.set(h.name, started[i] as Proc));
    return await fn(lab);
  } catch (e) {
    threw = true;
    throw e;
  } finally {
    if (threw || !t.passing()) {
      for (const a of agents) {
        t.comment(`agent log (${a.events.length} lines, last 40):`);
        for (const l of a.lines.slice(-40)) t.comment(l);
        if (a.stderr) t.comment(`agent stderr: ${a.stderr}`);
      }
    }
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    await Promise.all([...webs.values()].map((w) => w.stop('SIGKILL')));
    teardown(net);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A DR configuration over the lab's web servers, with fast checks. */
export function drConfig(options: { servers?: number[]; policy?: 'remove' | 'inhibit'; interval?: string; extra?: string; drain?: string } = {}): string {
  const servers = options.servers ?? [11, 12, 13];
  return `interval: ${options.interval ?? '1s'}
${options.drain ? `drain: ${options.drain}\n` : ''}services:
  - name: web
    protocol: tcp
    address: 192.0.2.10
    port: 80
    scheduler: rr
    forwarding: route
    failurePolicy: ${options.policy ?? 'remove'}
    check: { type: http, path: /health, interval: 1s, timeout: 500ms, fall: 2, rise: 2 }
${options.extra ?? ''}    realServers:
${servers.map((s) => `      - address: 192.0.2.${s}\n`).join('')}`;
}

/** The `-a` lines of a save for one service prefix (`-t 192.0.2.10:80`), sorted. */
export function destLines(save: string, service: string): string[] {
  return save
    .split('\n')
    .filter((l) => l.startsWith(`-a ${service} `))
    .sort();
}

/** The lines of a save that belong to one service (its -A and -a lines). */
export function serviceLines(save: string, service: string): string[] {
  return save
    .split('\n')
    .filter((l) => l.startsWith(`-A ${service} `) || l.startsWith(`-a ${service} `))
    .sort();
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
