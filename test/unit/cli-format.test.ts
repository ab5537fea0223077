import t from 'tap';
import { addrPortName, largenum, serviceLines, title } from '../../src/cli/format';
import { FMT } from '../../src/cli/grammar';
import { toJson } from '../../src/cli/json';
import { zeroRates, zeroStats, type ServiceEntry } from '../../src/ipvs/model';

t.test("largenum: ipvsadm's 9 columns, K/M/G/T above 10^8, every digit with --exact", async (t) => {
  // print_largenum: < 1e8 "%9llu"; < 1e9 "%8lluK" of /1e3; < 1e11 M of /1e6; < 1e14 G of /1e9; else T of /1e12.
  t.equal(largenum(0n, 0), '        0');
  t.equal(largenum(99999999n, 0), ' 99999999');
  t.equal(largenum(100000000n, 0), '  100000K');
  t.equal(largenum(999999999n, 0), '  999999K');
  t.equal(largenum(1000000000n, 0), '    1000M');
  t.equal(largenum(99999999999n, 0), '   99999M');
  t.equal(largenum(100000000000n, 0), '     100G');
  t.equal(largenum(100000000000000n, 0), '     100T');
  t.equal(largenum(18446744073709551615n, 0), '18446744T', '2^64-1');
  t.equal(largenum(12345678n, FMT.EXACT), ' 12345678');
  t.equal(largenum(123456789n, FMT.EXACT), ' 123456789', 'width grows with the digits, one blank before');
  t.equal(largenum(18446744073709551615n, FMT.EXACT), ' 18446744073709551615');
  for (let i = 0n; i < 10n ** 15n; i = i * 7n + 3n) t.equal(largenum(i, 0).length, 9, `always 9 columns (${i})`);
});

t.test('addr:port names: brackets for IPv6, cut at 59 characters', async (t) => {
  t.equal(addrPortName('192.0.2.1', 80, 'tcp', FMT.NUMERIC), '192.0.2.1:80');
  t.equal(addrPortName('2001:db8::1', 0, 'tcp', FMT.NUMERIC), '[2001:db8::1]:0');
  t.equal(addrPortName('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 'tcp', FMT.NUMERIC).length, 47);
});

t.test('service lines: the default listing, -S, and --stats with 64-bit server counters', async (t) => {
  const svc: ServiceEntry = {
    key: { protocol: 'udp', address: '2001:db8::1', port: 53 },
    family: 'ipv6',
    config: { scheduler: 'sh', persistent: true, timeout: 60, netmask: 64, onePacket: true, schedFlags: ['sh-fallback', 'flag-3'], persistenceEngine: 'sip' },
    stats: { ...zeroStats(), conns: 5n },
    rates: zeroRates(),
    statsSource: 'stats64',
    rawFlags: 0,
    destinations: [
      {
        key: { address: '198.51.100.9', port: 53 },
        family: 'ipv4',
        config: { forwarding: 'tunnel', weight: 2147483647, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'gue', tunnelPort: 6080, tunnelCsum: false, tunnelRemcsum: true },
        activeConns: 1,
        inactiveConns: 2,
        persistentConns: 3,
        stats: { ...zeroStats(), conns: 4294967296n + 7n },
        rates: zeroRates(),
        statsSource: 'stats64',
      },
    ],
  };
  const out = (format: number, full = false): string => {
    const o: string[] = [];
    serviceLines(o, svc, format, full ? { thresholds: true } : undefined);
    return o.join('');
  };
  t.equal(
    out(FMT.NUMERIC),
    'UDP  [2001:db8::1]:53 sh (sh-fallback) persistent 60 mask 64 pe sip ops\n' +
      '  -> 198.51.100.9:53              Tunnel  2147483647 1          2         \n',
    'sh has no name for the third flag; the PE shows with persistence',
  );
  t.equal(
    out(FMT.NUMERIC | FMT.RULE),
    '-A -u [2001:db8::1]:53 -s sh -p 60 -M 64 --pe sip -o -b sh-fallback\n' +
      '-a -u [2001:db8::1]:53 -r 198.51.100.9:53 -i -w 2147483647 --tun-type gue --tun-port 6080 --tun-remcsum\n',
  );
  t.match(out(FMT.NUMERIC | FMT.RULE, true), /-b sh-fallback,flag-3\n/, 'save --full names the third flag');
  t.match(out(FMT.NUMERIC | FMT.STATS | FMT.EXACT), /-> 198\.51\.100\.9:53 +4294967303 /, 'all 64 bits of a server counter');
  t.equal(title(FMT.RULE), '');
});

t.test('JSON numbers keep every digit of 64-bit counters', async (t) => {
  const text = toJson({ a: 18446744073709551615n, b: [1n, 'x'], c: 'plain "quoted"' });
  t.equal(text, '{\n  "a": 18446744073709551615,\n  "b": [\n    1,\n    "x"\n  ],\n  "c": "plain \\"quoted\\""\n}');
});
