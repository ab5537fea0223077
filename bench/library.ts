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
 * Loads vary by +-20% with what the kernel was doing just before (freeing
 * the previous table), so the raw C client and the library take turns, each
 * into its own fresh namespace, and the medians are compared. The first
 * library load in the process is reported apart: it pays V8's compilation.
 *
 * Tables: 5,000 services x 10 destinations, and 1 service x 10,000.
 * Service s is tcp 203.0.113.(1+s%250):(1000+s/250); destination d is
 * 198.51.100.(10+d%240):(80+d/240), NAT, weight 1 (bench/rawc/*.c agree).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createNetns, disposeNetns } from './netns';
import { median } from './stats';
import { IpvsClient, type Operation, type ServiceKey } from '../src/index';

const RAWC_LOAD = process.env.RAWC_LOAD ?? '/tmp/ipvs-bench/rawc-load';
const RAWC_DUMP = process.env.RAWC_DUMP ?? '/tmp/ipvs-bench/rawc-dump';
/** The same dumps through io_uring, 64 sockets at a time: what they cost the kernel without a system call a step (a reference, not a target). */
const RAWC_DUMP_URING = process.env.RAWC_DUMP_URING ?? '/tmp/ipvs-bench/rawc-dump-uring';
const WORK = process.env.BENCH_WORK ?? '/tmp/ipvs-bench';

let nsCounter = 0;
function freshNetns(): { name: string; path: string } {
  const name = `bench${++nsCounter}`;
  return { name, path: createNetns(name) };
}

// Addresses as a program holds them after reading its configuration: one
// string value per distinct address. (Building each operation's address with
// its own template literal gives V8 lazy "cons" strings, which the first
// lookup inside apply() must flatten: 55,000 of them, ~3.8 MB of allocation
// that belongs to the caller; the "fresh strings" row measures that case.)
const VIPS = Array.from({ length: 250 }, (_v, i) => `203.0.113.${1 + i}`);
const RIPS = Array.from({ length: 240 }, (_v, i) => `198.51.100.${10 + i}`);

function serviceKey(s: number, fresh = false): ServiceKey {
  const address = fresh ? `203.0.113.${1 + (s % 250)}` : (VIPS[s % 250] as string);
  return { protocol: 'tcp', address, port: 1000 + Math.floor(s / 250) };
}
function destAddr(d: number, fresh = false): { address: string; port: number } {
  const address = fresh ? `198.51.100.${10 + (d % 240)}` : (RIPS[d % 240] as string);
  return { address, port: 80 + Math.floor(d / 240) };
}

function operations(services: number, dests: number, fresh = false): Operation[] {
  const ops: Operation[] = [];
  for (let s = 0; s < services; s++) {
    const service = serviceKey(s, fresh);
    ops.push({ type: 'add-service', service, config: { scheduler: 'wlc' } });
    for (let d = 0; d < dests; d++) {
      ops.push({ type: 'add-destination', service, destination: destAddr(d, fresh), config: { forwarding: 'masq', weight: 1 } });
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

/** Runs a raw C client in a namespace: its time in ms (checked against `count` when given, the number it reports second). */
function rawc(bin: string, ns: string, args: string[], count?: number): number {
  const out = execFileSync('ip', ['netns', 'exec', ns, bin, ...args], { encoding: 'utf8' });
  const [ms, n] = out.trim().split(/\s+/).map(Number);
  if (count !== undefined && n !== count) throw new Error(`${bin} saw ${n}, expected ${count}`);
  return ms as number;
}

interface Row {
  table: string;
  what: string;
  ms: number;
  note?: string;
}

/** Library loads after the first in the process; each is paired with a raw C load just before it. */
const WARM_ROUNDS = 5;

async function libraryLoad(
  services: number,
  dests: number,
  fresh: boolean,
  keep: boolean,
): Promise<{ ms: number; ns: { name: string; path: string } }> {
  const total = services * (dests + 1);
  const ns = freshNetns();
  const client = await IpvsClient.open({ netns: ns.path });
  const ops = operations(services, dests, fresh);
  let applied = 0;
  const ms = await wallAsync(async () => {
    applied = (await client.apply(ops)).applied;
  });
  client.close();
  if (applied !== total) throw new Error(`library load applied ${applied} of ${total}`);
  if (!keep) disposeNetns(ns.name);
  return { ms, ns };
}

function rawLoad(services: number, dests: number): number {
  const b = freshNetns();
  const ms = rawc(RAWC_LOAD, b.name, [String(services), String(dests), '256']);
  disposeNetns(b.name);
  return ms;
}

async function scenario(label: string, services: number, dests: number, rows: Row[]): Promise<void> {
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

  // The library in process, alternating with the raw C client so both meet
  // the kernel in the same state (a load's time moves by +-20% with what the
  // kernel freed just before). The first library load of a table pays V8's
  // compilation and heap growth (the first call in the process: cold).
  const raw: number[] = [];
  const lib: number[] = [];
  raw.push(rawLoad(services, dests));
  rows.push({ table: label, what: 'load: library apply() (first in the process)', ms: (await libraryLoad(services, dests, false, false)).ms });
  let kept = { name: '', path: '' };
  for (let r = 0; r < WARM_ROUNDS; r++) {
    raw.push(rawLoad(services, dests));
    const last = r === WARM_ROUNDS - 1;
    const l = await libraryLoad(services, dests, false, last);
    lib.push(l.ms);
    if (last) kept = l.ns;
  }
  rows.push({ table: label, what: `load: raw C, 256 msgs/sendmsg (median of ${raw.length})`, ms: median(raw) });
  rows.push({ table: label, what: `load: library apply() (warm, median of ${lib.length})`, ms: median(lib) });
  rows.push({ table: label, what: 'load: library apply() (warm, slowest)', ms: Math.max(...lib) });
  rows.push({ table: label, what: 'load: library apply() (warm, fresh strings)', ms: (await libraryLoad(services, dests, true, false)).ms });

  // Dumps, on the last warm load's table.
  const ipvsadmSave = wall(() => {
    execFileSync('sh', ['-c', `ip netns exec ${kept.name} ipvsadm -S -n > /dev/null`]);
  });
  rows.push({ table: label, what: 'dump: ipvsadm -S -n', ms: ipvsadmSave });
  rows.push({ table: label, what: 'dump: raw C', ms: rawc(RAWC_DUMP, kept.name, [String(services)], services * dests) });
  rows.push({ table: label, what: 'dump: raw C through io_uring (reference)', ms: rawc(RAWC_DUMP_URING, kept.name, [String(services)], services * dests) });
  const c2 = await IpvsClient.open({ netns: kept.path });
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
  disposeNetns(kept.name);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  // Warm the kernel (see the module comment); not counted.
  const w = freshNetns();
  rawc(RAWC_LOAD, w.name, ['5000', '10', '256']);
  disposeNetns(w.name);
  await scenario('5000x10', 5000, 10, rows);
  await scenario('1x10000', 1, 10000, rows);
  // A row by the start of its label (labels carry counts such as "median of 5").
  const get = (table: string, what: string): number => rows.find((r) => r.table === table && r.what.startsWith(what))?.ms ?? NaN;
  const lines: string[] = [];
  for (const table of ['5000x10', '1x10000']) {
    lines.push(`\n${table}`);
    for (const r of rows.filter((x) => x.table === table)) lines.push(`  ${r.what.padEnd(50)} ${r.ms.toFixed(1).padStart(9)} ms`);
    const adm = get(table, 'load: ipvsadm -R');
    const raw = get(table, 'load: raw C');
    for (const what of ['first in the process', 'warm, median', 'warm, slowest', 'warm, fresh strings']) {
      const lib = get(table, `load: library apply() (${what}`);
      lines.push(
        `  load (${what}): ${(adm / lib).toFixed(1)}x faster than ipvsadm -R (target >= 50x), ${(lib / raw).toFixed(2)}x raw C (target <= 3x)`,
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
