/**
 * Host and service names, looked up where ipvsadm looks them up.
 *
 * - Service names (`:http`) come from /etc/services, read the way glibc's
 *   `files` backend reads it (`getservbyname`/`getservbyport`: the first
 *   line for the port and protocol wins, aliases count for names).
 * - Host names go through the system resolver (`getaddrinfo`/`getnameinfo`,
 *   so /etc/hosts, nsswitch and DNS as configured), as ipvsadm's
 *   `gethostbyname`/`gethostbyaddr` do.
 *
 * Parsing is synchronous (a 55,000-line restore must not await per line):
 * a host name not resolved yet raises {@link NeedsLookup}, the caller
 * resolves it with {@link resolveHosts} and parses the line again.
 * @module
 */
import { readFileSync } from 'node:fs';

/** Thrown by the synchronous parsers when a host name must be resolved first. */
export class NeedsLookup extends Error {
  constructor(readonly host: string) {
    super(`host name '${host}' needs a lookup`);
  }
}

interface ServiceDb {
  byName: Map<string, number>;
  byPort: Map<string, string>;
}

let services: ServiceDb | undefined;

/** Where /etc/services is (a test may point elsewhere). */
export const SERVICES_FILE = process.env.IPVS_SERVICES_FILE ?? '/etc/services';

function loadServices(): ServiceDb {
  const db: ServiceDb = { byName: new Map(), byPort: new Map() };
  let text = '';
  try {
    text = readFileSync(SERVICES_FILE, 'latin1');
  } catch {
    return db;
  }
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const line = hash >= 0 ? raw.slice(0, hash) : raw;
    const f = line.split(/[ \t]+/).filter((x) => x !== '');
    if (f.length < 2) continue;
    const m = /^(\d+)\/(\S+)$/.exec(f[1] as string);
    if (!m) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    const proto = m[2] as string;
    const official = f[0] as string;
    const pk = `${port}/${proto}`;
    if (!db.byPort.has(pk)) db.byPort.set(pk, official);
    for (const name of [official, ...f.slice(2)]) {
      const nk = `${name}/${proto}`;
      if (!db.byName.has(nk)) db.byName.set(nk, port);
    }
  }
  return db;
}

/** `getservbyname(name, proto)`: the port, or -1. */
export function serviceToPort(name: string, proto: 'tcp' | 'udp' | 'sctp'): number {
  services ??= loadServices();
  return services.byName.get(`${name}/${proto}`) ?? -1;
}

/** `getservbyport(port, proto)`: the official name, or undefined. */
export function portToService(port: number, proto: 'tcp' | 'udp' | 'sctp'): string | undefined {
  services ??= loadServices();
  return services.byPort.get(`${port}/${proto}`);
}

// ---------------------------------------------------------------- hosts

/** Resolved host names: 4 address bytes, or null for "no such IPv4 host". */
const hosts = new Map<string, Buffer | null>();

/**
 * ipvsadm's `host_to_addr` (gethostbyname, IPv4 only): the address bytes, or
 * null when the name does not resolve. Throws {@link NeedsLookup} the first
 * time a name is seen.
 */
export function hostToAddr(name: string): Buffer | null {
  const hit = hosts.get(name);
  if (hit !== undefined) return hit;
  throw new NeedsLookup(name);
}

/** Resolves host names (IPv4, first address) so that {@link hostToAddr} answers. */
export async function resolveHosts(names: Iterable<string>): Promise<void> {
  const { lookup } = require('node:dns') as typeof import('node:dns');
  await Promise.all(
    [...names].map(
      (name) =>
        new Promise<void>((resolve) => {
          // An empty name or one with a NUL is not resolvable; getaddrinfo would reject it anyway.
          if (name === '' || name.includes('\0')) {
            hosts.set(name, null);
            resolve();
            return;
          }
          lookup(name, { family: 4 }, (err, address) => {
            if (err || typeof address !== 'string') hosts.set(name, null);
            else {
              const b = Buffer.alloc(4);
              address.split('.').forEach((p, i) => (b[i] = Number(p)));
              hosts.set(name, b);
            }
            resolve();
          });
        }),
    ),
  );
}

/** Reverse lookups: numeric address text → host name (or the numeric text when none). */
const reverse = new Map<string, string>();

/**
 * Resolves addresses to host names (what ipvsadm's `gethostbyaddr` does for
 * listings without -n), all at once, so {@link hostName} can answer
 * synchronously while formatting.
 */
export async function resolveAddresses(addresses: Iterable<string>): Promise<void> {
  const todo = [...new Set(addresses)].filter((a) => !reverse.has(a));
  if (todo.length === 0) return;
  const { lookupService } = require('node:dns') as typeof import('node:dns');
  await Promise.all(
    todo.map(
      (address) =>
        new Promise<void>((resolve) => {
          lookupService(address, 0, (err, hostname) => {
            // getnameinfo answers with the numeric form when there is no
            // name, as gethostbyaddr failing leads ipvsadm to inet_ntop.
            reverse.set(address, err || !hostname ? address : hostname);
            resolve();
          });
        }),
    ),
  );
}

/** The host name of an address resolved by {@link resolveAddresses}, else the address. */
export function hostName(address: string): string {
  return reverse.get(address) ?? address;
}
