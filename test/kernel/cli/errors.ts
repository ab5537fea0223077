/**
 * Every usage error, parse error and kernel refusal, run through ipvsadm
 * and through ipvs on identical namespaces: the same stdout, stderr, exit
 * status and resulting kernel state (ipvsadm is the oracle).
 */
import t, { type Test } from 'tap';
import { withNetns, type Netns } from '../harness';
import { IPVS, asIpvs, setup, shown, stateOf } from '../cli-helpers';


const SVC = '-t 192.0.2.10:80';
/** A namespace with a few services and real servers to refuse things against. */
const BASE = [
  `ipvsadm -A ${SVC} -s rr`,
  `ipvsadm -a ${SVC} -r 198.51.100.2 -m -w 2`,
  'ipvsadm -A -u [2001:db8::10]:53 -s sh -p 60',
  'ipvsadm -a -u [2001:db8::10]:53 -r [2001:db8:1::2]:53 -g',
  'ipvsadm -A -f 5 -s wlc',
];

interface Case {
  args: string;
  setup?: readonly string[];
}

const usage: string[] = [
  // command position and popt errors
  'foo', '--foo', '-n', '-q', '-L --foo', '-Lq', '-L -q', '-Lnq', '-L -h', '-L -v', '-L -A', '-A -E', '-A -L',
  '-L --start-daemon master', '--list=foo -n', '-L extra', '-L -- -n', '-L -n -n', '-L --sort --sort -n',
  '-L -n=1', '-L --numeric=x', '-Ln=', '-L=n', '-A -t=192.0.2.1:80 -s=rr', '-A -t= -s rr', '--set=1 2 3',
  '-A -t', '-A --tcp-service', '-a -t 192.0.2.1:80 -r', '-A -t 192.0.2.1:80 -s', '-L -', '-l', '-lnt 192.0.2.1:80',
  // services
  '-A', '-A -s rr', '-E', '-D', '-A -t 192.0.2.1', '-A -t 192.0.2.1:80 -t 192.0.2.1:81', '-A -t 192.0.2.1:80 -f 3',
  '-A -t 300.1.1.1:80', '-A -t 192.0.2.1:99999', '-A -t 192.0.2.1:-1', '-A -t 192.0.2.1:nosuchservice',
  '-A -t [2001:db8::1]', '-A -t [2001:db8::1', '-A -t [1.2.3.4]:80', '-A -t 80', '-A -t ""', '-A -t :80',
  '-A -t 192.0.2.1:80 -o', '-A -t 192.0.2.1:0 -s rr', '-A -u 192.0.2.1:0 -o', '-A -f 0', '-A -f -1',
  '-A -f 4294967296', '-A -f 12abc', '-A -f ""', '-A -6 -f 1', '-A -t 192.0.2.1:80 -6',
  '-A -t 192.0.2.1:80 -p 0', '-A -t 192.0.2.1:80 -p 2678401', '-A -t 192.0.2.1:80 -p x', '-A -t 192.0.2.1:80 -p -1',
  '-A -t [2001:db8::1]:80 -M 129 -p', '-A -t [2001:db8::1]:80 -M 0 -p', '-A -t [2001:db8::1]:80 -M -5 -p',
  '-A -f 1 -6 -M 200', '-A -t 192.0.2.1:80 -b foo', '-A -t 192.0.2.1:80 -b sh-port', '-A -t 192.0.2.1:80 -s sh -b sh-port,mh-port',
  '-A -t 192.0.2.1:80 -s mh -b sh-fallback', '-A -t 192.0.2.1:80 -b flag-1,,flag-4', '-A -t 192.0.2.1:80 -r 198.51.100.2',
  '-A -t 192.0.2.1:80 -w 1', '-A -t 192.0.2.1:80 -n', '-A -t 192.0.2.1:80 -s rr -s wlc', '-D -t 192.0.2.1:80 -s rr',
  '-D -t 192.0.2.1:80 -p', '-E -t 192.0.2.1:80 --pe sip', '-A -t 192.0.2.1:80 -c',
  // real servers
  '-a', '-a -t 192.0.2.1:80', '-a -r 198.51.100.2', '-a -t 192.0.2.1:80 -r 198.51.100.2 -w -1',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -w 2147483648', '-a -t 192.0.2.1:80 -r 198.51.100.2 -w x',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -x abc', '-a -t 192.0.2.1:80 -r 198.51.100.2 -y 2147483648',
  '-a -t 192.0.2.1:80 -r [2001:db8::2]:80 -m', '-a -t 192.0.2.1:80 -r 198.51.100.2 --tun-type gue',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -m --tun-csum', '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gue',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-port 5', '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-csum',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gre --tun-remcsum',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gre --tun-port 9',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gue --tun-port 5 --tun-csum --tun-nocsum',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type foo', '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gue --tun-port 0',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gue --tun-port 65536', '-a -t 192.0.2.1:80 -r 198.51.100.2 -m -g',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -r 198.51.100.3', '-a -t 192.0.2.1:80 -r 300.0.0.1', '-a -t 192.0.2.1:80 -r 198.51.100.2:x',
  '-a -t 192.0.2.1:80 -r 198.51.100.2 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2 --tun-info',
  '-d -t 192.0.2.1:80 -r 198.51.100.2 -w 1', '-d -t 192.0.2.1:80', '-e -t 192.0.2.1:80 -r 198.51.100.2 -p',
  '-a -r 198.51.100.2 -t 192.0.2.1:http -m', '-a -t 192.0.2.1:80 -r 198.51.100.2:http -m',
  // listings
  '-L -c --stats', '-L -c --rate', '-L --timeout --thresholds', '-L --daemon --stats', '-L -c -t 192.0.2.1:80',
  '-L --timeout --daemon', '-L --timeout -c', '-L --timeout --persistent-conn', '-L --daemon --persistent-conn',
  '-L -s rr', '-L -r 198.51.100.2', '-L -w 1', '-L -6', '-L -o', '-L --tun-type ipip', '-L --mcast-interface eth0',
  '-L --stats --stats', '-S -c', '-S --nosort', '-S --stats', '-S -t 192.0.2.1:80', '-S -n -n', '-C -n', '-C -t 192.0.2.1:80',
  '-Z -n', '-Z -t 192.0.2.1:80 -s rr', '-R -n', '-R -t 192.0.2.1:80',
  // timeouts and daemons
  '--set', '--set 1 2', '--set 1 2 3 4', '--set 1 2 x', '--set 1 2 2678401', '--set -1 2 3', '--set 1 2 3 -n',
  '--start-daemon', '--start-daemon foo', '--stop-daemon foo', '--start-daemon master --syncid 256',
  '--start-daemon master --syncid -1', '--start-daemon master --mcast-group 192.0.2.1', '--start-daemon master --mcast-group ff02::1x',
  '--start-daemon master --mcast-group 2001:db8::1', '--start-daemon master --mcast-port 0', '--start-daemon master --mcast-ttl 256',
  '--start-daemon master --sync-maxlen 65508', '--start-daemon master --sync-maxlen 0', '--start-daemon master -n',
  '--stop-daemon master --mcast-interface eth0', '--stop-daemon master --mcast-group 224.0.0.81', '--start-daemon master --start-daemon backup',
];

