/**
 * Helpers for tests that run inside User-Mode Linux (see src/uml/runner.ts
 * and test/kernel/guest.ts). Each case gets a fresh network namespace: a
 * fresh IPVS instance, and no "destination trash" left by earlier cases.
 */
import { execFile, execFileSync, type ExecFileException } from 'node:child_process';
import { IpvsClient, type IpvsClientOptions } from '../../src/index';

let counter = 0;

/** Result of a command run in a namespace. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fresh network namespace with a client and routes to the documentation ranges. */
export interface Netns {
  name: string;
  /** `/run/netns/NAME`: what IpvsClient.open({ netns }) takes. */
  path: string;
  client: IpvsClient;
  /** Runs `sh -c cmd` inside the namespace; never throws. */
  exec(cmd: string, input?: string): Promise<ExecResult>;
  /** Runs `sh -c cmd` inside the namespace; throws with stderr when it fails. Returns stdout. */
  sh(cmd: string): Promise<string>;
}

/** True inside the UML guest (the harness sets IPVS_UML_MODPROBE). */
export function inGuest(): boolean {
  return process.env.IPVS_UML_MODPROBE !== undefined;
}

function run(args: string[], input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(args[0] as string, args.slice(1), { maxBuffer: 256 * 1024 * 1024 }, (err: ExecFileException | null, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Creates a namespace with `lo` up and a dummy interface holding
 * 198.51.100.1/24, 192.0.2.1/24 and 2001:db8:1::1/64 (so real servers in those
 * ranges are routable), opens a client in it, runs `fn`, and removes it all.
 */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T>, options: IpvsClientOptions = {}): Promise<T> {
  if (!inGuest()) throw new Error('kernel tests must run inside User-Mode Linux (npm test boots it)');
  const name = `t${process.pid}x${++counter}`;
  const setup = [
    `ip netns add ${name}`,
    `ip -n ${name} link set lo up`,
    `ip -n ${name} link add dummy0 type dummy`,
    `ip -n ${name} addr add 198.51.100.1/24 dev dummy0`,
    `ip -n ${name} addr add 192.0.2.1/24 dev dummy0`,
    `ip -n ${name} addr add 2001:db8:1::1/64 dev dummy0 nodad`,
    `ip -n ${name} link set dummy0 up`,
  ];
  execFileSync('sh', ['-c', setup.join(' && ')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const path = `/run/netns/${name}`;
  let client: IpvsClient | undefined;
  try {
    client = await IpvsClient.open({ ...options, netns: path });
    const ns: Netns = {
      name,
      path,
      client,
      exec: (cmd, input) => run(['ip', 'netns', 'exec', name, 'sh', '-c', cmd], input),
      async sh(cmd) {
        const r = await run(['ip', 'netns', 'exec', name, 'sh', '-c', cmd]);
        if (r.code !== 0) throw new Error(`'${cmd}' failed (${r.code}): ${r.stderr.trim()}`);
        return r.stdout;
      },
    };
    return await fn(ns);
  } finally {
    client?.close();
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  }
}
