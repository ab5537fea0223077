// The /proc parsers (src/ipvs/proc.ts). The first five connection lines and
// the totals are what Linux 6.1 printed in UML for real connections
// (through NAT, persistent, IPv6, a mixed-family tunnel); the SIP and
// firewall-mark template lines follow ip_vs_conn_seq_show's format string
// (no traffic for them was possible in the guest).
import t from 'tap';
import { blankDestinationRule } from '../../src/ipvs/codec';
import type { DestinationRule, ServiceKey } from '../../src/ipvs/model';
import { parseConnections, parseTotals, procServiceName, ProcRuleTable } from '../../src/ipvs/proc';

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

// What Linux 6.1 printed in UML for: an IPv6 UDP service with an IPv4
// tunnel and an IPv6 NAT real server, a persistent SCTP service without real
// servers, a TCP service with the `none` scheduler, and firewall mark 7 in
// both families (trailing blanks as printed). Then a one-packet service, a
// Local and a Route real server, a weight of 0, written to the same format.
const RULES = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
  'UDP  [2001:0db8:0000:0000:0000:0000:0000:0010]:0035 sh ',
  '  -> C6336409:0035      Tunnel  1      0          0         ',
  '  -> [2001:0db8:0000:0000:0000:0000:0000:0020]:0035      Masq    1      0          0         ',
  'SCTP  CB007102:0009 mh  persistent 6000 FFFFFFFF',
  'TCP  CB007103:01BB none  ',
  '  -> C6336405:01BB      Masq    1      0          0         ',
  'FWM  00000007 rr ',
  '  -> [2001:0db8:0000:0000:0000:0000:0000:0030]:0000      Route   1      0          0         ',
  'FWM  00000007 rr ',
  '  -> C6336404:0000      Route   1      0          0         ',
  'UDP  CB00710A:0035 rr ops  ',
  '  -> C6336402:0035      Local   0      3          12        ',
  '  -> C6336403:0035      Route   65535  0          0         ',
  '  -> [2001:0db8:0001:0000:0000:0000:0000:0005]:0035      Masq    7      0          0         ',
  '',
].join('\n');

const read = (table: ProcRuleTable, key: ServiceKey, family: 'ipv4' | 'ipv6'): DestinationRule[] | false => {
  const out: DestinationRule[] = [];
  return table.destinations(procServiceName(key, family), blankDestinationRule, out) ? out : false;
};
const plain = (forwarding: string, weight: number) => ({
  forwarding,
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
  tunnelType: 'ipip',
  tunnelPort: 0,
  tunnelCsum: false,
  tunnelRemcsum: false,
});

t.test('service names as ip_vs_info_seq_show prints them', async (t) => {
  t.equal(procServiceName({ protocol: 'tcp', address: '203.0.113.3', port: 443 }, 'ipv4'), 'TCP  CB007103:01BB');
  t.equal(procServiceName({ protocol: 'udp', address: '2001:db8::10', port: 53 }, 'ipv6'), 'UDP  [2001:0db8:0000:0000:0000:0000:0000:0010]:0035');
  t.equal(procServiceName({ protocol: 'sctp', address: '203.0.113.2', port: 9 }, 'ipv4'), 'SCTP  CB007102:0009');
  t.equal(procServiceName({ fwmark: 0x80000001, family: 'ipv6' }, 'ipv6'), 'FWM  80000001');
  t.equal(procServiceName({ protocol: 50, address: '203.0.113.3', port: 0 }, 'ipv4'), 'IP_50  CB007103:0000');
});

t.test('the rule table: real servers where the file says everything, false where it does not', async (t) => {
  const table = new ProcRuleTable(Buffer.from(RULES, 'latin1'));
  t.same(read(table, { protocol: 'tcp', address: '203.0.113.3', port: 443 }, 'ipv4'), [
    { key: { address: '198.51.100.5', port: 443 }, family: 'ipv4', config: plain('masq', 1) },
  ]);
  t.same(read(table, { protocol: 'sctp', address: '203.0.113.2', port: 9 }, 'ipv4'), [], 'a service without real servers');
  t.same(read(table, { protocol: 'udp', address: '203.0.113.10', port: 53 }, 'ipv4'), [
    { key: { address: '198.51.100.2', port: 53 }, family: 'ipv4', config: plain('local', 0) },
    { key: { address: '198.51.100.3', port: 53 }, family: 'ipv4', config: plain('route', 65535) },
    { key: { address: '2001:db8:1::5', port: 53 }, family: 'ipv6', config: plain('masq', 7) },
  ]);
  t.equal(read(table, { protocol: 'udp', address: '2001:db8::10', port: 53 }, 'ipv6'), false, 'a tunnel: its settings are not in the file');
  t.equal(read(table, { fwmark: 7, family: 'ipv4' }, 'ipv4'), false, 'a mark both families use');
  t.equal(read(table, { fwmark: 7, family: 'ipv6' }, 'ipv6'), false);
  t.equal(read(table, { protocol: 'tcp', address: '203.0.113.9', port: 80 }, 'ipv4'), false, 'a service the file does not have');
});

t.test('the rule table: anything it cannot read is left to netlink, and a failed read leaves the list as it was', async (t) => {
  const key: ServiceKey = { protocol: 'tcp', address: '203.0.113.3', port: 443 };
  const bad = (line: string): DestinationRule[] | false =>
    read(new ProcRuleTable(Buffer.from(['IP Virtual Server version 1.2.1 (size=4096)', 'Prot', '  ->', 'TCP  CB007103:01BB none  ', '  -> C6336405:01BB      Masq    1      0          0         ', line, ''].join('\n'), 'latin1')), key, 'ipv4');
  t.equal(bad('  -> C633640:01BB      Masq    1      0          0         '), false, 'a short address');
  t.equal(bad('  -> C6336405:01BB      Bypass  1      0          0         '), false, 'an unknown method');
  t.equal(bad('  -> C6336405:01BB      Masq    x      0          0         '), false, 'a weight that is not a number');
  t.equal(bad('  -> [2001:db8::zz]:01BB      Masq    1      0          0         '), false, 'a bad IPv6 address');
  t.equal(read(new ProcRuleTable(Buffer.from('something else\n' + RULES.split('\n').slice(1).join('\n'))), key, 'ipv4'), false, 'not the file expected');
  const out: DestinationRule[] = [blankDestinationRule()];
  const table = new ProcRuleTable(Buffer.from(RULES, 'latin1'));
  t.equal(table.destinations(procServiceName({ protocol: 'udp', address: '2001:db8::10', port: 53 }, 'ipv6'), blankDestinationRule, out), false);
  t.equal(out.length, 1, 'what was there before stays');
});
