/**
 * Raw request datagrams that test/kernel/lib/fake-parity.ts sends to Linux
 * and to the fake kernel, in order (later steps rely on earlier ones).
 * Written by hand, attribute by attribute, so that malformed requests can be
 * sent too: the point is what the kernel does with any bytes.
 */
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLA_F_NESTED } from '../../src/netlink/constants';
import { NlWriter } from '../../src/netlink/writer';
import { parseAddress } from '../../src/ipvs/address';

/** One exchange: request buffers (each one datagram) and how long to wait. */
export interface Step {
  name: string;
  build(familyId: number, seq: () => number): Buffer[];
  timeoutMs?: number;
  /** Wait this long first (Linux answers DEL_DAEMON slowly for a daemon started within about a second). */
  pauseMs?: number;
}

const DO = NLM_F_REQUEST | NLM_F_ACK;
const DO_NOACK = NLM_F_REQUEST;
const DUMP = NLM_F_REQUEST | NLM_F_DUMP;
const CTRL = 0x10;

type Body = (w: NlWriter) => void;
/** A message: type (or 'ipvs'), flags, genl command, attributes. */
type Msg = [type: number | 'ipvs', flags: number, cmd: number, body?: Body];

function datagram(fam: number, seq: () => number, msgs: Msg[]): Buffer {
  const w = new NlWriter();
  for (const [type, flags, cmd, body] of msgs) {
    const start = w.beginMessage(type === 'ipvs' ? fam : type, flags, seq(), 0);
    w.genlHeader(cmd, 1);
    body?.(w);
    w.endMessage(start);
  }
  return w.toBuffer();
}

function step(name: string, ...msgs: Msg[]): Step {
  return { name, build: (fam, seq) => [datagram(fam, seq, msgs)] };
}

const ipvs = (flags: number, cmd: number, body?: Body): Msg => ['ipvs', flags, cmd, body];

function nest(w: NlWriter, type: number, body: Body, flagNested = false): void {
  const n = w.beginNested(type, flagNested);
  body(w);
  w.endNested(n);
}

const addr = (text: string): Buffer => {
  const p = parseAddress(text);
  return p.family === 'ipv4' ? Buffer.from(p.bytes.subarray(0, 4)) : p.bytes;
};

/** Service identity: [af, protocol, address, port] or [af, fwmark]. */
type SvcId = [af: number, proto: number, address: string, port: number] | [af: number, fwmark: number];

function svcId(w: NlWriter, id: SvcId): void {
  w.attrU16(1, id[0]);
  if (id.length === 2) {
    w.attrU32(5, id[1]);
    return;
  }
  w.attrU16(2, id[1]);
  w.attrBytes(3, addr(id[2]));
  w.attrBe16(4, id[3]);
}

interface SvcFull {
  sched: string;
  pe?: string;
  flags?: [number, number];
  timeout?: number;
  netmask: Buffer;
}

const mask4 = (m: string): Buffer => addr(m);
const prefix6 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};

function svc(id: SvcId, full?: SvcFull, extra?: Body): Body {
  return (w) =>
    nest(w, 1, (w) => {
      svcId(w, id);
      if (full) {
        w.attrString(6, full.sched);
        if (full.pe !== undefined) w.attrString(11, full.pe);
        const [f, m] = full.flags ?? [0, 0xffffffff];
        w.attrFlags(7, f, m);
        w.attrU32(8, full.timeout ?? 0);
        w.attrBytes(9, full.netmask);
      }
      extra?.(w);
    });
}

interface DestFull {
  fwd: number;
  weight: number;
  u?: number;
  l?: number;
  tun?: [type: number, port: number, flags: number];
}

function dest(address: string, port: number, full?: DestFull, af?: number): Body {
  return (w) =>
    nest(w, 2, (w) => {
      if (af !== undefined) w.attrU16(11, af);
      w.attrBytes(1, addr(address));
      w.attrBe16(2, port);
      if (full) {
        w.attrU32(3, full.fwd);
        w.attrU32(4, full.weight >>> 0);
        if (full.tun) {
          w.attrU8(13, full.tun[0]);
          w.attrBe16(14, full.tun[1]);
          w.attrU16(15, full.tun[2]);
        }
        w.attrU32(5, full.u ?? 0);
        w.attrU32(6, full.l ?? 0);
      }
    });
}

const both = (...bodies: Body[]): Body => (w) => bodies.forEach((b) => b(w));

interface DaemonCfg {
  state?: number;
  ifn?: string;
  syncId?: number;
  maxlen?: number;
  group?: Buffer;
  group6?: Buffer;
  port?: number;
  ttl?: number;
}

