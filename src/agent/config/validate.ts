/**
 * Turns a raw configuration (parsed YAML or JSON) into a complete
 * {@link AgentConfig}, or reports every problem with its path. Nothing is
 * used until the whole file is valid: a reload with a bad file changes
 * nothing.
 *
 * The raw vocabulary follows ipvsadm where it has a word for something
 * (scheduler names, `route`/`masq`/`tunnel`, persistence, one-packet) and
 * keepalived where it does not (failure policy, sorry server, quorum with
 * hysteresis). docs/agent.md is the reference.
 * @module
 */
import { isIP } from 'node:net';
import { completeDestinationConfig, completeServiceConfig, normalizeDestinationKey, normalizeServiceKey } from '../../ipvs/codec';
import { formatAddrPort, type Family } from '../../ipvs/address';
import type { DestinationConfig, DestinationKey, ForwardingMethod, Protocol, SchedFlag, ServiceInput, ServiceKey, TunnelType } from '../../ipvs/model';
import { serviceId } from '../../ipvs/plan';
import { IpvsError } from '../../ipvs/errors';
import type { CheckSpec } from '../checks/types';
import { validateCheck } from './check';
import { type ConfigPath, type ConfigProblem, ConfigReader, formatPath } from './reader';
import type { AgentConfig, DrainSettings, QuorumSettings, RealServerSpec, ServiceSpec, SorryServerSpec } from './types';

/** Schedulers the kernel ships (ip_vs_<name>.ko). */
export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'] as const;
const FORWARDING: readonly ForwardingMethod[] = ['route', 'masq', 'tunnel', 'local'];
const TOP_KEYS = ['interval', 'drain', 'services'];
const SERVICE_KEYS = [
  'name', 'protocol', 'address', 'port', 'fwmark', 'family', 'scheduler', 'schedFlags', 'persistence', 'onePacket',
  'forwarding', 'failurePolicy', 'check', 'drain', 'sorryServer', 'quorum', 'realServers',
];
const DEST_KEYS = ['address', 'port', 'weight', 'forwarding', 'upperThreshold', 'lowerThreshold', 'tunnel'];
const REAL_SERVER_KEYS = [...DEST_KEYS, 'check'];
const DEFAULT_DRAIN: DrainSettings = { timeoutMs: 300_000, udpTimeoutMs: 0 };

/** Thrown when a configuration is invalid; lists every problem. */
export class ConfigError extends Error {
  readonly code = 'ERR_IPVS_AGENT_CONFIG';
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `${source}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}, nothing was changed:\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** `services[2].realServers[0].weight: must be >= 0 (line 14)`. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.path}: ${p.message}${p.line !== undefined ? ` (line ${p.line})` : ''}`;
}

/**
 * Validates a raw configuration. Returns the configuration, or the problems
 * (never both, never a partial configuration).
 */
export function validateConfig(raw: unknown): { config: AgentConfig; problems?: undefined } | { config?: undefined; problems: ConfigProblem[] } {
  const r = new ConfigReader();
  const top = r.object(raw ?? {}, [], TOP_KEYS);
  if (!top) return { problems: r.problems };
  const intervalMs = r.duration(top.interval, ['interval'], 100, 3_600_000, 5000) as number;
  const drain = readDrain(r, top.drain, ['drain'], DEFAULT_DRAIN);
  const services: ServiceSpec[] = [];
  const list = top.services === undefined ? (r.fail(['services'], 'is required: the virtual services to manage'), undefined) : r.list(top.services, ['services']);
  const ids = new Map<string, string>();
  const names = new Map<string, string>();
  (list ?? []).forEach((s, i) => {
    // Identity is checked even when the rest of the service has problems, so
    // a duplicate is reported in the same run.
    const { spec, id, name } = readService(r, s, ['services', i], drain);
    if (id !== undefined) {
      const dup = ids.get(id);
      if (dup) r.fail(['services', i], `${id.replace(/^service /, '')} is already configured at ${dup}`);
      else ids.set(id, formatPath(['services', i]));
    }
    if (name !== undefined) {
      const dupName = names.get(name);
      if (dupName) r.fail(['services', i, 'name'], `'${name}' is already the name of ${dupName}`);
      else names.set(name, formatPath(['services', i]));
    }
    if (spec) services.push(spec);
  });
  if (r.problems.length) return { problems: r.problems };
  return { config: { intervalMs, drain, services } };
}

