import t from 'tap';
import { completeDestinationConfig, completeServiceConfig } from '../../../src/ipvs/codec';
import type { DestinationInput, ServiceInput, ServiceKey, ServiceRule } from '../../../src/ipvs/model';
import { formatOperation, formatSave } from '../../../src/agent/save-format';

function rule(key: ServiceKey, cfg: ServiceInput, dests: [string, number, DestinationInput][] = []): ServiceRule {
  const family = 'fwmark' in key ? key.family : key.address.includes(':') ? 'ipv6' : 'ipv4';
  return {
    key,
    family,
    config: completeServiceConfig(family, cfg),
    destinations: dests.map(([address, port, c]) => ({ key: { address, port }, family: address.includes(':') ? 'ipv6' : 'ipv4', config: completeDestinationConfig(c) })),
  };
}

// The expected text is ipvsadm 1.31's `ipvsadm -S -n` for the same rules, captured
// in UML (test/kernel/agent/save-format.ts checks it against the tool live).
t.test('formats like ipvsadm -S -n', async (t) => {
  const rules = [
    rule({ protocol: 'tcp', address: '203.0.113.10', port: 80 }, { scheduler: 'rr' }, [
      ['198.51.100.11', 80, { forwarding: 'route', weight: 1 }],
      ['198.51.100.12', 8080, { forwarding: 'masq', weight: 2 }],
    ]),
    rule({ protocol: 'udp', address: '203.0.113.10', port: 53 }, { scheduler: 'wlc', persistent: true, timeout: 300, netmask: '255.255.255.0', onePacket: true }, [
      ['198.51.100.13', 53, { forwarding: 'tunnel', weight: 0 }],
    ]),
    rule({ protocol: 'udp', address: '203.0.113.10', port: 5060 }, { scheduler: 'rr', persistent: true, timeout: 100, persistenceEngine: 'sip' }),
    rule({ protocol: 'sctp', address: '203.0.113.10', port: 9 }, { scheduler: 'fo' }, [['198.51.100.15', 9, { forwarding: 'tunnel', tunnelType: 'gre', tunnelCsum: true }]]),
    rule({ protocol: 'tcp', address: '2001:db8::10', port: 443 }, { scheduler: 'mh', persistent: true, timeout: 60, netmask: 64, schedFlags: ['mh-port'] }, [['2001:db8::11', 443, { forwarding: 'masq' }]]),
    rule({ fwmark: 7, family: 'ipv4' }, { scheduler: 'sh', persistent: true, schedFlags: ['sh-port', 'sh-fallback'] }, [
      ['198.51.100.14', 0, { forwarding: 'tunnel', tunnelType: 'gue', tunnelPort: 6080 }],
    ]),
    rule({ fwmark: 8, family: 'ipv6' }, { scheduler: 'rr' }),
  ];
  t.equal(
    formatSave(rules),
    `-A -t 203.0.113.10:80 -s rr
-a -t 203.0.113.10:80 -r 198.51.100.11:80 -g -w 1
-a -t 203.0.113.10:80 -r 198.51.100.12:8080 -m -w 2
-A -u 203.0.113.10:53 -s wlc -p 300 -M 255.255.255.0 -o
-a -u 203.0.113.10:53 -r 198.51.100.13:53 -i -w 0 --tun-type ipip
-A -u 203.0.113.10:5060 -s rr -p 100 --pe sip
-A --sctp-service 203.0.113.10:9 -s fo
-a --sctp-service 203.0.113.10:9 -r 198.51.100.15:9 -i -w 1 --tun-type gre --tun-csum
-A -t [2001:db8::10]:443 -s mh -p 60 -M 64 -b mh-port
-a -t [2001:db8::10]:443 -r [2001:db8::11]:443 -m -w 1
-A -f 7 -s sh -p 360 -b sh-fallback,sh-port
-a -f 7 -r 198.51.100.14:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
-A -f 8 -6 -s rr
`,
  );
});

t.test('thresholds are kept (ipvsadm -R accepts them although ipvsadm -S omits them)', async (t) => {
  const r = rule({ protocol: 'tcp', address: '203.0.113.10', port: 80 }, { scheduler: 'rr' }, [['198.51.100.12', 80, { forwarding: 'masq', weight: 2, upperThreshold: 100, lowerThreshold: 50 }]]);
  t.equal(formatSave([r]).split('\n')[1], '-a -t 203.0.113.10:80 -r 198.51.100.12:80 -m -w 2 -x 100 -y 50');
});

t.test('operations print as the ipvsadm command that does them', async (t) => {
  const service: ServiceKey = { protocol: 'tcp', address: '192.0.2.10', port: 80 };
  const destination = { address: '192.0.2.11', port: 80 };
  t.equal(formatOperation({ type: 'delete-destination', service, destination }), 'ipvsadm -d -t 192.0.2.10:80 -r 192.0.2.11:80');
  t.equal(formatOperation({ type: 'edit-destination', service, destination, config: completeDestinationConfig({ weight: 0 }) }), 'ipvsadm -e -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 0');
  t.equal(formatOperation({ type: 'edit-service', service, config: completeServiceConfig('ipv4', { scheduler: 'wrr' }) }), 'ipvsadm -E -t 192.0.2.10:80 -s wrr');
  t.equal(formatOperation({ type: 'delete-service', service: { fwmark: 3, family: 'ipv6' } }), 'ipvsadm -D -f 3 -6');
});
