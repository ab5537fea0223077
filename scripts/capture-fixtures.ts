/**
 * Captures golden fixtures from the real kernel (run inside User-Mode Linux
 * by scripts/capture-fixtures.sh; writes test/fixtures/*.json).
 *
 * States: each is built in a fresh namespace by ipvsadm commands (the
 * fixture lists them), then read through a real IpvsClient whose transport
 * records every request and the kernel's exact answer (TeeTransport). What
 * the state means is written down independently of the library's decoder:
 * the configuration from the rules the commands were rendered from, the
 * counters, rates, connection counts, info, timeouts and daemons from
 * ipvsadm's own listings of the same kernel, read before and after the
 * capture (retried until both agree, so nothing moved in between).
 *
 * Requests: what ipvsadm sends for a command, from `strace -e write=all`,
 * paired with the library call of the same meaning.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IpvsClient, type DestinationRule, type ServiceKey, type ServiceRule, type SyncDaemon } from '../src/index';
import { openNetlinkSocket } from '../src/netlink/transport';
import { ipvsadmCommands } from '../test/kernel/corpus';
import { withNetns, type Netns } from '../test/kernel/harness';
import { withLab, type Lab } from '../test/kernel/lab';
import {
  FIXTURE_DIR,
  TeeTransport,
  plain,
  splitMessage,
  type RequestFixture,
  type RequestFixtureFile,
  type StateFixture,
} from '../test/unit/golden-support';

// ------------------------------------------------------------------ states

const ZERO = { conns: '0', inPackets: '0', outPackets: '0', inBytes: '0', outBytes: '0' };
const ZERO_RATES = { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };

const svcCfg = (family: 'ipv4' | 'ipv6', c: Partial<ServiceRule['config']>): ServiceRule['config'] => ({
  scheduler: 'wlc',
  persistent: false,
  timeout: 0,
  netmask: family === 'ipv4' ? '255.255.255.255' : 128,
  onePacket: false,
  schedFlags: [],
  ...c,
});
const dst = (address: string, port: number, family: 'ipv4' | 'ipv6', c: Partial<DestinationRule['config']>): DestinationRule => ({
  key: { address, port },
  family,
  config: { forwarding: 'route', weight: 1, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false, ...c },
});

/** A variety of services and real servers: every kind of attribute the kernel dumps. */
const VARIETY: ServiceRule[] = [
  {
    key: { protocol: 'tcp', address: '203.0.113.10', port: 80 },
    family: 'ipv4',
    config: svcCfg('ipv4', { scheduler: 'rr' }),
    destinations: [
      dst('198.51.100.2', 8080, 'ipv4', { forwarding: 'masq', weight: 5, upperThreshold: 100, lowerThreshold: 10 }),
      dst('198.51.100.3', 80, 'ipv4', { weight: 0 }),
      dst('2001:db8:1::2', 80, 'ipv6', { forwarding: 'tunnel', weight: 2147483647, tunnelType: 'gue', tunnelPort: 6080, tunnelCsum: true }),
    ],
  },
  {
    key: { protocol: 'udp', address: '2001:db8::10', port: 53 },
    family: 'ipv6',
    config: svcCfg('ipv6', { scheduler: 'sh', persistent: true, timeout: 3600, netmask: 64, onePacket: true, schedFlags: ['sh-fallback', 'sh-port'] }),
    destinations: [
      dst('2001:db8:1::3', 53, 'ipv6', { forwarding: 'tunnel', tunnelType: 'gre', tunnelCsum: false }),
      dst('2001:db8:1::4', 5353, 'ipv6', { forwarding: 'masq', weight: 65536 }),
    ],
  },
  {
    key: { protocol: 'sctp', address: '203.0.113.11', port: 0 },
    family: 'ipv4',
    config: svcCfg('ipv4', { scheduler: 'none', persistent: true, timeout: 2678400, netmask: '255.255.255.0' }),
    destinations: [dst('192.0.2.7', 0, 'ipv4', { forwarding: 'tunnel', tunnelType: 'gue', tunnelPort: 5555, tunnelRemcsum: true })],
  },
  {
    key: { fwmark: 7, family: 'ipv4' },
    family: 'ipv4',
    config: svcCfg('ipv4', { scheduler: 'wrr', persistent: true, timeout: 360, persistenceEngine: 'sip', schedFlags: ['flag-1', 'flag-2', 'flag-3'] }),
    destinations: [dst('198.51.100.20', 0, 'ipv4', {}), dst('198.51.100.21', 5060, 'ipv4', { forwarding: 'masq', weight: 3 })],
  },
  {
    key: { fwmark: 4294967295, family: 'ipv6' },
    family: 'ipv6',
    config: svcCfg('ipv6', { scheduler: 'mh', schedFlags: ['mh-port'] }),
    destinations: [],
  },
];

