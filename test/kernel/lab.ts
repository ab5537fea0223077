/**
 * A small network for real traffic through IPVS inside the UML guest:
 *
 * ```
 *   client ns            director (the test namespace)          real servers
 *   203.0.113.2  --veth-- lbc 203.0.113.1 (+ VIPs .10 .11 .20 .30)
 *   2001:db8:c::2          2001:db8:c::1 (+ VIP 2001:db8:c::10)
 *                          lbr1 198.51.100.1/25, 2001:db8:1::1  --veth-- r1 198.51.100.11,  2001:db8:1::11
 *                          lbr2 198.51.100.129/25, 2001:db8:2::1 --veth-- r2 198.51.100.140, 2001:db8:2::12
 * ```
 * The director forwards (ip_forward=1) and is the real servers' default
 * route, as NAT needs. Each real server runs test/kernel/lab-server.ts
 * (HTTP on 8080, UDP on 5060); the client runs test/kernel/lab-client.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Proc } from '../../src/lab/procs';
import { withNetns, type ExecResult, type Netns } from './harness';

/** One HTTP exchange as the client saw it. */
export interface Reply {
  localPort: number;
  status: number;
  /** The real server's name (r1 or r2). */
  body: string;
  sent: number;
}

/** One request on a kept-alive connection: the client's port, and the answer or the error. */
export interface KeptReply {
  port: number;
  body?: string;
  error?: string;
  ms: number;
}

/** What a real server saw, reported when it stops. */
export interface ServerReport {
  name: string;
  http: number;
  /** Call-IDs of the SIP datagrams received, in order. */
  sip: string[];
}

/** A real server of the lab. */
export interface LabServer {
  name: 'r1' | 'r2';
  ns: string;
  v4: string;
  v6: string;
}

/** The lab, built around a test namespace (the director). */
export interface Lab {
  director: Netns;
  clientNs: string;
  client: { v4: string; v6: string };
  servers: [LabServer, LabServer];
  /**
   * HTTP GETs from the client, each on a new connection: `n` of them, or, with
   * `until`, at least `n` and then on until that file exists.
   */
  http(url: string, n: number, until?: string): Promise<Reply[]>;
  /**
   * A GET on a kept-alive connection from the client; `second()` (after
   * `between`, run once the first answer is in) sends another on the same
   * connection and says what became of it within 3 s.
   */
  keepAlive(url: string): Promise<{ first: KeptReply; second(between: () => Promise<void>): Promise<KeptReply> }>;
  /** One SIP INVITE over UDP from the client. */
  sip(host: string, port: number, srcPort: number, callId: string): Promise<void>;
  /** Stops the real servers and returns what each saw. */
  stopServers(): Promise<ServerReport[]>;
}

const js = (name: string): string => join(__dirname, `${name}.js`);

