// The /proc parsers (src/ipvs/proc.ts). The first five connection lines and
// the totals are what Linux 6.1 printed in UML for real connections
// (through NAT, persistent, IPv6, a mixed-family tunnel); the SIP and
// firewall-mark template lines follow ip_vs_conn_seq_show's format string
// (no traffic for them was possible in the guest).
import t from 'tap';
import { parseConnections, parseTotals } from '../../src/ipvs/proc';

const CONN = [
  'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData',
  'UDP C6336401 AD4B CB00710A 0035 C6336403 0035 UDP             298',
  'TCP 2001:0db8:0001:0000:0000:0000:0000:0000 0000 2001:0db8:0002:0000:0000:0000:0000:0010 01BB 2001:0db8:0001:0000:0000:0000:0000:0002 01BB NONE             28',
  'TCP C6336400 0000 CB00710A 0050 C6336402 1F90 NONE             58',
  'TCP 2001:0db8:0001:0000:0000:0000:0000:0001 DF2A 2001:0db8:0002:0000:0000:0000:0000:0010 01BB 2001:0db8:0001:0000:0000:0000:0000:0002 01BB SYN_RECV         59',
  'TCP C6336401 8686 CB00710B 0050 2001:0db8:0001:0000:0000:0000:0000:0009 0050 SYN_RECV         59',
  'TCP C6336400 0000 CB00710C 13C4 C6336406 13C4 ASSURED         120 sip 3c1d9f@203.0.113.12',
  'IP  C6336400 0000 00000005 0000 C6336404 0000 NONE             90',
  '',
].join('\n');

t.test('connections, templates, IPv6 and a mixed-family tunnel', async (t) => {
  const c = parseConnections(CONN);
  t.equal(c.length, 7);
  t.same(c[0], {
    protocol: 'UDP',
    clientAddress: '198.51.100.1',
    clientPort: 0xad4b,
    virtualAddress: '203.0.113.10',
    virtualPort: 53,
    destinationAddress: '198.51.100.3',
    destinationPort: 53,
    state: 'UDP',
    expires: 298,
    template: false,
  });
  t.match(c[1], { protocol: 'TCP', clientAddress: '2001:db8:1::', clientPort: 0, virtualAddress: '2001:db8:2::10', virtualPort: 443, destinationAddress: '2001:db8:1::2', state: 'NONE', template: true });
  t.match(c[2], { clientAddress: '198.51.100.0', clientPort: 0, destinationPort: 8080, template: true, expires: 58 });
  t.match(c[3], { clientAddress: '2001:db8:1::1', clientPort: 0xdf2a, state: 'SYN_RECV', template: false });
  t.match(c[4], { clientAddress: '198.51.100.1', virtualAddress: '203.0.113.11', destinationAddress: '2001:db8:1::9', template: false });
  t.match(c[5], { state: 'ASSURED', template: true, peName: 'sip', peData: '3c1d9f@203.0.113.12', virtualPort: 5060 });
  t.match(c[6], { protocol: 'IP', virtualAddress: '0.0.0.5', template: true });
  t.same(parseConnections('Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n'), [], 'no connections: []');
});

t.test('a line it cannot read is an error naming the line', async (t) => {
  t.throws(() => parseConnections('Pro x\nTCP C6336401 8686 CB00710B'), /line 2: expected at least 9 fields/);
  t.throws(() => parseConnections('TCP C63364 8686 CB00710B 0050 C6336402 0050 NONE 5'), /line 1: bad address field 'C63364'/);
  t.throws(() => parseConnections('TCP C6336401 86866 CB00710B 0050 C6336402 0050 NONE 5'), /line 1: bad port field '86866'/);
});

t.test('totals: hex counters and rates', async (t) => {
  const text = [
    '   Total Incoming Outgoing         Incoming         Outgoing',
    '   Conns  Packets  Packets            Bytes            Bytes',
    '       4        4        0               E5                0',
    '',
    ' Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s',
    '       0        0        0               1D                0',
    '',
  ].join('\n');
  t.strictSame(parseTotals(text), {
    stats: { conns: 4n, inPackets: 4n, outPackets: 0n, inBytes: 0xe5n, outBytes: 0n },
    rates: { cps: 0, inPps: 0, outPps: 0, inBps: 0x1d, outBps: 0 },
  });
  t.same(parseTotals(text.replace('E5', 'FFFFFFFFFFFFFFFF')).stats.inBytes, (1n << 64n) - 1n, '64-bit byte counts');
  t.throws(() => parseTotals('   Total Incoming\n'), /expected a counter line and a rate line/);
});