/** One service with many real servers: a destination dump that takes several datagrams. */
const MANY: ServiceRule[] = [
  {
    key: { protocol: 'tcp', address: '2001:db8::20', port: 443 },
    family: 'ipv6',
    config: svcCfg('ipv6', { scheduler: 'wrr' }),
    destinations: Array.from({ length: 200 }, (_v, i) => dst(`2001:db8:1::${(i + 2).toString(16)}`, 443, 'ipv6', { forwarding: 'masq', weight: i })),
  },
];

/** The lab's services: NAT and persistent NAT (test/kernel/lab.ts). */
const TRAFFIC: ServiceRule[] = [
  {
    key: { protocol: 'tcp', address: '203.0.113.10', port: 80 },
    family: 'ipv4',
    config: svcCfg('ipv4', { scheduler: 'rr' }),
    destinations: [dst('198.51.100.11', 8080, 'ipv4', { forwarding: 'masq' }), dst('198.51.100.140', 8080, 'ipv4', { forwarding: 'masq' })],
  },
  {
    key: { protocol: 'tcp', address: '203.0.113.11', port: 80 },
    family: 'ipv4',
    config: svcCfg('ipv4', { scheduler: 'rr', persistent: true, timeout: 300, netmask: '255.255.255.0' }),
    destinations: [dst('198.51.100.11', 8080, 'ipv4', { forwarding: 'masq' }), dst('198.51.100.140', 8080, 'ipv4', { forwarding: 'masq' })],
  },
];

interface StateDef {
  name: string;
  description: string;
  rules: ServiceRule[];
  /** ipvsadm commands run after the rules (timeouts, daemons). */
  extra?: string[];
  /** Real traffic through the lab; returns what was done, for the record. */
  traffic?: (lab: Lab) => Promise<string[]>;
  /** Connections each service must have counted before the capture (ipvsadm order). */
  trafficConns?: number[];
  /** The library calls to capture (default: every read of every service). */
  calls?: string[];
}

const STATES: StateDef[] = [
  { name: 'empty', description: 'a fresh namespace: no services, default timeouts, no daemons', rules: [] },
  {
    name: 'variety',
    description: 'services of every kind (tcp, udp, sctp, fwmark; IPv4 and IPv6; persistence, engine, one-packet, scheduler flags, none) and real servers of every forwarding method and tunnel type, weights 0 to 2^31-1, thresholds, a mixed-family tunnel',
    rules: VARIETY,
  },
  {
    name: 'many-destinations',
    description: 'one IPv6 service with 200 real servers: a destination dump over several datagrams',
    rules: MANY,
    calls: ['listServices', `listDestinations ${JSON.stringify(MANY[0]?.key)}`],
  },
  {
    name: 'config-daemons',
    description: 'changed timeouts and two sync daemons (master with every option and an IPv4 group, backup with an IPv6 group)',
    rules: [],
    extra: [
      'ipvsadm --set 1000 60 200',
      'ipvsadm --start-daemon master --mcast-interface dummy0 --syncid 200 --sync-maxlen 1200 --mcast-group 239.0.0.9 --mcast-port 9000 --mcast-ttl 5',
      'ipvsadm --start-daemon backup --mcast-interface dummy0 --syncid 7 --mcast-group ff02::9',
    ],
  },
  {
    name: 'traffic',
    description: 'counters after real traffic: a NAT service that served 10 connections and a persistent one that served 3 (with its template)',
    rules: TRAFFIC,
    traffic: async (lab) => {
      await lab.http('http://203.0.113.10/', 10);
      await lab.http('http://203.0.113.11/', 3);
      return ['client 203.0.113.2: 10 HTTP GETs to http://203.0.113.10/, then 3 to http://203.0.113.11/ (test/kernel/lab.ts)'];
    },
    trafficConns: [10, 3],
  },
];