function sh(cmd: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function must(cmd: string): Promise<string> {
  const r = await sh(cmd);
  if (r.code !== 0) throw new Error(`'${cmd}' failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function startServer(ns: string, name: string): Promise<{ child: ChildProcess; report: Promise<ServerReport> }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, js('lab-server'), name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let ready = false;
    const report = new Promise<ServerReport>((res, rej) => {
      child.on('close', () => {
        const last = out.trim().split('\n').pop() ?? '';
        try {
          res(JSON.parse(last) as ServerReport);
        } catch {
          rej(new Error(`real server ${name} ended without a report: ${out}`));
        }
      });
    });
    report.catch(() => undefined); // awaited by stopServers
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (!ready && out.includes('ready\n')) {
        ready = true;
        resolve({ child, report });
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (!ready) reject(new Error(`real server ${name} exited (${code}) before it was ready: ${out}`));
    });
  });
}

/** Builds the lab around a fresh test namespace, runs `fn`, and tears everything down. */
export async function withLab<T>(fn: (lab: Lab) => Promise<T>): Promise<T> {
  return withNetns(async (director) => {
    const lb = director.name;
    const [c, r1, r2] = [`${lb}c`, `${lb}r1`, `${lb}r2`];
    const nsOf = (n: string, cmd: string): string => `ip netns exec ${n} sh -c '${cmd}'`;
    // No duplicate address detection: addresses are usable at once.
    const noDad = 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad; echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad';
    const started: ChildProcess[] = [];
    let reports: Promise<ServerReport>[] = [];
    await must(`ip netns add ${c} && ip netns add ${r1} && ip netns add ${r2}`);
    try {
      await must(
        [
          ...[lb, c, r1, r2].map((n) => nsOf(n, noDad)),
          `ip -n ${lb} link del dummy0`,
          ...[c, r1, r2].map((n) => `ip -n ${n} link set lo up`),
          `ip link add lbc netns ${lb} type veth peer name eth0 netns ${c}`,
          `ip link add lbr1 netns ${lb} type veth peer name eth0 netns ${r1}`,
          `ip link add lbr2 netns ${lb} type veth peer name eth0 netns ${r2}`,
          `ip -n ${lb} addr add 203.0.113.1/24 dev lbc`,
          ...['10', '11', '20', '30'].map((v) => `ip -n ${lb} addr add 203.0.113.${v}/24 dev lbc`),
          `ip -n ${lb} addr add 2001:db8:c::1/64 dev lbc`,
          `ip -n ${lb} addr add 2001:db8:c::10/64 dev lbc`,
          `ip -n ${lb} addr add 198.51.100.1/25 dev lbr1`,
          `ip -n ${lb} addr add 2001:db8:1::1/64 dev lbr1`,
          `ip -n ${lb} addr add 198.51.100.129/25 dev lbr2`,
          `ip -n ${lb} addr add 2001:db8:2::1/64 dev lbr2`,
          ...['lbc', 'lbr1', 'lbr2'].map((i) => `ip -n ${lb} link set ${i} up`),
          nsOf(lb, 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv6/conf/all/forwarding'),
          `ip -n ${c} addr add 203.0.113.2/24 dev eth0`,
          `ip -n ${c} addr add 2001:db8:c::2/64 dev eth0`,
          `ip -n ${c} link set eth0 up`,
          `ip -n ${r1} addr add 198.51.100.11/25 dev eth0`,
          `ip -n ${r1} addr add 2001:db8:1::11/64 dev eth0`,
          `ip -n ${r1} link set eth0 up`,
          `ip -n ${r1} route add default via 198.51.100.1`,
          `ip -n ${r1} -6 route add default via 2001:db8:1::1`,
          `ip -n ${r2} addr add 198.51.100.140/25 dev eth0`,
          `ip -n ${r2} addr add 2001:db8:2::12/64 dev eth0`,
          `ip -n ${r2} link set eth0 up`,
          `ip -n ${r2} route add default via 198.51.100.129`,
          `ip -n ${r2} -6 route add default via 2001:db8:2::1`,
        ].join(' && '),
      );
      const s1 = await startServer(r1, 'r1');
      started.push(s1.child);
      const s2 = await startServer(r2, 'r2');
      started.push(s2.child);
      reports = [s1.report, s2.report];
      const lab: Lab = {
        director,
        clientNs: c,
        client: { v4: '203.0.113.2', v6: '2001:db8:c::2' },
        servers: [
          { name: 'r1', ns: r1, v4: '198.51.100.11', v6: '2001:db8:1::11' },
          { name: 'r2', ns: r2, v4: '198.51.100.140', v6: '2001:db8:2::12' },
        ],
        async http(url, n, until) {
          const stop = until === undefined ? '' : ` '${until}'`;
          return JSON.parse(await must(`ip netns exec ${c} ${process.execPath} ${js('lab-client')} http '${url}' ${n}${stop}`)) as Reply[];
        },
        async keepAlive(url) {
          const go = join(mkdtempSync(join(tmpdir(), 'ipvs-ka-')), 'go');
          const client = new Proc('client', spawn('ip', ['netns', 'exec', c, process.execPath, js('lab-client'), 'keepalive', url, go], { stdio: ['ignore', 'pipe', 'pipe'] }));
          started.push(client.child);
          const answer = async (which: 'first' | 'second'): Promise<KeptReply> => {
            const line = await client.waitLine((l) => l.startsWith(`{"${which}"`), 10_000, `the keep-alive client's ${which} request`);
            return (JSON.parse(line) as Record<typeof which, KeptReply>)[which];
          };
          const first = await answer('first');
          return {
            first,
            async second(between) {
              await between();
              writeFileSync(go, '');
              try {
                return await answer('second');
              } finally {
                rmSync(dirname(go), { recursive: true, force: true });
              }
            },
          };
        },
        async sip(host, port, srcPort, callId) {
          await must(`ip netns exec ${c} ${process.execPath} ${js('lab-client')} sip ${host} ${port} ${srcPort} '${callId}'`);
        },
        async stopServers() {
          for (const ch of started.splice(0)) ch.kill('SIGTERM');
          return Promise.all(reports);
        },
      };
      return await fn(lab);
    } finally {
      for (const ch of started) ch.kill('SIGKILL');
      await sh(`ip netns del ${c}; ip netns del ${r1}; ip netns del ${r2}`);
    }
  });
}

/** Runs iptables (the legacy backend: this UML kernel has no nftables ip family) in the director. */
export function iptables(lab: Lab, args: string): Promise<string> {
  return lab.director.sh(`iptables-legacy ${args}`);
}

/** Packet and byte counters of the director's iptables rules, by their comment. */
export async function ruleCounters(lab: Lab, table: string): Promise<Map<string, { packets: bigint; bytes: bigint }>> {
  const out = new Map<string, { packets: bigint; bytes: bigint }>();
  for (const line of (await lab.director.sh(`iptables-legacy-save -c -t ${table}`)).split('\n')) {
    const m = /^\[(\d+):(\d+)\] .*--comment "?([\w-]+)"?/.exec(line);
    if (m) out.set(m[3] as string, { packets: BigInt(m[1] as string), bytes: BigInt(m[2] as string) });
  }
  return out;
}
