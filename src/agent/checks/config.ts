/**
 * The `check:` object of the agent's configuration, as people write it
 * (YAML or JSON), validated into a {@link CheckSpec} with defaults. The shape
 * is documented with examples in docs/checks.md.
 * @module
 */
import { normalizeAddress } from '../../ipvs/address';
import { DNS_RCODES, DNS_TYPES, encodeName, type DnsRcode, type DnsType } from './dns-wire';
import { formatDuration, parseDuration } from './duration';
import { udpPayload } from './udp';
import type { CheckCommon, CheckSpec, DnsCheck, HttpCheck, UdpCheck } from './types';

/** One thing wrong with a configuration, at a path like `services[2].realServers[0].check.timeout`. */
export interface CheckConfigIssue {
  path: string;
  message: string;
}

/** A valid check, or every issue found (never only the first). */
export type CheckConfigResult = { ok: true; check: CheckSpec } | { ok: false; errors: CheckConfigIssue[] };

/** The check kinds, as written in `type:`. */
export const CHECK_TYPES = ['http', 'https', 'tcp', 'udp', 'dns', 'exec'] as const;

/** Defaults of the settings every check has. */
export const CHECK_DEFAULTS: Readonly<Pick<CheckCommon, 'intervalMs' | 'timeoutMs' | 'rise' | 'fall' | 'initial'>> = {
  intervalMs: 2000,
  timeoutMs: 1000,
  rise: 2,
  fall: 3,
  initial: 'down',
};

/** Bounds that keep a typo from becoming a probe storm or a check that never decides. */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 24 * 3_600_000;
const MIN_TIMEOUT_MS = 10;
const MAX_COUNT = 100;

const COMMON_KEYS = ['type', 'interval', 'timeout', 'rise', 'fall', 'initial', 'address', 'port'];
const KIND_KEYS: Record<(typeof CHECK_TYPES)[number], string[]> = {
  http: ['method', 'path', 'host', 'expect'],
  https: ['method', 'path', 'host', 'expect', 'tls'],
  tcp: [],
  udp: ['send', 'expect'],
  dns: ['query', 'expect'],
  exec: ['command'],
};

/**
 * Validates one raw `check:` object (as parsed from YAML or JSON) into a
 * {@link CheckSpec}, filling in defaults. Every issue is reported with its
 * path below `path` (the caller's path to this object, e.g.
 * `services[2].realServers[0].check`); unknown keys are issues too.
 *
 * ```ts
 * const r = parseCheckConfig({ type: 'http', interval: '2s', expect: { status: [200, '300-399'] } }, 'check');
 * if (!r.ok) for (const e of r.errors) console.error(`${e.path}: ${e.message}`);
 * ```
 */
export function parseCheckConfig(raw: unknown, path = 'check'): CheckConfigResult {
  const v = new Validator();
  const check = v.check(raw, path);
  return check !== undefined && v.errors.length === 0 ? { ok: true, check } : { ok: false, errors: v.errors };
}

/** Thrown by {@link checkFromConfig}; `errors` holds every issue. */
export class CheckConfigError extends Error {
  constructor(readonly errors: CheckConfigIssue[]) {
    super(errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
    this.name = 'CheckConfigError';
  }
}

/** {@link parseCheckConfig} for callers that prefer an exception. */
export function checkFromConfig(raw: unknown, path = 'check'): CheckSpec {
  const r = parseCheckConfig(raw, path);
  if (!r.ok) throw new CheckConfigError(r.errors);
  return r.check;
}

type Raw = Record<string, unknown>;

class Validator {
  readonly errors: CheckConfigIssue[] = [];