// ------------------------------------------------------------------ ipvsadm's reading

/** ipvsadm's label of a service in listings: `TCP  203.0.113.10:80`, `FWM  7 IPv6`. */
function admLabel(s: ServiceRule): string[] {
  const k = s.key as { fwmark?: number; protocol?: string; address?: string; port?: number };
  if (k.fwmark !== undefined) return s.family === 'ipv6' ? ['FWM', String(k.fwmark), 'IPv6'] : ['FWM', String(k.fwmark)];
  const a = k.address as string;
  return [(k.protocol as string).toUpperCase(), `${a.includes(':') ? `[${a}]` : a}:${k.port}`];
}
const admDest = (d: DestinationRule): string => `${d.key.address.includes(':') ? `[${d.key.address}]` : d.key.address}:${d.key.port}`;

/** Numbers per service and per real server from one ipvsadm listing. */
function parseListing(text: string, rules: readonly ServiceRule[]): Map<string, { svc: string[]; dests: Map<string, string[]> }> {
  const out = new Map<string, { svc: string[]; dests: Map<string, string[]> }>();
  let cur: { svc: string[]; dests: Map<string, string[]> } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('  -> ')) {
      const f = line.slice(5).trim().split(/\s+/);
      if (cur && f[0] !== 'RemoteAddress:Port') cur.dests.set(f[0] as string, f.slice(1));
      continue;
    }
    const f = line.trim().split(/\s+/);
    cur = undefined;
    for (const s of rules) {
      const label = admLabel(s);
      if (label.every((x, i) => f[i] === x) && !(label[0] === 'FWM' && f[2] === 'IPv6' && label.length === 2)) {
        cur = { svc: f.slice(label.length), dests: new Map() };
        out.set(JSON.stringify(s.key), cur);
      }
    }
  }
  return out;
}

interface Observed {
  stats: string;
  rate: string;
  conns: string;
  head: string;
  timeout: string;
  daemon: string;
}

/** What moves: counters, rates, connection counts (one ipvsadm run each, quickly: rates change every 2 s). */
async function observeMoving(ns: Netns): Promise<Pick<Observed, 'stats' | 'rate' | 'conns'>> {
  const out = await ns.sh('ipvsadm -Ln --stats --exact; echo @@; ipvsadm -Ln --rate --exact; echo @@; ipvsadm -Ln --persistent-conn');
  const [stats, rate, conns] = out.split('@@\n') as [string, string, string];
  return { stats, rate, conns };
}

async function observeStill(ns: Netns): Promise<Pick<Observed, 'head' | 'timeout' | 'daemon'>> {
  return {
    head: (await ns.sh('ipvsadm -Ln')).split('\n')[0] ?? '',
    timeout: await ns.sh('ipvsadm -Ln --timeout'),
    daemon: await ns.sh('ipvsadm -Ln --daemon'),
  };
}

function flagBits(c: ServiceRule['config']): number {
  let bits = 0x2; // IP_VS_SVC_F_HASHED: present in every dump
  if (c.persistent) bits |= 0x1;
  if (c.onePacket) bits |= 0x4;
  for (const f of c.schedFlags) bits |= f.endsWith('fallback') || f === 'flag-1' ? 0x8 : f.endsWith('port') || f === 'flag-2' ? 0x10 : 0x20;
  return bits;
}

function parseDaemons(text: string): SyncDaemon[] {
  const out: SyncDaemon[] = [];
  for (const line of text.split('\n')) {
    const m = /^(master|backup) sync daemon \((.*)\)$/.exec(line.trim());
    if (!m) continue;
    const kv = Object.fromEntries((m[2] as string).split(', ').map((p) => p.split('=') as [string, string]));
    const d: SyncDaemon = { state: m[1] as 'master' | 'backup', interface: kv.mcast ?? '', syncId: Number(kv.syncid) };
    if (kv.maxlen !== undefined) d.maxLen = Number(kv.maxlen);
    if (kv.group !== undefined) d.group = kv.group;
    if (kv.port !== undefined) d.port = Number(kv.port);
    if (kv.ttl !== undefined) d.ttl = Number(kv.ttl);
    out.push(d);
  }
  return out;
}

