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

/** A transport failure part-way through an exchange. */
export class ExchangeError extends NetlinkSocketError {
  constructor(
    errno: number,
    syscall: string,
    what: string,
    /** Datagrams that did arrive, back to back in chunks. */
    readonly datagrams: Buffer[],
    /** Request buffers answered in full before the failure. */
    readonly completed: number,
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
   * For each buffer of one or more messages: sends it as one datagram, then
   * receives until the kernel's terminal answer to its last message (an
   * NLMSG_DONE or NLMSG_ERROR with that sequence number). Every request
   * buffer must therefore end with a message that gets such an answer: one
   * that asks for an ACK, or a dump. Resolves with all datagrams received,
   * back to back in one or more chunks (netlink messages are self-delimiting
   * and 4-byte aligned; a datagram never spans two chunks).
   * Rejects with an {@link ExchangeError} (ETIMEDOUT after `timeoutMs`
   * without any datagram; ENOBUFS when the kernel dropped answers).
   */
  exchange(requests: Buffer[], timeoutMs: number): Promise<Buffer[]>;
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

  async exchange(requests: Buffer[], timeoutMs: number): Promise<Buffer[]> {
    try {
      return await this.sock.exchange(requests, timeoutMs);
    } catch (e) {
      if (isNativeError(e)) {
        throw new ExchangeError(e.errno, e.syscall, 'netlink exchange', e.datagrams ?? [], e.completed ?? 0);
      }
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
