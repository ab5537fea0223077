/**
 * ipvsadm's save format (`ipvsadm -S -n`) for the agent's snapshot file, and
 * the same vocabulary for printing planned operations (`--dry-run`, logs).
 *
 * Shared with the `ipvs` command: the lines come from its formatter
 * (src/cli/format.ts) and the order from its reproduction of ipvsadm's sort
 * (src/cli/sort.ts, glibc's merge sort with libipvs's wrapping
 * comparators), so a snapshot diffs cleanly against `ipvsadm -S -n` of the
 * same rules (test/kernel/agent/save-format.ts checks it live). Real-server
 * thresholds are kept as `-x`/`-y`, as `ipvs save --full` keeps them:
 * ipvsadm -S drops them although ipvsadm -R accepts them, and a snapshot
 * that silently dropped them would not restore what the agent set.
 * @module
 */
import type { Operation } from '../ipvs/client';
import type { ServiceRule } from '../ipvs/model';
import { operationArgs, serviceLines } from '../cli/format';
import { FMT } from '../cli/grammar';
import { sortServices } from '../cli/sort';

/**
 * The services in the order `ipvsadm -S` prints them (libipvs's
 * ipvs_cmp_services, sorted as glibc's qsort sorts). Real servers are
 * sorted by {@link formatSave}, as ipvsadm sorts them when it prints.
 */
export function ipvsadmOrder(rules: readonly ServiceRule[]): ServiceRule[] {
  return sortServices([...rules]);
}

/** A rule set in ipvsadm -S -n form plus thresholds, services in the order given (see {@link ipvsadmOrder}). */
export function formatSave(rules: readonly ServiceRule[]): string {
  const out: string[] = [];
  for (const s of rules) serviceLines(out, s, FMT.RULE | FMT.NUMERIC, { thresholds: true });
  return out.join('');
}

/** An operation as the ipvsadm command that would do it (for `--dry-run` and logs). */
export function formatOperation(op: Operation): string {
  return `ipvsadm ${operationArgs(op)}`;
}
