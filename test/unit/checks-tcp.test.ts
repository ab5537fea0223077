import t from 'tap';
import { createProber } from '../../src/agent/checks/probe';
import type { TcpCheck } from '../../src/agent/checks/types';
import { closedPort, leakedHandles, never, tcpServer } from './checks-servers';

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
