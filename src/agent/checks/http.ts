/**
 * HTTP and HTTPS checks on a minimal HTTP/1.1 client over `net.Socket`
 * (`tls.connect` for HTTPS): one connection per probe, `Connection: close`,
 * a request prebuilt once per target, reads into one buffer shared by every
 * plain-HTTP probe. Measured against node's `http.request` in
 * bench/checks.ts (see docs/checks.md): node's client builds an agent
 * request, a parser and a response stream per probe, which a status code
 * does not need.
 * @module
 */
import { connect, isIP, Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Attempt, closeSocket, errorReason, type Prober } from './attempt';
import { Read, ResponseReader } from './http-response';
import type { HttpCheck, ProbeResult, ProbeTarget } from './types';

/**
 * Builds the prober of one HTTP or HTTPS check on one target. Everything that
 * does not change between probes (request bytes, accepted codes, the body
 * pattern) is computed here, once.
 */
export function httpProber(target: ProbeTarget, check: HttpCheck): Prober {
  const tls = check.kind === 'https';
  const hostHeader = check.host ?? defaultHost(target, tls);
  const plan: HttpPlan = {
    address: target.address,
    port: target.port,
    timeoutMs: check.timeoutMs,
    request: Buffer.from(
      `${check.method} ${check.path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: ipvs-agent\r\n` +
        'Accept: */*\r\nConnection: close\r\n\r\n',
      'latin1',
    ),
    head: check.method === 'HEAD',
    accepted: new Set(check.expectStatus),
    body: check.expectBody === undefined ? undefined : new RegExp(check.expectBody),
    tlsVerify: check.tlsVerify,
    servername: check.sni ?? sniFromHost(check.host),
  };
  if (tls) return () => new Promise<ProbeResult>((resolve) => new HttpsAttempt(plan, resolve).begin());
  return () => new Promise<ProbeResult>((resolve) => new HttpAttempt(plan, resolve).begin());
}

interface HttpPlan {
  address: string;
  port: number;
  timeoutMs: number;
  request: Buffer;
  head: boolean;
  accepted: Set<number>;
  body: RegExp | undefined;
  tlsVerify: boolean;
  servername: string | undefined;
}

/** RFC 9110 7.2: the Host header carries the port unless it is the scheme's default. */
function defaultHost(target: ProbeTarget, tls: boolean): string {
  const host = isIP(target.address) === 6 ? `[${target.address}]` : target.address;
  return target.port === (tls ? 443 : 80) ? host : `${host}:${target.port}`;
}

/** SNI carries a DNS name only (RFC 6066 3: "literal IPv4 and IPv6 addresses are not permitted"). */
function sniFromHost(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const name = host.startsWith('[') ? '' : host.replace(/:\d+$/, '');
  return name === '' || isIP(name) !== 0 ? undefined : name;
}

/**
 * One read buffer for every plain-HTTP probe: node calls `onread` with the
 * bytes and the reader copies only what it must keep (a split head, a body
 * prefix), so a probe allocates no buffer for a small response.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** The parts HTTP and HTTPS share: the request, the reader and the verdict. */
abstract class HttpExchange extends Attempt {
  protected readonly reader: ResponseReader;

  constructor(
    protected readonly plan: HttpPlan,
    resolve: (r: ProbeResult) => void,
  ) {
    super(plan.timeoutMs, resolve, 'connect');
    this.reader = new ResponseReader(plan.body !== undefined, plan.head);
  }

  protected onBytes(buf: Buffer, length: number): void {
    if (this.done) return;
    const r = this.reader.feed(buf, length);
    if (r === Read.More) this.phase = this.reader.status === 0 ? 'response' : 'body';
    else this.judge(r);
  }

  protected onEnd(): void {
    if (!this.done) this.judge(this.reader.end());
  }

  protected onError(err: Error): void {
    this.finish(false, errorReason(this.phase === 'connect' ? 'connect' : 'read', err));
  }

  private judge(r: Read): void {
    if (r === Read.More) return;
    if (r === Read.Failed) return this.finish(false, this.reader.error);
    const status = this.reader.status;
    if (!this.plan.accepted.has(status)) return this.finish(false, `status ${status}`);
    const pattern = this.plan.body;
    if (pattern !== undefined && !pattern.test(this.reader.body.toString('utf8'))) {
      return this.finish(false, `body does not match ${String(pattern)}`);
    }
    this.finish(true, `status ${status}`);
  }
}

class HttpAttempt extends HttpExchange {
  private socket: Socket | undefined;

  protected start(): void {
    const socket = connect(
      {
        port: this.plan.port,
        host: this.plan.address,
        onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.onRead(buf as Buffer, n) },
      },
      () => {
        this.phase = 'response';
        socket.write(this.plan.request);
      },
    );
    this.socket = socket;
    socket.on('error', (err) => this.onError(err));
    socket.on('end', () => this.onEnd());
  }

  /** node's `onread` callback: false would pause reading, which a check never wants. */
  private onRead(buf: Buffer, length: number): boolean {
    this.onBytes(buf, length);
    return true;
  }

  protected release(): void {
    if (this.socket !== undefined) closeSocket(this.socket);
  }
}

class HttpsAttempt extends HttpExchange {
  private raw: Socket | undefined;
  private socket: TLSSocket | undefined;

  protected start(): void {
    // Our own TCP socket under the TLS one, so that it can be reset on
    // release like the plain-HTTP one (a TLSSocket cannot be reset).
    const raw = new Socket();
    this.raw = raw;
    raw.on('error', (err) => this.onError(err));
    raw.connect(this.plan.port, this.plan.address, () => {
      if (this.phase === 'connect') this.phase = 'tls handshake';
    });
    const socket = tlsConnect({
      socket: raw,
      servername: this.plan.servername,
      rejectUnauthorized: this.plan.tlsVerify,
      // Without a servername node checks the certificate against the address.
      host: this.plan.address,
    });
    this.socket = socket;
    socket.on('error', (err) => this.onError(err));
    socket.on('secureConnect', () => {
      this.phase = 'response';
      socket.write(this.plan.request);
    });
    socket.on('data', (buf: Buffer) => this.onBytes(buf, buf.length));
    socket.on('end', () => this.onEnd());
  }

  protected override onError(err: Error): void {
    const e = err as NodeJS.ErrnoException;
    // Certificate and protocol errors carry a code but no system call.
    if (this.phase === 'tls handshake' && e.syscall === undefined) return this.finish(false, errorReason('tls', err));
    super.onError(err);
  }

  protected release(): void {
    this.socket?.destroy();
    if (this.raw !== undefined) closeSocket(this.raw);
  }
}
