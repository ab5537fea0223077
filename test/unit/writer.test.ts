// NlWriter against an independent reference: random sequences of messages,
// attributes and nests are written by the writer (which stores whole words
// on little-endian hosts) and by a byte-by-byte encoder written here from
// the netlink layout (headers in host order, 4-byte alignment, zero padding,
// big-endian ports); the bytes must be the same. Small initial sizes make
// the writer grow mid-message. Values outside a field's range must throw as
// Buffer's range-checked writers do, whichever path the writer takes.
import t from 'tap';
import fc from 'fast-check';
import { HOST_LE } from '../../src/netlink/hostorder';
import { NlWriter } from '../../src/netlink/writer';

type Step =
  | { k: 'msg'; type: number; flags: number; seq: number; pid: number }
  | { k: 'genl'; cmd: number; version: number }
  | { k: 'u8' | 'u16' | 'be16' | 'u32' | 'be32'; type: number; v: number }
  | { k: 'u64'; type: number; v: bigint }
  | { k: 'flags'; type: number; flags: number; mask: number }
  | { k: 'str'; type: number; s: string }
  | { k: 'bytes'; type: number; data: number[] }
  | { k: 'nest'; type: number; flag: boolean; inner: Step[] };

/** The reference: bytes pushed one at a time. */
class Ref {
  out: number[] = [];
  private le(v: number | bigint, n: number): void {
    let x = BigInt(v);
    const bytes: number[] = [];
    for (let i = 0; i < n; i++) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
    }
    this.out.push(...(HOST_LE ? bytes : bytes.reverse()));
  }
  private be(v: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.out.push((v >>> (8 * i)) & 0xff);
  }
  pad(): void {
    while (this.out.length % 4) this.out.push(0);
  }
  patch16(at: number, v: number): void {
    const b = HOST_LE ? [v & 0xff, v >>> 8] : [v >>> 8, v & 0xff];
    this.out[at] = b[0] as number;
    this.out[at + 1] = b[1] as number;
  }
  patch32(at: number, v: number): void {
    for (let i = 0; i < 4; i++) this.out[at + i] = HOST_LE ? (v >>> (8 * i)) & 0xff : (v >>> (8 * (3 - i))) & 0xff;
  }
  attr(type: number, payload: number[]): void {
    this.le(4 + payload.length, 2);
    this.le(type, 2);
    this.out.push(...payload);
    this.pad();
  }
  payload(fn: () => void): number[] {
    const at = this.out.length;
    fn();
    return this.out.splice(at);
  }
  step(s: Step): void {
    switch (s.k) {
      case 'msg':
        this.pad();
        return;
      case 'genl':
        this.out.push(s.cmd & 0xff, s.version & 0xff, 0, 0);
        return;
      case 'u8':
        return this.attr(s.type, [s.v]);
      case 'u16':
        return this.attr(s.type, this.payload(() => this.le(s.v, 2)));
      case 'be16':
        return this.attr(s.type, this.payload(() => this.be(s.v, 2)));
      case 'u32':
        return this.attr(s.type, this.payload(() => this.le(s.v >>> 0, 4)));
      case 'be32':
        return this.attr(s.type, this.payload(() => this.be(s.v >>> 0, 4)));
      case 'u64':
        return this.attr(s.type, this.payload(() => this.le(s.v, 8)));
      case 'flags':
        return this.attr(s.type, this.payload(() => (this.le(s.flags >>> 0, 4), this.le(s.mask >>> 0, 4))));
      case 'str':
        return this.attr(s.type, [...Buffer.from(s.s, 'utf8'), 0]);
      case 'bytes':
        return this.attr(s.type, s.data);
      case 'nest': {
        const at = this.out.length;
        this.le(0, 2);
        this.le(s.flag ? s.type | 0x8000 : s.type, 2);
        for (const x of s.inner) this.step(x);
        this.patch16(at, this.out.length - at);
        return;
      }
    }
  }
  message(m: Extract<Step, { k: 'msg' }>, body: Step[]): void {
    this.pad();
    const at = this.out.length;
    this.le(0, 4);
    this.le(m.type, 2);
    this.le(m.flags, 2);
    this.le(m.seq >>> 0, 4);
    this.le(m.pid >>> 0, 4);
    for (const s of body) this.step(s);
    this.pad();
    this.patch32(at, this.out.length - at);
  }
}

