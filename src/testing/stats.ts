/**
 * Counters as the kernel keeps them (`struct ip_vs_stats`): cumulative
 * counters that only grow, a zero point taken by ZERO, and rate estimates.
 * What a dump shows is the cumulative value minus the zero point
 * (`ip_vs_copy_stats`); ZERO moves the zero point and clears the rates
 * (`ip_vs_zero_stats`).
 * @module
 */
import type { Rates, Stats } from '../ipvs/model';

const STAT_KEYS = ['conns', 'inPackets', 'outPackets', 'inBytes', 'outBytes'] as const;
const RATE_KEYS = ['cps', 'inPps', 'outPps', 'inBps', 'outBps'] as const;
const U64 = (1n << 64n) - 1n;

function zeros<K extends string>(keys: readonly K[]): Record<K, bigint> {
  return Object.fromEntries(keys.map((k) => [k, 0n])) as Record<K, bigint>;
}

/** One object's counters (a service, a destination or the namespace totals). */
export class StatsBox {
  private readonly k: Stats = zeros(STAT_KEYS);
  private readonly k0: Stats = zeros(STAT_KEYS);
  /** Rate estimates as the kernel sends them (u64). */
  private readonly r: Record<keyof Rates, bigint> = zeros(RATE_KEYS);

  /** What the kernel reports: counters since the last zero, and the rates (as u64). */
  show(): { stats: Stats; rates: Record<keyof Rates, bigint> } {
    const stats = zeros(STAT_KEYS);
    for (const key of STAT_KEYS) stats[key] = (this.k[key] - this.k0[key]) & U64;
    return { stats, rates: { ...this.r } };
  }

  /** Counts traffic: the counters grow by `delta`. */
  add(delta: Partial<Stats>): void {
    for (const key of STAT_KEYS) {
      const d = delta[key];
      if (d !== undefined) this.k[key] = (this.k[key] + d) & U64;
    }
  }

  /** Makes the shown counters read `values` (the ones named), as if that much traffic had been counted. */
  set(values: Partial<Stats>): void {
    for (const key of STAT_KEYS) {
      const v = values[key];
      if (v !== undefined) this.k[key] = (this.k0[key] + v) & U64;
    }
  }

  /** Sets rate estimates (the ones named). */
  setRates(values: Partial<Rates>): void {
    for (const key of RATE_KEYS) {
      const v = values[key];
      if (v !== undefined) this.r[key] = BigInt(v) & U64;
    }
  }

  /** ZERO: the current counters become the zero point; rates restart at 0. */
  zero(): void {
    Object.assign(this.k0, this.k);
    Object.assign(this.r, zeros(RATE_KEYS));
  }
}

/** Checks a partial Stats (non-negative bigints) or Rates (non-negative integers) value given by a test. */
export function checkCounters(what: string, v: object | undefined, keys: 'stats' | 'rates'): void {
  if (v === undefined) return;
  const allowed: readonly string[] = keys === 'stats' ? STAT_KEYS : RATE_KEYS;
  for (const [k, x] of Object.entries(v)) {
    if (!allowed.includes(k)) throw new TypeError(`${what}: unknown counter '${k}' (${allowed.join(', ')})`);
    if (keys === 'stats' && (typeof x !== 'bigint' || x < 0n)) throw new TypeError(`${what}.${k}: must be a non-negative bigint`);
    if (keys === 'rates' && !(Number.isSafeInteger(x) && (x as number) >= 0)) throw new TypeError(`${what}.${k}: must be a non-negative integer`);
  }
}