/** The expected meaning: configuration from the rules, everything observed from ipvsadm. */
function expectedOf(rules: readonly ServiceRule[], o: Observed): Record<string, unknown> {
  const stats = parseListing(o.stats, rules);
  const rate = parseListing(o.rate, rules);
  const conns = parseListing(o.conns, rules);
  const st = (v: string[] | undefined) => (v ? { conns: v[0], inPackets: v[1], outPackets: v[2], inBytes: v[3], outBytes: v[4] } : ZERO);
  const rt = (v: string[] | undefined) => (v ? { cps: Number(v[0]), inPps: Number(v[1]), outPps: Number(v[2]), inBps: Number(v[3]), outBps: Number(v[4]) } : ZERO_RATES);
  const services = rules.map((s) => {
    const id = JSON.stringify(s.key);
    return { key: s.key, family: s.family, config: s.config, stats: st(stats.get(id)?.svc), rates: rt(rate.get(id)?.svc), statsSource: 'stats64', rawFlags: flagBits(s.config) };
  });
  const destinations: Record<string, unknown[]> = {};
  for (const s of rules) {
    const id = JSON.stringify(s.key);
    // The kernel lists real servers newest first.
    destinations[id] = [...s.destinations].reverse().map((d) => {
      const c = conns.get(id)?.dests.get(admDest(d));
      return {
        key: d.key,
        family: d.family,
        config: d.config,
        activeConns: Number(c?.[2] ?? NaN),
        inactiveConns: Number(c?.[3] ?? NaN),
        persistentConns: Number(c?.[1] ?? NaN),
        stats: st(stats.get(id)?.dests.get(admDest(d))),
        rates: rt(rate.get(id)?.dests.get(admDest(d))),
        statsSource: 'stats64',
      };
    });
  }
  const head = /^IP Virtual Server version (\d+)\.(\d+)\.(\d+) \(size=(\d+)\)$/.exec(o.head);
  if (!head) throw new Error(`unexpected ipvsadm header: ${o.head}`);
  const [maj, min, pat] = [Number(head[1]), Number(head[2]), Number(head[3])];
  const to = /^Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)$/.exec(o.timeout.trim());
  if (!to) throw new Error(`unexpected ipvsadm timeouts: ${o.timeout}`);
  return {
    info: { versionCode: (maj << 16) | (min << 8) | pat, version: `${maj}.${min}.${pat}`, connTableSize: Number(head[4]) },
    timeouts: { tcp: Number(to[1]), tcpFin: Number(to[2]), udp: Number(to[3]) },
    daemons: parseDaemons(o.daemon),
    services,
    destinations,
  };
}

function callsFor(rules: readonly ServiceRule[]): string[] {
  const keys = rules.map((s) => JSON.stringify(s.key));
  return ['info', 'getTimeouts', 'listDaemons', 'listServices', 'rules', 'snapshot', ...keys.map((k) => `getService ${k}`), ...keys.map((k) => `listDestinations ${k}`)];
}

/** Runs the read calls on a client whose transport records everything. */
async function capture(ns: Netns, calls: readonly string[]): Promise<{ tee: TeeTransport }> {
  const tee = new TeeTransport(openNetlinkSocket({ netns: ns.path }));
  const client = await IpvsClient.open({ transport: tee });
  try {
    for (const call of calls) {
      const sp = call.indexOf(' ');
      const method = sp < 0 ? call : call.slice(0, sp);
      const arg = sp < 0 ? undefined : (JSON.parse(call.slice(sp + 1)) as ServiceKey);
      const c = client as unknown as Record<string, (a?: ServiceKey) => Promise<unknown>>;
      await (c[method] as (a?: ServiceKey) => Promise<unknown>).call(client, arg);
    }
  } finally {
    client.close();
  }
  return { tee };
}

