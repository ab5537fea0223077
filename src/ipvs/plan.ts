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
import { destinationKeyText, normalizeDestinationKey, normalizeServiceKey, schedFlagBits, serviceKeyText } from './codec';
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

/** A plan whose operations are made as they are asked for ({@link Planner.lazy}). */
export interface LazyPlan {
  summary: PlanSummary;
  /** How many operations the slices hold in all. */
  count: number;
  /** The operations in order, at most `size` in each array (none when there are none). */
  slices(size: number): Generator<Operation[]>;
}

/** A stable identity string for a service key (after normalization). */
export function serviceId(key: ServiceKey): string {
  return serviceKeyText(normalizeServiceKey(key).key);
}

function destId(d: DestinationRule): string {
  return destinationKeyText(normalizeDestinationKey(d.key).key);
}

/** Services with at most this many real servers on both sides are compared pairwise ({@link Planner}). */
const PAIRWISE = 32;

/**
 * Matches a big service's desired real servers, one by one, to its current
 * ones by id: the matcher returns the index of `d` among `current` (-1: a
 * new one), and throws when `d` was given already.
 */
function matcher(current: readonly DestinationRule[], service: string): (d: DestinationRule) => number {
  const byId = new Map<string, number>();
  current.forEach((d, i) => {
    const k = destId(d);
    if (!byId.has(k)) byId.set(k, i);
  });
  const seen = new Set<string>();
  return (d) => {
    const k = destId(d);
    if (seen.has(k)) throw new Error(`${k} is listed twice in ${service}`);
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

/**
 * True when two service configurations are the same to the kernel: what
 * equal `comparableServiceConfig` strings (codec) say, field by field,
 * without building them (a restore compares 5,000 services, the agent every
 * pass).
 */
export function sameServiceConfig(a: ServiceConfig, b: ServiceConfig): boolean {
  return (
    a.scheduler === b.scheduler &&
    !a.persistent === !b.persistent &&
    (a.timeout === b.timeout || String(a.timeout) === String(b.timeout)) &&
    (a.netmask === b.netmask || String(a.netmask) === String(b.netmask)) &&
    !a.onePacket === !b.onePacket &&
    schedFlagBits(a.schedFlags) === schedFlagBits(b.schedFlags) &&
    (a.persistenceEngine ?? '') === (b.persistenceEngine ?? '')
  );
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
  const planner = new Planner(desired, options);
  for (const s of current) planner.current(s);
  return planner.finish();
}

/** The operations of one desired service that exists. */
interface ServiceOps {
  adds: Operation[];
  edits: Operation[];
  removals: Operation[];
}

const NO_OPS: ServiceOps = { adds: [], edits: [], removals: [] };

function noOpsYet(): ServiceOps {
  return { adds: [], edits: [], removals: [] };
}

/**
 * {@link planChanges} with the current rules fed one service at a time, as
 * {@link IpvsClient.eachRule} reads them: nothing of a current service is
 * kept once it has been compared (its real-server objects may be reused), so
 * comparing 50,000 real servers with the kernel's keeps only the changes.
 * The plan is the one planChanges makes: adds, then edits, then real-server
 * removals, in the desired order, then service removals in kernel order.
 */
export class Planner {
  private readonly owns: (key: ServiceKey) => boolean;
  private readonly want = new Map<string, ServiceRule>();
  /** Desired services seen in the kernel, with their operations (NO_OPS when none). */
  private readonly seen = new Map<string, ServiceOps>();
  private readonly serviceRemovals: Operation[] = [];
  private readonly fed = new Set<string>();
  /** Desired service ids in the desired order, and where the first repeated one is. */
  private readonly ids: string[] = [];
  private dupAt = -1;
  private readonly notOwned = new Set<string>();
  private readonly failed = new Map<string, unknown>();
  private readonly canon = new CanonAddresses();
  private readonly summary: PlanSummary = {
    addServices: 0,
    editServices: 0,
    deleteServices: 0,
    addDestinations: 0,
    editDestinations: 0,
    deleteDestinations: 0,
    unchanged: 0,
  };

  constructor(desired: readonly ServiceRule[], options: PlanOptions = {}) {
    this.owns = options.owns ?? (() => true);
    for (const s of desired) {
      const id = serviceId(s.key);
      this.ids.push(id);
      if (this.want.has(id)) {
        // Reported by finish(), after what planChanges would report first.
        if (this.dupAt < 0) this.dupAt = this.ids.length - 1;
        continue;
      }
      this.want.set(id, s);
    }
  }

  /** Compares one current service with its desired one (a service fed again is ignored). */
  current(cur: ServiceRule): void {
    const id = serviceId(cur.key);
    if (this.fed.has(id)) return;
    this.fed.add(id);
    const s = this.want.get(id);
    if (!s) {
      if (this.owns(cur.key)) {
        this.summary.deleteServices++;
        this.serviceRemovals.push({ type: 'delete-service', service: cur.key });
      }
      return;
    }
    // Errors wait for finish(), which reports the one planChanges reports first.
    if (!this.owns(cur.key)) {
      this.notOwned.add(id);
      return;
    }
    try {
      this.compare(id, cur, s);
    } catch (e) {
      this.failed.set(id, e);
    }
  }

  private compare(id: string, cur: ServiceRule, s: ServiceRule): void {
    const summary = this.summary;
    let ops: ServiceOps | undefined;
    if (sameServiceConfig(cur.config, s.config)) summary.unchanged++;
    else {
      summary.editServices++;
      (ops ??= noOpsYet()).edits.push({ type: 'edit-service', service: s.key, config: s.config });
    }
    const cds = cur.destinations;
    const nc = cds.length;
    if (this.kept.length < nc) this.kept = new Uint8Array(nc * 2);
    const kept = this.kept;
    kept.fill(0, 0, nc);
    const match = nc <= PAIRWISE && s.destinations.length <= PAIRWISE ? this.pairwise(cds, id) : matcher(cds, id);
    for (const d of s.destinations) {
      const i = match(d);
      if (i < 0) {
        summary.addDestinations++;
        (ops ??= noOpsYet()).adds.push({ type: 'add-destination', service: s.key, destination: d.key, config: d.config });
        continue;
      }
      kept[i] = 1;
      if (!sameDestinationConfig((cds[i] as DestinationRule).config, d.config)) {
        summary.editDestinations++;
        (ops ??= noOpsYet()).edits.push({ type: 'edit-destination', service: s.key, destination: d.key, config: d.config });
      } else summary.unchanged++;
    }
    for (let i = 0; i < nc; i++) {
      if (kept[i]) continue;
      const cd = cds[i] as DestinationRule;
      summary.deleteDestinations++;
      // A copy: the current real server's object may be reused.
      (ops ??= noOpsYet()).removals.push({ type: 'delete-destination', service: cur.key, destination: { address: cd.key.address, port: cd.key.port } });
    }
    this.seen.set(id, ops ?? NO_OPS);
  }

  /** Which current real servers the desired ones matched, for the service being compared (its first entries). */
  private kept = new Uint8Array(64);
  /** Scratch of {@link pairwise}, kept from service to service (only the first entries are in use). */
  private readonly curAddr: string[] = [];
  private readonly wantAddr: string[] = [];
  private readonly wantPort: number[] = [];
  private wanted = 0;
  private readonly pairMatch = (d: DestinationRule): number => {
    const address = this.canon.of(d.key);
    const port = d.key.port;
    const wa = this.wantAddr;
    const wp = this.wantPort;
    for (let k = 0; k < this.wanted; k++) {
      if (wa[k] === address && wp[k] === port) throw new Error(`${destinationKeyText({ address, port })} is listed twice in ${this.pairService}`);
    }
    wa[this.wanted] = address;
    wp[this.wanted] = port;
    this.wanted++;
    const ca = this.curAddr;
    const cds = this.pairCurrent;
    for (let i = 0; i < cds.length; i++) if (ca[i] === address && (cds[i] as DestinationRule).key.port === port) return i;
    return -1;
  };
  private pairCurrent: readonly DestinationRule[] = [];
  private pairService = '';

  /**
   * The matcher for a small service (the usual case): desired real servers
   * compared pairwise by canonical address and port, in scratch arrays kept
   * from service to service: nothing allocated per service or real server.
   */
  private pairwise(current: readonly DestinationRule[], service: string): (d: DestinationRule) => number {
    for (let i = 0; i < current.length; i++) this.curAddr[i] = this.canon.of((current[i] as DestinationRule).key);
    this.pairCurrent = current;
    this.pairService = service;
    this.wanted = 0;
    return this.pairMatch;
  }

  /** The plan (call once, after every current service has been fed); throws what planChanges would throw. */
  finish(): Plan {
    const lazy = this.lazy();
    // One slice holds them all (none when there are none).
    const [operations = []] = lazy.slices(Number.MAX_SAFE_INTEGER);
    return { operations, summary: lazy.summary };
  }

  private made: LazyPlan | undefined;

  /**
   * The plan of {@link finish} with its operations made as they are asked
   * for, a slice at a time: the same operations in the same order, and it
   * throws what finish throws. Why: a restore of 5,000 x 10 applies 55,000
   * operations; made all at once they outlive a dozen young-generation
   * collections and are copied into fresh memory, which under UML costs
   * more than making them (see DEVELOPERS.md). Call after every current
   * service has been fed; `slices` may be called again, from the start.
   */
  lazy(): LazyPlan {
    if (this.made) return this.made;
    for (let i = 0; i < this.ids.length; i++) {
      const id = this.ids[i] as string;
      if (i === this.dupAt) throw new Error(`${id} is listed twice in the desired rules`);
      if (this.notOwned.has(id)) throw new Error(`${id} exists and is not owned: it cannot be part of the desired rules`);
    }
    for (const id of this.want.keys()) if (this.failed.has(id)) throw this.failed.get(id);
    let count = this.serviceRemovals.length;
    for (const [id, s] of this.want) {
      const ops = this.seen.get(id);
      if (ops) {
        count += ops.adds.length + ops.edits.length + ops.removals.length;
        continue;
      }
      this.summary.addServices++;
      this.summary.addDestinations += s.destinations.length;
      count += 1 + s.destinations.length;
    }
    const { want, seen, serviceRemovals } = this;
    this.made = {
      summary: this.summary,
      count,
      // Adds (new services with their real servers, in the desired order),
      // then edits, then removals. Plain loops that yield a slice at a time:
      // generators resumed per operation (two, nested) took 21-27 ms to make
      // a full load's 55,000 on the host in a fresh process, this 10-11 ms.
      *slices(size: number): Generator<Operation[]> {
        let slice: Operation[] = [];
        const add = (op: Operation): boolean => slice.push(op) >= size;
        /** The full slice, a new one begun. */
        const take = (): Operation[] => {
          const full = slice;
          slice = [];
          return full;
        };
        for (const [id, s] of want) {
          const ops = seen.get(id);
          if (ops) {
            for (const op of ops.adds) {
              if (add(op)) yield take();
            }
            continue;
          }
          if (add({ type: 'add-service', service: s.key, config: s.config })) yield take();
          for (const d of s.destinations) {
            if (add({ type: 'add-destination', service: s.key, destination: d.key, config: d.config })) yield take();
          }
        }
        const rest: (readonly Operation[] | undefined)[] = [];
        for (const id of want.keys()) rest.push(seen.get(id)?.edits);
        for (const id of want.keys()) rest.push(seen.get(id)?.removals);
        rest.push(serviceRemovals);
        for (const list of rest) {
          if (list === undefined) continue;
          for (const op of list) {
            if (add(op)) yield take();
          }
        }
        if (slice.length > 0) yield slice;
      },
    };
    return this.made;
  }
}
