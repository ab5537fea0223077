/**
 * One probe attempt: the deadline, the latency clock and the settle-once
 * rule every probe kind shares.
 * @module
 */
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { ProbeResult } from './types';

/** Runs one probe of a target and resolves with its outcome; never rejects. */
export type Prober = () => Promise<ProbeResult>;

/**
 * The part of a probe that every kind shares. A subclass starts its I/O in
 * its constructor, calls {@link Attempt.finish} once it knows the verdict, and
 * frees what it holds in {@link Attempt.release}. The deadline covers the whole
 * probe (connect, request, every byte of the answer), so a server that trickles
 * its answer fails as surely as one that never answers.
 *
 * A class rather than closures: at thousands of probes a second, one object per
 * probe is cheaper than the handful of closures a callback style allocates.
 */
export abstract class Attempt {
  /** What the probe is waiting for, named in a timeout's reason ("connect"). */
  protected phase: string;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private late: NodeJS.Immediate | undefined;
  private settled = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly resolve: (result: ProbeResult) => void,
    phase: string,
  ) {
    this.phase = phase;
    this.timer = setTimeout(Attempt.onDeadline, timeoutMs, this);
  }

  /** Starts the probe's I/O; a synchronous throw becomes a failed verdict. */
  begin(): void {
    try {
      this.start();
    } catch (err) {
      this.finish(false, errorReason('start', err));
    }
  }

  /** Opens the socket or spawns the child. */
  protected abstract start(): void;

  /** True once the verdict is in; late events are then ignored. */
  protected get done(): boolean {
    return this.settled;
  }

  /** Records the verdict (the first one wins), releases resources and reports. */
  protected finish(ok: boolean, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.late !== undefined) clearImmediate(this.late);
    const result: ProbeResult = { ok, latencyMs: round(performance.now() - this.started), reason };
    this.release();
    this.deliver(result);
  }

  /** Called when the deadline passes before a verdict. */
  protected timedOut(): void {
    this.finish(false, `timeout after ${this.timeoutMs} ms (${this.phase})`);
  }

  /**
   * The deadline passed, but the verdict waits for the I/O phase of this turn
   * of the event loop: node runs expired timers before it polls sockets, so
   * after the agent itself stalled (a busy host, a long GC) an answer that
   * arrived in time would still be sitting unread, and the server would be
   * blamed for the agent's delay. setImmediate runs right after that poll.
   */
  private static onDeadline(this: void, attempt: Attempt): void {
    attempt.late = setImmediate(Attempt.onLate, attempt);
  }

  private static onLate(this: void, attempt: Attempt): void {
    attempt.late = undefined;
    attempt.timedOut();
  }

  /** Frees every socket, timer and child the probe holds. Called exactly once. */
  protected abstract release(): void;

  /**
   * Hands the result to the caller. A kind that must wait for something after
   * the verdict (exec waits for its killed child to be reaped) overrides this.
   */
  protected deliver(result: ProbeResult): void {
    this.resolve(result);
  }
}

/** Microsecond resolution is plenty for a latency and keeps logs short. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * "connect ECONNREFUSED", "read ECONNRESET", "tls DEPTH_ZERO_SELF_SIGNED_CERT":
 * the system call (or `stage` when the error names none) and the error's code.
 */
export function errorReason(stage: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const where = e && typeof e.syscall === 'string' ? e.syscall : stage;
  if (e && typeof e.code === 'string') return `${where} ${e.code}`;
  return `${where} ${e && typeof e.message === 'string' ? e.message : String(err)}`;
}

/**
 * Closes a TCP socket without leaving TIME_WAIT behind: an established
 * connection is reset (SO_LINGER 0), which is what HAProxy does with its check
 * connections too. At 5,000 probes a second an orderly close would park
 * 300,000 sockets in TIME_WAIT (60 s each) on one side or the other. A socket
 * still connecting is just destroyed, because node's resetAndDestroy() would
 * wait for a connect that may never come.
 */
export function closeSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}
