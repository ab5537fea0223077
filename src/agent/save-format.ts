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
import type { DestinationConfig, DestinationKey, ServiceConfig, ServiceKey, ServiceRule } from '../ipvs/model';
import { formatAddrPort } from '../ipvs/address';
import { destinationRuleOptions, serviceLines, serviceName, serviceRuleOptions } from '../cli/format';
import { FMT } from '../cli/grammar';
import { sortServices } from '../cli/sort';

const RULES = FMT.RULE | FMT.NUMERIC;

/** `-t 192.0.2.10:80`, `-f 7`, `-f 8 -6`, as ipvsadm -S -n names a service. */
export function serviceArgs(key: ServiceKey): string {
  const family = 'fwmark' in key ? key.family : key.address.includes(':') ? 'ipv6' : 'ipv4';
  return serviceName(key, family, RULES);
}

function destArgs(key: DestinationKey): string {
  return `-r ${formatAddrPort(key.address, key.port)}`;
}

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
  for (const s of rules) serviceLines(out, s, RULES, { thresholds: true });
  return out.join('');
}

/** An operation as the ipvsadm command that would do it (for `--dry-run` and logs). */
export function formatOperation(op: Operation): string {
  switch (op.type) {
    case 'add-service':
    case 'edit-service': {
      const family = 'fwmark' in op.service ? op.service.family : op.service.address.includes(':') ? 'ipv6' : 'ipv4';
      const options = op.config ? serviceRuleOptions(op.config as ServiceConfig, family, true) : '';
      return `ipvsadm ${op.type === 'add-service' ? '-A' : '-E'} ${serviceArgs(op.service)}${options}`;
    }
    case 'delete-service':
      return `ipvsadm -D ${serviceArgs(op.service)}`;
    case 'add-destination':
    case 'edit-destination': {
      const options = op.config ? destinationRuleOptions(op.config as DestinationConfig, true) : '';
      return `ipvsadm ${op.type === 'add-destination' ? '-a' : '-e'} ${serviceArgs(op.service)} ${destArgs(op.destination)}${options}`;
    }
    case 'delete-destination':
      return `ipvsadm -d ${serviceArgs(op.service)} ${destArgs(op.destination)}`;
    case 'zero':
      return `ipvsadm -Z${op.service ? ` ${serviceArgs(op.service)}` : ''}`;
    case 'set-timeouts':
      return `ipvsadm --set ${op.timeouts.tcp ?? 0} ${op.timeouts.tcpFin ?? 0} ${op.timeouts.udp ?? 0}`;
    case 'flush':
      return 'ipvsadm -C';
  }
}
