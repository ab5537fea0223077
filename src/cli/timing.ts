/**
 * Phase timings on stderr when IPVS_TIMING is set (`IPVS_TIMING=1 ipvs
 * restore FILE`): where a long command spends its time, to tell the CLI's
 * share from the library's and the kernel's, with the page faults taken in
 * each phase (under User-Mode Linux a fault costs about 50 µs, so memory
 * touched for the first time is most of a command's time). A handful of
 * clock reads per command, never one per entry.
 * @module
 */

const on = process.env.IPVS_TIMING !== undefined && process.env.IPVS_TIMING !== '';
let last = on ? performance.now() : 0;
let lastFaults = on ? process.resourceUsage().minorPageFault : 0;
const marks: string[] = on ? [`start-up until this module ${last.toFixed(0)} ms (${lastFaults} faults)`] : [];

/** Records the time since the previous mark (or the start) under `phase`. */
export function mark(phase: string): void {
  if (!on) return;
  const now = performance.now();
  const faults = process.resourceUsage().minorPageFault;
  marks.push(`${phase} ${(now - last).toFixed(0)} ms (${faults - lastFaults} faults)`);
  last = now;
  lastFaults = faults;
}

/** Prints the marks, if timing is on. */
export function report(command: string): void {
  if (!on) return;
  process.stderr.write(`ipvs ${command}: timing: ${performance.now().toFixed(0)} ms and ${process.resourceUsage().minorPageFault} page faults in all: ${marks.join(', ')}\n`);
}
