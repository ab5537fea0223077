/**
 * Output and early exit for the `ipvs` command (no other imports: main.ts
 * loads this before deciding what else it needs).
 * @module
 */

/** Where a command writes. Writes are synchronous and in order (stdout and stderr may be one file). */
export interface Io {
  out(text: string | Buffer): void;
  err(text: string): void;
}

/** Ends the command now with `code` (where ipvsadm calls `exit()`). */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
