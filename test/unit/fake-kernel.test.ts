// The fake kernel's own features (ipvs/testing): inspection, counters,
// connections and their /proc text, injected failures, the socket's
// exchange semantics, and the options that model a different kernel. Its
// kernel-faithfulness is proven elsewhere: the behaviour suite runs on it
// and on Linux, and test/kernel/lib/fake-parity.ts compares its bytes with
// Linux's.
import t from 'tap';
import {
  AddressFamilyError,
  IpvsClient,
  IpvsNotAvailableError,
  KernelError,
  PermissionError,
  ServiceExistsError,
  parseConnections,
  type ServiceKey,
} from '../../src/index';
import { FakeKernel, type FakeKernelOptions } from '../../src/testing';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR } from '../../src/netlink/constants';
import { parseError, parseMessages } from '../../src/netlink/message';
import { ExchangeError } from '../../src/netlink/transport';
import { NlWriter } from '../../src/netlink/writer';
import { exchangeAll } from '../exchange';

const WEB: ServiceKey = { protocol: 'tcp', address: '203.0.113.10', port: 80 };
const WEB6: ServiceKey = { protocol: 'tcp', address: '2001:db8::10', port: 443 };
const MARK: ServiceKey = { fwmark: 5, family: 'ipv4' };
const R1 = { address: '198.51.100.2', port: 8080 };
const R2 = { address: '198.51.100.3', port: 80 };

async function open(options: FakeKernelOptions = {}): Promise<{ kernel: FakeKernel; client: IpvsClient }> {
  const kernel = new FakeKernel(options);
  return { kernel, client: await IpvsClient.open(kernel.clientOptions()) };
}

t.test('rules() shows what the kernel holds, in kernel order', async (t) => {
  const { kernel, client } = await open();
  t.same(kernel.rules(), []);
  await client.addService(WEB, { scheduler: 'rr', persistent: true, netmask: 24 });
  await client.addDestination(WEB, R1, { forwarding: 'masq' });
  await client.addDestination(WEB, R2);
  t.same(kernel.rules(), await client.rules());
  t.same(kernel.rules()[0]?.destinations.map((d) => d.key), [R2, R1]);
  await client.startDaemon({ state: 'backup', interface: 'eth0', syncId: 3 });
  t.same(kernel.daemons(), [{ state: 'backup', interface: 'eth0', syncId: 3, maxLen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 }]);
  await client.setTimeouts({ tcp: 60 });
  t.same(kernel.timeouts(), { tcp: 60, tcpFin: 120, udp: 300 });
  client.close();
});

t.test('counters: set what one object shows, count traffic everywhere, zero', async (t) => {
  const { kernel, client } = await open();
  await client.addService(WEB);
  await client.addDestination(WEB, R1);
  kernel.setStats({ service: WEB, destination: R1 }, { stats: { inPackets: 7n }, rates: { cps: 3 } });
  kernel.addTraffic({ service: WEB, destination: R1 }, { conns: 2n, inBytes: 5_000_000_000n });
  const [d] = await client.listDestinations(WEB);
  t.same(d?.stats, { conns: 2n, inPackets: 7n, outPackets: 0n, inBytes: 5_000_000_000n, outBytes: 0n });
  t.equal(d?.rates.cps, 3);
  const s = await client.getService(WEB);
  t.same([s.stats.conns, s.stats.inPackets, s.stats.inBytes], [2n, 0n, 5_000_000_000n], 'traffic counts in the service, a set does not');
  t.same((await client.totals()).stats.inBytes, 5_000_000_000n, 'and in the namespace totals');
  // 32-bit STATS truncate; STATS64 does not (the client prefers STATS64).
  kernel.setStats({ service: WEB }, { stats: { conns: (1n << 32n) + 5n } });
  t.equal((await client.getService(WEB)).stats.conns, (1n << 32n) + 5n);
  await client.zero(WEB);
  const z = (await client.listDestinations(WEB))[0];
  t.same([z?.stats.conns, z?.stats.inBytes, z?.rates.cps], [0n, 0n, 0], 'zero moves the zero point and clears rates');
  t.equal((await client.totals()).stats.inBytes, 5_000_000_000n, 'zeroing one service keeps the totals');
  kernel.addTraffic({ service: WEB, destination: R1 }, { conns: 1n });
  t.equal((await client.listDestinations(WEB))[0]?.stats.conns, 1n, 'counting resumes from the zero point');
  await client.zero();
  t.equal((await client.totals()).stats.inBytes, 0n, 'zeroing everything clears the totals');
  kernel.setTotals({ stats: { outPackets: 9n }, rates: { outBps: 100 } });
  t.match(await client.totals(), { stats: { outPackets: 9n }, rates: { outBps: 100 } });
  t.throws(() => kernel.setStats({ service: WEB }, { stats: { bogus: 1n } as never }), /unknown counter 'bogus'/);
  t.throws(() => kernel.addTraffic({ service: WEB }, { conns: -1n }), /non-negative/);
  t.throws(() => kernel.setStats({ service: { protocol: 'udp', address: '203.0.113.10', port: 80 } }, {}), /has no/);
  client.close();
});

