import { createServer as createHttpServer } from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { createInterface } from 'node:readline';
import t from 'tap';
import { createProber } from '../../src/agent/checks/probe';
import type { HttpCheck, ProbeResult } from '../../src/agent/checks/types';
import {
  after,
  answer,
  closedPort,
  leakedHandles,
  makeCert,
  never,
  response,
  tcpServer,
  tlsServer,
  trickle,
} from './checks-servers';

const base: HttpCheck = {
  kind: 'http',
  intervalMs: 2000,
  timeoutMs: 300,
  rise: 1,
  fall: 1,
  initial: 'down',
  method: 'GET',
  path: '/',
  expectStatus: [200],
  tlsVerify: true,
};

function probe(port: number, check: Partial<HttpCheck> = {}, address = '127.0.0.1'): Promise<ProbeResult> {
  return createProber({ address, port }, { ...base, ...check })();
}

t.test('healthy: 200 and a matching body', async (t) => {
  const s = await tcpServer(answer(200, 'all ok'));
  t.teardown(() => s.close());
  const r = await probe(s.port, { expectBody: 'all o+k' });
  t.same({ ok: r.ok, reason: r.reason }, { ok: true, reason: 'status 200' });
  t.ok(r.latencyMs >= 0 && r.latencyMs < 300, `latency ${r.latencyMs}`);
});

t.test('sends the request line, Host and Connection: close', async (t) => {
  const s = await tcpServer(answer(200));
  t.teardown(() => s.close());
  await probe(s.port, { method: 'HEAD', path: '/health?x=1' });
  await probe(s.port, { host: 'www.example.com' });
  t.match(s.requests[0], new RegExp(`^HEAD /health\\?x=1 HTTP/1\\.1\r\nHost: 127\\.0\\.0\\.1:${s.port}\r\n`));
  t.match(s.requests[0], /\r\nConnection: close\r\n/);
  t.match(s.requests[1], /^GET \/ HTTP\/1\.1\r\nHost: www\.example\.com\r\n/);
});

t.test('IPv6 target: the Host header brackets the address', async (t) => {
  const s = await tcpServer(answer(200), '::1');
  t.teardown(() => s.close());
  const r = await probe(s.port, {}, '::1');
  t.equal(r.reason, 'status 200');
  t.match(s.requests[0], new RegExp(`\r\nHost: \\[::1\\]:${s.port}\r\n`));
});

t.test('refused connection', async (t) => {
  const r = await probe(await closedPort());
  t.same({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'connect ECONNREFUSED' });
});

t.test('a server that accepts and never answers times out on time', async (t) => {
  const s = await tcpServer(never);
  t.teardown(() => s.close());
  const r = await probe(s.port, { timeoutMs: 200 });
  t.same({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'timeout after 200 ms (response)' });
  t.ok(r.latencyMs >= 199 && r.latencyMs < 260, `latency ${r.latencyMs}`);
});

t.test('a slow answer (after the timeout) is a timeout', async (t) => {
  const s = await tcpServer(after(400, answer(200)));
  t.teardown(() => s.close());
  const r = await probe(s.port, { timeoutMs: 150 });
  t.same({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'timeout after 150 ms (response)' });
  // A fast one within the timeout passes against the same kind of server.
  const s2 = await tcpServer(after(30, answer(200)));
  t.teardown(() => s2.close());
  t.equal((await probe(s2.port, { timeoutMs: 300 })).ok, true);
});

