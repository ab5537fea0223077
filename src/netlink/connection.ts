/**
 * Request/response over a netlink {@link Transport}: sequence numbers, port-id
 * checks, multi-part dumps, acknowledgements, batches and timeouts.
 *
 * One exchange runs at a time per connection: the kernel allows only one dump
 * per socket (a second gets EBUSY), and keeping exchanges in order makes every
 * reply unambiguous.
 *
 * Bulk paths allocate little on purpose. Under User-Mode Linux (where this
 * project proves itself) a fresh page costs ~48 µs, so a batch is encoded
 * straight into a few reused buffers, replies are visited in place rather
 * than copied into objects, and per-request state lives in typed arrays.
 * @module
 */
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  nlAlign,
} from './constants';
import { NetlinkError, NetlinkSocketError, NetlinkTimeoutError } from './errors';
import { readI32, readU16, readU32 } from './hostorder';
import { NetlinkProtocolError, parseError, type NlMessage } from './message';
import { wordViews, type WordViews } from './attributes';
import { ExchangeError, type Transport } from './transport';
import { NlWriter } from './writer';

/** One request: a message type and a function that writes its payload. */
export interface RequestSpec {
  /** nlmsg_type (for generic netlink: the family id). */
  type: number;
  /** Writes the payload that follows the 16-byte netlink header. */
  write(w: NlWriter): void;
}

/**
 * A reply message being visited. The object is reused for every message:
 * read what you need during the callback, do not keep it.
 */
export interface MessageRef {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  buf: Buffer;
  /** Offset of the payload (after the 16-byte header). */
  payload: number;
  /** Offset one past the end of the message. */
  end: number;
}

/** Called for each data reply of request `index`. */
export type ReplyVisitor = (index: number, m: MessageRef) => void;

/** A failed request of a batch or of several dumps, by index. */
export type Failures = Map<number, NetlinkError | NetlinkSocketError>;

/** Options for a {@link NetlinkConnection}. */
export interface ConnectionOptions {
  /** How long to wait when the kernel has gone quiet (default 10 s). */
  timeoutMs?: number;
  /** Most messages per sendmsg in a batch (default 1024). */
  batchMessages?: number;
  /** Most bytes per sendmsg in a batch (default 128 KiB; the default socket sndbuf is 208 KiB). */
  batchBytes?: number;
  /** Datagrams handed to the transport per round trip in a batch (default 8). */
  batchGroup?: number;
  /** Bytes of the reused buffer answers land in (default 4 MiB, measured best under UML; at least 256 KiB). */
  receiveBuffer?: number;
}

/** Counters a caller can export (the agent's metrics do). */
export interface ConnectionCounters {
  /** Messages sent. */
  messages: number;
  /** sendmsg calls (datagrams sent). */
  sends: number;
  /** Round trips to the transport (thread hops for the native socket). */
  exchanges: number;
  /** Replies that matched no request in flight (late, after a timeout). */
  strays: number;
}

/** A netlink request/response engine over one transport. */
export class NetlinkConnection {
  private seq: number;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly timeoutMs: number;
  private readonly batchMessages: number;
  private readonly batchBytes: number;
  private readonly batchGroup: number;
  private readonly writer = new NlWriter(64 * 1024);
  /** Where answers land, a window at a time (see {@link Transport.exchange}). */
  private readonly recv: Buffer;
  private readonly recvWords: WordViews | undefined;
  private closed = false;
  private readonly ref: MessageRef = { type: 0, flags: 0, seq: 0, pid: 0, buf: Buffer.alloc(0), payload: 0, end: 0 };
  /** Usage counters. */
  readonly counters: ConnectionCounters = { messages: 0, sends: 0, exchanges: 0, strays: 0 };

  constructor(
    readonly transport: Transport,
    options: ConnectionOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.batchMessages = options.batchMessages ?? 1024;
    this.batchBytes = options.batchBytes ?? 128 * 1024;
    this.batchGroup = Math.max(1, options.batchGroup ?? 8);
    this.recv = Buffer.alloc(Math.max(options.receiveBuffer ?? 4 * 1024 * 1024, 256 * 1024));
    this.recvWords = wordViews(this.recv);
    // Start somewhere arbitrary so answers meant for an earlier owner of this
    // port id cannot be mistaken for ours.
    this.seq = (Date.now() & 0x3fffffff) + 1;
  }