t.test('a deleted real server comes back from the trash with its counters', async (t) => {
  const { kernel, client } = await open();
  await client.addService(WEB);
  await client.addDestination(WEB, R1);
  kernel.addTraffic({ service: WEB, destination: R1 }, { inPackets: 4n });
  await client.deleteDestination(WEB, R1);
  await client.addDestination(WEB, R1, { weight: 2 });
  t.equal((await client.listDestinations(WEB))[0]?.stats.inPackets, 4n);
  // Not when its service was deleted and made anew: counters restart.
  await client.deleteService(WEB);
  await client.addService(WEB);
  await client.addDestination(WEB, R1);
  t.equal((await client.listDestinations(WEB))[0]?.stats.inPackets, 0n);
  const noTrash = await open({ destTrashSeconds: 0 });
  await noTrash.client.addService(WEB);
  await noTrash.client.addDestination(WEB, R1);
  noTrash.kernel.addTraffic({ service: WEB, destination: R1 }, { inPackets: 4n });
  await noTrash.client.deleteDestination(WEB, R1);
  await noTrash.client.addDestination(WEB, R1);
  t.equal((await noTrash.client.listDestinations(WEB))[0]?.stats.inPackets, 0n, 'no trash period: a new one');
  client.close();
  noTrash.client.close();
});

