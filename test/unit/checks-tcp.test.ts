import t from 'tap';
import { createProber } from '../../src/agent/checks/probe';
import type { HttpCheck, TcpCheck } from '../../src/agent/checks/types';
import { closedPort, leakedHandles, never, tcpServer, unansweredPort } from './checks-servers';

const tcp: TcpCheck = { kind: 'tcp', intervalMs: 1000, timeoutMs: 300, rise: 1, fall: 1, initial: 'down' };

t.test('connects to a listening port (IPv4 and IPv6)', async (t) => {
  const s4 = await tcpServer(never);
  const s6 = await tcpServer(never, '::1');
  t.teardown(async () => {
    await s4.close();
    await s6.close();
  });
  const r = await createProber({ address: '127.0.0.1', port: s4.port }, tcp)();
  t.same([r.ok, r.reason], [true, 'connected']);
  t.same(await createProber({ address: '::1', port: s6.port }, tcp)().then((r) => [r.ok, r.reason]), [true, 'connected']);
});

t.test('refused', async (t) => {
  const r = await createProber({ address: '127.0.0.1', port: await closedPort() }, tcp)();
  t.same([r.ok, r.reason], [false, 'connect ECONNREFUSED']);
});

t.test('a handshake that never completes times out in the connect phase, for TCP and HTTP', async (t) => {
  const hole = await unansweredPort();
  t.teardown(() => hole.close());
  const at = { address: '127.0.0.1', port: hole.port };
  const http: HttpCheck = { ...tcp, kind: 'http', method: 'GET', path: '/', expectStatus: [200], tlsVerify: true };
  const leaked = await leakedHandles(async () => {
    const [r1, r2, r3] = await Promise.all([
      createProber(at, { ...tcp, timeoutMs: 200 })(),
      createProber(at, { ...http, timeoutMs: 200 })(),
      createProber(at, { ...http, kind: 'https', timeoutMs: 200 })(),
    ]);
    t.same([r1.ok, r1.reason], [false, 'timeout after 200 ms (connect)']);
    t.same([r2.ok, r2.reason], [false, 'timeout after 200 ms (connect)']);
    t.same([r3.ok, r3.reason], [false, 'timeout after 200 ms (connect)']);
    t.ok(r1.latencyMs >= 199 && r1.latencyMs < 280, `latency ${r1.latencyMs}`);
  });
  t.same(leaked, [], 'a socket still connecting is released too');
});

t.test("the check's own port and address override the target's", async (t) => {
  const s = await tcpServer(never);
  t.teardown(() => s.close());
  const refused = await closedPort();
  const r = await createProber({ address: '127.0.0.2', port: refused }, { ...tcp, address: '127.0.0.1', port: s.port })();
  t.equal(r.ok, true);
});

t.test('leaves no socket or timer behind, and no connection open on the server', async (t) => {
  const s = await tcpServer(never);
  t.teardown(() => s.close());
  const refused = await closedPort();
  const leaked = await leakedHandles(() =>
    Promise.all([
      createProber({ address: '127.0.0.1', port: s.port }, tcp)(),
      createProber({ address: '127.0.0.1', port: refused }, tcp)(),
    ]),
  );
  t.same(leaked, []);
  t.equal(s.connections, 1);
  for (let i = 0; i < 50 && s.open > 0; i++) await new Promise((r) => setTimeout(r, 2));
  t.equal(s.open, 0, 'the server saw the connection end');
});