  /** Closes the transport; exchanges in flight fail. */
  close(): void {
    this.closed = true;
    this.transport.close();
  }

  /** Runs `fn` after every earlier exchange has finished. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Reserves `n` consecutive sequence numbers; returns the first. */
  private reserveSeqs(n: number): number {
    // Wrap before overflowing u32 so a batch's numbers stay consecutive.
    if (this.seq + n + 1 > 0xffffffff) this.seq = 1;
    const base = this.seq + 1;
    this.seq += n;
    return base;
  }

  /**
   * Sends datagrams (`data`, ending at `ends`) and visits every reply
   * message: `onMessage(index, ref)` with the request index (from the
   * sequence number), or counts a stray. Answers land in one reused receive
   * buffer, a window at a time, so a dump of any size touches the same
   * memory (see the module comment).
   * Resolves with the transport failure, if one ended it early.
   */
  private async exchange(
    data: Buffer,
    ends: Uint32Array,
    seqBase: number,
    count: number,
    what: string,
    onMessage: (index: number, m: MessageRef) => void,
  ): Promise<ExchangeError | undefined> {
    if (this.closed) throw new NetlinkSocketError(9, 'send', `${what}: the connection is closed`);
    this.counters.sends += ends.length;
    let from = 0;
    let resume = false;
    while (from < ends.length) {
      // The transport counts datagram offsets from the start of what it gets.
      const base = from === 0 ? 0 : (ends[from - 1] as number);
      const part = from === 0 ? ends : ends.subarray(from).map((e) => e - base);
      this.counters.exchanges++;
      let used: number;
      let failure: ExchangeError | undefined;
      let done = 0;
      let partial = false;
      try {
        const p = await this.transport.exchange(base === 0 ? data : data.subarray(base), part, this.recv, resume, this.timeoutMs);
        used = p.used;
        done = p.done;
        partial = p.partial;
      } catch (e) {
        if (!(e instanceof ExchangeError)) throw e;
        if (e.code === 'ETIMEDOUT') throw new NetlinkTimeoutError(what, this.timeoutMs);
        failure = e;
        used = e.used;
        done = e.done;
      }
      this.visit(used, seqBase, count, what, onMessage);
      if (failure) {
        return new ExchangeError(failure.errno, failure.syscall, failure.message, failure.used, from + done);
      }
      if (done === 0 && !partial) throw new NetlinkProtocolError(`${what}: the transport made no progress`);
      from += done;
      resume = partial;
    }
    return undefined;
  }

  /** Walks the messages in `recv[0, used)`. */
  private visit(used: number, seqBase: number, count: number, what: string, onMessage: (index: number, m: MessageRef) => void): void {
    const buf = this.recv;
    const w = this.recvWords;
    const portId = this.transport.portId;
    const m = this.ref;
    m.buf = buf;
    let off = 0;
    while (off + NLMSG_HDRLEN <= used) {
      const len = w ? (w.u32[off >> 2] as number) : readU32(buf, off);
      if (len < NLMSG_HDRLEN || off + len > used) {
        throw new NetlinkProtocolError(`${what}: netlink message at offset ${off} has bad length ${len}`);
      }
      if (w) {
        m.type = w.u16[(off >> 1) + 2] as number;
        m.flags = w.u16[(off >> 1) + 3] as number;
        m.seq = w.u32[(off >> 2) + 2] as number;
        m.pid = w.u32[(off >> 2) + 3] as number;
      } else {
        m.type = readU16(buf, off + 4);
        m.flags = readU16(buf, off + 6);
        m.seq = readU32(buf, off + 8);
        m.pid = readU32(buf, off + 12);
      }
      m.payload = off + NLMSG_HDRLEN;
      m.end = off + len;
      const index = (m.seq - seqBase) >>> 0;
      if (m.pid !== portId || index >= count) this.counters.strays++;
      else onMessage(index, m);
      off += (len + 3) & ~3;
    }
  }

