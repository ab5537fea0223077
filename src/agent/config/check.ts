/**
 * Validation of `check:` objects in the agent's configuration.
 *
 * The check engine (src/agent/checks/, built in parallel) owns the check
 * vocabulary and ships the validator, `parseCheckConfig(raw, path)`. Until it
 * is merged, this module accepts the same shape (docs/checks.md of the
 * engine: `type`, `interval`, `timeout`, `rise`, `fall`, `initial`,
 * `address`, `port`; http(s) `method`, `path`, `host`, `expect: { status,
 * body }`, `tls: { verify, sni }`; udp `send`, `expect: { reply }`; dns
 * `query: { name, type }`, `expect: { rcode }`; exec `command: [argv…]`).
 * It is the only place the configuration validator calls for checks, so the
 * swap is this file alone.
 * @module
 */
import { isIP } from 'node:net';
import type { CheckCommon, CheckSpec, DnsCheck, HttpCheck, UdpCheck } from '../checks/types';
import { type ConfigPath, ConfigReader, describe } from './reader';

const TYPES = ['http', 'https', 'tcp', 'udp', 'dns', 'exec'] as const;
const COMMON = ['type', 'interval', 'timeout', 'rise', 'fall', 'initial', 'address', 'port'];
const KIND_KEYS: Record<(typeof TYPES)[number], string[]> = {
  http: ['method', 'path', 'host', 'expect'],
  https: ['method', 'path', 'host', 'expect', 'tls'],
  tcp: [],
  udp: ['send', 'expect'],
  dns: ['query', 'expect'],
  exec: ['command'],
};
const DNS_TYPES: readonly DnsCheck['type'][] = ['A', 'AAAA', 'NS', 'SOA', 'TXT', 'CNAME', 'MX', 'PTR', 'SRV', 'ANY'];
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/**
 * Validates one raw `check:` object. Problems are recorded in `r` with paths
 * under `path`; returns the complete spec, or undefined when it is invalid.
 */
