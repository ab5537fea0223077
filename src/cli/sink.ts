/**
 * Output text collected in one growing buffer.
 *
 * Why: a save of 5,000 services x 10 real servers is 55,000 lines. Kept as
 * strings until a final join, they all survive into the old generation;
 * under User-Mode Linux that (fresh pages, promotions) costs several times
 * the formatting itself (DEVELOPERS.md, cost model). Written into one
 * buffer, each line dies young. Text is latin1, as ipvsadm writes bytes.
 * @module
 */

/** Anything lines can be pushed to: a string array, or a {@link TextSink}. */
export interface Lines {
  push(a: string, b?: string): unknown;
}

/** A growing latin1 buffer that formatters push lines to. */
export class TextSink implements Lines {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 256 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Appends one or two strings (a line and its newline). */
  push(a: string, b?: string): number {
    this.write(a);
    if (b !== undefined) this.write(b);
    return this.len;
  }

  private write(s: string): void {
    if (this.len + s.length > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + s.length));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    this.len += this.buf.write(s, this.len, 'latin1');
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