t.test('connections: counts, templates and /proc/net/ip_vs_conn', async (t) => {
  const { kernel, client } = await open({ persistenceEngines: ['sip'] });
  await client.addService(WEB, { persistent: true, netmask: 24, timeout: 300 });
  await client.addDestination(WEB, R1, { forwarding: 'masq' });
  await client.addService(WEB6, { scheduler: 'rr' });
  await client.addDestination(WEB6, { address: '2001:db8:1::2', port: 443 }, { forwarding: 'masq' });
  await client.addService({ protocol: 'tcp', address: '203.0.113.11', port: 80 });
  await client.addDestination({ protocol: 'tcp', address: '203.0.113.11', port: 80 }, { address: '2001:db8:1::9', port: 80 }, { forwarding: 'tunnel' });
  await client.addService(MARK, { persistent: true, timeout: 100 });
  await client.addDestination(MARK, { address: '198.51.100.4', port: 0 });
  const udp: ServiceKey = { protocol: 'udp', address: '203.0.113.10', port: 5060 };
  await client.addService(udp, { persistent: true, persistenceEngine: 'sip' });
  await client.addDestination(udp, R2, { forwarding: 'masq' });

  kernel.addConnection({ service: WEB, destination: R1, client: { address: '198.51.100.1', port: 54828 }, state: 'SYN_RECV' });
  kernel.addConnection({ service: WEB, destination: R1, client: { address: '198.51.100.77', port: 4000 }, state: 'FIN_WAIT' });
  kernel.addConnection({ service: WEB6, destination: { address: '2001:db8:1::2', port: 443 }, client: { address: '2001:db8:1::1', port: 57130 } });
  kernel.addConnection({ service: { protocol: 'tcp', address: '203.0.113.11', port: 80 }, destination: { address: '2001:db8:1::9', port: 80 }, client: { address: '198.51.100.1', port: 34438 }, state: 'SYN_RECV', expires: 59 });
  kernel.addConnection({ service: MARK, destination: { address: '198.51.100.4', port: 0 }, client: { address: '192.0.2.9', port: 1234 }, protocol: 'udp', virtual: { address: '203.0.113.20', port: 53 } });
  kernel.addConnection({ service: udp, destination: R2, client: { address: '192.0.2.10', port: 5060 }, peData: 'call-1@example' });

  const text = await kernel.readProc('ip_vs_conn');
  t.equal(
    text,
    [
      'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData',
      'TCP C6336400 0000 CB00710A 0050 C6336402 1F90 NONE            300',
      'TCP C6336401 D62C CB00710A 0050 C6336402 1F90 SYN_RECV         60',
      'TCP C633644D 0FA0 CB00710A 0050 C6336402 1F90 FIN_WAIT        120',
      'TCP 2001:0db8:0001:0000:0000:0000:0000:0001 DF2A 2001:0db8:0000:0000:0000:0000:0000:0010 01BB 2001:0db8:0001:0000:0000:0000:0000:0002 01BB ESTABLISHED     900',
      'TCP C6336401 8686 CB00710B 0050 2001:0db8:0001:0000:0000:0000:0000:0009 0050 SYN_RECV         59',
      'IP  C0000209 0000 00000005 0000 C6336404 0000 NONE            100',
      'UDP C0000209 04D2 CB007114 0035 C6336404 0035 UDP             300',
      'UDP C000020A 0000 CB00710A 13C4 C6336403 0050 NONE            360 sip call-1@example',
      'UDP C000020A 13C4 CB00710A 13C4 C6336403 0050 UDP             300',
      '',
    ].join('\n'),
    'the kernel\'s format; one template per client network (198.51.100.1 and .77 share a /24)',
  );
  t.equal(parseConnections(text).filter((c) => c.template).length, 3);
  t.same(await client.connections(), parseConnections(text), 'the client reads the same file');
  const r1 = (await client.listDestinations(WEB))[0];
  t.same([r1?.activeConns, r1?.inactiveConns, r1?.persistentConns], [1, 1, 1], 'SYN_RECV active, FIN_WAIT inactive, one template');
  t.equal(r1?.stats.conns, 2n, 'a connection counts');
  const u = (await client.listDestinations(udp))[0];
  t.same([u?.activeConns, u?.inactiveConns, u?.persistentConns], [0, 1, 1], 'UDP is never active');
  t.throws(() => kernel.addConnection({ service: WEB, destination: R1, client: { address: '2001:db8::1', port: 1 } }), /not ipv4/);
  t.throws(() => kernel.addConnection({ service: WEB, destination: R1, client: { address: '198.51.100.1', port: 1 }, state: 'UDP' }), /not a tcp state/);
  t.throws(() => kernel.addConnection({ service: MARK, destination: { address: '198.51.100.4', port: 0 }, client: { address: '198.51.100.1', port: 1 } }), /virtual address/);
  t.throws(() => kernel.addConnection({ service: WEB, destination: R2, client: { address: '198.51.100.1', port: 1 } }), /no destination/);
  kernel.clearConnections();
  t.same(await client.connections(), []);
  t.equal((await client.listDestinations(WEB))[0]?.activeConns, 0);
  client.close();
});

t.test('failNext: the next request of a command fails as asked, once', async (t) => {
  const { kernel, client } = await open();
  kernel.failNext('NEW_SERVICE', 'ENOMEM', 'no memory today');
  kernel.failNext(1, 17);
  const e1 = await client.addService(WEB).catch((e: unknown) => e);
  t.type(e1, KernelError);
  t.match(e1, { errno: 12, extack: 'no memory today' });
  t.type(await client.addService(WEB).catch((e: unknown) => e), ServiceExistsError);
  t.same(kernel.rules(), [], 'nothing was applied');
  await client.addService(WEB);
  t.equal(kernel.rules().length, 1);
  kernel.failNext('GET_SERVICE', 'EPERM');
  t.type(await client.listServices().catch((e: unknown) => e), PermissionError, 'dumps fail too');
  t.throws(() => kernel.failNext('NOPE' as never, 1), /unknown IPVS command/);
  t.throws(() => kernel.failNext('ZERO', 'EWHAT'), /unknown errno name/);
  client.close();
});