  check(raw: unknown, path: string): CheckSpec | undefined {
    const o = this.object(raw, path);
    if (o === undefined) return undefined;
    const type = o.type;
    if (type === undefined) return this.fail(`${path}.type`, `required: one of ${CHECK_TYPES.join(', ')}`);
    if (typeof type !== 'string' || !(CHECK_TYPES as readonly string[]).includes(type)) {
      return this.fail(`${path}.type`, `must be one of ${CHECK_TYPES.join(', ')}, not ${show(type)}`);
    }
    const kind = type as (typeof CHECK_TYPES)[number];
    this.onlyKeys(o, path, [...COMMON_KEYS, ...KIND_KEYS[kind]], `type ${kind}`);
    const common = this.common(o, path);
    switch (kind) {
      case 'http':
      case 'https':
        return this.http(kind, o, path, common);
      case 'tcp':
        return { kind, ...common };
      case 'udp':
        return this.udp(o, path, common);
      case 'dns':
        return this.dns(o, path, common);
      case 'exec':
        return this.exec(o, path, common);
    }
  }

  private common(o: Raw, path: string): CheckCommon {
    const d = CHECK_DEFAULTS;
    const intervalMs = this.duration(o.interval, `${path}.interval`, d.intervalMs, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
    const timeoutMs = this.duration(o.timeout, `${path}.timeout`, d.timeoutMs, MIN_TIMEOUT_MS, MAX_INTERVAL_MS);
    // A probe outliving its interval would fall behind its own schedule.
    if (timeoutMs > intervalMs) {
      this.fail(`${path}.timeout`, `must not exceed the interval (${formatDuration(intervalMs)})`);
    }
    const common: CheckCommon = {
      intervalMs,
      timeoutMs,
      rise: this.integer(o.rise, `${path}.rise`, d.rise, 1, MAX_COUNT),
      fall: this.integer(o.fall, `${path}.fall`, d.fall, 1, MAX_COUNT),
      initial: this.oneOf(o.initial, `${path}.initial`, ['up', 'down'] as const, d.initial),
    };
    if (o.port !== undefined) common.port = this.integer(o.port, `${path}.port`, 0, 1, 65535);
    if (o.address !== undefined) {
      const a = this.string(o.address, `${path}.address`);
      if (a !== undefined) {
        try {
          common.address = normalizeAddress(a);
        } catch {
          this.fail(`${path}.address`, `must be an IPv4 or IPv6 address, not ${show(a)}`);
        }
      }
    }
    return common;
  }

  private http(kind: 'http' | 'https', o: Raw, path: string, common: CheckCommon): CheckSpec {
    const method = this.string(o.method, `${path}.method`) ?? 'GET';
    // RFC 9110 5.6.2: a method is a token; anything else would corrupt the request line.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) this.fail(`${path}.method`, `must be an HTTP method like GET or HEAD, not ${show(method)}`);
    const reqPath = this.string(o.path, `${path}.path`) ?? '/';
    if (!/^\/[\x21-\x7e]*$/.test(reqPath)) {
      this.fail(`${path}.path`, `must start with / and hold no spaces or control characters (percent-encode them), not ${show(reqPath)}`);
    }
    const host = this.string(o.host, `${path}.host`);
    if (host !== undefined && !/^[\x21-\x7e]+$/.test(host)) this.fail(`${path}.host`, `must be a host name without spaces, not ${show(host)}`);
    const spec: HttpCheck = { kind, ...common, method, path: reqPath, expectStatus: [200], tlsVerify: true };
    if (host !== undefined) spec.host = host;
    const expect = this.optionalObject(o.expect, `${path}.expect`);
    if (expect !== undefined) {
      this.onlyKeys(expect, `${path}.expect`, ['status', 'body'], `type ${kind}`);
      if (expect.status !== undefined) spec.expectStatus = this.statuses(expect.status, `${path}.expect.status`);
      const body = this.pattern(expect.body, `${path}.expect.body`);
      if (body !== undefined) spec.expectBody = body;
    }
    const tls = this.optionalObject(o.tls, `${path}.tls`);
    if (tls !== undefined) {
      this.onlyKeys(tls, `${path}.tls`, ['verify', 'sni'], 'tls');
      if (tls.verify !== undefined) {
        if (typeof tls.verify === 'boolean') spec.tlsVerify = tls.verify;
        else this.fail(`${path}.tls.verify`, `must be true or false, not ${show(tls.verify)}`);
      }
      const sni = this.string(tls.sni, `${path}.tls.sni`);
      if (sni !== undefined) {
        // RFC 6066 3: SNI is a DNS host name, never an address.
        if (!isHostName(sni)) this.fail(`${path}.tls.sni`, `must be a DNS name (not an address), not ${show(sni)}`);
        else spec.sni = sni;
      }
    }
    return spec;
  }

  private udp(o: Raw, path: string, common: CheckCommon): CheckSpec {
    const send = this.string(o.send, `${path}.send`);
    if (send === undefined && o.send === undefined) this.fail(`${path}.send`, 'required: the payload to send (text, or hex: followed by bytes)');
    if (send !== undefined) {
      try {
        if (udpPayload(send).length === 0) this.fail(`${path}.send`, 'must not be empty');
      } catch {
        this.fail(`${path}.send`, `must be hex bytes after hex: (like hex:0a1b), not ${show(send)}`);
      }
    }
    const spec: UdpCheck = { kind: 'udp', ...common, send: send ?? '' };
    const expect = this.optionalObject(o.expect, `${path}.expect`);
    if (expect !== undefined) {
      this.onlyKeys(expect, `${path}.expect`, ['reply'], 'type udp');
      const reply = this.pattern(expect.reply, `${path}.expect.reply`);
      if (reply !== undefined) spec.expect = reply;
    }
    return spec;
  }

  private dns(o: Raw, path: string, common: CheckCommon): CheckSpec {
    const spec: DnsCheck = { kind: 'dns', ...common, query: '.', type: 'A', expectRcode: ['NOERROR'] };
    const query = this.optionalObject(o.query, `${path}.query`);
    if (query !== undefined) {
      this.onlyKeys(query, `${path}.query`, ['name', 'type'], 'query');
      const name = this.string(query.name, `${path}.query.name`);
      if (name !== undefined) {
        try {
          encodeName(name);
          spec.query = name;
        } catch (err) {
          this.fail(`${path}.query.name`, `must be a domain name: ${(err as Error).message}`);
        }
      }
      const types = Object.keys(DNS_TYPES) as DnsType[];
      if (query.type !== undefined) spec.type = this.oneOf(upper(query.type), `${path}.query.type`, types, 'A');
    }
    const expect = this.optionalObject(o.expect, `${path}.expect`);
    if (expect !== undefined) {
      this.onlyKeys(expect, `${path}.expect`, ['rcode'], 'type dns');
      if (expect.rcode !== undefined) {
        const p = `${path}.expect.rcode`;
        spec.expectRcode = asList(expect.rcode).map((r, i) => this.oneOf(upper(r), `${p}[${i}]`, DNS_RCODES, 'NOERROR' as DnsRcode));
        if (spec.expectRcode.length === 0) this.fail(p, 'must name at least one response code');
      }
    }
    return spec;
  }

  private exec(o: Raw, path: string, common: CheckCommon): CheckSpec {
    const p = `${path}.command`;
    const argv: string[] = [];
    if (o.command === undefined) this.fail(p, 'required: the program and its arguments, as a list');
    else if (typeof o.command === 'string') {
      this.fail(p, `must be a list (the program and its arguments; no shell runs it), like [${show(o.command.split(/\s+/)[0] ?? '')}, "{address}"]`);
    } else if (!Array.isArray(o.command) || o.command.length === 0) this.fail(p, 'must be a non-empty list: the program and its arguments');
    else {
      o.command.forEach((a: unknown, i) => {
        if (typeof a === 'string' && a !== '') argv.push(a);
        else if (typeof a === 'number') argv.push(String(a));
        else this.fail(`${p}[${i}]`, `must be a non-empty string, not ${show(a)}`);
      });
    }
    return { kind: 'exec', ...common, argv };
  }

  private statuses(raw: unknown, path: string): number[] {
    const out = new Set<number>();
    const items = asList(raw);
    items.forEach((item, i) => {
      const p = Array.isArray(raw) ? `${path}[${i}]` : path;
      const range = statusRange(item);
      if (range === undefined) this.fail(p, `must be a status code (200), a range ("300-399") or a class ("2xx"), not ${show(item)}`);
      else for (let c = range[0]; c <= range[1]; c++) out.add(c);
    });
    if (items.length === 0) this.fail(path, 'must accept at least one status code');
    return [...out].sort((a, b) => a - b);
  }

  private pattern(raw: unknown, path: string): string | undefined {
    const s = this.string(raw, path);
    if (s === undefined) return undefined;
    try {
      new RegExp(s);
    } catch (err) {
      this.fail(path, `must be a regular expression: ${(err as Error).message}`);
      return undefined;
    }
    return s;
  }

  private duration(raw: unknown, path: string, dflt: number, min: number, max: number): number {
    if (raw === undefined) return dflt;
    const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
    if (ms === undefined) {
      this.fail(path, `must be a duration like 2s, 500ms or 1m30s, not ${show(raw)}`);
      return dflt;
    }
    if (ms < min || ms > max) {
      this.fail(path, `must be between ${formatDuration(min)} and ${formatDuration(max)}, not ${raw as string}`);
      return dflt;
    }
    return ms;
  }

  private integer(raw: unknown, path: string, dflt: number, min: number, max: number): number {
    if (raw === undefined) return dflt;
    if (typeof raw !== 'number' || !Number.isInteger(raw)) {
      this.fail(path, `must be a whole number, not ${show(raw)}`);
      return dflt;
    }
    if (raw < min || raw > max) {
      this.fail(path, `must be between ${min} and ${max}, not ${raw}`);
      return dflt;
    }
    return raw;
  }

  private oneOf<T extends string>(raw: unknown, path: string, allowed: readonly T[], dflt: T): T {
    if (raw === undefined) return dflt;
    if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
    this.fail(path, `must be one of ${allowed.join(', ')}, not ${show(raw)}`);
    return dflt;
  }

  private string(raw: unknown, path: string): string | undefined {
    if (raw === undefined) return undefined;
    if (typeof raw === 'string') return raw;
    this.fail(path, `must be a string, not ${show(raw)}`);
    return undefined;
  }

  private object(raw: unknown, path: string): Raw | undefined {
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) return raw as Raw;
    this.fail(path, `must be a mapping (key: value), not ${show(raw)}`);
    return undefined;
  }

