/**
 * A generated corpus of IPVS rule sets for the differential tests against
 * ipvsadm (test/kernel/lib/differential.ts), and an independent renderer of
 * a rule set as ipvsadm commands.
 *
 * Every rule set is drawn from a seeded generator, so a failure names its
 * seed and reproduces. Coverage is by construction, not by luck: the
 * generator walks the lists of schedulers, protocols, forwarding methods,
 * tunnel types and checksum options round-robin, and {@link coverage} lets
 * the test assert the corpus still covers all of them.
 *
 * Rule sets stay within what ipvsadm can express identically, since both
 * tools must build the same table from them: a non-persistent service has
 * timeout 0; a direct-routing or tunnel real server of an address service
 * uses the service's port (ipvsadm forces it); one-packet scheduling is for
 * UDP and fwmark services; a port-0 service is persistent.
 */
import type { DestinationRule, ServiceRule } from '../../src/index';

/** Mulberry32: small, fast, and the same everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'none'] as const;
const KINDS = ['tcp', 'udp', 'sctp', 'fwmark'] as const;
const FORWARDS = ['route', 'masq', 'tunnel'] as const;
const TUNNELS = ['ipip', 'gue', 'gre'] as const;
/** Checksum options per tunnel type, as ipvsadm allows them. */
const CSUMS: Record<(typeof TUNNELS)[number], readonly ('nocsum' | 'csum' | 'remcsum')[]> = {
  ipip: ['nocsum'],
  gue: ['nocsum', 'csum', 'remcsum'],
  gre: ['nocsum', 'csum'],
};

const SCHED_FLAG_NAMES = (sched: string): [string, string, string] =>
  sched === 'sh' ? ['sh-fallback', 'sh-port', 'flag-3'] : sched === 'mh' ? ['mh-fallback', 'mh-port', 'flag-3'] : ['flag-1', 'flag-2', 'flag-3'];

function prefixMask(n: number): string {
  const bits = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return [bits >>> 24, (bits >>> 16) & 255, (bits >>> 8) & 255, bits & 255].join('.');
}

/** Round-robin cursors so that every value of every list is used. */
class Cycle {
  private readonly at = new Map<string, number>();
  next<T>(name: string, list: readonly T[]): T {
    const i = this.at.get(name) ?? 0;
    this.at.set(name, i + 1);
    return list[i % list.length] as T;
  }
}

/**
 * One rule set: `services` services with up to four real servers each.
 * Services are unique by key; real servers unique within their service.
 */
