/**
 * Local servers for the check tests, on loopback only: each behaves one way
 * (answers, refuses, hangs, trickles, resets) so a probe can be held against
 * it. Every server closes its connections on close(), so tests end promptly.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

/** A TCP server whose every connection is handed to `onConnection`. */
export interface TcpServer {
  port: number;
  /** Requests (the bytes up to the blank line) received so far, as text. */
  requests: string[];
  /** Connections accepted so far. */
  connections: number;
  /** Connections open now. */
  open: number;
  close(): Promise<void>;
}

/** What the server does with a connection once a request head has arrived. */
export type Behaviour = (socket: Socket, request: string) => void;

/** Starts a server on 127.0.0.1 (or `host`) that runs `behaviour` on each request. */
export async function tcpServer(behaviour: Behaviour, host = '127.0.0.1'): Promise<TcpServer> {
  const sockets = new Set<Socket>();
  const state = { requests: [] as string[], connections: 0 };
  const server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (b) => {
      if (head.includes('\r\n\r\n')) return;
      head += b.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        state.requests.push(head);
        behaviour(socket, head);
      }
    });
  });
  return listening(server, host, sockets, state);
}

/** A TLS server with `cert`, recording the SNI name each client sent. */
export async function tlsServer(cert: TestCert, behaviour: Behaviour): Promise<TcpServer & { servernames: (string | false)[] }> {
  const sockets = new Set<Socket>();
  const state = { requests: [] as string[], connections: 0, servernames: [] as (string | false)[] };
  const server = createTlsServer({ key: cert.key, cert: cert.cert }, (socket: TLSSocket) => {
    state.servernames.push(socket.servername ?? false);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (b: Buffer) => {
      head += b.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        state.requests.push(head);
        behaviour(socket, head);
      }
    });
  });
  server.on('connection', (s: Socket) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  const s = await listening(server, '127.0.0.1', sockets, state);
  return Object.assign(s, { servernames: state.servernames });
}

async function listening(
  server: Server,
  host: string,
  sockets: Set<Socket>,
  state: { requests: string[]; connections: number },
): Promise<TcpServer> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    get open() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A UDP port on loopback that nothing listens on. */
export async function closedUdpPort(type: 'udp4' | 'udp6' = 'udp4'): Promise<number> {
  const s = createSocket(type);
  await new Promise<void>((resolve) => s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** An HTTP response with a Content-Length. */
export function response(status: number, body = '', extra = ''): string {
  return `HTTP/1.1 ${status} X\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;
}

/** Behaviours. */
export const answer =
  (status: number, body = ''): Behaviour =>
  (socket) =>
    socket.end(response(status, body));
export const never: Behaviour = () => {};
export const after =
  (ms: number, then: Behaviour): Behaviour =>
  (socket, req) => {
    const t = setTimeout(() => then(socket, req), ms);
    socket.on('close', () => clearTimeout(t));
  };

/** Sends `text` one byte every `everyMs`. */
export const trickle =
  (text: string, everyMs: number): Behaviour =>
  (socket) => {
    let i = 0;
    const t = setInterval(() => {
      if (socket.destroyed || i >= text.length) return clearInterval(t);
      socket.write(text[i++]!);
    }, everyMs);
    socket.on('close', () => clearInterval(t));
  };

/** A UDP server: `reply` decides the answer to each datagram (undefined: stay silent). */
export async function udpServer(
  reply: (msg: Buffer, from: RemoteInfo) => Buffer | Buffer[] | undefined,
  type: 'udp4' | 'udp6' = 'udp4',
): Promise<{ port: number; received: Buffer[]; close(): Promise<void> }> {
  const socket: UdpSocket = createSocket(type);
  const received: Buffer[] = [];
  socket.on('message', (msg, from) => {
    received.push(msg);
    const out = reply(msg, from);
    for (const b of out === undefined ? [] : Array.isArray(out) ? out : [out]) socket.send(b, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return {
    port: socket.address().port,
    received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A throwaway self-signed key and certificate made at test time (never committed). */
export interface TestCert {
  key: string;
  cert: string;
}

/** Makes a P-256 self-signed certificate for `name` and 127.0.0.1 with openssl. */
export function makeCert(name: string): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-checks-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
        '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name},IP:127.0.0.1`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Handles that stay open after `fn`: sockets, timers, child processes. A
 * probe that leaks one shows up here. Closed handles are freed on a later
 * turn of the loop, hence the waits.
 */
export async function leakedHandles(fn: () => Promise<unknown>): Promise<string[]> {
  const kinds = new Set(['TCPSocketWrap', 'TCPWrap', 'TLSWrap', 'UDPWrap', 'ProcessWrap', 'PipeWrap', 'Timeout']);
  const count = (): Map<string, number> => {
    const m = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) if (kinds.has(r)) m.set(r, (m.get(r) ?? 0) + 1);
    return m;
  };
  const before = count();
  await fn();
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  const after = count();
  const leaked: string[] = [];
  for (const [k, n] of after) if (n > (before.get(k) ?? 0)) leaked.push(`${k} x${n - (before.get(k) ?? 0)}`);
  return leaked;
}

/**
 * A port where the TCP handshake itself never completes: a listener in a
 * stopped process (SIGSTOP) whose accept queue is full, so the kernel drops
 * new SYNs and connect() hangs, the way it does for a host that is gone.
 */
export async function unansweredPort(): Promise<{ port: number; close(): Promise<void> }> {
  const script = `const s = require('node:net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const port = Number(line);
  child.kill('SIGSTOP');
  // Fill the accept queue (backlog + 1 entries) until a connect no longer completes.
  const fillers: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    const connected = await Promise.race([once(s, 'connect').then(() => true), new Promise((r) => setTimeout(r, 100, false))]);
    if (!connected) break;
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
      child.kill('SIGCONT');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}
