// The request engine (src/netlink/connection.ts) against a scripted
// transport: every answer is written here by hand, so each rule of the
// engine (sequence and port matching, strays, dumps, ACK-only-where-needed
// batches, per-message error attribution, ENOBUFS part-way, timeouts,
// extended-ACK parsing) is tested on its own.
import t from 'tap';
import { NetlinkConnection, type RequestSpec } from '../../src/netlink/connection';
import {
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NLM_F_REQUEST,
} from '../../src/netlink/constants';
import { NetlinkError, NetlinkSocketError, NetlinkTimeoutError } from '../../src/netlink/errors';
import { writeI32 } from '../../src/netlink/hostorder';
import { NetlinkProtocolError, parseError, parseMessages } from '../../src/netlink/message';
import { ExchangeError, type ExchangeProgress, type Transport } from '../../src/netlink/transport';
import { NlWriter } from '../../src/netlink/writer';

const PORT = 4242;
const FAMILY = 0x20;

interface Req {
  type: number;
  flags: number;
  seq: number;
  raw: Buffer;
}

/** The messages of one request buffer. */
function requests(buf: Buffer): Req[] {
  return parseMessages(buf).map((m) => ({ type: m.type, flags: m.flags, seq: m.seq, raw: Buffer.from(buf.subarray(m.payload - NLMSG_HDRLEN, m.end)) }));
}

/** A scripted answer: datagrams back to back, or those that came before a failure. */
type Answer = Buffer | { answered: Buffer; fail: [errno: number, done: number] };

/** A transport whose answers a test scripts; it records what was sent. */
class Scripted implements Transport {
  readonly portId = PORT;
  readonly sent: Req[][][] = [];
  closed = false;
  constructor(private readonly script: (sent: Req[][], call: number) => Answer | Promise<Answer>) {}
  async exchange(data: Buffer, ends: Uint32Array, recv: Buffer): Promise<ExchangeProgress> {
    const reqs: Req[][] = [];
    let start = 0;
    for (const end of ends) {
      reqs.push(requests(data.subarray(start, end)));
      start = end;
    }
    this.sent.push(reqs);
    const r = await this.script(reqs, this.sent.length - 1);
    if (Buffer.isBuffer(r)) {
      r.copy(recv, 0);
      return { used: r.length, done: ends.length, partial: false };
    }
    r.answered.copy(recv, 0);
    throw new ExchangeError(r.fail[0], 'recv', 'netlink exchange', r.answered.length, r.fail[1]);
  }
  close(): void {
    this.closed = true;
  }
}

function msg(type: number, flags: number, seq: number, body: (w: NlWriter) => void, pid = PORT): Buffer {
  const w = new NlWriter();
  const s = w.beginMessage(type, flags, seq, pid);
  body(w);
  w.endMessage(s);
  return w.toBuffer();
}

const data = (seq: number, flags = 0, pid = PORT): Buffer => msg(FAMILY, flags, seq, (w) => w.genlHeader(1, 1), pid);
const done = (seq: number, status = 0): Buffer =>
  msg(NLMSG_DONE, NLM_F_MULTI, seq, (w) => {
    const b = Buffer.alloc(4);
    writeI32(b, status, 0);
    w.bytes(b);
  });

/** An NLMSG_ERROR for `req` (capped, as the library's socket asks), with optional TLVs. */
function error(req: Req, errno: number, tlvs?: (w: NlWriter) => void, capped = true): Buffer {
  return msg(NLMSG_ERROR, (capped ? NLM_F_CAPPED : 0) | (tlvs ? NLM_F_ACK_TLVS : 0), req.seq, (w) => {
    const head = Buffer.alloc(4);
    writeI32(head, -errno, 0);
    w.bytes(Buffer.concat([head, capped ? req.raw.subarray(0, NLMSG_HDRLEN) : req.raw]));
    tlvs?.(w);
  });
}

const spec: RequestSpec = { type: FAMILY, write: (w) => w.genlHeader(7, 1) };
const only = (sent: Req[][]): Req => sent[0]?.[0] as Req;

