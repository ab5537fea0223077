/**
 * Plans the smallest set of operations that takes the kernel's rules to a
 * desired rule set, without a flush: what is unchanged is not touched, what
 * changed is edited in place (never deleted and re-added), new real servers
 * are added before old ones are removed, and services are deleted last.
 *
 * Used by `ipvs restore` (whole table) and by the agent (only the services it
 * owns: see {@link PlanOptions.owns}).
 * @module
 */
import type { Operation } from './client';
import { comparableServiceConfig, destinationKeyText, normalizeDestinationKey, normalizeServiceKey, serviceKeyText } from './codec';
import type { DestinationConfig, DestinationKey, DestinationRule, ServiceConfig, ServiceKey, ServiceRule } from './model';

/** Options of {@link planChanges}. */
export interface PlanOptions {
  /**
   * Which current services the plan may change or delete. Services for which
   * it returns false are left exactly as they are (and a desired service with
   * the same key is an error). Default: every service.
   */
  owns?: (key: ServiceKey) => boolean;
}

/** Counts of what a plan does. */
export interface PlanSummary {
  addServices: number;
  editServices: number;
  deleteServices: number;
  addDestinations: number;
  editDestinations: number;
  deleteDestinations: number;
  /** Services and destinations left as they were. */
  unchanged: number;
}

/** A plan: operations in the order they must be applied. */
export interface Plan {
  operations: Operation[];
  summary: PlanSummary;
}

/** A stable identity string for a service key (after normalization). */
export function serviceId(key: ServiceKey): string {
  return serviceKeyText(normalizeServiceKey(key).key);
}

function destId(d: DestinationRule): string {
  return destinationKeyText(normalizeDestinationKey(d.key).key);
}

/** Services with at most this many real servers on both sides are compared pairwise. */
const PAIRWISE = 32;

/**
 * Matches a service's desired real servers, one by one, to its current
 * ones: the matcher returns the index of `d` among `current` (-1: a new
 * one), and throws when `d` was given already. Small services (the usual
 * case) are compared pairwise by canonical address and port, without an id
 * string or a map entry per real server; big ones by id.
 */
function matcher(current: readonly DestinationRule[], desired: number, canon: CanonAddresses, service: string): (d: DestinationRule) => number {
  const twice = (what: string): Error => new Error(`${what} is listed twice in ${service}`);
  if (current.length <= PAIRWISE && desired <= PAIRWISE) {
    const ca = current.map((d) => canon.of(d.key));
    // The desired ones so far, as parallel arrays: nothing allocated per real server.
    const addresses: string[] = [];
    const ports: number[] = [];
    return (d) => {
      const address = canon.of(d.key);
      const port = d.key.port;
      for (let k = 0; k < addresses.length; k++) {
        if (addresses[k] === address && ports[k] === port) throw twice(destinationKeyText({ address, port }));
      }
      addresses.push(address);
      ports.push(port);
      for (let i = 0; i < ca.length; i++) if (ca[i] === address && (current[i] as DestinationRule).key.port === port) return i;
      return -1;
    };
  }
  const byId = new Map<string, number>();
  current.forEach((d, i) => {
    const k = destId(d);
    if (!byId.has(k)) byId.set(k, i);
  });
  const seen = new Set<string>();
  return (d) => {
    const k = destId(d);
    if (seen.has(k)) throw twice(k);
    seen.add(k);
    return byId.get(k) ?? -1;
  };
}

/**
 * Canonical real-server addresses by the text given: the same real servers
 * appear in service after service, and a plan of 55,000 against 55,000
 * spent most of its time building an id string and a map entry for each.
 */
class CanonAddresses {
  private readonly texts = new Map<string, string>();