  private optionalObject(raw: unknown, path: string): Raw | undefined {
    return raw === undefined ? undefined : this.object(raw, path);
  }

  private onlyKeys(o: Raw, path: string, allowed: string[], what: string): void {
    for (const key of Object.keys(o)) {
      if (!allowed.includes(key)) this.fail(`${path}.${key}`, `unknown key (${what} takes ${allowed.join(', ')})`);
    }
  }

  private fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }
}

/** 200, "200", "300-399" or "2xx" as an inclusive range within 100..599. */
function statusRange(item: unknown): [number, number] | undefined {
  let lo: number;
  let hi: number;
  if (typeof item === 'number' && Number.isInteger(item)) {
    lo = hi = item;
  } else if (typeof item === 'string') {
    let m: RegExpExecArray | null;
    if ((m = /^\s*(\d{3})\s*$/.exec(item))) lo = hi = Number(m[1]);
    else if ((m = /^\s*(\d{3})\s*-\s*(\d{3})\s*$/.exec(item))) [lo, hi] = [Number(m[1]), Number(m[2])];
    else if ((m = /^\s*([1-5])xx\s*$/i.exec(item))) [lo, hi] = [Number(m[1]) * 100, Number(m[1]) * 100 + 99];
    else return undefined;
  } else {
    return undefined;
  }
  return lo >= 100 && hi <= 599 && lo <= hi ? [lo, hi] : undefined;
}

function isHostName(s: string): boolean {
  return /^(?=.{1,253}\.?$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$/.test(s) && !/^[\d.]+$/.test(s);
}

/** A list, or one item standing for a list of one. */
function asList(raw: unknown): unknown[] {
  return Array.isArray(raw) ? raw : [raw];
}

function upper(raw: unknown): unknown {
  return typeof raw === 'string' ? raw.toUpperCase() : raw;
}

/** A value as the user wrote it, for messages: strings quoted, objects as JSON. */
function show(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  if (typeof raw === 'object') return 'a mapping';
  return String(raw);
}