const refusals: Case[] = [
  { args: `-A ${SVC}` },
  { args: `-A ${SVC} -s rr -p` },
  { args: '-A -t 192.0.2.11:80 -s nosuch' },
  { args: '-A -t 192.0.2.11:80 -s abcdefghijklmnopqrstuvwxyz' },
  { args: '-A -t 192.0.2.11:80 -p --pe nosuch' },
  { args: '-A -t 192.0.2.11:80 -p --pe abcdefghijklmnop' },
  { args: '-A -t 192.0.2.11:80 -p --pe abcdefghijklmnopq' },
  { args: `-A ${SVC} -p --pe abcdefghijklmnopq` },
  { args: `-E ${SVC} -p --pe abcdefghijklmnopq` },
  { args: '-E -t 192.0.2.11:80 -p --pe abcdefghijklmnopq' },
  { args: '-E -t 192.0.2.11:80 -s rr' },
  { args: `-E ${SVC} -s nosuch` },
  { args: '-D -t 192.0.2.11:80' },
  { args: '-D -f 6' },
  { args: '-D -f 5 -6' },
  { args: '-Z -t 192.0.2.11:80' },
  { args: '-Z -t 0.0.0.0:0' },
  { args: '-a -t 192.0.2.11:80 -r 198.51.100.3' },
  { args: `-a ${SVC} -r 198.51.100.2 -m` },
  { args: `-a ${SVC} -r 198.51.100.2:81 -m` },
  { args: `-a ${SVC} -r 198.51.100.2 -g` },
  { args: `-e ${SVC} -r 198.51.100.9 -m` },
  { args: '-e -t 192.0.2.11:80 -r 198.51.100.2 -m' },
  { args: `-d ${SVC} -r 198.51.100.9` },
  { args: '-d -t 192.0.2.11:80 -r 198.51.100.2' },
  { args: `-a ${SVC} -r 0.0.0.0 -m` },
  { args: `-a ${SVC} -r 224.0.0.1 -m` },
  { args: `-a ${SVC} -r 255.255.255.255 -m` },
  { args: `-a ${SVC} -r 198.51.100.3 -m -x 1 -y 5` },
  { args: '-a -t 192.0.2.11:80 -r 198.51.100.3 -m -x 1 -y 5' },
  { args: `-e ${SVC} -r 198.51.100.2 -m -x 1 -y 5` },
  { args: `-e ${SVC} -r 198.51.100.9 -m -x 1 -y 5` },
  { args: `-a ${SVC} -r 198.51.100.3 -m -y 5` },
  { args: `-a ${SVC} -r [2001:db8:1::3]:80 -i` },
  { args: '-a -u [2001:db8::10]:53 -r 198.51.100.4 -i --tun-type gue --tun-port 6080 --tun-remcsum' },
  { args: '--stop-daemon master' },
  { args: '--stop-daemon backup' },
  { args: '--start-daemon master --mcast-interface nosuchif0' },
  { args: '--start-daemon master --mcast-interface dummy0', setup: ['ipvsadm --start-daemon master --mcast-interface dummy0'] },
  { args: '--start-daemon backup --mcast-interface dummy0 --syncid 3' },
  { args: `-a ${SVC} -r [2001:db8:1::3]:80 -i`, setup: ['ipvsadm --start-daemon master --mcast-interface dummy0'] },
  {
    args: '--start-daemon master --mcast-interface dummy0',
    setup: [`ipvsadm -a ${SVC} -r [2001:db8:1::3]:80 -i`],
  },
  { args: '-L -t 192.0.2.11:80' },
  { args: '-L -n -f 9' },
  { args: '-L -n -f 5 -6' },
  { args: '--set 0 0 0' },
  { args: '--set 2678400 2678400 2678400' },
  { args: '-C' },
  { args: '-Z' },
];