async function captureState(def: StateDef, kernel: string): Promise<StateFixture> {
  const build = async (ns: Netns, lab?: Lab): Promise<StateFixture> => {
    const commands = [...ipvsadmCommands(def.rules).map((l) => `ipvsadm ${l}`), ...(def.extra ?? [])];
    if (commands.length) {
      const r = await ns.exec('ipvsadm -R', `${commands.map((c) => c.replace(/^ipvsadm /, '')).join('\n')}\n`);
      if (r.code !== 0 || r.stderr) throw new Error(`${def.name}: ipvsadm -R failed: ${r.stderr}`);
    }
    if (def.traffic && lab) {
      commands.push(...(await def.traffic(lab)));
      // Wait for the rate estimator (every 2 s) to fold every packet in,
      // but not so long that the rates have decayed to zero.
      const want = def.trafficConns ?? [];
      for (let i = 0; i < 40; i++) {
        const conns = (await ns.sh('ipvsadm -Ln --stats --exact')).split('\n').filter((l) => /^(TCP|UDP|SCTP|FWM) /.test(l)).map((l) => Number(l.trim().split(/\s+/)[2]));
        if (JSON.stringify(conns) === JSON.stringify(want)) break;
        await sleep(500);
      }
      await sleep(2500);
    }
    const still = await observeStill(ns);
    const calls = def.calls ?? callsFor(def.rules);
    for (let attempt = 0; attempt < 40; attempt++) {
      const moving = await observeMoving(ns);
      const { tee } = await capture(ns, calls);
      const again = await observeMoving(ns);
      const before: Observed = { ...moving, ...still };
      if (JSON.stringify(moving) !== JSON.stringify(again)) {
        await sleep(50);
        continue;
      }
      return {
        kind: 'state',
        name: def.name,
        description: def.description,
        kernel,
        commands,
        calls,
        portId: tee.portId,
        exchanges: tee.exchanges,
        expected: plain(expectedOf(def.rules, before)) as Record<string, unknown>,
      };
    }
    throw new Error(`${def.name}: the state kept changing during the capture`);
  };
  return def.traffic ? withLab((lab) => build(lab.director, lab)) : withNetns((ns) => build(ns));
}

// ------------------------------------------------------------------ ipvsadm's requests

interface RequestDef {
  ipvsadm: string;
  prepare?: string[];
  /** The genl command of the IPVS request to keep (ipvsadm also sends GET_INFO first). */
  cmd: number;
  call: { method: string; args: unknown[] };
  relation: RequestFixture['relation'];
  ack?: RequestFixture['ack'];
  note?: string;
}

const VS = { protocol: 'tcp', address: '203.0.113.10', port: 80 };
const ADD_VS = 'ipvsadm -A -t 203.0.113.10:80 -s rr';
const NOTE_SERVICE_NEST = 'ipvsadm sends the whole service entry in the SERVICE nest of every service or destination command; the library sends the identity (AF and protocol/address/port or fwmark), which is all the kernel reads there';

