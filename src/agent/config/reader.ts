/**
 * The small toolkit the configuration validators are written with: it walks
 * raw parsed YAML/JSON, collects every problem with its path
 * (`services[2].realServers[0].weight: must be >= 0`) instead of stopping at
 * the first, and treats unknown keys as errors (a typo such as `wieght`
 * silently ignored would leave a real server at the wrong weight).
 * @module
 */

/** A path into the raw configuration: keys and list indexes. */
export type ConfigPath = readonly (string | number)[];

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  /** Printed path, e.g. `services[2].realServers[0].weight`. */
  path: string;
  /** The same path as segments (to find the line in the source). */
  segments: ConfigPath;
  message: string;
  /** 1-based line in the file, when known. */
  line?: number;
}

/** Prints a path: `services[2].realServers[0].weight`; the root is `(top level)`. */
export function formatPath(path: ConfigPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? '(top level)' : s;
}

/**
 * Reads a printed path back into segments (`services[2].check.expect.status[1]`
 * → `['services', 2, 'check', 'expect', 'status', 1]`): validators that
 * report string paths (the check engine's) still get line numbers.
 */
export function parsePath(text: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

/** Describes a raw value for a message: `"abc"`, `-1`, `a list`, `an object`. */
export function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return JSON.stringify(v) ?? String(v);
}

/** Units a duration may carry; a bare number is seconds (as in keepalived). */
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Collects problems while reading a raw configuration. */
export class ConfigReader {
  readonly problems: ConfigProblem[] = [];

  /** Records a problem at `path` (segments, or a printed path such as another validator reports). */
  fail(path: ConfigPath | string, message: string): void {
    if (typeof path === 'string') path = parsePath(path);
    this.problems.push({ path: formatPath(path), segments: [...path], message });
  }

  /**
   * Reads an object whose keys must all be in `allowed`. Returns undefined
   * (after recording why) when `v` is not an object. Unknown keys are
   * recorded, with the nearest allowed key when one is close.
   */
  object(v: unknown, path: ConfigPath, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(path, `must be an object (got ${describe(v)})`);
      return undefined;
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (allowed.includes(k)) continue;
      const near = nearest(k, allowed);
      this.fail([...path, k], `unknown key${near ? ` (did you mean '${near}'?)` : ''}; allowed here: ${allowed.join(', ')}`);
    }
    return o;
  }

  /** Reads a list; undefined (recorded) when `v` is not one. */
  list(v: unknown, path: ConfigPath): unknown[] | undefined {
    if (!Array.isArray(v)) {
      this.fail(path, `must be a list (got ${describe(v)})`);
      return undefined;
    }
    return v;
  }

  /** Reads an integer in [min, max]; `def` when absent. */
  int(v: unknown, path: ConfigPath, min: number, max: number, def?: number): number | undefined {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.fail(path, `must be a whole number (got ${describe(v)})`);
      return undefined;
    }
    if (v < min) {
      this.fail(path, `must be >= ${min} (got ${v})`);
      return undefined;
    }
    if (v > max) {
      this.fail(path, `must be <= ${max} (got ${v})`);
      return undefined;
    }
    return v;
  }

  /** Reads a boolean; `def` when absent. */
  bool(v: unknown, path: ConfigPath, def?: boolean): boolean | undefined {
    if (v === undefined) return def;
    if (typeof v !== 'boolean') {
      this.fail(path, `must be true or false (got ${describe(v)})`);
      return undefined;
    }
    return v;
  }

  /** Reads a non-empty string; `def` when absent. */
  string(v: unknown, path: ConfigPath, def?: string): string | undefined {
    if (v === undefined) return def;
    if (typeof v !== 'string' || v === '') {
      this.fail(path, `must be a non-empty string (got ${describe(v)})`);
      return undefined;
    }
    return v;
  }

  /** Reads one of `choices`; `def` when absent. */
  oneOf<T extends string>(v: unknown, path: ConfigPath, choices: readonly T[], def?: T): T | undefined {
    if (v === undefined) return def;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      this.fail(path, `must be one of ${choices.map((c) => `'${c}'`).join(', ')} (got ${describe(v)})`);
      return undefined;
    }
    return v as T;
  }

  /**
   * Reads a duration in milliseconds: `500ms`, `2s`, `1.5s`, `5m`, `1h`, or a
   * bare number of seconds. Must be within [minMs, maxMs].
   */
  duration(v: unknown, path: ConfigPath, minMs: number, maxMs: number, defMs?: number): number | undefined {
    if (v === undefined) return defMs;
    let ms: number | undefined;
    if (typeof v === 'number' && Number.isFinite(v)) ms = v * 1000;
    else if (typeof v === 'string') {
      const m = DURATION.exec(v.trim());
      if (m) ms = Number(m[1]) * (UNIT_MS[m[2] ?? 's'] as number);
    }
    if (ms === undefined) {
      this.fail(path, `must be a duration such as 500ms, 2s, 5m or a number of seconds (got ${describe(v)})`);
      return undefined;
    }
    ms = Math.round(ms);
    if (ms < minMs || ms > maxMs) {
      this.fail(path, `must be from ${showMs(minMs)} to ${showMs(maxMs)} (got ${showMs(ms)})`);
      return undefined;
    }
    return ms;
  }
}

/** A duration in the file's own vocabulary: `500ms`, `2s`, `5m`. */
export function showMs(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The allowed key closest to a misspelt one (edit distance <= 2), for "did you mean". */
function nearest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = distance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}
