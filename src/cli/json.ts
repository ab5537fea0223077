/**
 * `--json` output: a stable, documented shape (docs/cli-json.md) for every
 * listing. Counters are 64-bit: they are written as JSON numbers with every
 * digit (`18446744073709551615`), never rounded through a double and never
 * quoted, so `jq` and other arbitrary-precision readers get the exact value.
 * @module
 */
import { isFwmarkKey, type Connection, type Destination, type DestinationRule, type Info, type Rates, type Stats, type SyncDaemon, type Timeouts } from '../ipvs/model';
import type { ListedService } from './format';
import { sortDestinations } from './sort';

/** JSON text of a value whose bigints become exact JSON numbers. */
export function toJson(value: unknown): string {
  // JSON.stringify cannot write bigints: mark them, then unquote the marks.
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000${v.toString()}\u0000` : v), 2);
  return text.replace(/"\\u0000(\d+)\\u0000"/g, '$1');
}

function stats(s: Stats): Record<string, bigint> {
  return { conns: s.conns, inPackets: s.inPackets, outPackets: s.outPackets, inBytes: s.inBytes, outBytes: s.outBytes };
}

function rates(r: Rates): Record<string, number> {
  return { cps: r.cps, inPps: r.inPps, outPps: r.outPps, inBps: r.inBps, outBps: r.outBps };
}

/** One service (and its real servers, in ipvsadm's order unless `sort` is false) in the documented shape. */
export function serviceJson(s: ListedService, sort = true): Record<string, unknown> {
  const k = s.key;
  const c = s.config;
  const o: Record<string, unknown> = isFwmarkKey(k)
    ? { fwmark: k.fwmark, family: s.family }
    : { protocol: k.protocol, address: k.address, port: k.port, family: s.family };
  o.scheduler = c.scheduler;
  o.schedFlags = c.schedFlags;
  o.persistent = c.persistent;
  o.timeout = c.timeout;
  o.netmask = c.netmask;
  o.persistenceEngine = c.persistenceEngine ?? null;
  o.onePacket = c.onePacket;
  if ('stats' in s) {
    o.stats = stats(s.stats);
    o.rates = rates(s.rates);
  }
  const dests: readonly (DestinationRule | Destination)[] = s.destinations;
  o.destinations = (sort ? sortDestinations(dests) : dests).map((d) => {
    const dc = d.config;
    const j: Record<string, unknown> = {
      address: d.key.address,
      port: d.key.port,
      family: d.family,
      forwarding: dc.forwarding,
      weight: dc.weight,
      upperThreshold: dc.upperThreshold,
      lowerThreshold: dc.lowerThreshold,
      tunnel:
        dc.forwarding === 'tunnel'
          ? { type: dc.tunnelType, port: dc.tunnelPort, csum: dc.tunnelCsum, remcsum: dc.tunnelRemcsum }
          : null,
    };
    if ('activeConns' in d) {
      j.activeConns = d.activeConns;
      j.inactiveConns = d.inactiveConns;
      j.persistentConns = d.persistentConns;
      j.stats = stats(d.stats);
      j.rates = rates(d.rates);
    }
    return j;
  });
  return o;
}

/** `ipvs -L --json`: the table, with the IPVS version when listing everything. */
export function servicesJson(services: readonly ListedService[], sort: boolean, info?: Info): string {
  const o: Record<string, unknown> = {};
  if (info) {
    o.version = info.version;
    o.connTableSize = info.connTableSize;
  }
  o.services = services.map((s) => serviceJson(s, sort));
  return `${toJson(o)}\n`;
}

/** `ipvs -L -c --json`. */
export function connectionsJson(conns: readonly Connection[]): string {
  return `${toJson({
    connections: conns.map((c) => ({
      protocol: c.protocol,
      client: { address: c.clientAddress, port: c.clientPort },
      virtual: { address: c.virtualAddress, port: c.virtualPort },
      destination: { address: c.destinationAddress, port: c.destinationPort },
      state: c.state,
      expires: c.expires,
      template: c.template,
      persistenceEngine: c.peName ?? null,
      persistenceData: c.peData ?? null,
    })),
  })}\n`;
}

/** `ipvs -L --timeout --json`. */
export function timeoutsJson(t: Timeouts): string {
  return `${toJson({ tcp: t.tcp, tcpFin: t.tcpFin, udp: t.udp })}\n`;
}

/** `ipvs -L --daemon --json`. */
export function daemonsJson(list: readonly SyncDaemon[]): string {
  return `${toJson({
    daemons: list.map((d) => ({
      state: d.state,
      interface: d.interface,
      syncId: d.syncId,
      maxLen: d.maxLen ?? null,
      group: d.group ?? null,
      port: d.port ?? null,
      ttl: d.ttl ?? null,
    })),
  })}\n`;
}