const REQUESTS: RequestDef[] = [
  { ipvsadm: '-A -t 203.0.113.10:80 -s rr', cmd: 1, call: { method: 'addService', args: [VS, { scheduler: 'rr' }] }, relation: 'same' },
  {
    ipvsadm: '-A -u [2001:db8::10]:53 -s sh -b sh-fallback,sh-port -p 600 -M 64 -o --pe sip',
    cmd: 1,
    call: { method: 'addService', args: [{ protocol: 'udp', address: '2001:db8::10', port: 53 }, { scheduler: 'sh', schedFlags: ['sh-fallback', 'sh-port'], persistent: true, timeout: 600, netmask: 64, onePacket: true, persistenceEngine: 'sip' }] },
    relation: 'same',
  },
  {
    ipvsadm: '-A -f 7 -s wlc -p -M 255.255.255.0',
    cmd: 1,
    call: { method: 'addService', args: [{ fwmark: 7, family: 'ipv4' }, { persistent: true, netmask: '255.255.255.0' }] },
    relation: 'same',
    note: "ipvsadm's -p without a value is 360 s, the library's default too",
  },
  {
    ipvsadm: '-E -t 203.0.113.10:80 -s wrr',
    prepare: [ADD_VS],
    cmd: 2,
    call: { method: 'replaceService', args: [VS, { scheduler: 'wrr', persistent: false, timeout: 0, netmask: '255.255.255.255', onePacket: false, schedFlags: [] }] },
    relation: 'same',
  },
  { ipvsadm: '-D -t 203.0.113.10:80', prepare: [ADD_VS], cmd: 3, call: { method: 'deleteService', args: [VS] }, relation: 'subset', note: NOTE_SERVICE_NEST },
  {
    ipvsadm: '-a -t 203.0.113.10:80 -r 198.51.100.2:8080 -m -w 5 -x 100 -y 10',
    prepare: [ADD_VS],
    cmd: 5,
    call: { method: 'addDestination', args: [VS, { address: '198.51.100.2', port: 8080 }, { forwarding: 'masq', weight: 5, upperThreshold: 100, lowerThreshold: 10 }] },
    relation: 'subset',
    note: NOTE_SERVICE_NEST,
  },
  {
    ipvsadm: '-a -t 203.0.113.10:80 -r [2001:db8:1::2]:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum',
    prepare: [ADD_VS],
    cmd: 5,
    call: { method: 'addDestination', args: [VS, { address: '2001:db8:1::2', port: 80 }, { forwarding: 'tunnel', tunnelType: 'gue', tunnelPort: 6080, tunnelCsum: true }] },
    relation: 'subset',
    note: NOTE_SERVICE_NEST,
  },
  {
    ipvsadm: '-e -t 203.0.113.10:80 -r 198.51.100.2:8080 -m -w 7',
    prepare: [ADD_VS, 'ipvsadm -a -t 203.0.113.10:80 -r 198.51.100.2:8080 -m'],
    cmd: 6,
    call: {
      method: 'replaceDestination',
      args: [VS, { address: '198.51.100.2', port: 8080 }, { forwarding: 'masq', weight: 7, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false }],
    },
    relation: 'subset',
    note: NOTE_SERVICE_NEST,
  },
  {
    ipvsadm: '-d -t 203.0.113.10:80 -r 198.51.100.2:8080',
    prepare: [ADD_VS, 'ipvsadm -a -t 203.0.113.10:80 -r 198.51.100.2:8080 -m'],
    cmd: 7,
    call: { method: 'deleteDestination', args: [VS, { address: '198.51.100.2', port: 8080 }] },
    relation: 'subset',
    note: `${NOTE_SERVICE_NEST}; for the DEST nest too, ipvsadm sends a whole entry where the kernel reads the address family, address and port`,
  },
  { ipvsadm: '-Z -t 203.0.113.10:80', prepare: [ADD_VS], cmd: 16, call: { method: 'zero', args: [VS] }, relation: 'subset', note: NOTE_SERVICE_NEST },
  { ipvsadm: '-Z', cmd: 16, call: { method: 'zero', args: [] }, relation: 'same' },
  { ipvsadm: '-C', cmd: 17, call: { method: 'flush', args: [] }, relation: 'same' },
  { ipvsadm: '--set 1000 60 200', cmd: 12, call: { method: 'setTimeouts', args: [{ tcp: 1000, tcpFin: 60, udp: 200 }] }, relation: 'same' },
  {
    ipvsadm: '--start-daemon master --mcast-interface dummy0 --syncid 7 --sync-maxlen 1200 --mcast-group 239.0.0.9 --mcast-port 9000 --mcast-ttl 5',
    cmd: 9,
    call: { method: 'startDaemon', args: [{ state: 'master', interface: 'dummy0', syncId: 7, maxLen: 1200, group: '239.0.0.9', port: 9000, ttl: 5 }] },
    relation: 'unordered',
    note: 'ipvsadm writes the multicast group after the port and TTL; the library follows the attribute numbering',
  },
  {
    ipvsadm: '--stop-daemon master',
    prepare: ['ipvsadm --start-daemon master --mcast-interface dummy0'],
    cmd: 10,
    call: { method: 'stopDaemon', args: ['master'] },
    relation: 'subset',
    ack: 'next',
    note: 'ipvsadm also sends MCAST_IFN and SYNC_ID; the kernel reads only STATE. The library asks no ACK of DEL_DAEMON and sends a GET_INFO after it in the same datagram instead: the kernel does not answer a DEL_DAEMON that stops a sync thread before it ran (see IpvsClient.stopDaemon)',
  },
  { ipvsadm: '-Ln', cmd: 15, call: { method: 'info', args: [] }, relation: 'same' },
  { ipvsadm: '-Ln', prepare: [ADD_VS], cmd: 4, call: { method: 'listServices', args: [] }, relation: 'same' },
  { ipvsadm: '-Ln', prepare: [ADD_VS], cmd: 8, call: { method: 'listDestinations', args: [VS] }, relation: 'same' },
  { ipvsadm: '-L --timeout', cmd: 13, call: { method: 'getTimeouts', args: [] }, relation: 'same' },
  { ipvsadm: '-L --daemon', cmd: 11, call: { method: 'listDaemons', args: [] }, relation: 'same' },
];