  /** The canonical address of `key`, checked as {@link normalizeDestinationKey} checks it (same errors). */
  of(key: DestinationKey): string {
    if (key !== null && typeof key === 'object' && typeof key.address === 'string' && Number.isInteger(key.port) && key.port >= 0 && key.port <= 65535) {
      const c = this.texts.get(key.address);
      if (c !== undefined) return c;
    }
    const n = normalizeDestinationKey(key);
    if (this.texts.size >= 65536) this.texts.clear();
    this.texts.set(key.address, n.key.address);
    return n.key.address;
  }
}

/** True when two service configurations are the same to the kernel. */
export function sameServiceConfig(a: ServiceConfig, b: ServiceConfig): boolean {
  return comparableServiceConfig(a) === comparableServiceConfig(b);
}

/** True when two destination configurations are the same to the kernel. */
export function sameDestinationConfig(a: DestinationConfig, b: DestinationConfig): boolean {
  return (
    a.forwarding === b.forwarding &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold &&
    a.tunnelType === b.tunnelType &&
    a.tunnelPort === b.tunnelPort &&
    a.tunnelCsum === b.tunnelCsum &&
    a.tunnelRemcsum === b.tunnelRemcsum
  );
}

/**
 * The operations that turn `current` into `desired`.
 * Both are rule sets as {@link IpvsClient.rules} returns them (or as parsed
 * from a file, with complete configurations).
 */
export function planChanges(current: readonly ServiceRule[], desired: readonly ServiceRule[], options: PlanOptions = {}): Plan {
  const owns = options.owns ?? (() => true);
  const summary: PlanSummary = {
    addServices: 0,
    editServices: 0,
    deleteServices: 0,
    addDestinations: 0,
    editDestinations: 0,
    deleteDestinations: 0,
    unchanged: 0,
  };
  const now = new Map<string, ServiceRule>();
  for (const s of current) now.set(serviceId(s.key), s);
  const want = new Map<string, ServiceRule>();
  for (const s of desired) {
    const id = serviceId(s.key);
    if (want.has(id)) throw new Error(`${id} is listed twice in the desired rules`);
    const cur = now.get(id);
    if (cur && !owns(cur.key)) throw new Error(`${id} exists and is not owned: it cannot be part of the desired rules`);
    want.set(id, s);
  }

  const canon = new CanonAddresses();
  const adds: Operation[] = [];
  const edits: Operation[] = [];
  const removals: Operation[] = [];
  const serviceRemovals: Operation[] = [];

  for (const [id, s] of want) {
    const cur = now.get(id);
    if (!cur) {
      summary.addServices++;
      adds.push({ type: 'add-service', service: s.key, config: s.config });
      for (const d of s.destinations) {
        summary.addDestinations++;
        adds.push({ type: 'add-destination', service: s.key, destination: d.key, config: d.config });
      }
      continue;
    }
    if (sameServiceConfig(cur.config, s.config)) summary.unchanged++;
    else {
      summary.editServices++;
      edits.push({ type: 'edit-service', service: s.key, config: s.config });
    }
    const cds = cur.destinations;
    const match = matcher(cds, s.destinations.length, canon, id);
    const kept = new Array<boolean>(cds.length).fill(false);
    for (const d of s.destinations) {
      const i = match(d);
      if (i < 0) {
        summary.addDestinations++;
        adds.push({ type: 'add-destination', service: s.key, destination: d.key, config: d.config });
        continue;
      }
      kept[i] = true;
      if (!sameDestinationConfig((cds[i] as DestinationRule).config, d.config)) {
        summary.editDestinations++;
        edits.push({ type: 'edit-destination', service: s.key, destination: d.key, config: d.config });
      } else summary.unchanged++;
    }
    cds.forEach((cd, i) => {
      if (kept[i]) return;
      summary.deleteDestinations++;
      removals.push({ type: 'delete-destination', service: cur.key, destination: cd.key });
    });
  }
  for (const [id, cur] of now) {
    if (want.has(id) || !owns(cur.key)) continue;
    summary.deleteServices++;
    serviceRemovals.push({ type: 'delete-service', service: cur.key });
  }
  return { operations: [...adds, ...edits, ...removals, ...serviceRemovals], summary };
}