function write(w: NlWriter, s: Step): void {
  switch (s.k) {
    case 'msg':
      return;
    case 'genl':
      return w.genlHeader(s.cmd, s.version);
    case 'u8':
      return w.attrU8(s.type, s.v);
    case 'u16':
      return w.attrU16(s.type, s.v);
    case 'be16':
      return w.attrBe16(s.type, s.v);
    case 'u32':
      return w.attrU32(s.type, s.v);
    case 'be32':
      return w.attrBe32(s.type, s.v);
    case 'u64':
      return w.attrU64(s.type, s.v);
    case 'flags':
      return w.attrFlags(s.type, s.flags, s.mask);
    case 'str':
      return w.attrString(s.type, s.s);
    case 'bytes':
      return w.attrBytes(s.type, Buffer.from(s.data));
    case 'nest': {
      const n = w.beginNested(s.type, s.flag);
      for (const x of s.inner) write(w, x);
      return w.endNested(n);
    }
  }
}

const type = fc.integer({ min: 0, max: 0x7fff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const leaf: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant('u8' as const), type, v: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ k: fc.constantFrom('u16' as const, 'be16' as const), type, v: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ k: fc.constantFrom('u32' as const, 'be32' as const), type, v: fc.oneof(u32, fc.integer({ min: -0x80000000, max: -1 })) }),
  fc.record({ k: fc.constant('u64' as const), type, v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
  fc.record({ k: fc.constant('flags' as const), type, flags: u32, mask: u32 }),
  fc.record({ k: fc.constant('str' as const), type, s: fc.string({ maxLength: 20 }) }),
  // Every length 0..20: aligned addresses take the word path, the rest the byte path.
  fc.record({ k: fc.constant('bytes' as const), type, data: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }) }),
);
const nest: fc.Arbitrary<Step> = fc.record({ k: fc.constant('nest' as const), type, flag: fc.boolean(), inner: fc.array(leaf, { maxLength: 6 }) });
const msg = fc.record({
  head: fc.record({ k: fc.constant('msg' as const), type: fc.integer({ min: 0, max: 0xffff }), flags: fc.integer({ min: 0, max: 0xffff }), seq: u32, pid: u32 }),
  genl: fc.option(fc.record({ k: fc.constant('genl' as const), cmd: fc.integer({ min: 0, max: 255 }), version: fc.integer({ min: 0, max: 255 }) }), { nil: undefined }),
  body: fc.array(fc.oneof(leaf, nest), { maxLength: 8 }),
});

t.test('the same bytes as a byte-by-byte reference, growing from any size', async (t) => {
  fc.assert(
    fc.property(fc.array(msg, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 200 }), (msgs, initial) => {
      const w = new NlWriter(initial);
      const ref = new Ref();
      for (const m of msgs) {
        const body = m.genl ? [m.genl, ...m.body] : m.body;
        const at = w.beginMessage(m.head.type, m.head.flags, m.head.seq, m.head.pid);
        for (const s of body) write(w, s);
        w.endMessage(at);
        ref.message(m.head, body);
      }
      const got = w.toBuffer();
      const want = Buffer.from(ref.out);
      if (!got.equals(want)) throw new Error(`bytes differ:\n  got  ${got.toString('hex')}\n  want ${want.toString('hex')}`);
    }),
    { numRuns: 2000 },
  );
});

t.test('a reused writer (reset) writes the same bytes again', async (t) => {
  const w = new NlWriter(8);
  const once = (): Buffer => {
    w.reset();
    const m = w.beginMessage(30, 1, 7, 0);
    w.genlHeader(1, 1);
    const n = w.beginNested(1);
    w.attrU16(1, 2);
    w.attrBytes(3, Buffer.from([203, 0, 113, 10]));
    w.attrBe16(4, 80);
    w.endNested(n);
    w.endMessage(m);
    return w.toBuffer();
  };
  const a = once();
  t.equal(once().toString('hex'), a.toString('hex'));
  t.equal(
    a.toString('hex'),
    HOST_LE ? '300000001e000100070000000000000001010000' + '1c000100' + '0600010002000000' + '08000300cb00710a' + '0600040000500000' : a.toString('hex'),
    'the exact bytes (little-endian layout, by hand)',
  );
});

t.test('out-of-range values throw as Buffer does', async (t) => {
  const cases: [string, (w: NlWriter) => void][] = [
    ['u8 256', (w) => w.attrU8(1, 256)],
    ['u8 -1', (w) => w.attrU8(1, -1)],
    ['u16 65536', (w) => w.attrU16(1, 65536)],
    ['be16 -1', (w) => w.attrBe16(1, -1)],
    ['be16 70000', (w) => w.attrBe16(1, 70000)],
    ['message type 65536', (w) => w.beginMessage(65536, 0, 0, 0)],
    ['message flags -1', (w) => w.beginMessage(16, -1, 0, 0)],
  ];
  for (const [name, fn] of cases) {
    const w = new NlWriter(64);
    t.throws(() => fn(w), RangeError, name);
  }
});
