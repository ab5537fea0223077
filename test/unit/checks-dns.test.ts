import t from 'tap';
import { DNS_TYPES, decodeMessage, decodeName, encodeName, encodeQuery } from '../../src/agent/checks/dns-wire';
import { createProber } from '../../src/agent/checks/probe';
import type { DnsCheck } from '../../src/agent/checks/types';
import { leakedHandles, udpServer } from './checks-servers';

const dns: DnsCheck = {
  kind: 'dns',
  intervalMs: 1000,
  timeoutMs: 300,
  rise: 1,
  fall: 1,
  initial: 'down',
  query: 'example.com',
  type: 'A',
  expectRcode: ['NOERROR'],
};

t.test('encodeQuery: exact bytes (as dig sends them, without EDNS)', async (t) => {
  const q = encodeQuery(0x1234, 'example.com', DNS_TYPES.A);
  t.equal(q.toString('hex'), '12340100000100000000000007' + Buffer.from('example').toString('hex') + '03' + Buffer.from('com').toString('hex') + '0000010001');
  t.equal(encodeQuery(1, '.', DNS_TYPES.NS).toString('hex'), '000101000001000000000000' + '00' + '0002' + '0001');
  t.same(encodeName('a.b.'), encodeName('a.b'));
  t.throws(() => encodeName('a..b'), /empty label/);
  t.throws(() => encodeName('x'.repeat(64) + '.com'), /longer than 63/);
  t.throws(() => encodeName(Array(130).fill('ab').join('.')), /longer than 255/);
});

t.test('decodeMessage: header and question, round trip', async (t) => {
  const m = decodeMessage(encodeQuery(0xbeef, 'www.Example.org', DNS_TYPES.AAAA))!;
  t.same(m, {
    id: 0xbeef, qr: false, opcode: 0, tc: false, rd: true, rcode: 0,
    qdcount: 1, ancount: 0, nscount: 0, arcount: 0,
    question: { name: 'www.Example.org.', type: 28, class: 1 },
    end: 12 + 17 + 4,
  });
  t.equal(decodeMessage(Buffer.alloc(11)), undefined, 'short header');
  const truncated = encodeQuery(1, 'example.com', 1).subarray(0, 20);
  t.equal(decodeMessage(truncated), undefined, 'question cut short');
});

t.test('decodeName follows compression pointers and refuses loops', async (t) => {
  // "example.com" at 0, then "www" + pointer to 0.
  const buf = Buffer.concat([encodeName('example.com'), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 0x00])]);
  t.same(decodeName(buf, 13), { name: 'www.example.com.', end: 19 });
  t.equal(decodeName(Buffer.from([0xc0, 0x00]), 0), undefined, 'pointer to itself');
  t.equal(decodeName(Buffer.from([5, 0x61]), 0), undefined, 'label past the end');
});

/** A DNS server: answers with `rcode` and one answer record per query (or stays silent). */
function answerWith(rcode: number | undefined, tweak: (reply: Buffer) => Buffer[] = (r) => [r]) {
  return (msg: Buffer): Buffer[] | undefined => {
    if (rcode === undefined) return undefined;
    const q = decodeMessage(msg)!;
    const reply = Buffer.from(msg.subarray(0, q.end));
    reply.writeUInt16BE(0x8000 | 0x0100 | 0x0080 | rcode, 2); // QR, RD, RA, rcode
    reply.writeUInt16BE(rcode === 0 ? 1 : 0, 6);
    const answer = rcode === 0 ? Buffer.from('c00c000100010000003c00045db8d822', 'hex') : Buffer.alloc(0);
    return tweak(Buffer.concat([reply, answer]));
  };
}

t.test('NOERROR is healthy; the query is the one configured', async (t) => {
  const s = await udpServer(answerWith(0));
  t.teardown(() => s.close());
  const r = await createProber({ address: '127.0.0.1', port: s.port }, { ...dns, type: 'AAAA', query: 'svc.example.' })();
  t.same([r.ok, r.reason], [true, 'NOERROR, 1 answer']);
  t.same(decodeMessage(s.received[0]!)!.question, { name: 'svc.example.', type: 28, class: 1 });
});

