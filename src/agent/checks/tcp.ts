/**
 * TCP connect check: healthy when the three-way handshake completes.
 * @module
 */
import { Socket } from 'node:net';
import { Attempt, closeSocket, errorReason, type Prober } from './attempt';
import type { ProbeResult, ProbeTarget, TcpCheck } from './types';

/** Builds the prober of one TCP check on one target. */
export function tcpProber(target: ProbeTarget, check: TcpCheck): Prober {
  return () => new Promise<ProbeResult>((resolve) => new TcpAttempt(target, check.timeoutMs, resolve).begin());
}

class TcpAttempt extends Attempt {
  private socket: Socket | undefined;

  constructor(
    private readonly target: ProbeTarget,
    timeoutMs: number,
    resolve: (r: ProbeResult) => void,
  ) {
    super(timeoutMs, resolve, 'connect');
  }

  protected start(): void {
    const socket = new Socket();
    this.socket = socket;
    socket.on('error', (err) => this.finish(false, errorReason('connect', err)));
    socket.connect(this.target.port, this.target.address, () => this.finish(true, 'connected'));
  }

  protected release(): void {
    // Reset, not FIN: the check sent nothing, and TIME_WAIT would pile up.
    if (this.socket !== undefined) closeSocket(this.socket);
  }
}
