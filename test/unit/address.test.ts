import t from 'tap';
import { formatAddress, normalizeAddress, parseAddress } from '../../src/ipvs/address';

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