export function generateRuleSet(seed: number, services: number): ServiceRule[] {
  const rnd = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  // Cursors start at a seed-dependent place so each set mixes differently.
  const cyc = new Cycle();
  for (let i = 0; i < seed % 7; i++) cyc.next('kind', KINDS);
  const out: ServiceRule[] = [];
  const keys = new Set<string>();
  while (out.length < services) {
    const kind = cyc.next('kind', KINDS);
    const family = rnd() < 0.4 ? 'ipv6' : 'ipv4';
    const scheduler = cyc.next('sched', SCHEDULERS);
    const persistent = rnd() < 0.45;
    let port = kind === 'fwmark' ? 0 : pick([80, 443, 53, 5060, 8080, int(1, 65535)]);
    // A port-0 (catch-all) service must be persistent for ipvsadm.
    if (kind !== 'fwmark' && persistent && rnd() < 0.2) port = 0;
    const rule: ServiceRule =
      kind === 'fwmark'
        ? {
            key: { fwmark: pick([1, 2, 7, 100, int(1, 0x7fffffff), 0xffffffff]), family },
            family,
            config: defaultConfig(family, scheduler),
            destinations: [],
          }
        : {
            key: {
              protocol: kind,
              address: family === 'ipv4' ? `203.0.113.${int(1, 254)}` : pick([`2001:db8:2::${int(1, 0xffff).toString(16)}`, `2001:db8:0:${int(1, 0xfff).toString(16)}::1`]),
              port,
            },
            family,
            config: defaultConfig(family, scheduler),
            destinations: [],
          };
    const id = JSON.stringify(rule.key);
    if (keys.has(id)) continue;
    keys.add(id);
    const c = rule.config;
    if (persistent) {
      c.persistent = true;
      c.timeout = pick([1, 60, 360, 3600, 2678400, int(1, 2678400)]);
      c.netmask = family === 'ipv4' ? prefixMask(pick([32, 24, 16, 8, int(1, 32)])) : pick([128, 64, 48, int(1, 128)]);
    } else if (rnd() < 0.15) {
      // A netmask without persistence: the kernel keeps it, ipvsadm does not show it.
      c.netmask = family === 'ipv4' ? prefixMask(int(1, 31)) : int(1, 127);
    }
    if (rnd() < 0.2) c.persistenceEngine = 'sip';
    if ((kind === 'udp' || kind === 'fwmark') && rnd() < 0.4) c.onePacket = true;
    if (rnd() < 0.5) {
      const names = SCHED_FLAG_NAMES(scheduler);
      // ipvsadm prints flag-3 of sh and mh as an empty "-b ": keep such sets to the first two.
      const usable = scheduler === 'sh' || scheduler === 'mh' ? 2 : 3;
      const bits = int(1, (1 << usable) - 1);
      c.schedFlags = names.filter((_n, i) => bits & (1 << i)) as ServiceRule['config']['schedFlags'];
    }
    const n = int(0, 4);
    const dests = new Set<string>();
    for (let i = 0; i < n; i++) {
      const forwarding = cyc.next('fwd', FORWARDS);
      // A real server of the other family is allowed only for tunnels.
      const dfamily = forwarding === 'tunnel' && rnd() < 0.3 ? (family === 'ipv4' ? 'ipv6' : 'ipv4') : family;
      const address =
        dfamily === 'ipv4'
          ? `${pick(['198.51.100', '192.0.2'])}.${int(2, 254)}`
          : pick([`2001:db8:1::${int(2, 0xffff).toString(16)}`, `2001:db8:3:${int(1, 0xfff).toString(16)}::${int(1, 0xff).toString(16)}`]);
      let dport = kind === 'fwmark' ? pick([0, 80, int(1, 65535)]) : forwarding === 'masq' ? pick([port, 8080, int(1, 65535)]) : port;
      if (kind !== 'fwmark' && forwarding === 'masq' && dport === 0) dport = 8080;
      const did = `${address}|${dport}`;
      if (dests.has(did)) continue;
      dests.add(did);
      const upper = rnd() < 0.4 ? pick([1, 100, 65535, int(1, 0x7fffffff)]) : 0;
      const d: DestinationRule = {
        key: { address, port: dport },
        family: dfamily,
        config: {
          forwarding,
          weight: pick([0, 1, 1, 5, 100, 65535, 65536, 0x7fffffff, int(0, 0x7fffffff)]),
          upperThreshold: upper,
          lowerThreshold: upper > 0 && rnd() < 0.6 ? int(0, upper) : 0,
          tunnelType: 'ipip',
          tunnelPort: 0,
          tunnelCsum: false,
          tunnelRemcsum: false,
        },
      };
      if (forwarding === 'tunnel') {
        const type = cyc.next('tun', TUNNELS);
        const csum = cyc.next(`csum-${type}`, CSUMS[type]);
        d.config.tunnelType = type;
        if (type === 'gue') d.config.tunnelPort = pick([6080, 5555, int(1, 65535)]);
        d.config.tunnelCsum = csum === 'csum';
        d.config.tunnelRemcsum = csum === 'remcsum';
      }
      rule.destinations.push(d);
    }
    out.push(rule);
  }
  return out;
}

function defaultConfig(family: 'ipv4' | 'ipv6', scheduler: string): ServiceRule['config'] {
  return {
    scheduler,
    persistent: false,
    timeout: 0,
    netmask: family === 'ipv4' ? '255.255.255.255' : 128,
    onePacket: false,
    schedFlags: [],
  };
}

