import t from 'tap';
import { createProber } from '../../src/agent/checks/probe';
import { udpPayload } from '../../src/agent/checks/udp';
import type { UdpCheck } from '../../src/agent/checks/types';
import { closedUdpPort, leakedHandles, udpServer } from './checks-servers';

const udp: UdpCheck = { kind: 'udp', intervalMs: 1000, timeoutMs: 300, rise: 1, fall: 1, initial: 'down', send: 'ping' };

t.test('a reply makes it healthy; the payload arrives as written', async (t) => {
  const s = await udpServer(() => Buffer.from('pong'));
  t.teardown(() => s.close());
  const r = await createProber({ address: '127.0.0.1', port: s.port }, udp)();
  t.same([r.ok, r.reason], [true, 'reply 4 bytes']);
  t.equal(s.received[0]?.toString(), 'ping');
});

t.test('expect: the reply must match', async (t) => {
  const s = await udpServer(() => Buffer.from('ERROR busy'));
  t.teardown(() => s.close());
  const r = await createProber({ address: '127.0.0.1', port: s.port }, { ...udp, expect: '^OK' })();
  t.same([r.ok, r.reason], [false, 'reply does not match /^OK/']);
  const r2 = await createProber({ address: '127.0.0.1', port: s.port }, { ...udp, expect: 'busy$' })();
  t.equal(r2.ok, true);
});

t.test('no reply is a timeout', async (t) => {
  const s = await udpServer(() => undefined);
  t.teardown(() => s.close());
  const r = await createProber({ address: '127.0.0.1', port: s.port }, { ...udp, timeoutMs: 150 })();
  t.same([r.ok, r.reason], [false, 'timeout after 150 ms (reply)']);
  t.ok(r.latencyMs >= 149 && r.latencyMs < 220, `latency ${r.latencyMs}`);
  t.equal(s.received.length, 1, 'the server did get the datagram');
});

t.test('nothing listening: the ICMP port unreachable fails it at once', async (t) => {
  const r = await createProber({ address: '127.0.0.1', port: await closedUdpPort() }, udp)();
  t.same([r.ok, r.reason], [false, 'port unreachable (ECONNREFUSED)']);
  t.ok(r.latencyMs < 100, `latency ${r.latencyMs}`);
});

t.test('IPv6, and hex payloads', async (t) => {
  const s = await udpServer((msg) => msg, 'udp6');
  t.teardown(() => s.close());
  const r = await createProber({ address: '::1', port: s.port }, { ...udp, send: 'hex:00ff 10', expect: '^\\x00\\xff\\x10$' })();
  t.same([r.ok, r.reason], [true, 'reply 3 bytes']);
  t.same([...s.received[0]!], [0x00, 0xff, 0x10]);
});

t.test('udpPayload', async (t) => {
  t.same([...udpPayload('hex:0a 0B')], [10, 11]);
  t.equal(udpPayload('héllo').toString('utf8'), 'héllo');
  t.throws(() => udpPayload('hex:abc'), TypeError);
  t.throws(() => udpPayload('hex:zz'), TypeError);
});

t.test('leaves no socket or timer behind', async (t) => {
  const quiet = await udpServer(() => undefined);
  const echo = await udpServer((m) => m);
  t.teardown(async () => {
    await quiet.close();
    await echo.close();
  });
  const closed = await closedUdpPort();
  const leaked = await leakedHandles(() =>
    Promise.all([
      createProber({ address: '127.0.0.1', port: quiet.port }, { ...udp, timeoutMs: 50 })(),
      createProber({ address: '127.0.0.1', port: echo.port }, udp)(),
      createProber({ address: '127.0.0.1', port: closed }, udp)(),
    ]),
  );
  t.same(leaked, []);
});