  /**
   * A "do" request with an acknowledgement. Resolves with its data replies;
   * rejects with {@link NetlinkError} when the kernel refuses.
   */
  request(spec: RequestSpec, what: string): Promise<NlMessage[]> {
    return this.serialize(() => this.single(spec, NLM_F_REQUEST | NLM_F_ACK, what));
  }

  /** A dump: resolves with every message before NLMSG_DONE. */
  dump(spec: RequestSpec, what: string): Promise<NlMessage[]> {
    return this.serialize(() => this.single(spec, NLM_F_REQUEST | NLM_F_DUMP, what));
  }

  private async single(spec: RequestSpec, flags: number, what: string): Promise<NlMessage[]> {
    const w = this.writer;
    w.reset();
    const seq = this.reserveSeqs(1);
    const start = w.beginMessage(spec.type, flags, seq, 0);
    spec.write(w);
    w.endMessage(start);
    this.counters.messages++;
    const replies: NlMessage[] = [];
    let error: NetlinkError | NetlinkSocketError | undefined;
    let done = false;
    const failure = await this.exchange(w.view(), Uint32Array.of(w.length), seq, 1, what, (_i, m) => {
      if (done) {
        this.counters.strays++;
        return;
      }
      const end = terminal(m, what);
      if (end) {
        done = true;
        if (end !== true) error = end;
      } else if (m.type !== NLMSG_NOOP) {
        // The receive buffer is reused: keep a copy.
        const copy = Buffer.from(m.buf.subarray(m.payload - NLMSG_HDRLEN, m.end));
        replies.push({ type: m.type, flags: m.flags, seq: m.seq, pid: m.pid, buf: copy, payload: NLMSG_HDRLEN, end: copy.length });
      }
    });
    if (error) throw error;
    if (!done) {
      if (failure) throw new NetlinkSocketError(failure.errno, failure.syscall, `${what}: ${failure.code}`);
      throw new NetlinkProtocolError(`${what}: the kernel's answer is missing`);
    }
    return replies;
  }

  /**
   * `count` dumps, one after another (the kernel runs one dump per socket at
   * a time) but in a single round trip to the transport. `write(i, w)` writes
   * dump `i`'s payload (all of type `type`); `visit(i, ref)` sees each data
   * message of dump `i`. Resolves with the dumps that failed.
   */
  dumpEach(
    count: number,
    type: number,
    write: (index: number, w: NlWriter) => void,
    what: string,
    visit: ReplyVisitor,
    /** Called when dump `i` has ended cleanly (its messages have all been visited). */
    ended?: (index: number) => void,
  ): Promise<Failures> {
    return this.serialize(async () => {
      const failures: Failures = new Map();
      if (count === 0) return failures;
      const base = this.reserveSeqs(count);
      // All requests go in one buffer, one datagram each.
      const w = this.writer;
      w.reset();
      const ends = new Uint32Array(count);
      for (let i = 0; i < count; i++) {
        const start = w.beginMessage(type, NLM_F_REQUEST | NLM_F_DUMP, base + i, 0);
        write(i, w);
        w.endMessage(start);
        ends[i] = w.length;
      }
      this.counters.messages += count;
      const done = new Uint8Array(count);
      const failure = await this.exchange(w.view(), ends, base, count, what, (i, m) => {
        if (done[i]) {
          this.counters.strays++;
          return;
        }
        const end = terminal(m, what);
        if (end) {
          done[i] = 1;
          if (end !== true) failures.set(i, end);
          else ended?.(i);
        } else if (m.type !== NLMSG_NOOP) {
          visit(i, m);
        }
      });
      if (failure) {
        for (let i = 0; i < count; i++) {
          if (!done[i]) failures.set(i, new NetlinkSocketError(failure.errno, failure.syscall, `${what}: ${failure.code}`));
        }
      } else if (done.includes(0)) {
        throw new NetlinkProtocolError(`${what}: a dump did not end`);
      }
      return failures;
    });
  }