t.test('a request asks for an ACK and returns its data', async (t) => {
  const tr = new Scripted((sent) => Buffer.concat([data(only(sent).seq), error(only(sent), 0)]));
  const conn = new NetlinkConnection(tr);
  const replies = await conn.request(spec, 'get');
  t.equal(replies.length, 1);
  const r = only(tr.sent[0] as Req[][]);
  t.equal(r.flags, NLM_F_REQUEST | NLM_F_ACK);
  t.equal(r.type, FAMILY);
  t.equal(replies[0]?.seq, r.seq);
});

t.test('answers for another port or sequence are strays', async (t) => {
  const tr = new Scripted((sent) => {
    const r = only(sent);
    return Buffer.concat([data(r.seq, 0, PORT + 1), data(r.seq + 7), data(r.seq), error(r, 0)]);
  });
  const conn = new NetlinkConnection(tr);
  t.equal((await conn.request(spec, 'get')).length, 1);
  t.equal(conn.counters.strays, 2);
  // A late answer after the terminal one is a stray too.
  const tr2 = new Scripted((sent) => Buffer.concat([error(only(sent), 0), data(only(sent).seq)]));
  const c2 = new NetlinkConnection(tr2);
  t.same(await c2.request(spec, 'set'), []);
  t.equal(c2.counters.strays, 1);
});

t.test('a dump collects every part until NLMSG_DONE', async (t) => {
  const tr = new Scripted((sent) => {
    const s = only(sent).seq;
    return Buffer.concat([data(s, NLM_F_MULTI), data(s, NLM_F_MULTI), data(s, NLM_F_MULTI), done(s)]);
  });
  const conn = new NetlinkConnection(tr);
  t.equal((await conn.dump(spec, 'list')).length, 3);
  t.equal(only(tr.sent[0] as Req[][]).flags, NLM_F_REQUEST | NLM_F_DUMP);
  const failing = new NetlinkConnection(new Scripted((sent) => done(only(sent).seq, -1)));
  await t.rejects(failing.dump(spec, 'list'), { name: 'NetlinkError', errno: 1, code: 'EPERM' }, 'a DONE with a negative status');
});

t.test('errors carry the extended ACK: capped and not', async (t) => {
  for (const capped of [true, false]) {
    const tr = new Scripted((sent) =>
      error(only(sent), 22, (w) => {
        w.attrString(NLMSGERR_ATTR_MSG, 'Attribute failed policy validation');
        w.attrU32(NLMSGERR_ATTR_OFFS, 20);
        w.attrU32(NLMSGERR_ATTR_MISS_TYPE, 5);
      }, capped),
    );
    const err = await new NetlinkConnection(tr).request(spec, 'add').catch((e: unknown) => e);
    t.type(err, NetlinkError);
    t.match(err, { errno: 22, code: 'EINVAL', extack: 'Attribute failed policy validation', missingType: 5 }, capped ? 'capped' : 'whole request echoed');
  }
  // An uncapped error echoes the whole request; the TLVs start after it.
  const raw = msg(FAMILY, 5, 9, (w) => w.bytes(Buffer.alloc(8, 0xee)), 0);
  const m = parseMessages(error({ type: FAMILY, flags: 5, seq: 9, raw }, 2, (w) => w.attrU32(NLMSGERR_ATTR_OFFS, 24), false))[0];
  t.match(parseError(m as never), { errno: 2, requestType: FAMILY, requestSeq: 9, offset: 24 });
});

t.test('a batch: many messages per datagram, an ACK only on the last, each error to its own request', async (t) => {
  const tr = new Scripted((sent) => {
    const out: Buffer[] = [];
    for (const buf of sent) {
      for (const r of buf) {
        if ((r.seq - (sent[0]?.[0]?.seq ?? 0)) % 2 === 1) out.push(error(r, 17));
        else if (r.flags & NLM_F_ACK) out.push(error(r, 0));
      }
    }
    return Buffer.concat(out);
  });
  const conn = new NetlinkConnection(tr, { batchMessages: 2 });
  const written: number[] = [];
  const failures = await conn.batch(5, FAMILY, (i, w) => {
    written.push(i);
    w.genlHeader(1, 1);
  }, 'load');
  t.same(written, [0, 1, 2, 3, 4]);
  t.equal(tr.sent.length, 1, 'one round trip');
  const bufs = tr.sent[0] as Req[][];
  t.same(bufs.map((b) => b.length), [2, 2, 1], 'two messages per datagram');
  t.same(bufs.map((b) => b.map((r) => (r.flags & NLM_F_ACK ? 1 : 0))), [[0, 1], [0, 1], [1]], 'ACK on the last of each');
  t.same([...failures.keys()].sort(), [1, 3]);
  t.match(failures.get(1), { errno: 17, code: 'EEXIST' });
  t.equal(conn.counters.sends, 3);
  t.equal(conn.counters.messages, 5);
});

