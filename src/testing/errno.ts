/**
 * Linux errno numbers the fake kernel answers with (asm-generic/errno*.h).
 * The fake imitates Linux, so these are Linux's numbers whatever the host.
 * @module
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EBADF = 9;
export const ENOMEM = 12;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ERANGE = 34;
export const EOPNOTSUPP = 95;
export const EAFNOSUPPORT = 97;
export const ENOBUFS = 105;
export const ETIMEDOUT = 110;

const NAMES: Record<string, number> = {
  EPERM,
  ENOENT,
  ESRCH,
  EBADF,
  ENOMEM,
  EBUSY,
  EEXIST,
  ENODEV,
  EINVAL,
  ERANGE,
  EOPNOTSUPP,
  EAFNOSUPPORT,
  ENOBUFS,
  ETIMEDOUT,
};

/** An errno given as a number or a name (`'EEXIST'`), as a number. */
export function errnoNumber(errno: number | string): number {
  if (typeof errno === 'number') {
    if (!Number.isInteger(errno) || errno <= 0 || errno > 4095) throw new TypeError(`errno must be 1..4095 (got ${errno})`);
    return errno;
  }
  const n = NAMES[errno];
  if (n === undefined) throw new TypeError(`unknown errno name '${errno}' (one of ${Object.keys(NAMES).join(', ')})`);
  return n;
}
