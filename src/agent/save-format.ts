/**
 * ipvsadm's save format (`ipvsadm -S -n`) for the agent's snapshot file, and
 * the same vocabulary for printing planned operations (`--dry-run`).
 *
 * The output matches ipvsadm 1.31's byte for byte for what it prints
 * (checked against the real tool in test/kernel/agent/save-format.ts), plus
 * `-x`/`-y` for thresholds, which ipvsadm -S leaves out although
 * `ipvsadm -R` accepts them: a snapshot that silently drops thresholds
 * would not restore what the agent set.
 *
 * The `ipvs` CLI has its own formatter in src/cli/; the two are to be unified.
 * @module
 */
import type { Operation } from '../ipvs/client';
import { formatAddrPort } from '../ipvs/address';
import { defaultNetmask } from '../ipvs/codec';
import type { DestinationConfig, DestinationKey, ServiceConfig, ServiceKey, ServiceRule } from '../ipvs/model';

const FWD_FLAG: Record<DestinationConfig['forwarding'], string> = { route: '-g', masq: '-m', tunnel: '-i', local: '-g' };
const PROTO_FLAG = { tcp: '-t', udp: '-u', sctp: '--sctp-service' } as const;

/** `-t 192.0.2.10:80`, `-f 7`, `-f 8 -6`. */
export function serviceArgs(key: ServiceKey): string {
  if ('fwmark' in key) return `-f ${key.fwmark}${key.family === 'ipv6' ? ' -6' : ''}`;
  return `${PROTO_FLAG[key.protocol]} ${formatAddrPort(key.address, key.port)}`;
}

function serviceConfigArgs(key: ServiceKey, c: ServiceConfig): string {
  const family = 'fwmark' in key ? key.family : key.address.includes(':') ? 'ipv6' : 'ipv4';
  let s = ` -s ${c.scheduler}`;
  if (c.persistent) {
    s += ` -p ${c.timeout}`;
    if (String(c.netmask) !== String(defaultNetmask(family))) s += ` -M ${c.netmask}`;
  }
  if (c.persistenceEngine) s += ` --pe ${c.persistenceEngine}`;
  if (c.onePacket) s += ' -o';
  if (c.schedFlags.length) s += ` -b ${[...c.schedFlags].sort(schedFlagOrder).join(',')}`;
  return s;
}

// ipvsadm prints the flags in bit order: flag-1 (fallback) before flag-2 (port).
function schedFlagOrder(a: string, b: string): number {
  const rank = (f: string): number => (f.endsWith('fallback') || f === 'flag-1' ? 1 : f.endsWith('port') || f === 'flag-2' ? 2 : 3);
  return rank(a) - rank(b);
}

function destinationConfigArgs(c: DestinationConfig): string {
  let s = ` ${FWD_FLAG[c.forwarding]} -w ${c.weight}`;
  if (c.upperThreshold) s += ` -x ${c.upperThreshold}`;
  if (c.lowerThreshold) s += ` -y ${c.lowerThreshold}`;
  if (c.forwarding === 'tunnel') {
    s += ` --tun-type ${c.tunnelType}`;
    if (c.tunnelType === 'gue') s += ` --tun-port ${c.tunnelPort}`;
    if (c.tunnelType !== 'ipip') s += c.tunnelRemcsum ? ' --tun-remcsum' : c.tunnelCsum ? ' --tun-csum' : ' --tun-nocsum';
  }
  return s;
}

function destArgs(key: DestinationKey): string {
  return `-r ${formatAddrPort(key.address, key.port)}`;
}

/** A rule set in ipvsadm -S -n form: `-A` lines, each followed by its `-a` lines. */
export function formatSave(rules: readonly ServiceRule[]): string {
  let out = '';
  for (const s of rules) {
    const svc = serviceArgs(s.key);
    out += `-A ${svc}${serviceConfigArgs(s.key, s.config)}\n`;
    for (const d of s.destinations) out += `-a ${svc} ${destArgs(d.key)}${destinationConfigArgs(d.config)}\n`;
  }
  return out;
}

/** An operation as the ipvsadm command that would do it (for `--dry-run` and logs). */
export function formatOperation(op: Operation): string {
  switch (op.type) {
    case 'add-service':
    case 'edit-service':
      return `ipvsadm ${op.type === 'add-service' ? '-A' : '-E'} ${serviceArgs(op.service)}${op.config ? serviceConfigArgs(op.service, op.config as ServiceConfig) : ''}`;
    case 'delete-service':
      return `ipvsadm -D ${serviceArgs(op.service)}`;
    case 'add-destination':
    case 'edit-destination':
      return `ipvsadm ${op.type === 'add-destination' ? '-a' : '-e'} ${serviceArgs(op.service)} ${destArgs(op.destination)}${op.config ? destinationConfigArgs(op.config as DestinationConfig) : ''}`;
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