  /**
   * Sends `count` "do" requests with as few system calls as the kernel
   * allows; `write(i, w)` writes request `i`'s payload (all of type `type`).
   *
   * Requests are packed many to a sendmsg; only the last of each datagram
   * asks for an ACK. The kernel processes every message of a datagram in
   * order and keeps going after a failure (netlink_rcv_skb), answering each
   * failure with an NLMSG_ERROR that carries the failed message's sequence
   * number, so every error is attributed to its own request. Once the last
   * message's ACK (or error) arrives, everything before it has been answered.
   *
   * Resolves with the failures by index: kernel refusals, and — after a
   * transport failure part-way — requests whose answer was lost or that were
   * never sent. Rejects with {@link NetlinkTimeoutError} when the kernel goes
   * quiet (earlier datagrams may have been applied).
   */
  batch(count: number, type: number, write: (index: number, w: NlWriter) => void, what: string): Promise<Failures> {
    return this.serialize(async () => {
      const failures: Failures = new Map();
      if (count === 0) return failures;
      const base = this.reserveSeqs(count);
      let next = 0;
      const w = this.writer;
      // A big batch fills whole groups: size the writer for one at once.
      if (count > 1024) w.reserve(this.batchGroup * (this.batchBytes + 4096));
      while (next < count) {
        // Pack up to `batchGroup` datagrams into the writer, then one round trip.
        w.reset();
        const ends: number[] = [];
        const firsts: number[] = [];
        for (let g = 0; g < this.batchGroup && next < count; g++) {
          firsts.push(next);
          const dgStart = w.length;
          let lastStart = 0;
          let n = 0;
          while (next < count && n < this.batchMessages && (n === 0 || w.length - dgStart < this.batchBytes)) {
            lastStart = w.beginMessage(type, NLM_F_REQUEST, base + next, 0);
            write(next, w);
            w.endMessage(lastStart);
            next++;
            n++;
          }
          // Only the last message of the datagram asks for an ACK.
          w.orFlags(lastStart, NLM_F_ACK);
          ends.push(w.length);
        }
        firsts.push(next);
        this.counters.messages += next - (firsts[0] as number);
        const failure = await this.exchange(w.view(), Uint32Array.from(ends), base, count, what, (i, m) => {
          if (m.type === NLMSG_ERROR) {
            const e = parseError(m as NlMessage);
            // Refusals are results here, not throws: no stack traces
            // (thousands of them cost seconds).
            if (e.errno !== 0) failures.set(i, stackless(() => new NetlinkError(e.errno, what, e.message, e.missingType)));
          }
        });
        if (failure) {
          // Datagrams before `completed` were answered in full; the rest of
          // the failing one has unknown fate; later ones were never sent.
          const lostFrom = firsts[failure.done] as number;
          const lostTo = (firsts[failure.done + 1] ?? next) as number;
          for (let i = lostFrom; i < count; i++) {
            if (failures.has(i)) continue;
            const msg =
              i < lostTo
                ? `${what}: the kernel's answer was lost (${failure.code}); re-read the state`
                : `${what}: not sent, an earlier send failed (${failure.code})`;
            failures.set(i, new NetlinkSocketError(failure.errno, failure.syscall, msg));
          }
          return failures;
        }
      }
      return failures;
    });
  }
}

/** Builds an error without capturing a stack trace (for errors returned as results). */
export function stackless<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Whether `m` ends its request: `true` for an ACK or a clean NLMSG_DONE, an
 * error for an NLMSG_ERROR or a failed dump, `false` for a data message.
 */
function terminal(m: MessageRef, what: string): true | false | NetlinkError | NetlinkSocketError {
  if (m.type === NLMSG_ERROR) {
    const e = parseError(m as NlMessage);
    return e.errno === 0 ? true : new NetlinkError(e.errno, what, e.message, e.missingType);
  }
  if (m.type === NLMSG_DONE) {
    // A dump's end; its payload is the dump's own status.
    if (m.end - m.payload >= 4) {
      const status = readI32(m.buf, m.payload);
      if (status < 0) return new NetlinkError(-status, what);
    }
    return true;
  }
  if (m.type === NLMSG_OVERRUN) return new NetlinkSocketError(105, 'recv', `${what}: the kernel reported an overrun`);
  return false;
}
