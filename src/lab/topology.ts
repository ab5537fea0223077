/**
 * The classic LVS lab networks, built from network namespaces inside a
 * User-Mode Linux guest (the lab and the agent's kernel tests both use them).
 *
 * Direct routing (DR), done as the LVS HOWTO says: director, real servers and
 * client share one layer-2 segment (a bridge); the director holds the VIP on
 * its LAN interface; each real server holds the VIP on `lo` as a /32 so it
 * accepts packets addressed to it, with `arp_ignore=1` (answer ARP only for
 * addresses on the receiving interface) and `arp_announce=2` (never use the
 * VIP as an ARP source), so the only ARP answer for the VIP is the director's.
 *
 * NAT: the client on one side of the director, the real servers on a
 * private segment behind it with the director as their default gateway; the
 * director forwards (ip_forward=1) and rewrites addresses both ways.
 *
 * Addresses are documentation ranges only (RFC 5737).
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** A host of the lab: a network namespace with an address. */
export interface LabHost {
  /** Short name (`web1`). */
  name: string;
  /** Network namespace name. */
  netns: string;
  /** Its LAN address. */
  address: string;
}

/** A built lab network. */
export interface LabNetwork {
  mode: 'dr' | 'nat';
  /** Namespace holding the bridge(s). */
  switchNetns: string;
  director: LabHost;
  /** Virtual IP. */
  vip: string;
  realServers: LabHost[];
  client: LabHost;
  /** Every namespace created (to tear down). */
  namespaces: string[];
}