t.test('options model another kernel', async (t) => {
  await t.rejects(IpvsClient.open(new FakeKernel({ moduleLoaded: false }).clientOptions()), IpvsNotAvailableError);
  const noCap = await open({ capNetAdmin: false });
  await t.rejects(noCap.client.listServices(), PermissionError, 'resolving works, commands are EPERM');
  const no6 = await open({ ipv6: false });
  await t.rejects(no6.client.addService(WEB6), AddressFamilyError);
  const fewer = await open({ schedulers: ['rr'], persistenceEngines: [] });
  await fewer.client.addService(WEB, { scheduler: 'rr' });
  await t.rejects(fewer.client.addService(WEB6, { scheduler: 'wlc' }), { code: 'ERR_IPVS_SCHEDULER_NOT_FOUND' });
  const hz = await open({ hz: 1000 });
  await t.rejects(hz.client.setTimeouts({ tcp: 2_200_000 }), { errno: 22 } as never, 'INT_MAX / HZ');
  await hz.client.addService(WEB, { persistent: true, timeout: 5_000_000 });
  t.equal((await hz.client.getService(WEB)).config.timeout, 705_032, 'the timeout wraps in jiffies');
  const routed = await open({ routable: (a) => a !== '198.51.100.255' });
  await routed.client.addService(WEB);
  await t.rejects(routed.client.addDestination(WEB, { address: '198.51.100.255', port: 80 }), { errno: 22 } as never);
  const info = await open({ connTableSize: 1 << 20, familyId: 0x99 });
  t.equal((await info.client.info()).connTableSize, 1 << 20);
  t.throws(() => new FakeKernel({ familyId: 16 }), /familyId/);
  for (const o of [noCap, no6, fewer, hz, routed, info]) o.client.close();
});

