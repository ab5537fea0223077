/**
 * Errors of the netlink layer. IPVS-level meaning is given one layer up
 * (ipvs/errors.ts); here an error is an errno with the kernel's words.
 * @module
 */
let errnoNames: Record<number, string> | undefined;

/** The symbolic name of an errno number, e.g. 17 → `EEXIST`. */
export function errnoName(errno: number): string {
  // node:os is loaded when an error first needs a name, not by every command
  // that loads this module (under UML each built-in module costs start-up).
  errnoNames ??= Object.fromEntries(
    Object.entries((require('node:os') as typeof import('node:os')).constants.errno).map(([name, num]) => [num, name]),
  );
  return errnoNames[errno] ?? `E${errno}`;
}

/** The kernel answered a request with an error (NLMSG_ERROR or a failed dump). */
export class NetlinkError extends Error {
  /** Positive errno number. */
  readonly errno: number;
  /** Symbolic errno, e.g. `EEXIST`. */
  readonly code: string;
  /** Extended-ACK text from the kernel, when it gave one. */
  readonly extack?: string;
  /** Extended-ACK: the missing attribute type, when it named one. */
  readonly missingType?: number;

  constructor(errno: number, what: string, extack?: string, missingType?: number) {
    super(`${what}: ${errnoName(errno)}${extack ? ` (${extack})` : ''}`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = errnoName(errno);
    if (extack !== undefined) this.extack = extack;
    if (missingType !== undefined) this.missingType = missingType;
  }
}

/** No reply arrived in time. */
export class NetlinkTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(what: string, ms: number) {
    super(`${what}: no reply from the kernel within ${ms} ms`);
    this.name = 'NetlinkTimeoutError';
  }
}

/** A system call on the socket failed (open, send, receive). */
export class NetlinkSocketError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  constructor(errno: number, syscall: string, what: string) {
    super(`${what}: ${syscall} failed: ${errnoName(errno)}`);
    this.name = 'NetlinkSocketError';
    this.errno = errno;
    this.code = errnoName(errno);
    this.syscall = syscall;
  }
}
