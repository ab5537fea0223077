/**
 * A fake netlink socket: the {@link Transport} of the fake kernel, with the
 * exchange semantics of the native socket (src/netlink/transport.ts): for
 * each request datagram, send it, then copy answers into the caller's
 * receive buffer until the terminal answer (NLMSG_DONE or NLMSG_ERROR) to
 * its last message, handing the buffer back part-way (`partial`) when less
 * than 64 KiB is left.
 *
 * Answers wait in a receive queue, as on a real socket; a running dump adds
 * its next datagram after each read. When they outgrow
 * the receive buffer the rest are dropped and the next read fails with
 * ENOBUFS (the kernel's `netlink_overrun`); what was queued before the
 * overflow stays and is read by the next exchange. A buffer whose last
 * message gets no terminal answer (no NLM_F_ACK on a successful "do") fails
 * with ETIMEDOUT after `timeoutMs`, like the socket's poll().
 * @module
 */
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, nlAlign } from '../netlink/constants';
import { readU16, readU32 } from '../netlink/hostorder';
import { ExchangeError, type ExchangeProgress, type Transport } from '../netlink/transport';
import { EBADF, EINVAL, ENOBUFS, ETIMEDOUT } from './errno';
import type { SocketDump } from './netlink-rcv';

/** What a fake socket needs from its kernel. */
export interface SocketHost {
  /** Processes one datagram; returns the answer datagrams (a dump's later ones go to `dump.rest`). */
  receive(portId: number, datagram: Buffer, dump: SocketDump): Buffer[];
  /** Receive buffer size in bytes (answers beyond it are dropped). */
  readonly receiveBufferBytes: number;
  /** Forgets a closed socket. */
  closed(portId: number): void;
}

/** The socket hands its buffer back when less than this is left (the native socket's kDatagramMax). */
const DATAGRAM_MAX = 64 * 1024;

function lastSeq(buf: Buffer): number | undefined {
  let off = 0;
  let seq: number | undefined;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = readU32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    seq = readU32(buf, off + 8);
    off += nlAlign(len);
  }
  return seq;
}

function isTerminal(datagram: Buffer, seq: number): boolean {
  let off = 0;
  while (off + NLMSG_HDRLEN <= datagram.length) {
    const len = readU32(datagram, off);
    if (len < NLMSG_HDRLEN || off + len > datagram.length) return false;
    const type = readU16(datagram, off + 4);
    if (readU32(datagram, off + 8) === seq && (type === NLMSG_DONE || type === NLMSG_ERROR)) return true;
    off += nlAlign(len);
  }
  return false;
}

/** A socket on the fake kernel. */
export class FakeTransport implements Transport {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private overrun = false;
  private isClosed = false;
  private readonly dump: SocketDump = {};

  constructor(
    private readonly host: SocketHost,
    readonly portId: number,
  ) {}

  async exchange(data: Buffer, ends: Uint32Array, recv: Buffer, resume: boolean, timeoutMs: number): Promise<ExchangeProgress> {
    // Answers come back asynchronously, as from the socket's worker thread.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let used = 0;
    let done = 0;
    const fail = (errno: number, syscall: string): ExchangeError => new ExchangeError(errno, syscall, 'netlink exchange', used, done);
    if (this.isClosed) throw fail(EBADF, 'closed');
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] as number;
      const req = data.subarray(start, end);
      start = end;
      const seq = lastSeq(req);
      if (seq === undefined) throw fail(EINVAL, 'exchange');
      // On resume the first datagram was sent by the previous call.
      if (!(i === 0 && resume)) for (const answer of this.host.receive(this.portId, req, this.dump)) this.enqueue(answer);
      for (;;) {
        // Like the socket: hand the buffer back, mid-answer, when a datagram might not fit.
        if (recv.length - used < DATAGRAM_MAX) return { used, done, partial: true };
        if (this.overrun) {
          this.overrun = false;
          throw fail(ENOBUFS, 'recv');
        }
        const next = this.queue.shift();
        if (!next) {
          await new Promise((resolve) => setTimeout(resolve, timeoutMs));
          throw fail(this.isClosed ? EBADF : ETIMEDOUT, this.isClosed ? 'closed' : 'recv');
        }
        this.queued -= next.length;
        next.copy(recv, used);
        used += nlAlign(next.length);
        this.continueDump();
        if (isTerminal(next, seq)) break;
      }
      done++;
    }
    return { used, done, partial: false };
  }

  /** After a read, a running dump produces its next datagram if the queue has room (`netlink_recvmsg`). */
  private continueDump(): void {
    const rest = this.dump.rest;
    if (!rest || this.queued > this.host.receiveBufferBytes / 2) return;
    const next = rest.shift();
    if (next) this.enqueue(next);
    if (rest.length === 0) delete this.dump.rest;
  }

  private enqueue(datagram: Buffer): void {
    if (this.queued + datagram.length > this.host.receiveBufferBytes) {
      this.overrun = true;
      return;
    }
    this.queue.push(datagram);
    this.queued += datagram.length;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue.length = 0;
    delete this.dump.rest;
    this.host.closed(this.portId);
  }
}
