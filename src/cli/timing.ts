/**
 * Phase timings on stderr when IPVS_TIMING is set (`IPVS_TIMING=1 ipvs
 * restore FILE`): where a long command spends its time, to tell the CLI's
 * share from the library's and the kernel's. A handful of clock reads per
 * command, never one per entry.
 * @module
 */

const on = process.env.IPVS_TIMING !== undefined && process.env.IPVS_TIMING !== '';
let last = on ? performance.now() : 0;
const marks: string[] = [];

/** Records the time since the previous mark (or the start) under `phase`. */
export function mark(phase: string): void {
  if (!on) return;
  const now = performance.now();
  marks.push(`${phase} ${(now - last).toFixed(0)} ms`);
  last = now;
}

/** Prints the marks, if timing is on. */
export function report(command: string): void {
  if (!on) return;
  process.stderr.write(`ipvs ${command}: timing: since start-up ${performance.now().toFixed(0)} ms: ${marks.join(', ')}\n`);
}