t.test('the socket: timeouts, ENOBUFS, close, dumps without PAD', async (t) => {
  const kernel = new FakeKernel({ receiveBufferBytes: 600 });
  const tr = kernel.openTransport();
  const msg = (flags: number, cmd: number, seq: number): Buffer => {
    const w = new NlWriter();
    const s = w.beginMessage(28, flags, seq, 0);
    w.genlHeader(cmd, 1);
    w.endMessage(s);
    return w.toBuffer();
  };
  // A do without NLM_F_ACK gets no terminal answer: the exchange times out.
  const started = Date.now();
  const e = await exchangeAll(tr, [msg(NLM_F_REQUEST, 15, 1)], 80);
  t.type(e.error, ExchangeError);
  t.match(e, { error: { code: 'ETIMEDOUT' }, done: 0 });
  t.ok(Date.now() - started >= 70, 'after the timeout');
  t.equal(parseMessages(e.answers)[0]?.type, 28, 'the reply that did come is kept');
  // Twenty failing messages in one datagram: their errors overflow 600 bytes.
  const many = Buffer.concat(Array.from({ length: 20 }, (_v, i) => msg(NLM_F_REQUEST, 3, 100 + i)));
  const ok = msg(NLM_F_REQUEST | NLM_F_ACK, 17, 200);
  const overflow = await exchangeAll(tr, [ok, many], 1000);
  t.match(overflow, { error: { code: 'ENOBUFS' }, done: 1 });
  // What fitted stays queued, so the socket is still full: the next answer is dropped too.
  t.match(await exchangeAll(tr, [msg(NLM_F_REQUEST | NLM_F_ACK, 17, 300)], 1000), { error: { code: 'ENOBUFS' } });
  // Answers left in the queue are read by the next exchange: a second dump
  // in one datagram is EBUSY, and the first one's NLMSG_DONE comes later.
  const other = new FakeKernel().openTransport();
  await exchangeAll(other, [msg(NLM_F_REQUEST | NLM_F_ACK, 17, 1)], 1000);
  const busy = await exchangeAll(other, [Buffer.concat([msg(NLM_F_REQUEST | NLM_F_DUMP, 11, 10), msg(NLM_F_REQUEST | NLM_F_DUMP, 11, 11)])], 1000);
  const first = parseMessages(busy.answers);
  t.same(first.map((m) => [m.type, m.seq]), [[NLMSG_DONE, 10], [NLMSG_DONE, 11]], 'an empty dump is over at once, so a second one runs');
  const k2 = new FakeKernel();
  const c2 = await IpvsClient.open(k2.clientOptions());
  await c2.addService(WEB);
  const tr2 = k2.openTransport();
  const pair = await exchangeAll(tr2, [Buffer.concat([msg(NLM_F_REQUEST | NLM_F_DUMP, 4, 20), msg(NLM_F_REQUEST | NLM_F_DUMP, 4, 21)])], 1000);
  const pairMsgs = parseMessages(pair.answers);
  t.same(pairMsgs.map((m) => [m.type, m.seq]), [[28, 20], [NLMSG_ERROR, 21]], 'the first dump has not ended');
  t.equal(parseError(pairMsgs[1] as never).errno, 16, 'EBUSY');
  const next = await exchangeAll(tr2, [msg(NLM_F_REQUEST | NLM_F_ACK, 17, 22)], 1000);
  t.same(parseMessages(next.answers).map((m) => [m.type, m.seq]), [[NLMSG_DONE, 20], [NLMSG_ERROR, 22]], 'its NLMSG_DONE comes with the next exchange');
  c2.close();
  tr2.close();
  other.close();
  // A dump of nothing is NLMSG_DONE alone.
  const fresh = kernel.openTransport();
  const done = await exchangeAll(fresh, [msg(NLM_F_REQUEST | NLM_F_DUMP, 4, 400)], 1000);
  fresh.close();
  t.same(parseMessages(done.answers).map((m) => m.type), [NLMSG_DONE]);
  tr.close();
  t.match(await exchangeAll(tr, [ok], 100), { error: { code: 'EBADF' } });
  // Without PAD (an x86-64 kernel) the client reads the same counters.
  const plain = await open({ statsPadding: false });
  await plain.client.addService(WEB);
  await plain.client.addDestination(WEB, R1);
  plain.kernel.setStats({ service: WEB, destination: R1 }, { stats: { inBytes: 77n } });
  t.equal((await plain.client.listDestinations(WEB))[0]?.stats.inBytes, 77n);
  plain.client.close();
  const bad = kernel.openTransport();
  const err = parseMessages((await exchangeAll(bad, [msg(NLM_F_REQUEST | NLM_F_ACK, 99, 500)], 1000)).answers)[0];
  t.equal(err?.type, NLMSG_ERROR);
  t.equal(parseError(err as never).errno, 95, 'an unknown command is EOPNOTSUPP');
  bad.close();
});

t.test('a dump larger than the receive window arrives in windows', async (t) => {
  const kernel = new FakeKernel();
  const client = await IpvsClient.open({ ...kernel.clientOptions(), receiveBuffer: 256 * 1024 });
  const ops = Array.from({ length: 3000 }, (_v, i) => ({ type: 'add-service' as const, service: { protocol: 'udp' as const, address: '198.51.100.50', port: 1 + i } }));
  await client.apply(ops);
  const list = await client.listServices();
  t.equal(list.length, 3000, 'about 1 MB of answers through a 256 KiB buffer');
  t.equal(new Set(list.map((s) => ('port' in s.key ? s.key.port : 0))).size, 3000);
  // Three windows need at least four calls to the transport (the first plus resumes).
  t.ok(client.counters.exchanges >= 2 + 4, `${client.counters.exchanges} transport calls`);
  client.close();
});

t.test('bulk apply goes in few datagrams, an ACK per datagram', async (t) => {
  const { kernel, client } = await open();
  const before = { ...kernel.counters };
  const ops = Array.from({ length: 2500 }, (_v, i) => ({ type: 'add-service' as const, service: { protocol: 'udp' as const, address: '198.51.100.50', port: 1 + i } }));
  const r = await client.apply(ops);
  t.equal(r.applied, 2500);
  t.equal(kernel.counters.messages - before.messages, 2500);
  t.equal(kernel.counters.datagrams - before.datagrams, 3, '1024 messages a datagram by default');
  t.equal(kernel.counters.ackRequests - before.ackRequests, 3);
  client.close();
});