t.test('a batch part-way through ENOBUFS: lost answers and unsent requests are failures', async (t) => {
  const tr = new Scripted((sent) => {
    const first = sent[0] as Req[];
    const answered = Buffer.concat([error(first[0] as Req, 2), error(first[1] as Req, 0)]);
    return { answered, fail: [105, 1] };
  });
  const conn = new NetlinkConnection(tr, { batchMessages: 2, batchGroup: 2 });
  const failures = await conn.batch(6, FAMILY, (_i, w) => w.genlHeader(1, 1), 'load');
  t.equal(tr.sent.length, 1, 'nothing sent after the failure');
  t.same([...failures.keys()].sort(), [0, 2, 3, 4, 5]);
  t.match(failures.get(0), { errno: 2 }, 'the kernel answered the first');
  t.match(failures.get(2)?.message, /answer was lost \(ENOBUFS\)/);
  t.match(failures.get(3)?.message, /answer was lost/);
  t.match(failures.get(4)?.message, /not sent, an earlier send failed/);
  t.type(failures.get(5), NetlinkSocketError);
});

t.test('several dumps in one round trip, one failing', async (t) => {
  const tr = new Scripted((sent) => {
    const [a, b, c] = sent.map((buf) => buf[0] as Req);
    return Buffer.concat([data((a as Req).seq, NLM_F_MULTI), data((a as Req).seq, NLM_F_MULTI), done((a as Req).seq), error(b as Req, 1), done((c as Req).seq)]);
  });
  const conn = new NetlinkConnection(tr);
  const seen: number[] = [];
  const ended: number[] = [];
  const failures = await conn.dumpEach(3, FAMILY, (_i, w) => w.genlHeader(8, 1), 'dests', (i) => seen.push(i), (i) => ended.push(i));
  t.same(ended, [0, 2], 'the clean ends are reported');
  t.same(seen, [0, 0]);
  t.same([...failures.keys()], [1]);
  t.match(failures.get(1), { code: 'EPERM' });
  t.same((tr.sent[0] as Req[][]).map((b) => b.length), [1, 1, 1], 'a datagram per dump');
});

t.test('timeouts, missing answers, bad lengths, a closed connection', async (t) => {
  const timeout = new NetlinkConnection(new Scripted(() => {
    throw new ExchangeError(110, 'recv', 'netlink exchange', 0, 0);
  }), { timeoutMs: 50 });
  await t.rejects(timeout.request(spec, 'get'), NetlinkTimeoutError);
  const silent = new NetlinkConnection(new Scripted((sent) => data(only(sent).seq)));
  await t.rejects(silent.request(spec, 'get'), NetlinkProtocolError);
  const garbled = new NetlinkConnection(new Scripted(() => Buffer.from('0800000000000000000000000000000000000000', 'hex')));
  await t.rejects(garbled.request(spec, 'get'), /bad length 8/);
  const tr = new Scripted((sent) => error(only(sent), 0));
  const conn = new NetlinkConnection(tr);
  conn.close();
  t.ok(tr.closed);
  await t.rejects(conn.request(spec, 'get'), { name: 'NetlinkSocketError', code: 'EBADF' });
});

t.test('one exchange at a time, in order', async (t) => {
  const order: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const tr = new Scripted(async (sent, call) => {
    order.push(`start ${call}`);
    if (call === 0) await gate;
    order.push(`end ${call}`);
    return error(only(sent), 0);
  });
  const conn = new NetlinkConnection(tr);
  const a = conn.request(spec, 'a');
  const b = conn.request(spec, 'b');
  await new Promise((r) => setImmediate(r));
  t.same(order, ['start 0'], 'the second waits');
  release();
  await Promise.all([a, b]);
  t.same(order, ['start 0', 'end 0', 'start 1', 'end 1']);
  const seqs = tr.sent.map((s) => only(s).seq);
  t.equal(seqs[1], (seqs[0] as number) + 1, 'sequence numbers go up by one');
});