t.test('an answer that arrived in time is not blamed for a stall of the prober itself', async (t) => {
  // The server runs in another process, so it answers while this one is busy.
  const script = `
    const s = require('node:net').createServer((c) => {
      c.on('error', () => {});
      c.once('data', () => setTimeout(() => c.end(${JSON.stringify(response(200))}), 100));
    });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();`;
  const server = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => new Promise((r) => server.stdin.end(r)));
  const [line] = await once(createInterface({ input: server.stdout }), 'line');
  const probing = probe(Number(line), { timeoutMs: 150 });
  await new Promise((r) => setTimeout(r, 50)); // connected, request sent
  // A stall (a long GC, a starved CPU) past the deadline, with the answer
  // arriving meanwhile. It happens in the check phase (after setImmediate),
  // so the loop's next steps are: expired timers, then socket I/O.
  await new Promise((r) => setImmediate(r));
  for (const until = Date.now() + 400; Date.now() < until; );
  const r = await probing;
  t.same([r.ok, r.reason], [true, 'status 200']);
  t.ok(r.latencyMs >= 400, `latency ${r.latencyMs} includes the stall`);
});

t.test('a body that trickles past the timeout fails, though each byte is quick', async (t) => {
  const body = 'x'.repeat(100) + 'ok';
  const s = await tcpServer(trickle(response(200, body), 5));
  t.teardown(() => s.close());
  const r = await probe(s.port, { timeoutMs: 250, expectBody: 'ok$' });
  t.equal(r.ok, false);
  t.match(r.reason, /^timeout after 250 ms \((response|body)\)$/);
  t.ok(r.latencyMs < 320, `latency ${r.latencyMs}`);
});

