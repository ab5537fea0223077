/**
 * Golden fixtures captured from the real kernel (scripts/capture-fixtures.ts)
 * and what reads them back (test/unit/golden.test.ts).
 *
 * A state fixture holds, for every request the library made while reading
 * that state, the request's bytes and the kernel's answer as received (the
 * reply messages back to back). {@link ReplayTransport} plays the answers
 * back to a real {@link IpvsClient} on the host, so the whole read path
 * (framing, dumps, attribute decoding, the model) runs on kernel bytes.
 * A request fixture holds what ipvsadm sent for one command (from strace).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NLM_F_ACK, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN } from '../../src/netlink/constants';
import { readU16, readU32, writeU32 } from '../../src/netlink/hostorder';
import { parseMessages } from '../../src/netlink/message';
import type { ExchangeProgress, Transport } from '../../src/netlink/transport';
import { NlWriter } from '../../src/netlink/writer';

/** One request the library made and the kernel's answer to it. */
export interface CapturedExchange {
  /** nlmsg_type of the request (the family id; 16 for nlctrl). */
  type: number;
  /** nlmsg_flags of the request. */
  flags: number;
  /** The request after its netlink header (genl header and attributes), hex. */
  request: string;
  /** Every reply message to it, back to back as received, hex. */
  replies: string;
}

/** A named kernel state, the commands that made it, its bytes and its meaning. */
export interface StateFixture {
  kind: 'state';
  name: string;
  description: string;
  /** Where it was captured: kernel release and IPVS version. */
  kernel: string;
  /** The commands (run in a fresh namespace, in order) that produced the state. */
  commands: string[];
  /** The library calls made while capturing, in order (replayed by the test). */
  calls: string[];
  /** The netlink port id the replies were addressed to. */
  portId: number;
  exchanges: CapturedExchange[];
  /**
   * What the state means, from the commands (configuration) and from
   * ipvsadm's own reading of the same kernel (counters, rates, connection
   * counts, info, timeouts, daemons), never from the library's decoder.
   * 64-bit counters are decimal strings; rates are numbers, as the model has them.
   */
  expected: Record<string, unknown>;
}

/** What ipvsadm sent for one command, and the library call with the same meaning. */
export interface RequestFixture {
  /** ipvsadm's arguments. */
  ipvsadm: string;
  /** Commands run first in the same namespace (a service to add a server to...). */
  prepare: string[];
  /** The library call with the same meaning: a method of IpvsClient and its arguments. */
  call: { method: string; args: unknown[] };
  /**
   * How the library's request relates to ipvsadm's:
   * `same` (identical after the netlink header, NLA_F_NESTED aside),
   * `subset` (the library sends a subset of ipvsadm's attributes, the same bytes),
   * `unordered` (the same attributes in another order).
   */
  relation: 'same' | 'subset' | 'unordered';
  /**
   * `next`: the library asks no ACK of this message; the next message of the
   * same datagram (a GET_INFO) asks for one instead (see the note).
   */
  ack?: 'next';
  note?: string;
  /** ipvsadm's IPVS request: the whole netlink message, hex. */
  request: string;
}

/** The file holding the request fixtures. */
export interface RequestFixtureFile {
  kind: 'requests';
  kernel: string;
  ipvsadm: string;
  requests: RequestFixture[];
}

export const FIXTURE_DIR = join(__dirname, '..', '..', '..', 'test', 'fixtures');

/** Every fixture file under test/fixtures (read from the source tree). */
export function readFixtures(): (StateFixture | RequestFixtureFile)[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(FIXTURE_DIR, f), 'utf8')) as StateFixture | RequestFixtureFile);
}

/** JSON with bigints as decimal strings (how fixtures store 64-bit counters). */
export function plain<T>(v: T): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));
}

const hexOf = (b: Buffer, from: number, to: number): string => b.subarray(from, to).toString('hex');

/** The request datagrams of one exchange call: `data[ends[i-1], ends[i])`. */
function datagrams(data: Buffer, ends: Uint32Array): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const end of ends) {
    out.push(data.subarray(from, end));
    from = end;
  }
  return out;
}

/** Copies a reply message stream into `recv` at `at`; returns the new end (4-byte aligned). */
function put(recv: Buffer, at: number, reply: Buffer): number {
  reply.copy(recv, at);
  return at + ((reply.length + 3) & ~3);
}

/**
 * Wraps a transport and records, per request message, its bytes and the
 * reply messages that carry its sequence number (across the calls of one
 * exchange, which may resume part-way through an answer).
 */
export class TeeTransport implements Transport {
  readonly exchanges: CapturedExchange[] = [];
  private readonly bySeq = new Map<number, CapturedExchange>();
  constructor(private readonly inner: Transport) {}

  get portId(): number {
    return this.inner.portId;
  }

  async exchange(data: Buffer, ends: Uint32Array, recv: Buffer, resume: boolean, timeoutMs: number): Promise<ExchangeProgress> {
    for (const dg of datagrams(data, ends)) {
      for (const m of parseMessages(dg)) {
        if (this.bySeq.has(m.seq)) continue; // a resumed datagram, recorded already
        const x: CapturedExchange = { type: m.type, flags: m.flags, request: hexOf(dg, m.payload, m.end), replies: '' };
        this.exchanges.push(x);
        this.bySeq.set(m.seq, x);
      }
    }
    let used = 0;
    try {
      const p = await this.inner.exchange(data, ends, recv, resume, timeoutMs);
      used = p.used;
      return p;
    } catch (e) {
      used = (e as { used?: number }).used ?? 0;
      throw e;
    } finally {
      for (const m of parseMessages(recv.subarray(0, used))) {
        const x = this.bySeq.get(m.seq);
        if (x) x.replies += hexOf(recv, m.payload - NLMSG_HDRLEN, m.end) + '00'.repeat(((m.end + 3) & ~3) - m.end);
      }
    }
  }

