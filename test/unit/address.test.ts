import t from 'tap';
import { formatAddress, isIPv4Text, isIPv6Text, normalizeAddress, parseAddress } from '../../src/ipvs/address';

// Expected strings are what glibc's inet_ntop prints (ipvsadm uses it).
const cases: [string, string][] = [
  ['203.0.113.10', '203.0.113.10'],
  ['2001:db8::1', '2001:db8::1'],
  ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
  ['::', '::'],
  ['::1', '::1'],
  ['1::', '1::'],
  ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
  ['2001:db8:1:2:3:4:0:5', '2001:db8:1:2:3:4:0:5'], // a single zero group stays
  ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
  ['::192.0.2.1', '::192.0.2.1'],
  ['::ffff:c000:201', '::ffff:192.0.2.1'],
  ['0:0:0:0:0:0:0:2', '::2'],
  ['2001:DB8::ABCD', '2001:db8::abcd'],
];

t.test('formats like inet_ntop', async (t) => {
  for (const [input, want] of cases) t.equal(normalizeAddress(input), want, input);
});

t.test('IPv4 sits in the first four of sixteen bytes', async (t) => {
  const p = parseAddress('198.51.100.7');
  t.equal(p.family, 'ipv4');
  t.same([...p.bytes], [198, 51, 100, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

t.test('IPv6 bytes are network order', async (t) => {
  const p = parseAddress('2001:db8::1');
  t.equal(p.bytes.toString('hex'), '20010db8000000000000000000000001');
  t.equal(formatAddress(p.bytes, 'ipv6'), '2001:db8::1');
});

t.test('rejects what is not an address', async (t) => {
  for (const bad of ['', 'foo', '1.2.3', '256.1.1.1', '1:2:3', 'example.com']) {
    t.throws(() => parseAddress(bad), TypeError, bad);
  }
});

t.test('formats at an offset inside a larger buffer', async (t) => {
  const b = Buffer.concat([Buffer.from([9, 9]), parseAddress('2001:db8::5').bytes]);
  t.equal(formatAddress(b, 'ipv6', 2), '2001:db8::5');
  t.equal(formatAddress(Buffer.from([0, 192, 0, 2, 44]), 'ipv4', 1), '192.0.2.44');
});

t.test('isIPv4Text and isIPv6Text say what node:net says, on generated texts', async (t) => {
  // node:net is the oracle here; the library does without it (start-up under UML).
  const net = await import('node:net');
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)] as T;
  const octet = (): string => pick([String(rnd(256)), String(rnd(10)), '0', '255', '256', '00', '01', '1000', '', '-1', ' 1']);
  const group = (): string => pick([rnd(0x10000).toString(16), rnd(16).toString(16), '0', 'ffff', 'FFFF', '0000', '00000', 'abcd', 'g', '', '12345', 'AbC']);
  const v4 = (): string => Array.from({ length: pick([4, 4, 4, 3, 5]) }, octet).join('.');
  const v6 = (): string => {
    const n = rnd(10);
    const gs = Array.from({ length: n }, group);
    if (rnd(3) === 0) gs.splice(rnd(n + 1), 0, ''); // a "::" somewhere
    if (rnd(4) === 0) gs.push(v4());
    let s = gs.join(':');
    if (rnd(6) === 0) s = `:${s}`;
    if (rnd(6) === 0) s = `${s}:`;
    if (rnd(5) === 0) s += pick(['%eth0', '%1', '%', '%a-b.c:d', '%e th', '%_']);
    return s;
  };
  const alphabet = '0123456789abcdefABCDEF:.%g- ';
  const mutate = (s: string): string => {
    const at = rnd(s.length + 1);
    const c = pick([...alphabet]);
    return pick([s.slice(0, at) + c + s.slice(at), s.slice(0, at) + s.slice(at + 1), s.slice(0, at) + c + s.slice(at + 1)]);
  };
  // Valid ones too, as parseAddress's callers write them.
  const valid = (): string => {
    const b = Buffer.alloc(16);
    for (let k = 0; k < 16; k++) b[k] = rnd(4) === 0 ? rnd(256) : 0;
    return rnd(2) ? formatAddress(b, 'ipv6') : formatAddress(b, 'ipv4');
  };
  let v4yes = 0;
  let v6yes = 0;
  let checked = 0;
  for (let k = 0; k < 60000; k++) {
    let s = pick([v4, v6, valid])();
    if (rnd(2) === 0) s = mutate(s);
    const a4 = isIPv4Text(s);
    const a6 = isIPv6Text(s);
    // The same text inside a longer one, digits on both sides (a restore file's
    // line): nothing outside [from, to) is read.
    const inside = isIPv4Text(`7${s}8`, 1, s.length + 1);
    if (a4 !== net.isIPv4(s) || a6 !== net.isIPv6(s) || inside !== a4) {
      t.fail(`'${s}': isIPv4Text ${a4} (node ${net.isIPv4(s)}, inside a longer text ${inside}), isIPv6Text ${a6} (node ${net.isIPv6(s)})`);
      if (++checked > 20) break;
      continue;
    }
    if (a4) v4yes++;
    if (a6) v6yes++;
  }
  t.equal(checked, 0, 'no text where they differ');
  // Both sides of each answer were exercised.
  t.ok(v4yes > 2000 && v4yes < 55000, `IPv4 texts accepted: ${v4yes}`);
  t.ok(v6yes > 2000 && v6yes < 55000, `IPv6 texts accepted: ${v6yes}`);
  for (const s of ['::', '::1', '1::', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', '::ffff:192.0.2.1', 'fe80::1%eth0', 'fe80::1%a-b.c:D9']) t.ok(isIPv6Text(s), s);
  for (const s of ['1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '1:2:3:4:5:6::1.2.3.4', '::1%', '1.2.3.4::', '::ffff:1.2.3.04', 'fe80::1%e th', 'fe80::1%a_b']) t.notOk(isIPv6Text(s), s);
});