function readDrain(r: ConfigReader, raw: unknown, path: ConfigPath, def: DrainSettings): DrainSettings {
  if (raw === undefined) return def;
  const o = r.object(raw, path, ['timeout', 'udpTimeout']);
  if (!o) return def;
  return {
    timeoutMs: r.duration(o.timeout, [...path, 'timeout'], 0, 86_400_000, def.timeoutMs) as number,
    // A short bound: UDP entries never reach zero on their own before the UDP timeout.
    udpTimeoutMs: r.duration(o.udpTimeout, [...path, 'udpTimeout'], 0, 300_000, def.udpTimeoutMs) as number,
  };
}

function readService(
  r: ConfigReader,
  raw: unknown,
  path: ConfigPath,
  drainDefault: DrainSettings,
): { spec?: ServiceSpec | undefined; id?: string | undefined; name?: string | undefined } {
  const before = r.problems.length;
  const o = r.object(raw, path, SERVICE_KEYS);
  if (!o) return {};
  const at = (...k: (string | number)[]): ConfigPath => [...path, ...k];

  // Identity: protocol + address + port, or fwmark (+ family).
  let key: ServiceKey | undefined;
  let family: Family = 'ipv4';
  if (o.fwmark !== undefined) {
    for (const k of ['protocol', 'address', 'port'] as const) {
      if (o[k] !== undefined) r.fail(at(k), 'does not go with fwmark: a firewall-mark service is identified by its mark alone');
    }
    const fwmark = r.int(o.fwmark, at('fwmark'), 1, 0xffffffff);
    family = r.oneOf(o.family, at('family'), ['ipv4', 'ipv6'] as const, 'ipv4') as Family;
    if (fwmark !== undefined) key = { fwmark, family };
  } else {
    if (o.family !== undefined) r.fail(at('family'), "only goes with fwmark (an address's family is its own)");
    const protocol = r.oneOf(o.protocol, at('protocol'), ['tcp', 'udp', 'sctp'] as const, 'tcp') as Protocol;
    const address = o.address === undefined ? (r.fail(at('address'), 'is required: the virtual IP (or give a fwmark)'), undefined) : r.string(o.address, at('address'));
    if (address !== undefined && !isIP(address)) r.fail(at('address'), `'${address}' is not an IPv4 or IPv6 address`);
    const port = o.port === undefined ? (r.fail(at('port'), 'is required (0 only for a persistent catch-all service)'), undefined) : r.int(o.port, at('port'), 0, 65535);
    if (address !== undefined && isIP(address) && port !== undefined) {
      family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      key = { protocol, address, port };
    }
  }

  // Scheduling.
  const scheduler = r.string(o.scheduler, at('scheduler'), 'wlc');
  if (scheduler !== undefined && !(SCHEDULERS as readonly string[]).includes(scheduler)) {
    r.fail(at('scheduler'), `unknown scheduler '${scheduler}'; the kernel has ${SCHEDULERS.join(', ')}`);
  }
  const schedFlags: SchedFlag[] = [];
  if (o.schedFlags !== undefined) {
    const allowed: string[] = ['flag-1', 'flag-2', 'flag-3'];
    if (scheduler === 'sh' || scheduler === 'mh') allowed.push(`${scheduler}-fallback`, `${scheduler}-port`);
    (r.list(o.schedFlags, at('schedFlags')) ?? []).forEach((f, i) => {
      const v = r.oneOf(f, at('schedFlags', i), allowed);
      if (v) schedFlags.push(v as SchedFlag);
    });
  }
  const input: ServiceInput = { scheduler: scheduler ?? 'wlc', schedFlags };
  if (o.persistence !== undefined && o.persistence !== false) {
    input.persistent = true;
    if (o.persistence !== true) {
      const p = r.object(o.persistence, at('persistence'), ['timeout', 'netmask', 'engine']);
      if (p) {
        const t = r.duration(p.timeout, at('persistence', 'timeout'), 1000, 0xffffffff * 1000, 360_000);
        if (t !== undefined) input.timeout = Math.round(t / 1000);
        if (p.netmask !== undefined) {
          const nm = readNetmask(r, p.netmask, at('persistence', 'netmask'), family);
          if (nm !== undefined) input.netmask = nm;
        }
        const engine = r.oneOf(p.engine, at('persistence', 'engine'), ['sip'] as const);
        if (engine !== undefined) input.persistenceEngine = engine;
      }
    }
  } else if (key && !('fwmark' in key) && key.port === 0) {
    r.fail(at('port'), 'may be 0 only for a persistent service (add persistence:)');
  }
  input.onePacket = r.bool(o.onePacket, at('onePacket'), false) as boolean;
  if (input.onePacket && key && !('fwmark' in key) && key.protocol !== 'udp') {
    r.fail(at('onePacket'), 'only applies to UDP services (and fwmark services carrying UDP)');
  }

  const defaultForwarding = r.oneOf(o.forwarding, at('forwarding'), FORWARDING, 'route') as ForwardingMethod;
  const failurePolicy = r.oneOf(o.failurePolicy, at('failurePolicy'), ['remove', 'inhibit'] as const, 'remove') as 'remove' | 'inhibit';
  const drain = readDrain(r, o.drain, at('drain'), drainDefault);
  const defaultPort = key && !('fwmark' in key) ? key.port : 0;

  // The service's check applies to every real server that has none of its own.
  let serviceCheck: CheckSpec | undefined;
  if (o.check !== undefined && o.check !== false) serviceCheck = validateCheck(r, o.check, at('check'));

  const realServers: RealServerSpec[] = [];
  const destIds = new Map<string, string>();
  const rsList = o.realServers === undefined ? [] : r.list(o.realServers, at('realServers'));
  (rsList ?? []).forEach((d, i) => {
    const dpath = at('realServers', i);
    const dest = readDestination(r, d, dpath, REAL_SERVER_KEYS, defaultPort, defaultForwarding, family);
    if (!dest) return;
    const dup = destIds.get(dest.id);
    if (dup) r.fail(dpath, `${dest.id} is already a real server of this service (${dup})`);
    destIds.set(dest.id, formatPath(dpath));
    const rs: RealServerSpec = { ...dest, path: formatPath(dpath) };
    const rawCheck = (d as Record<string, unknown>).check;
    if (rawCheck === false) {
      // Explicitly unchecked.
    } else if (rawCheck !== undefined) {
      const c = validateCheck(r, rawCheck, [...dpath, 'check']);
      if (c) rs.check = c;
    } else if (serviceCheck) rs.check = serviceCheck;
    if (rs.check && rs.check.kind !== 'exec' && rs.check.port === undefined && rs.key.port === 0) {
      r.fail(rawCheck !== undefined ? [...dpath, 'check', 'port'] : at('check', 'port'), `is required: real server ${rs.id} has port 0, so the check needs a port to probe`);
    }
    realServers.push(rs);
  });

  let sorryServer: SorryServerSpec | undefined;
  if (o.sorryServer !== undefined) {
    const s = readDestination(r, o.sorryServer, at('sorryServer'), DEST_KEYS, defaultPort, defaultForwarding, family);
    if (s) {
      const dup = destIds.get(s.id);
      if (dup) r.fail(at('sorryServer'), `${s.id} is also a real server (${dup}); the sorry server must be another one`);
      sorryServer = s;
    }
  }

  let quorum: QuorumSettings | undefined;
  if (o.quorum !== undefined) {
    const q = r.object(o.quorum, at('quorum'), ['min', 'hysteresis', 'onLost']);
    if (q) {
      const min = q.min === undefined ? (r.fail(at('quorum', 'min'), 'is required: the total weight of healthy real servers the service needs'), undefined) : r.int(q.min, at('quorum', 'min'), 1, 0x7fffffff);
      const hysteresis = r.int(q.hysteresis, at('quorum', 'hysteresis'), 0, 0x7fffffff, 0) as number;
      const onLost = r.oneOf(q.onLost, at('quorum', 'onLost'), ['alert', 'sorry'] as const, 'alert') as 'alert' | 'sorry';
      if (min !== undefined && hysteresis >= min) r.fail(at('quorum', 'hysteresis'), `must be less than min (${min})`);
      if (onLost === 'sorry' && o.sorryServer === undefined) r.fail(at('quorum', 'onLost'), "'sorry' needs a sorryServer in this service");
      if (min !== undefined) quorum = { min, hysteresis, onLost };
    }
  }

  const given = r.string(o.name, at('name'));
  let canonical: ServiceKey | undefined;
  try {
    if (key) canonical = normalizeServiceKey(key, formatPath(path)).key;
  } catch (e) {
    if (!(e instanceof IpvsError)) throw e;
    r.fail(path, e.message);
  }
  const id = canonical && serviceId(canonical);
  const name = given ?? id?.replace(/^service /, '');
  if (r.problems.length > before || !canonical || !id || !name) return { id, name };

  // The library's own checks are the last word on what the kernel accepts.
  let config;
  try {
    config = completeServiceConfig(family, input, formatPath(path));
  } catch (e) {
    if (!(e instanceof IpvsError)) throw e;
    r.fail(path, e.message);
    return { id, name };
  }
  const spec: ServiceSpec = {
    key: canonical,
    id,
    name,
    config,
    failurePolicy,
    drain,
    realServers,
    path: formatPath(path),
  };
  if (sorryServer) spec.sorryServer = sorryServer;
  if (quorum) spec.quorum = quorum;
  return { spec, id, name };
}