function daemon(c: DaemonCfg): Body {
  return (w) =>
    nest(w, 3, (w) => {
      if (c.state !== undefined) w.attrU32(1, c.state);
      if (c.ifn !== undefined) w.attrString(2, c.ifn);
      if (c.syncId !== undefined) w.attrU32(3, c.syncId);
      if (c.maxlen !== undefined) w.attrU16(4, c.maxlen);
      if (c.group !== undefined) w.attrBytes(5, c.group);
      if (c.group6 !== undefined) w.attrBytes(6, c.group6);
      if (c.port !== undefined) w.attrU16(7, c.port);
      if (c.ttl !== undefined) w.attrU8(8, c.ttl);
    });
}

const AF4 = 2;
const AF6 = 10;
const TCP = 6;
const UDP = 17;
const SCTP = 132;
const MASQ = 0;
const LOCAL = 1;
const TUNNEL = 2;
const ROUTE = 3;
const WEB: SvcId = [AF4, TCP, '203.0.113.10', 80];
const DNS6: SvcId = [AF6, UDP, '2001:db8::53', 53];
const MARK: SvcId = [AF4, 1];
const ALL = 0xffffffff;
const HOST = mask4('255.255.255.255');

/** The steps, in order. */
export const PARITY_STEPS: Step[] = [
  step('nlctrl resolves IPVS by name', [CTRL, DO, 3, (w) => w.attrString(2, 'IPVS')]),
  step('nlctrl: an unknown family is ENOENT', [CTRL, DO, 3, (w) => w.attrString(2, 'NOSUCHFAMILY')]),
  step('GET_INFO', ipvs(DO, 15)),
  step('GET_CONFIG', ipvs(DO, 13)),
  step('an empty service dump', ipvs(DUMP, 4)),
  step('an empty daemon dump', ipvs(DUMP, 11)),
  step('GET_DEST without a service ends empty', ipvs(DUMP, 8)),
  step('NEW_SERVICE tcp, persistent, IPv4 mask', ipvs(DO, 1, svc(WEB, { sched: 'rr', flags: [1, ALL], timeout: 300, netmask: mask4('255.255.255.0') }))),
  step('NEW_SERVICE again is EEXIST', ipvs(DO, 1, svc(WEB, { sched: 'rr', netmask: HOST }))),
  step('NEW_SERVICE udp IPv6, sh flags, prefix, sip', ipvs(DO, 1, svc(DNS6, { sched: 'sh', pe: 'sip', flags: [0x19, ALL], timeout: 60, netmask: prefix6(64) }))),
  step('NEW_SERVICE fwmark, one-packet', ipvs(DO, 1, svc(MARK, { sched: 'wlc', flags: [4, ALL], netmask: HOST }))),
  step('NEW_SERVICE fwmark IPv6 with the same mark', ipvs(DO, 1, svc([AF6, 1], { sched: 'none', netmask: prefix6(128) }))),
  step('NEW_SERVICE sctp', ipvs(DO, 1, svc([AF4, SCTP, '203.0.113.11', 9], { sched: 'mh', flags: [0x28, ALL], netmask: HOST }))),
  step('an unknown scheduler is ENOENT', ipvs(DO, 1, svc([AF4, TCP, '203.0.113.12', 80], { sched: 'nosuch', netmask: HOST }))),
  step('an unknown persistence engine is ENOENT', ipvs(DO, 1, svc([AF4, TCP, '203.0.113.12', 80], { sched: 'rr', pe: 'nosuch', netmask: HOST }))),
  step('IPv6 prefix 0 is EINVAL', ipvs(DO, 1, svc([AF6, TCP, '2001:db8::12', 80], { sched: 'rr', netmask: prefix6(0) }))),
  step('IPv6 prefix 129 is EINVAL', ipvs(DO, 1, svc([AF6, TCP, '2001:db8::12', 80], { sched: 'rr', netmask: prefix6(129) }))),
  step('NEW_SERVICE without a timeout is EINVAL', ipvs(DO, 1, svc([AF4, TCP, '203.0.113.12', 80], undefined, (w) => {
    w.attrString(6, 'rr');
    w.attrFlags(7, 0, ALL);
    w.attrBytes(9, HOST);
  }))),
  step('NEW_SERVICE without a service nest is EINVAL', ipvs(DO, 1)),
  step('an unknown address family is EAFNOSUPPORT', ipvs(DO, 1, svc([7, TCP, '203.0.113.12', 80], { sched: 'rr', netmask: HOST }))),
  step('a 16-byte scheduler name is EINVAL, without text', ipvs(DO, 1, svc([AF4, TCP, '203.0.113.12', 80], { sched: 'abcdefghijklmnop', netmask: HOST }))),
  step('FWMARK as u16 is EINVAL', ipvs(DO, 1, (w) => nest(w, 1, (w) => {
    w.attrU16(1, AF4);
    w.attrU16(5, 3);
  }))),
  step('a 4-byte FLAGS is taken with mask 0', ipvs(DO, 1, svc([AF4, UDP, '203.0.113.13', 53], undefined, (w) => {
    w.attrString(6, 'rr');
    w.attrU32(7, 1);
    w.attrU32(8, 30);
    w.attrBytes(9, HOST);
  }))),
  step('an unvalidated protocol number is kept', ipvs(DO, 1, svc([AF4, 99, '203.0.113.14', 1], { sched: 'rr', netmask: HOST }))),
  step('FWMARK 0 stands for tcp 0.0.0.0:0', ipvs(DO, 1, svc([AF4, 0], { sched: 'rr', flags: [1, ALL], timeout: 10, netmask: HOST }))),
  step('a persistence timeout wraps in jiffies', ipvs(DO, 1, svc([AF4, TCP, '203.0.113.15', 80], { sched: 'rr', flags: [1, ALL], timeout: 50_000_000, netmask: HOST }))),
  step('the service nest may carry NLA_F_NESTED', ipvs(DO, 1, (w) => nest(w, 1, (w) => {
    svcId(w, [AF4, TCP, '203.0.113.16', 80]);
    w.attrString(6, 'lc');
    w.attrFlags(7, 0, ALL);
    w.attrU32(8, 0);
    w.attrBytes(9, HOST);
  }, true))),
  step('SET_SERVICE merges flags under the mask', ipvs(DO, 2, svc(WEB, { sched: 'wrr', flags: [4, 4], timeout: 300, netmask: mask4('255.255.255.0') }))),
  step('SET_SERVICE without PE_NAME drops the engine', ipvs(DO, 2, svc(DNS6, { sched: 'sh', flags: [0, 0], timeout: 60, netmask: prefix6(64) }))),
  step('SET_SERVICE on a missing service is ESRCH', ipvs(DO, 2, svc([AF4, TCP, '203.0.113.99', 80], { sched: 'rr', netmask: HOST }))),
  step('SET_SERVICE to an unknown scheduler is ENOENT', ipvs(DO, 2, svc(WEB, { sched: 'nosuch', netmask: HOST }))),
  step('GET_SERVICE do', ipvs(DO, 4, svc(WEB))),
  step('GET_SERVICE do, missing: ESRCH', ipvs(DO, 4, svc([AF4, TCP, '203.0.113.99', 80]))),
  step('GET_SERVICE do without a nest: EINVAL', ipvs(DO, 4)),
  step('NEW_DEST masq with thresholds', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.2', 8080, { fwd: MASQ, weight: 3, u: 10, l: 5 })))),
  step('NEW_DEST gue tunnel', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.3', 80, { fwd: TUNNEL, weight: 2, tun: [1, 6080, 1] })))),
  step('NEW_DEST gre tunnel', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.4', 80, { fwd: TUNNEL, weight: 1, tun: [2, 0, 0] })))),
  step('NEW_DEST route, unrouted address', ipvs(DO, 5, both(svc(WEB), dest('192.0.2.99', 80, { fwd: ROUTE, weight: 0 })))),
  step('NEW_DEST local', ipvs(DO, 5, both(svc(WEB), dest('127.0.0.1', 80, { fwd: LOCAL, weight: 1 })))),
  step('NEW_DEST IPv6 tunnel in an IPv4 service', ipvs(DO, 5, both(svc(WEB), dest('2001:db8:1::5', 80, { fwd: TUNNEL, weight: 1 }, AF6)))),
  step('NEW_DEST IPv6 masq in an IPv4 service: EINVAL', ipvs(DO, 5, both(svc(WEB), dest('2001:db8:1::6', 80, { fwd: MASQ, weight: 1 }, AF6)))),
  step('NEW_DEST weight 2^31: ERANGE', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.5', 80, { fwd: MASQ, weight: 0x80000000 })))),
  step('NEW_DEST lower over upper: ERANGE', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.5', 80, { fwd: MASQ, weight: 1, u: 5, l: 6 })))),
  step('NEW_DEST lower with no upper: ERANGE', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.5', 80, { fwd: MASQ, weight: 1, u: 0, l: 1 })))),
  step('NEW_DEST gue without a port, even masq: EINVAL', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.5', 80, { fwd: MASQ, weight: 1, tun: [1, 0, 0] })))),
  step('NEW_DEST that exists: EEXIST', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.2', 8080, { fwd: ROUTE, weight: 1 })))),
  step('NEW_DEST 0.0.0.0: EINVAL', ipvs(DO, 5, both(svc(WEB), dest('0.0.0.0', 80, { fwd: MASQ, weight: 1 })))),
  step('NEW_DEST multicast: EINVAL', ipvs(DO, 5, both(svc(WEB), dest('224.0.0.1', 80, { fwd: MASQ, weight: 1 })))),
  step('NEW_DEST subnet broadcast: EINVAL', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.255', 80, { fwd: MASQ, weight: 1 })))),
  step('NEW_DEST IPv6 link-local: EINVAL', ipvs(DO, 5, both(svc(DNS6), dest('fe80::1', 53, { fwd: MASQ, weight: 1 })))),
  step('NEW_DEST IPv4-mapped IPv6: EINVAL', ipvs(DO, 5, both(svc(DNS6), dest('::ffff:192.0.2.1', 53, { fwd: MASQ, weight: 1 })))),
  step('NEW_DEST IPv6 route', ipvs(DO, 5, both(svc(DNS6), dest('2001:db8:1::10', 53, { fwd: ROUTE, weight: 100 })))),
  step('NEW_DEST without a forwarding method: EINVAL', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.6', 80)))),
  step('NEW_DEST without a dest nest: EINVAL', ipvs(DO, 5, svc(WEB))),
  step('NEW_DEST to a missing service: ESRCH', ipvs(DO, 5, both(svc([AF4, TCP, '203.0.113.99', 80]), dest('198.51.100.6', 80, { fwd: MASQ, weight: 1 })))),
  step('NEW_DEST of family 7: EAFNOSUPPORT', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.6', 80, { fwd: MASQ, weight: 1 }, 7)))),
  step('NEW_DEST to a fwmark service, port 0', ipvs(DO, 5, both(svc(MARK), dest('198.51.100.7', 0, { fwd: ROUTE, weight: 1 })))),
  step('GET_DEST lists newest first', ipvs(DUMP, 8, svc(WEB))),
  step('SET_DEST replaces everything (the tunnel too)', ipvs(DO, 6, both(svc(WEB), dest('198.51.100.3', 80, { fwd: TUNNEL, weight: 7 })))),
  step('SET_DEST on a missing destination: ENOENT', ipvs(DO, 6, both(svc(WEB), dest('198.51.100.99', 80, { fwd: MASQ, weight: 1 })))),
  step('DEL_DEST on a missing destination: ENOENT', ipvs(DO, 7, both(svc(WEB), dest('198.51.100.99', 80)))),
  step('DEL_DEST', ipvs(DO, 7, both(svc(WEB), dest('198.51.100.4', 80)))),
  step('a deleted destination comes back', ipvs(DO, 5, both(svc(WEB), dest('198.51.100.4', 80, { fwd: MASQ, weight: 9 })))),
  step('GET_DEST after the edits', ipvs(DUMP, 8, svc(WEB))),
  step('a sync daemon with mixed-family destinations: EINVAL', ipvs(DO, 9, daemon({ state: 1, ifn: 'dummy0', syncId: 1 }))),
  step('the mixed-family destination goes', ipvs(DO, 7, both(svc(WEB), dest('2001:db8:1::5', 80, undefined, AF6)))),
  step('NEW_DAEMON master', ipvs(DO, 9, daemon({ state: 1, ifn: 'dummy0', syncId: 300 }))),
  step('NEW_DAEMON master again: EEXIST', ipvs(DO, 9, daemon({ state: 1, ifn: 'dummy0', syncId: 1 }))),
  step('NEW_DAEMON on a missing interface: ENODEV', ipvs(DO, 9, daemon({ state: 2, ifn: 'nosuch0', syncId: 1 }))),
  step('NEW_DAEMON backup, IPv6 group, clamped maxlen', ipvs(DO, 9, daemon({ state: 2, ifn: 'dummy0', syncId: 7, maxlen: 100, group6: addr('ff02::99'), port: 9000, ttl: 5 }))),
  step('GET_DAEMON lists master then backup', ipvs(DUMP, 11)),
  step('NEW_DAEMON with a unicast group: EINVAL', ipvs(DO, 9, daemon({ state: 1, ifn: 'lo', syncId: 1, group: addr('198.51.100.9') }))),
  step('NEW_DAEMON with a 17-byte interface name: EINVAL, with text', ipvs(DO, 9, daemon({ state: 1, ifn: 'abcdefghijklmnopq', syncId: 1 }))),
  step('NEW_DAEMON with a short IPv6 group: EINVAL, with text', ipvs(DO, 9, daemon({ state: 1, ifn: 'lo', syncId: 1, group6: Buffer.alloc(8, 0xff) }))),
  step('NEW_DAEMON without a sync id: EINVAL', ipvs(DO, 9, daemon({ state: 1, ifn: 'lo' }))),
  step('NEW_DAEMON in state 3: EINVAL', ipvs(DO, 9, daemon({ state: 3, ifn: 'lo', syncId: 1 }))),
  step('a mixed-family destination while a daemon runs: EINVAL', ipvs(DO, 5, both(svc(WEB), dest('2001:db8:1::5', 80, { fwd: TUNNEL, weight: 1 }, AF6)))),
  { ...step('DEL_DAEMON master', ipvs(DO, 10, daemon({ state: 1 }))), pauseMs: 2000 },
  step('DEL_DAEMON master again: ESRCH', ipvs(DO, 10, daemon({ state: 1 }))),
  step('DEL_DAEMON without a state: EINVAL', ipvs(DO, 10, daemon({}))),
  step('DEL_DAEMON without a nest: EINVAL', ipvs(DO, 10)),
  { ...step('DEL_DAEMON backup', ipvs(DO, 10, daemon({ state: 2 }))), pauseMs: 2000 },
  step('SET_CONFIG tcp only', ipvs(DO, 12, (w) => w.attrU32(4, 1000))),
  step('GET_CONFIG after', ipvs(DO, 13)),
  step('SET_CONFIG too large: EINVAL', ipvs(DO, 12, (w) => w.attrU32(6, 0x7fffffff))),
  step('SET_CONFIG with a u16: ERANGE, with text and policy', ipvs(DO, 12, (w) => w.attrU16(4, 5))),
  step('a 2-byte service nest: ERANGE, with text', ipvs(DO, 4, (w) => w.attrBytes(1, Buffer.from([1, 2])))),
  step('ZERO of everything', ipvs(DO, 16)),
  step('ZERO of one service', ipvs(DO, 16, svc(WEB))),
  step('ZERO of a missing service: ESRCH', ipvs(DO, 16, svc([AF4, TCP, '203.0.113.99', 80]))),
  step('a batch: errors always, ACK only where asked',
    ipvs(DO_NOACK, 3, svc([AF4, 99])),
    ipvs(DO_NOACK, 16),
    ipvs(DO_NOACK, 5, both(svc(WEB), dest('198.51.100.2', 8080, { fwd: MASQ, weight: 1 }))),
    ipvs(DO, 16, svc(WEB))),
  step('unknown command 40: EOPNOTSUPP', ipvs(DO, 40)),
  step('command 0: EOPNOTSUPP', ipvs(DO, 0)),
  step('SET_INFO is no request: EOPNOTSUPP', ipvs(DO, 14)),
  step('GET_DEST as a do: EOPNOTSUPP', ipvs(DO, 8, svc(WEB))),
  step('GET_INFO as a dump: EOPNOTSUPP', ipvs(DUMP, 15)),
  step('an unknown family id: ENOENT', [0x7777, DO, 1]),
  step('no NLM_F_REQUEST: just the ACK', ipvs(NLM_F_ACK, 17)),
  step('a netlink control type: just the ACK', [1, DO, 0]),
  {
    name: 'a truncated message ends the datagram',
    build: (fam, seq) => {
      const good = datagram(fam, seq, [ipvs(DO, 16)]);
      const bad = Buffer.alloc(20);
      bad.writeUInt32LE(200, 0);
      return [Buffer.concat([good, bad])];
    },
  },
  { name: 'a do without NLM_F_ACK answers but never ends', build: (fam, seq) => [datagram(fam, seq, [ipvs(DO_NOACK, 4, svc(WEB))])], timeoutMs: 400 },
  step('two dumps in one datagram: the second is EBUSY', ipvs(DUMP, 8, svc(WEB)), ipvs(DUMP, 8, svc(WEB))),
  step('the first dump ends after the refusal', ipvs(DO, 15)),
  step('every service', ipvs(DUMP, 4)),
  step('DEL_SERVICE', ipvs(DO, 3, svc(DNS6))),
  step('DEL_SERVICE again: ESRCH', ipvs(DO, 3, svc(DNS6))),
  step('FLUSH', ipvs(DO, 17)),
  step('nothing left', ipvs(DUMP, 4)),
];