t.test('a server that closes without answering (half-open on its side)', async (t) => {
  const s = await tcpServer((socket) => socket.end());
  t.teardown(() => s.close());
  const r = await probe(s.port);
  t.same({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'connection closed before any response' });
  const s2 = await tcpServer((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-'));
  t.teardown(() => s2.close());
  t.equal((await probe(s2.port)).reason, 'connection closed in the response head');
});

t.test('a server that resets the connection', async (t) => {
  const s = await tcpServer((socket) => socket.resetAndDestroy());
  t.teardown(() => s.close());
  const r = await probe(s.port);
  t.same({ ok: r.ok, reason: r.reason }, { ok: false, reason: 'read ECONNRESET' });
});

t.test('wrong status, accepted status list', async (t) => {
  const s = await tcpServer(answer(503));
  t.teardown(() => s.close());
  t.same(await probe(s.port).then((r) => [r.ok, r.reason]), [false, 'status 503']);
  t.same(await probe(s.port, { expectStatus: [200, 503] }).then((r) => [r.ok, r.reason]), [true, 'status 503']);
});

t.test('wrong body', async (t) => {
  const s = await tcpServer(answer(200, 'database down'));
  t.teardown(() => s.close());
  const r = await probe(s.port, { expectBody: '^ok' });
  t.same([r.ok, r.reason], [false, 'body does not match /^ok/']);
});

t.test('the status decides without a body pattern, even if the body never ends', async (t) => {
  const s = await tcpServer((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial'));
  t.teardown(() => s.close());
  t.same(await probe(s.port).then((r) => [r.ok, r.reason]), [true, 'status 200']);
  // With a pattern the probe waits for the whole body, and here it never comes.
  t.equal((await probe(s.port, { expectBody: 'partial', timeoutMs: 150 })).reason, 'timeout after 150 ms (body)');
});

t.test('a pattern sees only the first 64 KiB', async (t) => {
  const body = 'a'.repeat(64 * 1024) + 'MARK';
  const s = await tcpServer(answer(200, body));
  t.teardown(() => s.close());
  t.equal((await probe(s.port, { expectBody: 'MARK' })).reason, 'body does not match /MARK/');
  t.equal((await probe(s.port, { expectBody: '^a{65536}$' })).ok, true);
});

t.test('chunked and unframed bodies from node http', async (t) => {
  const server = createHttpServer((req, res) => {
    if (req.url === '/chunked') {
      res.write('first ');
      setTimeout(() => res.end('second'), 10);
    } else {
      res.setHeader('Connection', 'close');
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('whole');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  t.same(await probe(port, { path: '/chunked', expectBody: '^first second$' }).then((r) => [r.ok, r.reason]), [true, 'status 200']);
  t.equal((await probe(port, { path: '/', expectBody: '^whole$' })).ok, true);
});

t.test('a body read until the server closes', async (t) => {
  const s = await tcpServer((socket) => socket.end('HTTP/1.0 200 OK\r\n\r\nuntil close'));
  t.teardown(() => s.close());
  t.equal((await probe(s.port, { expectBody: 'until close$' })).ok, true);
});

t.test('HEAD: no body is awaited whatever Content-Length says', async (t) => {
  const s = await tcpServer((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n'));
  t.teardown(() => s.close());
  t.equal((await probe(s.port, { method: 'HEAD', expectBody: '^$' })).reason, 'status 200');
});

t.test('an interim 100 Continue is skipped', async (t) => {
  const s = await tcpServer((socket) => socket.end('HTTP/1.1 100 Continue\r\n\r\n' + response(204)));
  t.teardown(() => s.close());
  t.same(await probe(s.port, { expectStatus: [204] }).then((r) => [r.ok, r.reason]), [true, 'status 204']);
});

t.test('not HTTP at all', async (t) => {
  const s = await tcpServer((socket) => socket.end('SSH-2.0-OpenSSH\r\n\r\n'));
  t.teardown(() => s.close());
  t.equal((await probe(s.port)).reason, 'not an HTTP response');
});

t.test('HTTPS with a self-signed certificate', async (t) => {
  const cert = makeCert('test.example');
  const s = await tlsServer(cert, answer(200, 'secure ok'));
  t.teardown(() => s.close());
  const https = { kind: 'https' as const };

  const verified = await probe(s.port, { ...https, sni: 'test.example' });
  t.same([verified.ok, verified.reason], [false, 'tls DEPTH_ZERO_SELF_SIGNED_CERT'], 'verify on: refused');

  const unverified = await probe(s.port, { ...https, tlsVerify: false, sni: 'test.example', expectBody: 'secure' });
  t.same([unverified.ok, unverified.reason], [true, 'status 200'], 'verify off: accepted');

  await probe(s.port, { ...https, tlsVerify: false, host: 'www.test.example:8443' });
  await probe(s.port, { ...https, tlsVerify: false });
  // SNI as the server saw it: the explicit name, the Host header's name, and none for an address.
  t.same(s.servernames.slice(-3), ['test.example', 'www.test.example', false]);
  t.match(s.requests.at(-2), /\r\nHost: www\.test\.example:8443\r\n/);
});

t.test('HTTPS against a plain-text server fails in the handshake', async (t) => {
  const s = await tcpServer(never);
  t.teardown(() => s.close());
  // Answers whatever arrives (a ClientHello here) with plain HTTP.
  const plain = createNetServer((socket) => {
    socket.on('error', () => {}); // the probe resets its connections
    socket.once('data', () => socket.end(response(400)));
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => plain.close(() => r())));
  const r = await probe(s.port, { kind: 'https', tlsVerify: false, timeoutMs: 150 });
  t.equal(r.reason, 'timeout after 150 ms (tls handshake)');
  const r2 = await probe((plain.address() as { port: number }).port, { kind: 'https', tlsVerify: false });
  t.same([r2.ok, r2.reason], [false, 'tls ERR_SSL_WRONG_VERSION_NUMBER']);
});

t.test('probes release every socket and timer', async (t) => {
  const cert = makeCert('test.example');
  const ok = await tcpServer(answer(200, 'ok'));
  const hang = await tcpServer(never);
  const tls = await tlsServer(cert, answer(200));
  const refused = await closedPort();
  t.teardown(async () => {
    await ok.close();
    await hang.close();
    await tls.close();
  });
  const leaked = await leakedHandles(() =>
    Promise.all([
      probe(ok.port, { expectBody: 'ok' }),
      probe(ok.port),
      probe(hang.port, { timeoutMs: 100 }),
      probe(refused),
      probe(tls.port, { kind: 'https', tlsVerify: false }),
      probe(tls.port, { kind: 'https' }),
      probe(hang.port, { kind: 'https', tlsVerify: false, timeoutMs: 100 }),
    ]),
  );
  t.same(leaked, []);
});