/** The data of every sendmsg in an strace log written with `-e write=all`. */
function sendmsgBuffers(log: string): Buffer[] {
  const out: Buffer[] = [];
  let cur: number[] | undefined;
  for (const line of log.split('\n')) {
    if (/\bsendmsg\(/.test(line)) {
      cur = [];
      out.push(Buffer.alloc(0));
      continue;
    }
    const m = /^\s*\| [0-9a-f]{5}  ((?:[0-9a-f]{2} {1,2})+)/.exec(line);
    if (m && cur) {
      cur.push(...(m[1] as string).trim().split(/\s+/).map((h) => parseInt(h, 16)));
      out[out.length - 1] = Buffer.from(cur);
    }
  }
  return out;
}

async function captureRequest(def: RequestDef): Promise<RequestFixture> {
  return withNetns(async (ns) => {
    for (const p of def.prepare ?? []) await ns.sh(p);
    const dir = mkdtempSync(join(tmpdir(), 'ipvs-strace-'));
    try {
      const log = join(dir, 'log');
      await ns.sh(`strace -f -qq -e trace=sendmsg -e write=all -o ${log} ipvsadm ${def.ipvsadm} >/dev/null`);
      const messages = sendmsgBuffers(readFileSync(log, 'utf8'));
      const ipvs = messages.find((b) => b.length >= 20 && b.readUInt16LE(4) !== 0x10 && b[16] === def.cmd);
      if (!ipvs) throw new Error(`no IPVS command ${def.cmd} in the strace of ipvsadm ${def.ipvsadm}`);
      const len = ipvs.readUInt32LE(0);
      const fx: RequestFixture = {
        ipvsadm: def.ipvsadm,
        prepare: def.prepare ?? [],
        call: def.call,
        relation: def.relation,
        request: ipvs.subarray(0, len).toString('hex'),
      };
      if (def.note) fx.note = def.note;
      if (def.ack) fx.ack = def.ack;
      splitMessage(ipvs.subarray(0, len)); // must parse
      return fx;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const release = execFileSync('uname', ['-r']).toString().trim();
  const probe = await IpvsClient.open();
  const info = await probe.info();
  probe.close();
  const kernel = `Linux ${release} (Debian user-mode-linux), IPVS ${info.version}`;
  for (const def of STATES) {
    const fx = await captureState(def, kernel);
    writeFileSync(join(FIXTURE_DIR, `state-${def.name}.json`), `${JSON.stringify(fx, null, 1)}\n`);
    process.stdout.write(`state ${def.name}: ${fx.exchanges.length} exchanges\n`);
  }
  const requests: RequestFixture[] = [];
  for (const def of REQUESTS) requests.push(await captureRequest(def));
  const version = execFileSync('ipvsadm', ['-v']).toString().trim();
  const file: RequestFixtureFile = { kind: 'requests', kernel, ipvsadm: version, requests };
  writeFileSync(join(FIXTURE_DIR, 'requests-ipvsadm.json'), `${JSON.stringify(file, null, 1)}\n`);
  process.stdout.write(`requests: ${requests.length}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`capture-fixtures: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
