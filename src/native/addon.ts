/**
 * Loads the C++ addon built by node-gyp (`build/Release/ipvs_native.node`).
 *
 * The addon only owns sockets and system calls; see native/netlink_socket.cc.
 * @module
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A raw netlink socket, as the addon exposes it. */
export interface NativeSocket {
  /** The port id the kernel assigned at bind time. */
  readonly portId: number;
  /**
   * For each buffer (one or more netlink messages): one sendmsg(), then
   * receive until an NLMSG_DONE or NLMSG_ERROR carrying the sequence number
   * of the buffer's last message. Resolves with every datagram received,
   * back to back (each padded to the 4-byte netlink alignment) in a few
   * large chunks; a datagram never spans two chunks.
   * Rejects with a {@link NativeError} carrying the datagrams received so far
   * and how many buffers were answered in full (`completed`); ETIMEDOUT when
   * nothing arrived for `timeoutMs`.
   */
  exchange(buffers: Buffer[], timeoutMs: number): Promise<Buffer[]>;
  close(): void;
}

/** Options for opening a native socket. */
export interface NativeSocketOptions {
  /** A network namespace file (e.g. `/run/netns/NAME`) to open the socket in. */
  netns?: string;
  rcvbuf?: number;
  sndbuf?: number;
}

interface Addon {
  Socket: new (protocol: number, options?: NativeSocketOptions) => NativeSocket;
  readFile(path: string, netns?: string): Promise<Buffer>;
}

/** An error from the addon: a system call failed with `errno`. */
export interface NativeError extends Error {
  errno: number;
  syscall: string;
  /** For exchange(): datagrams that arrived before the error. */
  datagrams?: Buffer[];
  /** For exchange(): buffers answered in full before the error. */
  completed?: number;
}

/** True when `e` is an error thrown or rejected by the addon. */
export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).errno === 'number';
}

let cached: Addon | undefined;

function findAddon(): string {
  // Walk up from this file to the package root; works from lib/ and from
  // the test build alike.
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'build', 'Release', 'ipvs_native.node');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    'ipvs: the native addon build/Release/ipvs_native.node was not found; ' +
      'run `npm rebuild ipvs` (it needs python3, make and g++)',
  );
}

/** The addon, loaded on first use. */
export function addon(): Addon {
  if (!cached) cached = require(findAddon()) as Addon;
  return cached;
}
