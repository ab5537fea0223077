/**
 * Assertions on the library's typed errors for kernel tests: the class, the
 * stable code, the errno, the command and a message in the user's words.
 */
import 'tap';
import { IpvsError } from '../../src/ipvs/errors';

/** What an error must carry. `message` is matched exactly (string) or by pattern. */
export interface ErrorWant {
  code: string;
  errno: number;
  /** `IPVS_CMD_*`; `null` means the error must carry no command (raised before sending). */
  command?: string | null;
  message?: string | RegExp;
  extack?: string;
  field?: string;
}

type ErrorClass<T> = abstract new (...args: never[]) => T;

/** Checks one error against `want`; returns whether it matched (each field is its own assertion). */
export function checkError<T extends IpvsError>(t: tap.Test, e: unknown, K: ErrorClass<T>, want: ErrorWant, label: string): e is T {
  if (!(e instanceof K)) {
    t.fail(`${label}: expected ${K.name}, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
    return false;
  }
  t.equal(e.code, want.code, `${label}: code`);
  t.equal(e.errno, want.errno, `${label}: errno`);
  if (want.command === null) t.equal(e.command, undefined, `${label}: nothing was sent`);
  else if (want.command !== undefined) t.equal(e.command, want.command, `${label}: command`);
  if (typeof want.message === 'string') t.equal(e.message, want.message, `${label}: message`);
  else if (want.message) t.match(e.message, want.message, `${label}: message`);
  if (want.extack !== undefined) {
    t.equal(e.extack, want.extack, `${label}: extended ACK kept`);
    t.ok(e.message.includes(want.extack), `${label}: the message quotes the kernel's extended ACK`);
  }
  if (want.field !== undefined) t.equal((e as { field?: string }).field, want.field, `${label}: field`);
  return true;
}

/** Awaits `p`, which must reject with a `K` matching `want`; returns the error. */
export async function rejectsWith<T extends IpvsError>(
  t: tap.Test,
  p: Promise<unknown>,
  K: ErrorClass<T>,
  want: ErrorWant,
  label: string,
): Promise<T | undefined> {
  try {
    await p;
  } catch (e) {
    return checkError(t, e, K, want, label) ? e : undefined;
  }
  t.fail(`${label}: expected ${K.name}, but it succeeded`);
  return undefined;
}

/** Calls `f`, which must throw a `K` synchronously or reject with one (checks before sending). */
export async function refusedBeforeSending<T extends IpvsError>(
  t: tap.Test,
  f: () => unknown,
  K: ErrorClass<T>,
  want: Omit<ErrorWant, 'errno' | 'command'>,
  label: string,
): Promise<T | undefined> {
  try {
    await f();
  } catch (e) {
    return checkError(t, e, K, { ...want, errno: 0, command: null }, label) ? e : undefined;
  }
  t.fail(`${label}: expected ${K.name} before sending, but it succeeded`);
  return undefined;
}
