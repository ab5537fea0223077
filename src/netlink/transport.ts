/**
 * The boundary below the netlink layer: something that carries request
 * datagrams to the kernel and brings the answers back. The native socket
 * implements it; so does the fake kernel in `ipvs/testing`, which lets the
 * whole client stack run without root or IPVS.
 * @module
 */
import { NETLINK_GENERIC } from './constants';
import { addon, isNativeError, type NativeSocket } from '../native/addon';
import { NetlinkSocketError } from './errors';

/** How far an exchange got. */
export interface ExchangeProgress {
  /** Bytes of the receive buffer filled with answers (whole datagrams). */
  used: number;
  /** Request datagrams answered in full. */
  done: number;
  /** The next datagram's answer has begun and continues in the next call. */
  partial: boolean;
}

/** A transport failure part-way through an exchange. */
export class ExchangeError extends NetlinkSocketError {
  constructor(
    errno: number,
    syscall: string,
    what: string,
    /** Bytes of the receive buffer filled before the failure (still valid). */
    readonly used: number,
    /** Request datagrams answered in full before the failure. */
    readonly done: number,
  ) {
    super(errno, syscall, what);
    this.name = 'ExchangeError';
  }
}

/** Carries netlink datagrams. */
export interface Transport {
  /** Our netlink port id (replies carry it in nlmsg_pid). */
  readonly portId: number;
  /**
   * `data` holds request datagrams back to back; `ends` are their end
   * offsets (from the start of `data`). For each datagram: send it, then
   * receive the answers into `recv` (whole datagrams, each padded to 4
   * bytes) until the kernel's terminal answer to its last message: an
   * NLMSG_DONE or NLMSG_ERROR with that sequence number. Every datagram must
   * therefore end with a message that gets such an answer (one that asks
   * for an ACK, or a dump).
   *
   * Returns early when `recv` is nearly full (less than 64 KiB left),
   * possibly part-way through an answer (`partial`); the caller reads
   * `recv[0, used)` and calls again with the remaining datagrams and
   * `resume` true, and the first of them is not sent again. Rejects with an
   * {@link ExchangeError} (ETIMEDOUT after `timeoutMs` without any answer;
   * ENOBUFS when the kernel dropped answers), whose `used` bytes are valid.
   */
  exchange(data: Buffer, ends: Uint32Array, recv: Buffer, resume: boolean, timeoutMs: number): Promise<ExchangeProgress>;
  close(): void;
}

/** Options for {@link openNetlinkSocket}. */
export interface SocketOptions {
  /** Network namespace file to open the socket in, e.g. `/run/netns/lb`. */
  netns?: string;
  /** Receive buffer size in bytes (default 4 MiB: room for a batch's errors). */
  rcvbuf?: number;
  /** Send buffer size in bytes (default 1 MiB). */
  sndbuf?: number;
}

/** A {@link Transport} over a real netlink socket. */
export class NativeTransport implements Transport {
  readonly portId: number;
  private readonly sock: NativeSocket;

  constructor(protocol: number, options: SocketOptions = {}) {
    try {
      this.sock = new (addon().Socket)(protocol, {
        rcvbuf: options.rcvbuf ?? 4 * 1024 * 1024,
        sndbuf: options.sndbuf ?? 1024 * 1024,
        ...(options.netns !== undefined ? { netns: options.netns } : {}),
      });
    } catch (e) {
      if (isNativeError(e)) {
        const where = options.netns ? ` in network namespace ${options.netns}` : '';
        throw new NetlinkSocketError(e.errno, e.syscall, `opening a netlink socket${where}`);
      }
      throw e;
    }
    this.portId = this.sock.portId;
  }

  async exchange(data: Buffer, ends: Uint32Array, recv: Buffer, resume: boolean, timeoutMs: number): Promise<ExchangeProgress> {
    try {
      return await this.sock.exchange(data, ends, recv, resume, timeoutMs);
    } catch (e) {
      if (isNativeError(e)) throw new ExchangeError(e.errno, e.syscall, 'netlink exchange', e.used ?? 0, e.done ?? 0);
      throw e;
    }
  }

  close(): void {
    this.sock.close();
  }
}

/** Opens a generic netlink socket. */
export function openNetlinkSocket(options: SocketOptions = {}): Transport {
  return new NativeTransport(NETLINK_GENERIC, options);
}