function readNetmask(r: ConfigReader, v: unknown, path: ConfigPath, family: Family): string | number | undefined {
  if (family === 'ipv6') return r.int(v, path, 1, 128);
  if (typeof v === 'number') return r.int(v, path, 0, 32);
  if (typeof v === 'string' && isIP(v) === 4) return v;
  r.fail(path, `must be an IPv4 netmask such as 255.255.255.0 or a prefix length 0..32 (got ${JSON.stringify(v)})`);
  return undefined;
}

function readDestination(
  r: ConfigReader,
  raw: unknown,
  path: ConfigPath,
  keys: readonly string[],
  defaultPort: number,
  defaultForwarding: ForwardingMethod,
  serviceFamily: Family,
): { key: DestinationKey; id: string; config: DestinationConfig } | undefined {
  const before = r.problems.length;
  const o = r.object(raw, path, keys);
  if (!o) return undefined;
  const at = (...k: string[]): ConfigPath => [...path, ...k];
  const address = o.address === undefined ? (r.fail(at('address'), 'is required'), undefined) : r.string(o.address, at('address'));
  if (address !== undefined && !isIP(address)) r.fail(at('address'), `'${address}' is not an IPv4 or IPv6 address`);
  const port = r.int(o.port, at('port'), 0, 65535, defaultPort) as number;
  const forwarding = r.oneOf(o.forwarding, at('forwarding'), FORWARDING, defaultForwarding) as ForwardingMethod;
  const weight = r.int(o.weight, at('weight'), 0, 0x7fffffff, 1) as number;
  const upperThreshold = r.int(o.upperThreshold, at('upperThreshold'), 0, 0x7fffffff, 0) as number;
  const lowerThreshold = r.int(o.lowerThreshold, at('lowerThreshold'), 0, 0x7fffffff, 0) as number;
  if (lowerThreshold > upperThreshold) r.fail(at('lowerThreshold'), `must not exceed upperThreshold (${upperThreshold})`);
  const config: Partial<DestinationConfig> = { forwarding, weight, upperThreshold, lowerThreshold };
  if (o.tunnel !== undefined) {
    if (forwarding !== 'tunnel') r.fail(at('tunnel'), `only goes with forwarding: tunnel (this one is ${forwarding})`);
    const t = r.object(o.tunnel, at('tunnel'), ['type', 'port', 'checksum']);
    if (t) {
      const type = r.oneOf(t.type, at('tunnel', 'type'), ['ipip', 'gue', 'gre'] as const, 'ipip') as TunnelType;
      const tport = r.int(t.port, at('tunnel', 'port'), 1, 65535);
      if (type === 'gue' && tport === undefined && t.port === undefined) r.fail(at('tunnel', 'port'), 'is required for a GUE tunnel (the UDP port)');
      if (type !== 'gue' && t.port !== undefined) r.fail(at('tunnel', 'port'), 'only goes with type: gue');
      const checksum = r.oneOf(t.checksum, at('tunnel', 'checksum'), ['none', 'csum', 'remcsum'] as const, 'none');
      if (checksum !== 'none' && type === 'ipip') r.fail(at('tunnel', 'checksum'), 'only goes with type: gue or gre');
      config.tunnelType = type;
      if (tport !== undefined) config.tunnelPort = tport;
      config.tunnelCsum = checksum === 'csum';
      config.tunnelRemcsum = checksum === 'remcsum';
    }
  }
  if (address !== undefined && isIP(address)) {
    const fam: Family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (fam !== serviceFamily && forwarding !== 'tunnel') {
      r.fail(at('address'), `is ${fam} but the service is ${serviceFamily}: mixed address families need forwarding: tunnel`);
    }
  }
  if (r.problems.length > before || address === undefined) return undefined;
  try {
    const key = normalizeDestinationKey({ address, port }, formatPath(path)).key;
    return { key, id: formatAddrPort(key.address, key.port), config: completeDestinationConfig(config, formatPath(path)) };
  } catch (e) {
    if (!(e instanceof IpvsError)) throw e;
    r.fail(path, e.message);
    return undefined;
  }
}
