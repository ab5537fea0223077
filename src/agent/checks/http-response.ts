/**
 * An incremental HTTP/1.x response reader, just enough for a health check:
 * the status code, and (only when a body pattern asks for it) the first 64 KiB
 * of the body, framed by Content-Length, chunked coding or the connection's
 * end. It copies nothing on the common path (a whole small response in one
 * read), so the read buffer can be shared by every probe.
 * @module
 */

/** The most body a check looks at: a pattern sees at most this prefix. */
export const BODY_LIMIT = 64 * 1024;
/** Status line and headers larger than this are refused (a check needs few). */
export const HEAD_LIMIT = 32 * 1024;

/** What {@link ResponseReader.feed} and {@link ResponseReader.end} return. */
export const enum Read {
  /** More bytes are needed. */
  More = 0,
  /** The response is complete enough to judge: `status` (and `body`) are set. */
  Done = 1,
  /** The response is malformed: `error` says how. */
  Failed = 2,
}

const enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Reads one response. `feed()` takes each chunk as it arrives (the bytes may be
 * a view of a buffer that is reused after the call returns), `end()` the
 * connection's end.
 */
export class ResponseReader {
  /** The final status code, once the status line has been read. */
  status = 0;
  /** Why the response was refused, after {@link Read.Failed}. */
  error = '';
  /** The body prefix read so far (decoded from chunked coding). */
  body: Buffer = EMPTY;

  private head: Buffer | undefined;
  private framing = Body.None;
  private inBody = false;
  private remaining = 0;
  private parts: Buffer[] | undefined;
  private bodyLength = 0;
  private chunk: ChunkState | undefined;

  /**
   * @param wantBody read the body too (a body pattern is set)
   * @param headRequest the request was HEAD: no body follows whatever the headers say
   */
  constructor(
    private readonly wantBody: boolean,
    private readonly headRequest: boolean,
  ) {}

  /** Takes `buf[0, length)`. */
  feed(buf: Buffer, length: number): Read {
    if (this.inBody) return this.feedBody(buf, 0, length);
    let data = buf;
    let end = length;
    if (this.head !== undefined) {
      data = Buffer.concat([this.head, buf.subarray(0, length)]);
      end = data.length;
      this.head = undefined;
    }
    let start = 0;
    for (;;) {
      const blank = data.indexOf(CRLFCRLF, start);
      if (blank < 0 || blank >= end) {
        if (end - start > HEAD_LIMIT) return this.fail(`response head larger than ${HEAD_LIMIT} bytes`);
        // Keep the partial head; it must survive the caller's buffer reuse.
        this.head = Buffer.from(data.subarray(start, end));
        return Read.More;
      }
      const r = this.parseHead(data, start, blank);
      if (r !== Read.More) return r;
      start = blank + 4;
      if (this.inBody) return this.feedBody(data, start, end);
      // An interim (1xx) response: the real one follows.
      if (start >= end) return Read.More;
    }
  }

  /** The connection ended (the peer's FIN). */
  end(): Read {
    if (!this.inBody) {
      return this.fail(this.head === undefined ? 'connection closed before any response' : 'connection closed in the response head');
    }
    if (this.framing === Body.UntilClose) return this.done();
    return this.fail('connection closed before the end of the body');
  }

