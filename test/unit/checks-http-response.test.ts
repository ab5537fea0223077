import t from 'tap';
import { BODY_LIMIT, Read, ResponseReader } from '../../src/agent/checks/http-response';

interface Outcome {
  read: Read;
  status: number;
  body: string;
  error: string;
}

/** Feeds `raw` in pieces cut at `cuts`, through one reused buffer as the socket does, then the end if asked. */
function read(raw: string, cuts: number[], opts: { wantBody?: boolean; head?: boolean; end?: boolean } = {}): Outcome {
  const reader = new ResponseReader(opts.wantBody ?? true, opts.head ?? false);
  const bytes = Buffer.from(raw, 'latin1');
  const shared = Buffer.alloc(bytes.length + 16);
  let r: Read = Read.More;
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    if (to <= from) continue;
    shared.fill(0x23); // what a reused buffer holds from before
    bytes.copy(shared, 0, from, to);
    r = reader.feed(shared, to - from);
    from = to;
    if (r !== Read.More) break;
  }
  if (r === Read.More && opts.end) r = reader.end();
  return { read: r, status: reader.status, body: reader.body.toString('latin1'), error: reader.error };
}

const cases: { name: string; raw: string; want: Partial<Outcome>; opts?: { wantBody?: boolean; head?: boolean; end?: boolean } }[] = [
  { name: 'content-length', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', want: { read: Read.Done, status: 200, body: 'hello' } },
  { name: 'content-length with more bytes after', raw: 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhello', want: { read: Read.Done, body: 'he' } },
  {
    name: 'chunked with extensions and trailers',
    raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n',
    want: { read: Read.Done, status: 200, body: 'hello world' },
  },
  {
    name: 'chunked wins over content-length',
    raw: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
    want: { read: Read.Done, body: 'abcd' },
  },
  { name: 'until close', raw: 'HTTP/1.0 503 Busy\r\n\r\nbusy now', want: { read: Read.Done, status: 503, body: 'busy now' }, opts: { end: true } },
  { name: 'no body for 204', raw: 'HTTP/1.1 204 No Content\r\n\r\n', want: { read: Read.Done, status: 204, body: '' } },
  { name: 'no body for HEAD', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n', want: { read: Read.Done, body: '' }, opts: { head: true } },
  { name: 'interim 100 then the answer', raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', want: { read: Read.Done, status: 404 } },
  { name: 'status only', raw: 'HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n', want: { read: Read.Done, status: 302 }, opts: { wantBody: false } },
  { name: 'status line without a reason', raw: 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n', want: { read: Read.Done, status: 200 } },
  { name: 'truncated body', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', want: { read: Read.Failed, error: 'connection closed before the end of the body' }, opts: { end: true } },
  { name: 'closed in the head', raw: 'HTTP/1.1 200 OK\r\nContent-', want: { read: Read.Failed, error: 'connection closed in the response head' }, opts: { end: true } },
  { name: 'not HTTP', raw: 'SSH-2.0-OpenSSH_9\r\n\r\n', want: { read: Read.Failed, error: 'not an HTTP response' } },
  { name: 'bad status code', raw: 'HTTP/1.1 2x0 OK\r\n\r\n', want: { read: Read.Failed, error: 'malformed status line' } },
  { name: 'status 600', raw: 'HTTP/1.1 600 OK\r\n\r\n', want: { read: Read.Failed, error: 'malformed status line' } },
  { name: 'bad content-length', raw: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', want: { read: Read.Failed, error: "bad Content-Length '-1'" } },
  { name: 'bad chunk size', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', want: { read: Read.Failed, error: 'malformed chunked body' } },
];

t.test('every way of cutting a response gives the same outcome', async (t) => {
  for (const c of cases) {
    const whole = read(c.raw, [], c.opts);
    t.match(whole, c.want, `${c.name}: whole`);
    for (let cut = 1; cut < c.raw.length; cut++) t.same(read(c.raw, [cut], c.opts), whole, `${c.name}: cut at ${cut}`);
    const bytes = Array.from({ length: c.raw.length }, (_, i) => i + 1);
    t.same(read(c.raw, bytes, c.opts), whole, `${c.name}: byte by byte`);
  }
});

t.test('the body is kept up to 64 KiB, across chunks', async (t) => {
  const big = 'x'.repeat(BODY_LIMIT + 100);
  const chunked = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(BODY_LIMIT / 2).toString(16)}\r\n${big.slice(0, BODY_LIMIT / 2)}\r\n${(BODY_LIMIT).toString(16)}\r\n${big.slice(0, BODY_LIMIT)}\r\n0\r\n\r\n`;
  for (const raw of [`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big}`, chunked]) {
    const r = read(raw, [100, 5000, 40000]);
    t.equal(r.read, Read.Done);
    t.equal(r.body.length, BODY_LIMIT);
  }
});

t.test('a head that never ends is refused', async (t) => {
  const r = read('HTTP/1.1 200 OK\r\n' + 'X-Pad: aaaaaaaaaaaaaaaa\r\n'.repeat(2000), [1000, 20000, 40000]);
  t.same([r.read, r.error], [Read.Failed, 'response head larger than 32768 bytes']);
});