  close(): void {
    this.inner.close();
  }
}

/**
 * Answers each request with the captured reply to the identical request
 * (type, flags and bytes), re-addressed to the asking sequence number and
 * port. A request never captured is an error naming it: the library now
 * asks something the fixture does not know.
 */
export class ReplayTransport implements Transport {
  /** Captured exchanges answered so far (the test checks every one was used). */
  readonly used = new Set<CapturedExchange>();
  constructor(
    private readonly exchanges: readonly CapturedExchange[],
    readonly portId: number,
  ) {}

  async exchange(data: Buffer, ends: Uint32Array, recv: Buffer): Promise<ExchangeProgress> {
    let used = 0;
    let done = 0;
    for (const dg of datagrams(data, ends)) {
      const answers: Buffer[] = [];
      for (const m of parseMessages(dg)) {
        const payload = hexOf(dg, m.payload, m.end);
        // The same request can have been captured several times (listServices,
        // rules and snapshot all dump the services): answer in capture order.
        const same = (e: CapturedExchange): boolean => e.type === m.type && e.flags === m.flags && e.request === payload;
        const x = this.exchanges.find((e) => same(e) && !this.used.has(e)) ?? this.exchanges.find(same);
        if (!x) throw new Error(`no captured answer for request type ${m.type} flags 0x${m.flags.toString(16)}: ${payload}`);
        this.used.add(x);
        const reply = Buffer.from(x.replies, 'hex');
        for (const r of parseMessages(reply)) {
          const head = r.payload - NLMSG_HDRLEN;
          writeU32(reply, m.seq, head + 8);
          writeU32(reply, this.portId, head + 12);
        }
        answers.push(reply);
      }
      const size = answers.reduce((n, a) => n + ((a.length + 3) & ~3), 0);
      if (used + size > recv.length) {
        if (done === 0) throw new Error(`a captured answer of ${size} bytes does not fit the ${recv.length}-byte receive buffer`);
        break; // the rest in the next call
      }
      for (const a of answers) used = put(recv, used, a);
      done++;
    }
    return { used, done, partial: false };
  }

  close(): void {}
}

/**
 * Records every request and answers as a kernel that accepts everything
 * would: nlctrl with family `familyId`, an ACK for each "do", an empty
 * dump. Used to take the library's request bytes for a call.
 */
export class RecordingTransport implements Transport {
  readonly portId = 4242;
  /** Every request message, with the number of the datagram it came in. */
  readonly sent: { type: number; flags: number; message: Buffer; datagram: number }[] = [];
  private datagrams = 0;
  constructor(private readonly familyId: number) {}

  async exchange(data: Buffer, ends: Uint32Array, recv: Buffer): Promise<ExchangeProgress> {
    const w = new NlWriter(1024);
    for (const dg of datagrams(data, ends)) {
      const datagram = this.datagrams++;
      for (const m of parseMessages(dg)) {
        this.sent.push({ type: m.type, flags: m.flags, message: Buffer.from(dg.subarray(m.payload - NLMSG_HDRLEN, m.end)), datagram });
        if (m.type === 0x10) {
          // CTRL_CMD_NEWFAMILY with CTRL_ATTR_FAMILY_ID and _NAME.
          const s = w.beginMessage(0x10, 0, m.seq, this.portId);
          w.genlHeader(1, 2);
          w.attrU16(1, this.familyId);
          w.attrString(2, 'IPVS');
          w.endMessage(s);
        }
        if ((m.flags & NLM_F_DUMP) !== 0) {
          const s = w.beginMessage(NLMSG_DONE, 2, m.seq, this.portId);
          w.bytes(Buffer.alloc(4));
          w.endMessage(s);
        } else if (m.flags & NLM_F_ACK || m.type === 0x10) {
          const s = w.beginMessage(NLMSG_ERROR, 0x100, m.seq, this.portId);
          w.bytes(Buffer.alloc(4)); // error 0: an ACK
          w.bytes(dg.subarray(m.payload - NLMSG_HDRLEN, m.payload));
          w.endMessage(s);
        }
      }
    }
    const used = put(recv, 0, Buffer.from(w.view()));
    return { used, done: ends.length, partial: false };
  }

  close(): void {}
}

/** One attribute of a request, for comparisons. */
export interface Attr {
  type: number;
  nestedFlag: boolean;
  data: Buffer;
  children?: Attr[];
}

/** Parses attributes; nests (IPVS_CMD_ATTR_SERVICE, _DEST, _DAEMON at the top level) recursively. */
export function parseAttrs(buf: Buffer, start: number, end: number, nestIds: readonly number[] = [1, 2, 3]): Attr[] {
  const out: Attr[] = [];
  let off = start;
  while (off + 4 <= end) {
    const len = readU16(buf, off);
    const rawType = readU16(buf, off + 2);
    if (len < 4 || off + len > end) throw new Error(`bad attribute at ${off}`);
    const type = rawType & 0x3fff;
    const a: Attr = { type, nestedFlag: (rawType & 0x8000) !== 0, data: Buffer.from(buf.subarray(off + 4, off + len)) };
    if (nestIds.includes(type)) a.children = parseAttrs(buf, off + 4, off + len, []);
    out.push(a);
    off += (len + 3) & ~3;
  }
  return out;
}

/** A netlink message split into header fields, genl header and attributes. */
export function splitMessage(msg: Buffer): { type: number; flags: number; genl: Buffer; attrs: Attr[] } {
  const len = readU32(msg, 0);
  return { type: readU16(msg, 4), flags: readU16(msg, 6), genl: Buffer.from(msg.subarray(16, 20)), attrs: parseAttrs(msg, 20, len) };
}