  private parseHead(data: Buffer, start: number, blank: number): Read {
    // "HTTP/1.1 200 OK": the code is the three digits after the first space.
    if (data.toString('latin1', start, start + 5) !== 'HTTP/') return this.fail('not an HTTP response');
    const sp = data.indexOf(0x20, start);
    if (sp < 0 || sp + 4 > blank) return this.fail('malformed status line');
    const a = data[sp + 1]! - 0x30;
    const b = data[sp + 2]! - 0x30;
    const c = data[sp + 3]! - 0x30;
    const after = data[sp + 4];
    if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9 || (after !== 0x20 && after !== 0x0d)) {
      return this.fail('malformed status line');
    }
    const status = a * 100 + b * 10 + c;
    // RFC 9110 15.2: 1xx responses are interim, except 101 which ends HTTP.
    if (a === 1 && status !== 101) return Read.More;
    this.status = status;
    if (!this.wantBody) return this.done();
    this.inBody = true;
    if (this.headRequest || a === 1 || status === 204 || status === 304) {
      this.framing = Body.None;
      return this.done();
    }
    return this.parseFraming(data.toString('latin1', start, blank));
  }

  /** RFC 9112 6.3: chunked coding wins over Content-Length; neither means "until close". */
  private parseFraming(head: string): Read {
    let length = -1;
    let chunked = false;
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (name === 'transfer-encoding') {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(line.slice(colon + 1));
      } else if (name === 'content-length') {
        const v = line.slice(colon + 1).trim();
        if (!/^\d{1,15}$/.test(v)) return this.fail(`bad Content-Length '${v}'`);
        length = Number(v);
      }
    }
    if (chunked) {
      this.framing = Body.Chunked;
      this.chunk = { size: 0, state: Chunk.Size, sizeText: '' };
    } else if (length >= 0) {
      this.framing = Body.Length;
      this.remaining = length;
      if (length === 0) return this.done();
    } else {
      this.framing = Body.UntilClose;
    }
    return Read.More;
  }

  private feedBody(buf: Buffer, start: number, end: number): Read {
    switch (this.framing) {
      case Body.None:
        return Read.Done;
      case Body.UntilClose:
        return this.take(buf, start, end) ? this.done() : Read.More;
      case Body.Length: {
        const n = Math.min(this.remaining, end - start);
        this.remaining -= n;
        if (this.take(buf, start, start + n) || this.remaining === 0) return this.done();
        return Read.More;
      }
      case Body.Chunked:
        return this.feedChunked(buf, start, end);
    }
  }

  private feedChunked(buf: Buffer, start: number, end: number): Read {
    const c = this.chunk!;
    let i = start;
    while (i < end) {
      switch (c.state) {
        case Chunk.Size: {
          const nl = buf.indexOf(0x0a, i);
          if (nl < 0 || nl >= end) {
            c.sizeText += buf.toString('latin1', i, end);
            if (c.sizeText.length > 1024) return this.fail('malformed chunked body');
            return Read.More;
          }
          c.sizeText += buf.toString('latin1', i, nl);
          i = nl + 1;
          // "1a;ext=value\r": the size is the hex digits before any extension.
          const m = /^\s*([0-9a-fA-F]{1,12})\s*(?:;[^]*)?\r?$/.exec(c.sizeText);
          c.sizeText = '';
          if (!m) return this.fail('malformed chunked body');
          c.size = parseInt(m[1]!, 16);
          if (c.size === 0) return this.done(); // trailers do not matter to a check
          c.state = Chunk.Data;
          break;
        }
        case Chunk.Data: {
          const n = Math.min(c.size, end - i);
          if (this.take(buf, i, i + n)) return this.done();
          c.size -= n;
          i += n;
          if (c.size === 0) c.state = Chunk.DataEnd;
          break;
        }
        case Chunk.DataEnd: {
          // The CRLF after each chunk's data.
          if (buf[i] === 0x0a) c.state = Chunk.Size;
          else if (buf[i] !== 0x0d) return this.fail('malformed chunked body');
          i++;
          break;
        }
      }
    }
    return Read.More;
  }

  /** Keeps body bytes up to the limit; true once the limit is reached. */
  private take(buf: Buffer, start: number, end: number): boolean {
    const n = Math.min(end - start, BODY_LIMIT - this.bodyLength);
    if (n > 0) {
      (this.parts ??= []).push(Buffer.from(buf.subarray(start, start + n)));
      this.bodyLength += n;
    }
    return this.bodyLength >= BODY_LIMIT;
  }

  private done(): Read {
    if (this.parts !== undefined) {
      this.body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      this.parts = undefined;
    }
    return Read.Done;
  }

  private fail(error: string): Read {
    this.error = error;
    return Read.Failed;
  }
}

const EMPTY = Buffer.alloc(0);

const enum Chunk {
  Size,
  Data,
  DataEnd,
}

interface ChunkState {
  size: number;
  state: Chunk;
  sizeText: string;
}
