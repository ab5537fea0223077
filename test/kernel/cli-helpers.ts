/**
 * Helpers for the CLI's kernel suite (test/kernel/cli/): run `ipvs` and
 * `ipvsadm` side by side in namespaces and compare what they print.
 */
import { join } from 'node:path';
import type { ExecResult, Netns } from './harness';

/** The built `ipvs` command (package.json bin). */
export const IPVS_BIN = join(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

/** A shell word: `ipvs` as a command line prefix. */
export const IPVS = `node ${IPVS_BIN}`;

/** Quotes a word for sh. */
export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * ipvsadm's output put in ipvs's words where they differ on purpose:
 * - the program name in "Try `ipvsadm -h' ..." messages;
 * - firewall marks of 2^31 and more, which Debian's ipvsadm prints signed
 *   (`-f -1294967296`, `FWM  -1294967296`): turned into the unsigned value.
 *   In the --stats and --rate views the service name is padded to 33
 *   columns, so the padding is redone for the longer number.
 */
export function asIpvs(text: string): string {
  const unsigned = (s: string): string =>
    s.replace(/(-f |FWM  )-(\d+)/g, (_m, pre: string, n: string) => `${pre}${4294967296 - Number(n)}`);
  return text
    .replace(/`ipvsadm -h' or 'ipvsadm --help'/g, "`ipvs -h' or 'ipvs --help'")
    .split('\n')
    .map((line) => {
      // A padded name is followed by counters: "FWM  -5" + blanks to column 33 + 9-column numbers.
      if (/^FWM  -\d+( IPv6)? {2,}/.test(line) && line.length > 33 && !/[a-z]/.test(line.slice(33))) {
        return unsigned(line.slice(0, 33).trimEnd()).padEnd(33) + line.slice(33);
      }
      return unsigned(line);
    })
    .join('\n');
}

/** The state ipvsadm shows for a namespace: rules, thresholds, timeouts, daemons. */
export async function stateOf(ns: Netns): Promise<string> {
  const r = await ns.exec('ipvsadm -S -n; ipvsadm -L -n --thresholds; ipvsadm -L --timeout; ipvsadm -L --daemon');
  return r.stdout + r.stderr;
}

/** Runs `sh` lines in a namespace, failing with the first error. */
export async function setup(ns: Netns, lines: readonly string[]): Promise<void> {
  for (const l of lines) await ns.sh(l);
}

/** A result as compared: status, stdout, stderr. */
export function shown(r: ExecResult): { code: number; stdout: string; stderr: string } {
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}
