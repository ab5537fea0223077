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
import { formatAddrPort, parseAddress } from '../ipvs/address';
import { defaultNetmask } from '../ipvs/codec';
import type { DestinationConfig, DestinationKey, ServiceConfig, ServiceKey, ServiceRule } from '../ipvs/model';

const FWD_FLAG: Record<DestinationConfig['forwarding'], string> = { route: '-g', masq: '-m', tunnel: '-i', local: '-g' };
const PROTO_FLAG = { tcp: '-t', udp: '-u', sctp: '--sctp-service' } as const;

/**
 * `-t 192.0.2.10:80`, `-f 7`, `-f 8 -6`. ipvsadm has no syntax for a
 * protocol other than TCP, UDP and SCTP (another tool can create one); such
 * a service prints as `[protocol 99] 192.0.2.10:80`, which no ipvsadm reads.
 * The agent never owns one: its configuration cannot express it.
 */
export function serviceArgs(key: ServiceKey): string {
  if ('fwmark' in key) return `-f ${key.fwmark}${key.family === 'ipv6' ? ' -6' : ''}`;
  const flag = typeof key.protocol === 'number' ? `[protocol ${key.protocol}]` : PROTO_FLAG[key.protocol];
  return `${flag} ${formatAddrPort(key.address, key.port)}`;
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

/** An address as 32-bit words in network order (IPv4: one word). */
function words(address: string): number[] {
  const p = parseAddress(address);
  const n = p.family === 'ipv4' ? 1 : 4;
  return Array.from({ length: n }, (_v, i) => p.bytes.readUInt32BE(i * 4));
}

/**
 * libipvs's comparison: differences of unsigned 32-bit values taken as a C
 * `int`, so (like ipvsadm) two addresses more than 2^31 apart compare
 * "backwards". Reproduced, not fixed: the point is ipvsadm's order.
 */
function cmp32(a: number, b: number): number {
  return (a - b) | 0;
}

function cmpAddr(a: string, b: string): number {
  const x = words(a);
  const y = words(b);
  for (let i = 0; i < x.length; i++) {
    const r = cmp32(x[i] as number, y[i] as number);
    if (r !== 0) return r;
  }
  return 0;
}

const AF = { ipv4: 2, ipv6: 10 } as const;
const PROTO = { tcp: 6, udp: 17, sctp: 132 } as const;
const protoNumber = (p: keyof typeof PROTO | number): number => (typeof p === 'number' ? p : PROTO[p]);

/**
 * The rules in the order `ipvsadm -S` prints them (libipvs's
 * ipvs_cmp_services and ipvs_cmp_dests): address services before fwmark
 * ones, then by family, protocol, address, port; real servers by family,
 * address, port. A snapshot in this order diffs cleanly against
 * `ipvsadm -S -n` of the same rules.
 */
export function ipvsadmOrder(rules: readonly ServiceRule[]): ServiceRule[] {
  const mark = (k: ServiceKey): number => ('fwmark' in k ? k.fwmark : 0);
  return [...rules]
    .sort((a, b) => {
      let r = cmp32(mark(a.key), mark(b.key)) || AF[a.family] - AF[b.family];
      if (r !== 0 || 'fwmark' in a.key || 'fwmark' in b.key) return r;
      r = protoNumber(a.key.protocol) - protoNumber((b.key as { protocol: keyof typeof PROTO | number }).protocol);
      return r || cmpAddr(a.key.address, (b.key as { address: string }).address) || a.key.port - (b.key as { port: number }).port;
    })
    .map((s) => ({
      ...s,
      destinations: [...s.destinations].sort((a, b) => AF[a.family] - AF[b.family] || cmpAddr(a.key.address, b.key.address) || a.key.port - b.key.port),
    }));
}

/** A rule set in ipvsadm -S -n form (in the order given: see {@link ipvsadmOrder}): `-A` lines, each followed by its `-a` lines. */
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
