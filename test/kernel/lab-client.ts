/**
 * The client of the traffic tests, run inside the client namespace.
 *
 * `node lab-client.js http URL N [STOPFILE]`: N sequential HTTP GETs, each on
 * a new connection; with STOPFILE, at least N and then on until that file
 * exists (so a test can keep traffic flowing for as long as it needs). `node lab-client.js sip HOST PORT SRCPORT CALLID`: one UDP SIP
 * INVITE carrying that Call-ID, from that source port. `node lab-client.js
 * keepalive URL GOFILE`: one GET on a kept-alive connection, then, once GOFILE
 * exists, a second GET on the same connection, given 3 s.
 *
 * Prints one JSON line: per request the local port used, the status and the
 * body (the real server's name); for SIP, the bytes sent.
 */
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';

interface Reply {
  localPort: number;
  status: number;
  body: string;
  /** Bytes of the request as written (headers included). */
  sent: number;
}

function get(url: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ localPort: req.socket?.localPort ?? 0, status: res.statusCode ?? 0, body, sent: req.socket?.bytesWritten ?? 0 }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv;
  if (mode === 'http') {
    const [url, n, stopFile] = rest as [string, string, string | undefined];
    const out: Reply[] = [];
    while (out.length < Number(n) || (stopFile !== undefined && !existsSync(stopFile))) out.push(await get(url));
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  if (mode === 'sip') {
    const [host, port, srcPort, callId] = rest as [string, string, string, string];
    const msg = Buffer.from(
      [
        `INVITE sip:lab@${host} SIP/2.0`,
        `Via: SIP/2.0/UDP 203.0.113.2:${srcPort};branch=z9hG4bK${srcPort}`,
        'From: <sip:client@203.0.113.2>;tag=1',
        `To: <sip:lab@${host}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      'latin1',
    );
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => sock.bind(Number(srcPort), resolve));
    await new Promise<void>((resolve, reject) => sock.send(msg, Number(port), host, (e) => (e ? reject(e) : resolve())));
    sock.close();
    process.stdout.write(`${JSON.stringify({ sent: msg.length })}\n`);
    return;
  }
  if (mode === 'keepalive') {
    const [url, goFile] = rest as [string, string];
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const once = (): Promise<{ port: number; body?: string; error?: string; ms: number }> =>
      new Promise((resolve) => {
        const t0 = Date.now();
        let port = 0;
        const req = request(url, { agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ port, body, ms: Date.now() - t0 }));
        });
        // A kept socket has its port already; a new one once it connects.
        req.on('socket', (sock) => {
          port = sock.localPort ?? 0;
          if (!port) sock.once('connect', () => (port = sock.localPort ?? 0));
        });
        req.setTimeout(3000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
        req.on('error', (e: NodeJS.ErrnoException) => resolve({ port, error: e.code ?? e.message, ms: Date.now() - t0 }));
        req.end();
      });
    const first = await once();
    process.stdout.write(`${JSON.stringify({ first })}\n`);
    while (!existsSync(goFile)) await new Promise((r) => setTimeout(r, 20));
    const second = await once();
    process.stdout.write(`${JSON.stringify({ second })}\n`);
    agent.destroy();
    return;
  }
  throw new Error(`usage: lab-client.js http URL N [STOPFILE] | sip HOST PORT SRCPORT CALLID | keepalive URL GOFILE`);
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
