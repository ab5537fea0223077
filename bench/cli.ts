/**
 * The `ipvs` command against ipvsadm, as whole processes, in one pinned
 * User-Mode Linux boot, with a fresh network namespace for every load:
 *
 * - load 5,000 services x 10 real servers: `ipvs restore FILE` vs `ipvsadm -R < FILE`
 * - save them: `ipvs -S -n` vs `ipvsadm -S -n`
 * - restore a file that differs from the kernel in 1% of its lines
 *
 * Run: `npm run bench -- cli` (scripts/bench.sh boots UML and runs this
 * inside), or, after `npm run build` and `npx tsc -p tsconfig.test.json`,
 * `node .build/bench/cli.js`, which boots UML itself (pinned to
 * IPVS_BENCH_CPU, default 1). Options (environment): IPVS_BENCH_SCALE
 * (services, default 5000), IPVS_BENCH_RUNS (default 3).
 * Absolute times under UML are inflated; the ratios, measured in the same
 * boot, are the result.
 *
 * Every contender meets the same kernel: the kernel's service hash table is
 * one for all namespaces, so a table left in another namespace slows every
 * later load (bench/library.ts has the numbers), and the boot's first load
 * pays for the kernel's first touch of its memory. So an uncounted load
 * warms the kernel first, and ipvsadm's table is flushed and its namespace
 * deleted before `ipvs` loads (earlier runs measured `ipvs restore` beside
 * ipvsadm's 5,000 services).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInUml } from '../src/uml/runner';
import { createNetns, disposeNetns } from './netns';
import { median } from './stats';

const ROOT = join(__dirname, '..', '..');
const IPVS = join(ROOT, 'lib', 'cli', 'main.js');

/** The rule set, in ipvsadm -S -n's own form (so a save of it gives back the same text). */
export function ruleFile(services: number, perService: number, variant = 0): string {
  const out: string[] = [];
  for (let s = 0; s < services; s++) {
    // In ipvsadm's sort order (address, then port), as -S prints it.
    const perVip = Math.ceil(services / 250);
    const vip = `203.0.113.${Math.floor(s / perVip) + 1}`;
    const port = 1000 + (s % perVip);
    out.push(`-A -t ${vip}:${port} -s wlc`);
    for (let d = 0; d < perService; d++) {
      // Variant 1 differs in 1% of the lines: every 91st real server (550 of
      // 55,000 lines at the default scale) has another weight.
      const w = variant === 1 && (s * perService + d) % 91 === 0 ? 5 : 1;
      out.push(`-a -t ${vip}:${port} -r 198.51.100.${d + 2}:${port} -m -w ${w}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Runs `cmd` (a shell line) in namespace `ns`; returns seconds and output. */
function timed(ns: string, cmd: string, input?: string): { s: number; stdout: string; code: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { input, maxBuffer: 1 << 30, encoding: 'latin1' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`'${cmd}' failed (${r.status}): ${r.stderr}`);
  return { s, stdout: r.stdout, code: r.status };
}

function guest(): void {
  const services = Number(process.env.IPVS_BENCH_SCALE ?? 5000);
  const runs = Number(process.env.IPVS_BENCH_RUNS ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-bench-'));
  const file = join(dir, 'rules');
  const changed = join(dir, 'rules-1pct');
  const text = ruleFile(services, 10);
  const text1 = ruleFile(services, 10, 1);
  writeFileSync(file, text);
  writeFileSync(changed, text1);
  const a1 = text1.split('\n');
  const lines = text.split('\n').length - 1;
  const diffLines = text.split('\n').filter((l, i) => l !== a1[i]).length;
  const t = { admLoad: [] as number[], ipvsLoad: [] as number[], admSave: [] as number[], ipvsSave: [] as number[], ipvsSave2: [] as number[], ipvs1pct: [] as number[], nodeStart: [] as number[] };
  let n = 0;
  try {
    // Warm the kernel (see the module comment); not counted.
    const w = `bench${process.pid}x${n++}`;
    createNetns(w);
    timed(w, `ipvsadm -R < ${file}`);
    disposeNetns(w);
    for (let r = 0; r < runs; r++) {
      const a = `bench${process.pid}x${n++}`;
      const b = `bench${process.pid}x${n++}`;
      createNetns(a);
      createNetns(b);
      console.log(`run ${r + 1}/${runs}`);
      t.admLoad.push(timed(a, `ipvsadm -R < ${file}`).s);
      if (r === 0 && timed(a, 'ipvsadm -S -n').stdout !== text) throw new Error('ipvsadm -R did not give back the file');
      disposeNetns(a);
      t.ipvsLoad.push(timed(b, `node ${IPVS} restore ${file}`).s);
      if (r === 0 && timed(b, 'ipvsadm -S -n').stdout !== text) throw new Error('ipvs restore did not give back the file');
      t.admSave.push(timed(b, 'ipvsadm -S -n > /dev/null').s);
      t.ipvsSave.push(timed(b, `node ${IPVS} -S -n > /dev/null`).s);
      t.ipvsSave2.push(timed(b, `node ${IPVS} save -n > /dev/null`).s);
      t.nodeStart.push(timed(b, 'node -e 0').s);
      t.ipvs1pct.push(timed(b, `node ${IPVS} restore ${changed}`).s);
      if (r === 0 && timed(b, 'ipvsadm -S -n').stdout !== readFileSync(changed, 'latin1')) throw new Error('the 1% restore did not give back its file');
      disposeNetns(b);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = (k: keyof typeof t): number => median(t[k]);
  const f = (x: number): string => `${x.toFixed(3)} s`;
  const rows = [
    ['load: ipvsadm -R < FILE', f(m('admLoad')), ''],
    ['load: ipvs restore FILE', f(m('ipvsLoad')), `${(m('admLoad') / m('ipvsLoad')).toFixed(1)}x faster (target >= 15x)`],
    ['save: ipvsadm -S -n', f(m('admSave')), ''],
    ['save: ipvs -S -n', f(m('ipvsSave')), `${(m('admSave') / m('ipvsSave')).toFixed(1)}x faster (target >= 2x)`],
    ['save: ipvs save -n', f(m('ipvsSave2')), `${(m('admSave') / m('ipvsSave2')).toFixed(1)}x faster`],
    [`restore of a 1% change (${diffLines} lines)`, f(m('ipvs1pct')), `${((100 * m('ipvs1pct')) / m('ipvsLoad')).toFixed(0)}% of a full ipvs load, ${(m('admLoad') / m('ipvs1pct')).toFixed(0)}x faster than ipvsadm -R`],
    ['node -e 0 (start-up alone)', f(m('nodeStart')), ''],
  ];
  console.log(`ipvs CLI benchmark: ${services} services x 10 real servers (${lines} lines), median of ${runs} runs, one UML boot`);
  for (const [a, b, c] of rows) console.log(`  ${(a as string).padEnd(42)} ${(b as string).padStart(9)}  ${c}`);
  console.log(`  raw: ${JSON.stringify(t)}`);
}

async function host(): Promise<void> {
  const env: Record<string, string> = {};
  for (const k of ['IPVS_BENCH_SCALE', 'IPVS_BENCH_RUNS']) if (process.env[k] !== undefined) env[k] = process.env[k] as string;
  const r = await runInUml({
    command: ['node', __filename, '--guest'],
    cwd: ROOT,
    env,
    cpu: Number(process.env.IPVS_BENCH_CPU ?? 1),
    memoryMB: 2048,
    timeoutMs: 60 * 60_000,
    onOutput: (s) => process.stdout.write(s),
  });
  process.exitCode = r.exitCode === 0 ? 0 : 1;
}

if (require.main === module) {
  // Inside the UML guest (the runner's init sets IPVS_UML_MODPROBE): measure; on the host: boot it.
  if (process.argv.includes('--guest') || process.env.IPVS_UML_MODPROBE !== undefined) guest();
  else void host();
}