export function validateCheck(r: ConfigReader, raw: unknown, path: ConfigPath): CheckSpec | undefined {
  const before = r.problems.length;
  const at = (...k: (string | number)[]): ConfigPath => [...path, ...k];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    r.fail(path, `must be a mapping with a type (${TYPES.join(', ')}), or false for no check`);
    return undefined;
  }
  const type = (raw as Record<string, unknown>).type;
  if (type === undefined) {
    r.fail(at('type'), `is required: one of ${TYPES.join(', ')}`);
    return undefined;
  }
  const kind = r.oneOf(type, at('type'), TYPES);
  if (kind === undefined) return undefined;
  const o = r.object(raw, path, [...COMMON, ...KIND_KEYS[kind]]);
  if (!o) return undefined;
  // Check durations are written with a unit ("2s", "500ms"), as the engine requires.
  const duration = (v: unknown, p: ConfigPath, min: number, def: number): number => {
    if (typeof v === 'number') {
      r.fail(p, `must be a duration with a unit, like 2s or 500ms (got ${v})`);
      return def;
    }
    return r.duration(v, p, min, 86_400_000, def) ?? def;
  };
  const intervalMs = duration(o.interval, at('interval'), 100, 2000);
  const timeoutMs = duration(o.timeout, at('timeout'), 10, 1000);
  // A probe outliving its interval would fall behind its own schedule.
  if (timeoutMs > intervalMs) r.fail(at('timeout'), `must not exceed the interval (${intervalMs} ms)`);
  const common: CheckCommon = {
    intervalMs,
    timeoutMs,
    rise: r.int(o.rise, at('rise'), 1, 100, 2) as number,
    fall: r.int(o.fall, at('fall'), 1, 100, 3) as number,
    initial: r.oneOf(o.initial, at('initial'), ['up', 'down'] as const, 'down') as 'up' | 'down',
  };
  const port = r.int(o.port, at('port'), 1, 65535);
  if (port !== undefined) common.port = port;
  const address = r.string(o.address, at('address'));
  if (address !== undefined) {
    if (isIP(address)) common.address = address;
    else r.fail(at('address'), `'${address}' is not an IPv4 or IPv6 address`);
  }
  const expect = o.expect === undefined ? undefined : r.object(o.expect, at('expect'), kind === 'udp' ? ['reply'] : kind === 'dns' ? ['rcode'] : ['status', 'body']);
  let spec: CheckSpec;
  switch (kind) {
    case 'http':
    case 'https': {
      const s: HttpCheck = {
        kind,
        ...common,
        method: r.string(o.method, at('method'), 'GET') as string,
        path: r.string(o.path, at('path'), '/') as string,
        expectStatus: expect?.status === undefined ? [200] : statuses(r, expect.status, at('expect', 'status')),
        tlsVerify: true,
      };
      if (!/^\/[\x21-\x7e]*$/.test(s.path)) r.fail(at('path'), `must start with / and hold no spaces (got ${JSON.stringify(s.path)})`);
      const host = r.string(o.host, at('host'));
      if (host !== undefined) s.host = host;
      const body = regex(r, expect?.body, at('expect', 'body'));
      if (body !== undefined) s.expectBody = body;
      if (o.tls !== undefined) {
        const tls = r.object(o.tls, at('tls'), ['verify', 'sni']);
        s.tlsVerify = r.bool(tls?.verify, at('tls', 'verify'), true) as boolean;
        const sni = r.string(tls?.sni, at('tls', 'sni'));
        if (sni !== undefined) s.sni = sni;
      }
      spec = s;
      break;
    }
    case 'tcp':
      spec = { kind, ...common };
      break;
    case 'udp': {
      const send = r.string(o.send, at('send'));
      if (o.send === undefined) r.fail(at('send'), 'is required: the payload to send (text, or hex: followed by bytes)');
      if (send !== undefined && send.startsWith('hex:') && !/^hex:([0-9a-fA-F]{2})+$/.test(send)) r.fail(at('send'), 'must be hex bytes after hex: (like hex:0a1b)');
      const s: UdpCheck = { kind, ...common, send: send ?? '' };
      const reply = regex(r, expect?.reply, at('expect', 'reply'));
      if (reply !== undefined) s.expect = reply;
      spec = s;
      break;
    }
    case 'dns': {
      const q = o.query === undefined ? undefined : r.object(o.query, at('query'), ['name', 'type']);
      const rc = expect?.rcode === undefined ? ['NOERROR'] : Array.isArray(expect.rcode) ? expect.rcode : [expect.rcode];
      spec = {
        kind,
        ...common,
        query: r.string(q?.name, at('query', 'name'), '.') as string,
        type: r.oneOf(typeof q?.type === 'string' ? q.type.toUpperCase() : q?.type, at('query', 'type'), DNS_TYPES, 'A') as DnsCheck['type'],
        expectRcode: rc.map((c, i) => r.oneOf(typeof c === 'string' ? c.toUpperCase() : c, Array.isArray(expect?.rcode) ? at('expect', 'rcode', i) : at('expect', 'rcode'), RCODES) ?? 'NOERROR'),
      };
      break;
    }
    case 'exec': {
      const argv: string[] = [];
      if (o.command === undefined) r.fail(at('command'), 'is required: the program and its arguments, as a list');
      else if (!Array.isArray(o.command) || o.command.length === 0) r.fail(at('command'), `must be a non-empty list: the program and its arguments, no shell (got ${describe(o.command)})`);
      else o.command.forEach((a: unknown, i) => (typeof a === 'string' && a !== '' ? argv.push(a) : r.fail(at('command', i), `must be a non-empty string (got ${describe(a)})`)));
      spec = { kind, ...common, argv };
      break;
    }
  }
  return r.problems.length === before ? spec : undefined;
}

/** `expect.status`: codes, `"300-399"` ranges and `"2xx"` classes, expanded and sorted. */
function statuses(r: ConfigReader, v: unknown, path: ConfigPath): number[] {
  const list = Array.isArray(v) ? v : [v];
  const out = new Set<number>();
  list.forEach((s, i) => {
    const p = Array.isArray(v) ? [...path, i] : path;
    let m: RegExpExecArray | null = null;
    let range: [number, number] | undefined;
    if (typeof s === 'number' && Number.isInteger(s)) range = [s, s];
    else if (typeof s === 'string' && (m = /^(\d{3})(?:-(\d{3}))?$/.exec(s.trim()))) range = [Number(m[1]), Number(m[2] ?? m[1])];
    else if (typeof s === 'string' && (m = /^([1-5])xx$/i.exec(s.trim()))) range = [Number(m[1]) * 100, Number(m[1]) * 100 + 99];
    if (!range || range[0] < 100 || range[1] > 599 || range[0] > range[1]) {
      r.fail(p, `must be a status code (200), a range ("300-399") or a class ("2xx") (got ${describe(s)})`);
      return;
    }
    for (let c = range[0]; c <= range[1]; c++) out.add(c);
  });
  if (list.length === 0) r.fail(path, 'must accept at least one status code');
  return [...out].sort((a, b) => a - b);
}

function regex(r: ConfigReader, v: unknown, path: ConfigPath): string | undefined {
  const s = r.string(v, path);
  if (s === undefined) return undefined;
  try {
    new RegExp(s);
  } catch (e) {
    r.fail(path, `is not a valid regular expression: ${(e as Error).message}`);
    return undefined;
  }
  return s;
}
