/**
 * TextSink: what is pushed comes back as latin1 bytes, in order, whatever
 * the chunk and copy sizes (lines split across chunks, lines longer than a
 * chunk, nothing pushed).
 */
import t from 'tap';
import { TextSink } from '../../src/cli/sink';

t.test('chunks hold exactly the pushed text, for any chunk and copy size', async (t) => {
  let seed = 11;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n;
  };
  const word = (): string => {
    const n = rnd(40);
    let s = '';
    // Latin1 throughout: ASCII, a few high bytes (ipvsadm writes bytes), now and then a long run.
    for (let k = 0; k < n; k++) s += String.fromCharCode(rnd(8) === 0 ? 0xa0 + rnd(0x60) : 0x20 + rnd(0x5f));
    return rnd(50) === 0 ? s.repeat(30) : s;
  };
  let cases = 0;
  for (const chunk of [1, 3, 7, 64, 1000, 256 * 1024]) {
    for (const pending of [1, 5, 100, 32 * 1024]) {
      const sink = new TextSink(chunk, pending);
      const want: string[] = [];
      const lines = rnd(300);
      for (let k = 0; k < lines; k++) {
        const a = word();
        if (rnd(2)) {
          sink.push(a, '\n');
          want.push(a, '\n');
        } else {
          sink.push(a);
          want.push(a);
        }
      }
      const chunks = sink.chunks();
      const got = Buffer.concat(chunks);
      t.ok(got.equals(Buffer.from(want.join(''), 'latin1')), `chunk ${chunk}, copy every ${pending}: ${got.length} bytes`);
      t.ok(chunks.every((c) => c.length > 0 && c.length <= chunk), 'no chunk empty or over its size');
      cases++;
    }
  }
  t.equal(cases, 24);
  t.same(new TextSink().chunks(), [], 'nothing pushed: no chunks');
});