/** What a corpus covers: the set of every feature value it uses. */
export function coverage(sets: readonly ServiceRule[][]): Set<string> {
  const seen = new Set<string>();
  for (const set of sets) {
    for (const s of set) {
      const k = s.key as { fwmark?: number; protocol?: string; port?: number };
      seen.add(`kind:${k.fwmark !== undefined ? 'fwmark' : k.protocol}`);
      seen.add(`family:${s.family}`);
      seen.add(`sched:${s.config.scheduler}`);
      for (const f of s.config.schedFlags) seen.add(`flag:${f}`);
      if (s.config.persistent) seen.add(`persistent:${s.family}:${String(s.config.netmask) === (s.family === 'ipv4' ? '255.255.255.255' : '128') ? 'default' : 'mask'}`);
      if (!s.config.persistent && String(s.config.netmask) !== (s.family === 'ipv4' ? '255.255.255.255' : '128')) seen.add('hidden-netmask');
      if (s.config.persistenceEngine) seen.add(`pe:${s.config.persistenceEngine}`);
      if (s.config.onePacket) seen.add('one-packet');
      if (k.port === 0) seen.add('port-0');
      for (const d of s.destinations) {
        seen.add(`fwd:${d.config.forwarding}`);
        if (d.family !== s.family) seen.add('mixed-family');
        if (d.config.forwarding === 'tunnel') {
          seen.add(`tun:${d.config.tunnelType}:${d.config.tunnelCsum ? 'csum' : d.config.tunnelRemcsum ? 'remcsum' : 'nocsum'}`);
        }
        if (d.config.weight === 0) seen.add('weight:0');
        if (d.config.weight > 65535) seen.add('weight:large');
        if (d.config.upperThreshold > 0) seen.add('threshold:upper');
        if (d.config.lowerThreshold > 0) seen.add('threshold:lower');
      }
    }
  }
  return seen;
}

/** Every feature value the corpus must cover. */
export function requiredCoverage(): string[] {
  const want = [
    ...KINDS.map((k) => `kind:${k}`),
    'family:ipv4',
    'family:ipv6',
    ...SCHEDULERS.map((s) => `sched:${s}`),
    'flag:flag-1',
    'flag:flag-2',
    'flag:flag-3',
    'flag:sh-fallback',
    'flag:sh-port',
    'flag:mh-fallback',
    'flag:mh-port',
    'persistent:ipv4:default',
    'persistent:ipv4:mask',
    'persistent:ipv6:default',
    'persistent:ipv6:mask',
    'hidden-netmask',
    'pe:sip',
    'one-packet',
    'port-0',
    ...FORWARDS.map((f) => `fwd:${f}`),
    'mixed-family',
    ...TUNNELS.flatMap((t) => CSUMS[t].map((c) => `tun:${t}:${c}`)),
    'weight:0',
    'weight:large',
    'threshold:upper',
    'threshold:lower',
  ];
  return want;
}

// ------------------------------------------------------------------ ipvsadm

function addrPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The ipvsadm service argument: `-t 203.0.113.1:80`, `-f 7 -6`, ... */
export function ipvsadmService(s: ServiceRule): string {
  const k = s.key as { fwmark?: number; protocol?: string; address?: string; port?: number };
  if (k.fwmark !== undefined) return `-f ${k.fwmark}${s.family === 'ipv6' ? ' -6' : ''}`;
  const opt = k.protocol === 'tcp' ? '-t' : k.protocol === 'udp' ? '-u' : '--sctp-service';
  return `${opt} ${addrPort(k.address as string, k.port as number)}`;
}

/**
 * A rule set as ipvsadm commands (one per line, as `ipvsadm -R` reads
 * them), written from the ipvsadm man page, independently of the library.
 */
export function ipvsadmCommands(set: readonly ServiceRule[]): string[] {
  const lines: string[] = [];
  for (const s of set) {
    const svc = ipvsadmService(s);
    const c = s.config;
    let line = `-A ${svc} -s ${c.scheduler}`;
    if (c.persistent) line += ` -p ${c.timeout}`;
    if (String(c.netmask) !== (s.family === 'ipv4' ? '255.255.255.255' : '128')) line += ` -M ${c.netmask}`;
    if (c.persistenceEngine) line += ` --pe ${c.persistenceEngine}`;
    if (c.onePacket) line += ' -o';
    if (c.schedFlags.length) line += ` -b ${c.schedFlags.join(',')}`;
    lines.push(line);
    for (const d of s.destinations) {
      const dc = d.config;
      const fwd = dc.forwarding === 'masq' ? '-m' : dc.forwarding === 'tunnel' ? '-i' : '-g';
      let dl = `-a ${svc} -r ${addrPort(d.key.address, d.key.port)} ${fwd} -w ${dc.weight} -x ${dc.upperThreshold} -y ${dc.lowerThreshold}`;
      if (dc.forwarding === 'tunnel') {
        dl += ` --tun-type ${dc.tunnelType}`;
        if (dc.tunnelType === 'gue') dl += ` --tun-port ${dc.tunnelPort}`;
        if (dc.tunnelType !== 'ipip') dl += dc.tunnelCsum ? ' --tun-csum' : dc.tunnelRemcsum ? ' --tun-remcsum' : ' --tun-nocsum';
      }
      lines.push(dl);
    }
  }
  return lines;
}
