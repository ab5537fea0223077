/**
 * Host side of the kernel suites: boots User-Mode Linux, runs one group of
 * kernel tests inside (test/kernel/guest.ts) and streams its TAP to stdout,
 * so tap reports the guest's tests as this file's. Exits with the guest's
 * status. If UML cannot be booted the suite fails: it never skips.
 */
import { join } from 'node:path';
import { findUml, runInUml } from '../../src/uml/runner';

/** Runs kernel test group `group` in a fresh UML boot pinned to `cpu`. */
export async function relay(group: string, cpu: number): Promise<void> {
  try {
    findUml();
  } catch (e) {
    process.stdout.write(`TAP version 14\nnot ok 1 - boot User-Mode Linux for the ${group} kernel suite\n  ---\n  error: ${JSON.stringify((e as Error).message)}\n  ...\n1..1\n`);
    process.exitCode = 1;
    return;
  }
  const guest = join(__dirname, 'guest.js');
  const env: Record<string, string> = {};
  for (const k of ['IPVS_TEST_FILTER', 'CI']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  const result = await runInUml({
    command: ['node', guest, group],
    cwd: join(__dirname, '..', '..', '..'),
    env,
    cpu,
    memoryMB: 2048,
    timeoutMs: 40 * 60_000,
    onOutput: (s) => process.stdout.write(s),
  });
  if (result.exitCode < 0) {
    process.stdout.write(`\nnot ok 9999 - the UML guest for ${group} did not report an exit status\n`);
    process.exitCode = 1;
    return;
  }
  process.exitCode = result.exitCode;
}
