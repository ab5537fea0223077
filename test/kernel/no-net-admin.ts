/**
 * Run by test/kernel/lib/errors.ts without CAP_NET_ADMIN (through
 * `setpriv --inh-caps=-net_admin --bounding-set=-net_admin`), inside a test
 * namespace: opens a client and tries a listing and a change. Prints one
 * JSON object: the effective capabilities it ran with and each outcome.
 */
import { readFileSync } from 'node:fs';
import { IpvsClient, IpvsError } from '../../src/index';

interface Outcome {
  ok: boolean;
  class?: string;
  code?: string;
  errno?: number;
  command?: string;
  message?: string;
}

async function attempt(f: () => Promise<unknown>): Promise<Outcome> {
  try {
    await f();
    return { ok: true };
  } catch (e) {
    if (e instanceof IpvsError) {
      const o: Outcome = { ok: false, class: e.constructor.name, code: e.code, errno: e.errno, message: e.message };
      if (e.command !== undefined) o.command = e.command;
      return o;
    }
    return { ok: false, class: (e as Error).constructor.name, message: (e as Error).message };
  }
}

async function main(): Promise<void> {
  const capEff = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  const out: Record<string, unknown> = { capEff };
  // Resolving the family through nlctrl needs no privilege.
  const client = await IpvsClient.open();
  out.open = { ok: true };
  try {
    out.listServices = await attempt(() => client.listServices());
    out.info = await attempt(() => client.info());
    out.addService = await attempt(() => client.addService({ protocol: 'tcp', address: '203.0.113.10', port: 80 }));
  } finally {
    client.close();
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: Error) => {
  process.stdout.write(`${JSON.stringify({ crashed: `${e.constructor.name}: ${e.message}` })}\n`);
});