function sh(script: string): void {
  execFileSync('sh', ['-ec', script], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function nsAdd(ns: string): string {
  // `lo` up: health checks and servers use loopback-adjacent paths, and DR real servers hold the VIP there.
  return `ip netns add ${ns}\nip -n ${ns} link set lo up\n`;
}

/** A veth from `host`'s netns (`dev`) to a bridge port in the switch netns. */
function plug(sw: string, bridge: string, host: string, dev: string, port: string): string {
  return `ip -n ${sw} link add ${port} type veth peer name ${dev} netns ${host}
ip -n ${sw} link set ${port} master ${bridge} up
ip -n ${host} link set ${dev} up
`;
}

/**
 * Builds the DR lab: switch (bridge), director (192.0.2.1, VIP 192.0.2.10),
 * `n` real servers (192.0.2.11…) holding the VIP on `lo`, and a client
 * (192.0.2.100). Names start with `prefix`.
 */
export function buildDr(prefix: string, n = 3): LabNetwork {
  const sw = `${prefix}-sw`;
  const dir = `${prefix}-dir`;
  const cl = `${prefix}-cl`;
  const vip = '192.0.2.10';
  const rs: LabHost[] = Array.from({ length: n }, (_v, i) => ({ name: `web${i + 1}`, netns: `${prefix}-web${i + 1}`, address: `192.0.2.${11 + i}` }));
  let s = nsAdd(sw) + `ip -n ${sw} link add br0 type bridge\nip -n ${sw} link set br0 up\n`;
  s += nsAdd(dir) + plug(sw, 'br0', dir, 'eth0', 'p-dir');
  s += `ip -n ${dir} addr add 192.0.2.1/24 dev eth0\nip -n ${dir} addr add ${vip}/32 dev eth0\n`;
  // What a director whose agent deletes failed real servers should set
  // (docs/agent.md): without it, a new connection that reuses the client port
  // of a recent one to the deleted server is dropped for up to 2 minutes
  // (test/kernel/agent/port-reuse.ts), and one held open gets no answer.
  s += `ip netns exec ${dir} sysctl -qw net.ipv4.vs.expire_nodest_conn=1\n`;
  rs.forEach((h, i) => {
    s += nsAdd(h.netns) + plug(sw, 'br0', h.netns, 'eth0', `p-web${i + 1}`);
    s += `ip -n ${h.netns} addr add ${h.address}/24 dev eth0\n`;
    // The DR rules: VIP on lo as a /32, and never answer or announce it on the LAN.
    s += `ip -n ${h.netns} addr add ${vip}/32 dev lo\n`;
    s += `ip netns exec ${h.netns} sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2\n`;
  });
  s += nsAdd(cl) + plug(sw, 'br0', cl, 'eth0', 'p-cl') + `ip -n ${cl} addr add 192.0.2.100/24 dev eth0\n`;
  sh(s);
  return network('dr', sw, { name: 'director', netns: dir, address: '192.0.2.1' }, vip, rs, { name: 'client', netns: cl, address: '192.0.2.100' });
}

function network(mode: LabNetwork['mode'], sw: string, director: LabHost, vip: string, realServers: LabHost[], client: LabHost): LabNetwork {
  return { mode, switchNetns: sw, director, vip, realServers, client, namespaces: [sw, director.netns, ...realServers.map((h) => h.netns), client.netns] };
}

/**
 * Builds the NAT lab: client (203.0.113.100) — director (203.0.113.1, VIP
 * 203.0.113.10; 198.51.100.1 inside) — private switch with `n` real servers
 * (198.51.100.11…) and, when `sorry`, a sorry server (198.51.100.99), all
 * routing through the director.
 */
export function buildNat(prefix: string, n = 2, sorry = true): LabNetwork {
  const sw = `${prefix}-sw`;
  const dir = `${prefix}-dir`;
  const cl = `${prefix}-cl`;
  const vip = '203.0.113.10';
  const rs: LabHost[] = Array.from({ length: n }, (_v, i) => ({ name: `app${i + 1}`, netns: `${prefix}-app${i + 1}`, address: `198.51.100.${11 + i}` }));
  const hosts = sorry ? [...rs, { name: 'sorry', netns: `${prefix}-sorry`, address: '198.51.100.99' }] : rs;
  let s = nsAdd(sw) + `ip -n ${sw} link add br0 type bridge\nip -n ${sw} link set br0 up\n`;
  s += nsAdd(dir) + nsAdd(cl);
  // Client side: a point-to-point veth.
  s += `ip -n ${dir} link add eth0 type veth peer name eth0 netns ${cl}\n`;
  s += `ip -n ${dir} link set eth0 up\nip -n ${cl} link set eth0 up\n`;
  s += `ip -n ${dir} addr add 203.0.113.1/24 dev eth0\nip -n ${dir} addr add ${vip}/32 dev eth0\n`;
  s += `ip -n ${cl} addr add 203.0.113.100/24 dev eth0\n`;
  // Private side.
  s += plug(sw, 'br0', dir, 'eth1', 'p-dir') + `ip -n ${dir} addr add 198.51.100.1/24 dev eth1\n`;
  s += `ip netns exec ${dir} sysctl -qw net.ipv4.ip_forward=1\n`;
  hosts.forEach((h, i) => {
    s += nsAdd(h.netns) + plug(sw, 'br0', h.netns, 'eth0', `p-h${i}`);
    s += `ip -n ${h.netns} addr add ${h.address}/24 dev eth0\nip -n ${h.netns} route add default via 198.51.100.1\n`;
  });
  sh(s);
  return network('nat', sw, { name: 'director', netns: dir, address: '203.0.113.1' }, vip, hosts, { name: 'client', netns: cl, address: '203.0.113.100' });
}

/** Deletes a lab network's namespaces (processes in them should be stopped first). */
export function teardown(net: LabNetwork): void {
  for (const ns of net.namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }
}

/** Spawns `argv` inside a namespace. */
export function spawnIn(netns: string, argv: string[], options: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
}

/** Runs `sh -c cmd` in a namespace and returns stdout (throws with stderr on failure). */
export function shIn(netns: string, cmd: string): string {
  return execFileSync('ip', ['netns', 'exec', netns, 'sh', '-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Path of a compiled lab script (web.js, traffic.js) next to this module. */
export function labScript(name: string): string {
  return join(__dirname, name);
}
