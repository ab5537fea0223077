/**
 * Library benchmark (issue 2): bulk load and full dump, against ipvsadm and
 * against a minimal raw-C netlink client, all measured in the same UML boot.
 *
 * Run with `npm run bench -- library` (scripts/bench.sh boots UML pinned to
 * one CPU and runs this inside). Every load goes into a fresh network
 * namespace: a fresh IPVS table with no "destination trash".
 *
 * Every contender meets the same kernel. The kernel's service hash table is
 * one for all namespaces (256 buckets in 6.1), so a table left in another
 * namespace lengthens every lookup of a later load: measured here, the raw C
 * load of 5,000 x 10 takes 75 ms alone, 97 ms beside one such table, 123 ms
 * beside two, 180 ms beside three. And the boot's first load pays for the
 * kernel's first touch of its slab pages (150 ms for the same load). So an
 * uncounted load warms the kernel first, and each namespace is flushed and
 * deleted as soon as its measurements are taken ({@link disposeNetns}).
 *
 * Tables: 5,000 services x 10 destinations, and 1 service x 10,000.
 * Service s is tcp 203.0.113.(1+s%250):(1000+s/250); destination d is
 * 198.51.100.(10+d%240):(80+d/240), NAT, weight 1 (bench/rawc/*.c agree).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createNetns, disposeNetns } from './netns';
import { IpvsClient, type Operation, type ServiceKey } from '../src/index';

const RAWC_LOAD = process.env.RAWC_LOAD ?? '/tmp/ipvs-bench/rawc-load';
const RAWC_DUMP = process.env.RAWC_DUMP ?? '/tmp/ipvs-bench/rawc-dump';
const WORK = process.env.BENCH_WORK ?? '/tmp/ipvs-bench';

let nsCounter = 0;
function freshNetns(): { name: string; path: string } {
  const name = `bench${++nsCounter}`;
  return { name, path: createNetns(name) };
}

function serviceKey(s: number): ServiceKey {
  return { protocol: 'tcp', address: `203.0.113.${1 + (s % 250)}`, port: 1000 + Math.floor(s / 250) };
}
function destAddr(d: number): { address: string; port: number } {
  return { address: `198.51.100.${10 + (d % 240)}`, port: 80 + Math.floor(d / 240) };
}

function operations(services: number, dests: number): Operation[] {
  const ops: Operation[] = [];
  for (let s = 0; s < services; s++) {
    const service = serviceKey(s);
    ops.push({ type: 'add-service', service, config: { scheduler: 'wlc' } });
    for (let d = 0; d < dests; d++) {
      ops.push({ type: 'add-destination', service, destination: destAddr(d), config: { forwarding: 'masq', weight: 1 } });
    }
  }
  return ops;
}

function restoreFile(services: number, dests: number): string {
  const lines: string[] = [];
  for (let s = 0; s < services; s++) {
    const k = serviceKey(s) as { address: string; port: number };
    const svc = `-t ${k.address}:${k.port}`;
    lines.push(`-A ${svc} -s wlc`);
    for (let d = 0; d < dests; d++) {
      const a = destAddr(d);
      lines.push(`-a ${svc} -r ${a.address}:${a.port} -m -w 1`);
    }
  }
  return lines.join('\n') + '\n';
}

function wall(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function wallAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function rawc(bin: string, ns: string, args: string[]): number {
  const out = execFileSync('ip', ['netns', 'exec', ns, bin, ...args], { encoding: 'utf8' });
  return Number(out.trim().split(/\s+/)[0]);
}

interface Row {
  table: string;
  what: string;
  ms: number;
  note?: string;
}

async function scenario(label: string, services: number, dests: number, rows: Row[]): Promise<void> {
  const total = services * (dests + 1);
  // ipvsadm -R: the reference tool, one process reading the whole file.
  const file = `${WORK}/restore-${services}x${dests}.txt`;
  writeFileSync(file, restoreFile(services, dests));
  const a = freshNetns();
  const ipvsadmLoad = wall(() => {
    const r = spawnSync('sh', ['-c', `ip netns exec ${a.name} ipvsadm -R < ${file}`], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`ipvsadm -R failed (${r.status})`);
  });
  rows.push({ table: label, what: 'load: ipvsadm -R', ms: ipvsadmLoad });
  disposeNetns(a.name);

  const b = freshNetns();
  rows.push({ table: label, what: 'load: raw C, 256 msgs/sendmsg', ms: rawc(RAWC_LOAD, b.name, [String(services), String(dests), '256']) });
  disposeNetns(b.name);

  // The library, in process: the first load pays JIT compilation and heap
  // growth (cold); the second runs warm code in a warm heap.
  for (const temp of ['cold', 'warm']) {
    const ns = freshNetns();
    const client = await IpvsClient.open({ netns: ns.path });
    const ops = operations(services, dests);
    let applied = 0;
    const ms = await wallAsync(async () => {
      applied = (await client.apply(ops)).applied;
    });
    if (applied !== total) throw new Error(`library load applied ${applied} of ${total}`);
    rows.push({ table: label, what: `load: library apply() (${temp})`, ms });
    client.close();
    if (temp === 'cold') disposeNetns(ns.name);
    if (temp === 'warm') {
      // Dumps, on this namespace's table.
      const ipvsadmSave = wall(() => {
        execFileSync('sh', ['-c', `ip netns exec ${ns.name} ipvsadm -S -n > /dev/null`]);
      });
      rows.push({ table: label, what: 'dump: ipvsadm -S -n', ms: ipvsadmSave });
      rows.push({ table: label, what: 'dump: raw C', ms: rawc(RAWC_DUMP, ns.name, [String(services)]) });
      const c2 = await IpvsClient.open({ netns: ns.path });
      for (const [name, read] of [
        ['rules()', () => c2.rules()],
        ['snapshot()', () => c2.snapshot()],
      ] as const) {
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          let n = 0;
          times.push(
            await wallAsync(async () => {
              const r = await read();
              n = r.reduce((acc, s) => acc + s.destinations.length, 0);
            }),
          );
          if (n !== services * dests) throw new Error(`${name} saw ${n} destinations, expected ${services * dests}`);
        }
        rows.push({ table: label, what: `dump: library ${name} (first)`, ms: times[0] as number });
        rows.push({ table: label, what: `dump: library ${name} (best of 3)`, ms: Math.min(...times) });
      }
      c2.close();
      disposeNetns(ns.name);
    }
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  // Warm the kernel (see the module comment); not counted.
  const w = freshNetns();
  rawc(RAWC_LOAD, w.name, ['5000', '10', '256']);
  disposeNetns(w.name);
  await scenario('5000x10', 5000, 10, rows);
  await scenario('1x10000', 1, 10000, rows);
  const get = (table: string, what: string): number => rows.find((r) => r.table === table && r.what === what)?.ms ?? NaN;
  const lines: string[] = [];
  for (const table of ['5000x10', '1x10000']) {
    lines.push(`\n${table}`);
    for (const r of rows.filter((x) => x.table === table)) lines.push(`  ${r.what.padEnd(40)} ${r.ms.toFixed(1).padStart(9)} ms`);
    const adm = get(table, 'load: ipvsadm -R');
    const raw = get(table, 'load: raw C, 256 msgs/sendmsg');
    for (const temp of ['cold', 'warm']) {
      const lib = get(table, `load: library apply() (${temp})`);
      lines.push(
        `  load ${temp}: ${(adm / lib).toFixed(1)}x faster than ipvsadm -R (target >= 50x), ${(lib / raw).toFixed(2)}x raw C (target <= 3x)`,
      );
    }
    const save = get(table, 'dump: ipvsadm -S -n');
    const rawd = get(table, 'dump: raw C');
    for (const what of ['rules() (first)', 'rules() (best of 3)', 'snapshot() (first)', 'snapshot() (best of 3)']) {
      const lib = get(table, `dump: library ${what}`);
      lines.push(`  dump ${what}: ${(save / lib).toFixed(1)}x faster than ipvsadm -S -n (target >= 3x), ${(lib / rawd).toFixed(2)}x raw C`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(`\nBENCH_JSON ${JSON.stringify(rows)}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
