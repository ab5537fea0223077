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
   * `data` holds request datagrams back to back and `ends` their end
   * offsets. For each datagram (one or more netlink messages): one
   * sendmsg(), then receive into `recv` until an NLMSG_DONE or NLMSG_ERROR
   * carrying the sequence number of the datagram's last message. Returns
   * early when `recv` is nearly full: `done` datagrams were answered in full
   * and `partial` says the next one's answer has begun (call again with
   * `resume` true and the remaining datagrams; the first is not re-sent).
   * Rejects with a {@link NativeError} carrying `used` and `done`.
   */
  exchange(data: Buffer, ends: Uint32Array, recv: Buffer, resume: boolean, timeoutMs: number): Promise<NativeProgress>;
  close(): void;
}

/** How far an exchange got: bytes of `recv` used, datagrams answered in full, an answer begun. */
export interface NativeProgress {
  used: number;
  done: number;
  partial: boolean;
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
  /** Reads into `into` and resolves with the byte count; `into.length` means there may be more. */
  readFile(path: string, netns: string | undefined, into: Buffer): Promise<number>;
  /**
   * A file's bytes as a latin1 string held in the memory it was read into
   * (an external string; a copy on node < 20.4), where fs.readFileSync holds
   * them twice. Throws a {@link NativeError} (open, read).
   */
  readText(path: string): string;
  /** isatty(3): whether `fd` is a terminal (without making process.stdout/stderr, which loads node:net). */
  isatty(fd: number): boolean;
  /** V8 flags for this process (what node:v8's setFlagsFromString does, without loading node:v8; for short-lived commands, never the library's). */
  setV8Flags(flags: string): void;
  /** glibc keeps freed memory, serves big blocks from its heap, one arena (for short-lived commands; never the library's). */
  keepFreedMemory(): boolean;
}

/** An error from the addon: a system call failed with `errno`. */
export interface NativeError extends Error {
  errno: number;
  syscall: string;
  /** For exchange(): bytes of the receive buffer filled before the error. */
  used?: number;
  /** For exchange(): datagrams answered in full before the error. */
  done?: number;
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
