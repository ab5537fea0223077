/**
 * The agent's snapshot is ipvsadm's save: for rules loaded with ipvsadm
 * itself, the snapshot of what the client reads back equals `ipvsadm -S -n`
 * byte for byte, order included (ipvsadm sorts; the kernel lists real
 * servers newest first).
 */
import t from 'tap';
import { formatSave, ipvsadmOrder } from '../../../src/agent/save-format';
import { withNetns } from '../harness';

t.test('formatSave(ipvsadmOrder(rules())) equals ipvsadm -S -n', async (t) => {
  await withNetns(async ({ client, sh }) => {
    await sh(
      [
        'ipvsadm -A -t 203.0.113.10:80 -s rr',
        'ipvsadm -a -t 203.0.113.10:80 -r 198.51.100.11:80 -g -w 1',
        'ipvsadm -a -t 203.0.113.10:80 -r 198.51.100.12:8080 -m -w 2',
        'ipvsadm -A -u 203.0.113.10:53 -s wlc -p 300 -M 255.255.255.0 -o',
        'ipvsadm -a -u 203.0.113.10:53 -r 198.51.100.13:53 -i -w 0',
        'ipvsadm -A -f 7 -s sh -b sh-port,sh-fallback -p',
        'ipvsadm -a -f 7 -r 198.51.100.14:0 -i --tun-type gue --tun-port 6080 --tun-nocsum',
        'ipvsadm -A -t [2001:db8:1::10]:443 -s mh -b mh-port -p 60 -M 64',
        'ipvsadm -a -t [2001:db8:1::10]:443 -r [2001:db8:1::11]:443 -m',
        'ipvsadm -A -u 203.0.113.10:5060 -s rr -p 100 --pe sip',
        'ipvsadm -A --sctp-service 203.0.113.10:9 -s fo',
        'ipvsadm -a --sctp-service 203.0.113.10:9 -r 198.51.100.15 -i --tun-type gre --tun-csum',
        'ipvsadm -A -f 8 -6 -s rr',
        // Added out of order, and one whose second address word is 2^31 away from another's (ipvsadm's int comparison wraps).
        'ipvsadm -A -t 192.0.2.1:80 -s rr',
        'ipvsadm -A -t [2001:db8:8001::1]:443 -s rr',
        'ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.30:80 -m',
        'ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.20:81 -m',
        'ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.20:80 -m',
        'ipvsadm -A -f 3 -s rr',
      ].join(' && '),
    );
    const want = await sh('ipvsadm -S -n');
    t.equal(want.split('\n').filter(Boolean).length, 19);
    t.not(formatSave(await client.rules()), want, 'the kernel order is not ipvsadm\'s (so the sort is tested)');
    t.equal(formatSave(ipvsadmOrder(await client.rules())), want);
  });
});