t.test('NXDOMAIN fails unless accepted', async (t) => {
  const s = await udpServer(answerWith(3));
  t.teardown(() => s.close());
  const at = { address: '127.0.0.1', port: s.port };
  t.same(await createProber(at, dns)().then((r) => [r.ok, r.reason]), [false, 'rcode NXDOMAIN']);
  t.same(await createProber(at, { ...dns, expectRcode: ['NOERROR', 'NXDOMAIN'] })().then((r) => [r.ok, r.reason]), [true, 'NXDOMAIN, 0 answers']);
});

t.test('SERVFAIL and REFUSED are named', async (t) => {
  for (const [code, name] of [[2, 'SERVFAIL'], [5, 'REFUSED']] as const) {
    const s = await udpServer(answerWith(code));
    t.equal((await createProber({ address: '127.0.0.1', port: s.port }, dns)()).reason, `rcode ${name}`);
    await s.close();
  }
});

t.test('a server that does not answer times out', async (t) => {
  const s = await udpServer(answerWith(undefined));
  t.teardown(() => s.close());
  const r = await createProber({ address: '127.0.0.1', port: s.port }, { ...dns, timeoutMs: 150 })();
  t.same([r.ok, r.reason], [false, 'timeout after 150 ms (reply)']);
});

t.test('replies that do not answer this query are ignored', async (t) => {
  // A reply with the wrong id, one for another question, then the real one.
  const s = await udpServer(
    answerWith(0, (good) => {
      const wrongId = Buffer.from(good);
      wrongId.writeUInt16BE((good.readUInt16BE(0) + 1) & 0xffff, 0);
      const otherName = Buffer.from(good);
      otherName[13] = 0x78; // first letter of the name
      const notResponse = Buffer.from(good);
      notResponse[2]! &= 0x7f;
      return [wrongId, otherName, notResponse, good];
    }),
  );
  t.teardown(() => s.close());
  const r = await createProber({ address: '127.0.0.1', port: s.port }, dns)();
  t.same([r.ok, r.reason], [true, 'NOERROR, 1 answer']);
  // The same lies without the real answer: the probe waits them out.
  const liar = await udpServer(answerWith(3, (good) => {
    const wrongId = Buffer.from(good);
    wrongId.writeUInt16BE((good.readUInt16BE(0) + 1) & 0xffff, 0);
    return [wrongId, Buffer.from('junk')];
  }));
  t.teardown(() => liar.close());
  t.equal((await createProber({ address: '127.0.0.1', port: liar.port }, { ...dns, timeoutMs: 100 })()).reason, 'timeout after 100 ms (reply)');
});

t.test('the name in the echoed question may differ in case (0x20 randomisation)', async (t) => {
  const s = await udpServer(answerWith(0, (good) => {
    const upper = Buffer.from(good);
    upper[13] = upper[13]! & ~0x20;
    return [upper];
  }));
  t.teardown(() => s.close());
  t.equal((await createProber({ address: '127.0.0.1', port: s.port }, dns)()).ok, true);
});

t.test('every query has a fresh id', async (t) => {
  const s = await udpServer(answerWith(0));
  t.teardown(() => s.close());
  const p = createProber({ address: '127.0.0.1', port: s.port }, dns);
  for (let i = 0; i < 8; i++) await p();
  t.ok(new Set(s.received.map((b) => b.readUInt16BE(0))).size >= 7, 'ids vary');
});

t.test('leaves no socket or timer behind', async (t) => {
  const s = await udpServer(answerWith(0));
  const quiet = await udpServer(answerWith(undefined));
  t.teardown(async () => {
    await s.close();
    await quiet.close();
  });
  const leaked = await leakedHandles(() =>
    Promise.all([
      createProber({ address: '127.0.0.1', port: s.port }, dns)(),
      createProber({ address: '127.0.0.1', port: quiet.port }, { ...dns, timeoutMs: 50 })(),
    ]),
  );
  t.same(leaked, []);
});
