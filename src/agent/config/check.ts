/**
 * Validation of `check:` objects in the agent's configuration.
 *
 * The check engine (src/agent/checks/) owns the check vocabulary and ships
 * its own raw-config validator. Until it lands, this module validates the
 * shape against the contract in checks/types.ts. It is the only place the
 * configuration validator calls for checks, so swapping in the engine's
 * validator is a change to this file alone.
 * @module
 */
import { isIP } from 'node:net';
import type { CheckSpec, DnsCheck } from '../checks/types';
import { type ConfigPath, ConfigReader } from './reader';

const COMMON = ['kind', 'interval', 'timeout', 'rise', 'fall', 'initial', 'port', 'address'] as const;
const KEYS: Record<CheckSpec['kind'], readonly string[]> = {
  http: [...COMMON, 'method', 'path', 'host', 'expectStatus', 'expectBody', 'tlsVerify', 'sni'],
  https: [...COMMON, 'method', 'path', 'host', 'expectStatus', 'expectBody', 'tlsVerify', 'sni'],
  tcp: COMMON,
  udp: [...COMMON, 'send', 'expect'],
  dns: [...COMMON, 'query', 'type', 'expectRcode'],
  exec: [...COMMON, 'argv'],
};
const KINDS = Object.keys(KEYS) as CheckSpec['kind'][];
const DNS_TYPES: readonly DnsCheck['type'][] = ['A', 'AAAA', 'NS', 'SOA', 'TXT', 'CNAME', 'MX', 'PTR', 'SRV', 'ANY'];
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/**
 * Validates one raw `check:` object. Problems are recorded in `r` with paths
 * under `path`; returns the complete spec, or undefined when it is invalid.
 */
export function validateCheck(r: ConfigReader, raw: unknown, path: ConfigPath): CheckSpec | undefined {
  const before = r.problems.length;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    r.fail(path, `must be an object with a kind (${KINDS.join(', ')}), or false for no check`);
    return undefined;
  }
  const kind = r.oneOf((raw as Record<string, unknown>).kind, [...path, 'kind'], KINDS);
  if (kind === undefined) {
    if ((raw as Record<string, unknown>).kind === undefined) r.fail([...path, 'kind'], `is required (${KINDS.join(', ')})`);
    return undefined;
  }
  const o = r.object(raw, path, KEYS[kind]);
  if (!o) return undefined;
  const at = (k: string): ConfigPath => [...path, k];
  const common = {
    intervalMs: r.duration(o.interval, at('interval'), 10, 3_600_000, 2000) as number,
    timeoutMs: r.duration(o.timeout, at('timeout'), 1, 600_000, 1000) as number,
    rise: r.int(o.rise, at('rise'), 1, 1000, 2) as number,
    fall: r.int(o.fall, at('fall'), 1, 1000, 3) as number,
    initial: r.oneOf(o.initial, at('initial'), ['up', 'down'] as const, 'down') as 'up' | 'down',
  };
  const port = r.int(o.port, at('port'), 1, 65535);
  const address = r.string(o.address, at('address'));
  if (address !== undefined && !isIP(address)) r.fail(at('address'), `'${address}' is not an IPv4 or IPv6 address`);
  const extra: { port?: number; address?: string } = {};
  if (port !== undefined) extra.port = port;
  if (address !== undefined) extra.address = address;
  let spec: CheckSpec | undefined;
  switch (kind) {
    case 'http':
    case 'https': {
      const s: CheckSpec = {
        kind,
        ...common,
        ...extra,
        method: (r.string(o.method, at('method'), 'GET') as string).toUpperCase(),
        path: r.string(o.path, at('path'), '/') as string,
        expectStatus: statuses(r, o.expectStatus, at('expectStatus')),
        tlsVerify: r.bool(o.tlsVerify, at('tlsVerify'), true) as boolean,
      };
      if (typeof s.path === 'string' && !s.path.startsWith('/')) r.fail(at('path'), `must start with / (got ${JSON.stringify(s.path)})`);
      const host = r.string(o.host, at('host'));
      if (host !== undefined) s.host = host;
      const body = regex(r, o.expectBody, at('expectBody'));
      if (body !== undefined) s.expectBody = body;
      const sni = r.string(o.sni, at('sni'));
      if (sni !== undefined) s.sni = sni;
      spec = s;
      break;
    }
    case 'tcp':
      spec = { kind, ...common, ...extra };
      break;
    case 'udp': {
      const send = r.string(o.send, at('send'));
      if (send === undefined && o.send === undefined) r.fail(at('send'), 'is required: the payload to send (text, or hex:0a0b… for bytes)');
      if (send !== undefined && send.startsWith('hex:') && !/^hex:([0-9a-fA-F]{2})+$/.test(send)) {
        r.fail(at('send'), 'hex: must be followed by pairs of hex digits');
      }
      const s: CheckSpec = { kind, ...common, ...extra, send: send ?? '' };
      const expect = regex(r, o.expect, at('expect'));
      if (expect !== undefined) s.expect = expect;
      spec = s;
      break;
    }
    case 'dns': {
      const rcodes = o.expectRcode === undefined ? ['NOERROR'] : r.list(o.expectRcode, at('expectRcode'));
      const expectRcode: string[] = [];
      (rcodes ?? []).forEach((c, i) => {
        const v = r.oneOf(c, [...path, 'expectRcode', i], RCODES);
        if (v) expectRcode.push(v);
      });
      spec = {
        kind,
        ...common,
        ...extra,
        query: r.string(o.query, at('query'), '.') as string,
        type: r.oneOf(o.type, at('type'), DNS_TYPES, 'A') as DnsCheck['type'],
        expectRcode,
      };
      break;
    }
    case 'exec': {
      const argv: string[] = [];
      const list = o.argv === undefined ? undefined : r.list(o.argv, at('argv'));
      if (o.argv === undefined) r.fail(at('argv'), 'is required: the program and its arguments, e.g. [/usr/local/bin/check, "{address}", "{port}"]');
      else if (list && list.length === 0) r.fail(at('argv'), 'must name a program');
      (list ?? []).forEach((a, i) => {
        const s = r.string(a, [...path, 'argv', i]);
        if (s !== undefined) argv.push(s);
      });
      spec = { kind, ...common, ...extra, argv };
      break;
    }
  }
  return r.problems.length === before ? spec : undefined;
}

/** `expectStatus`: numbers and `"200-299"` ranges, expanded. */
function statuses(r: ConfigReader, v: unknown, path: ConfigPath): number[] {
  if (v === undefined) return [200];
  const list = typeof v === 'number' || typeof v === 'string' ? [v] : r.list(v, path);
  const out: number[] = [];
  (list ?? []).forEach((s, i) => {
    const p = Array.isArray(v) ? [...path, i] : path;
    if (typeof s === 'number' && Number.isInteger(s) && s >= 100 && s <= 599) out.push(s);
    else if (typeof s === 'string' && /^\d{3}-\d{3}$/.test(s)) {
      const [a, b] = s.split('-').map(Number) as [number, number];
      if (a < 100 || b > 599 || a > b) r.fail(p, `must be a range within 100-599 (got "${s}")`);
      else for (let c = a; c <= b; c++) out.push(c);
    } else r.fail(p, `must be an HTTP status (100..599) or a range such as "200-299" (got ${JSON.stringify(s)})`);
  });
  return out;
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
