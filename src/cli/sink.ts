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
import type { Io } from './io';

/** Anything lines can be pushed to: a string array, or a {@link TextSink}. */
export interface Lines {
  push(a: string, b?: string): unknown;
}

/**
 * Latin1 text in fixed-size chunks that formatters push lines to. Chunks,
 * not one doubling buffer: doubling writes the text about twice over into
 * fresh memory, and fresh memory is the cost under UML. Lines are joined as
 * strings first and copied in `pending` bytes at a time: a `Buffer.write`
 * is a call into C++, and a save of 55,000 lines made 110,000 of them.
 */
export class TextSink implements Lines {
  private readonly full: Buffer[] = [];
  private buf: Buffer;
  private len = 0;
  /** Lines pushed since the last copy into the chunk (a rope V8 flattens once). */
  private text = '';

  constructor(
    private readonly chunk = 256 * 1024,
    private readonly pending = 32 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** Appends one or two strings (a line and its newline). */
  push(a: string, b?: string): void {
    this.text = b === undefined ? this.text + a : this.text + a + b;
    if (this.text.length >= this.pending) this.copy();
  }

  /** Copies the joined lines into the chunks, filling each before the next. */
  private copy(): void {
    const s = this.text;
    this.text = '';
    for (let from = 0; from < s.length; ) {
      if (this.len === this.buf.length) {
        this.full.push(this.buf);
        this.buf = Buffer.allocUnsafe(this.chunk);
        this.len = 0;
      }
      const n = this.buf.write(from === 0 ? s : s.slice(from), this.len, 'latin1');
      this.len += n;
      from += n;
    }
  }

  /** The text so far, in order, as views of the chunks (no copy). */
  chunks(): Buffer[] {
    this.copy();
    return this.len > 0 ? [...this.full, this.buf.subarray(0, this.len)] : [...this.full];
  }
}

/** Writes text that may come in chunks. */
export function writeText(io: Io, text: string | readonly Buffer[]): void {
  if (typeof text === 'string') io.out(text);
  else for (const c of text) io.out(c);
}