/** Runs `args` with ipvsadm in `a` and with ipvs in `b`; the same output, status and resulting state. */
async function compareIn(t: Test, a: Netns, b: Netns, args: string): Promise<void> {
  const ra = await a.exec(`ipvsadm ${args}`);
  const rb = await b.exec(`${IPVS} ${args}`);
  const want = shown(ra);
  want.stdout = asIpvs(want.stdout);
  want.stderr = asIpvs(want.stderr);
  t.same(shown(rb), want, `ipvs ${args}`);
  t.equal(await stateOf(b), await stateOf(a), `state after: ${args}`);
}

const LONG = { timeout: 20 * 60_000 };

t.test('usage and parse errors: same message, status and (unchanged) state as ipvsadm', LONG, async (t) => {
  // Nothing here reaches the kernel: one pair of namespaces serves every case.
  await withNetns(async (a) => {
    await withNetns(async (b) => {
      for (const args of usage) await compareIn(t, a, b, args);
    });
  });
});

t.test('kernel refusals: same message, status and state as ipvsadm', LONG, async (t) => {
  for (const c of refusals) {
    await withNetns(async (a) => {
      await withNetns(async (b) => {
        const lines = [...BASE, ...(c.setup ?? [])];
        await setup(a, lines);
        await setup(b, lines);
        await compareIn(t, a, b, c.args);
      });
    });
  }
});
