/**
 * The request-and-reply exchange over UDP that the UDP and DNS checks share:
 * a connected socket (so the kernel drops datagrams from anyone but the
 * target, and reports an ICMP port-unreachable as ECONNREFUSED), one datagram
 * out, and the first reply the check accepts as its answer.
 * @module
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { Attempt, errorReason, type Prober } from './attempt';
import type { ProbeResult, ProbeTarget } from './types';

/** A verdict on one reply. */
export interface Verdict {
  ok: boolean;
  reason: string;
}

/** What a datagram check sends and how it judges a reply. */
export interface DatagramDialog {
  /** The datagram to send for one probe (a DNS query has a fresh id each time). */
  request(): Buffer;
  /** The verdict on a reply to `request`, or undefined when the reply is not an answer to it. */
  judge(reply: Buffer, request: Buffer): Verdict | undefined;
}

/** Builds a prober that runs `dialog` against `target` within `timeoutMs`. */
export function datagramProber(target: ProbeTarget, timeoutMs: number, dialog: DatagramDialog): Prober {
  const type = isIP(target.address) === 6 ? 'udp6' : 'udp4';
  return () => new Promise<ProbeResult>((resolve) => new DatagramAttempt(target, type, timeoutMs, dialog, resolve).begin());
}

class DatagramAttempt extends Attempt {
  private socket: Socket | undefined;

  constructor(
    private readonly target: ProbeTarget,
    private readonly type: 'udp4' | 'udp6',
    timeoutMs: number,
    private readonly dialog: DatagramDialog,
    resolve: (r: ProbeResult) => void,
  ) {
    super(timeoutMs, resolve, 'send');
  }

  protected start(): void {
    const request = this.dialog.request();
    const socket = createSocket(this.type);
    this.socket = socket;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Linux reports the ICMP port-unreachable of an earlier send on the
      // next operation of a connected UDP socket (udp(7)).
      if (err.code === 'ECONNREFUSED') this.finish(false, 'port unreachable (ECONNREFUSED)');
      else this.finish(false, errorReason(this.phase, err));
    });
    socket.on('message', (reply: Buffer) => {
      const v = this.dialog.judge(reply, request);
      if (v !== undefined) this.finish(v.ok, v.reason);
    });
    socket.connect(this.target.port, this.target.address, () => {
      this.phase = 'reply';
      socket.send(request);
    });
  }

  protected release(): void {
    try {
      this.socket?.close();
    } catch {
      // Already closed (an error closed it first): nothing left to free.
    }
  }
}
