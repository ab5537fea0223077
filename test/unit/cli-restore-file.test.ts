import t from 'tap';
import { lineWords, readRestoreFile, type RestoreFile } from '../../src/cli/restore';
import { streamLines } from '../../src/cli/replay';

t.test('restore files: comments, blank lines, ipvsadm words, CRLF', async (t) => {
  t.same(lineWords('ipvsadm -A -t 192.0.2.1:80 -s rr\r'), ['-A', '-t', '192.0.2.1:80', '-s', 'rr']);
  t.same(lineWords('-A -t 192.0.2.1:80 -s rr  # the web'), ['-A', '-t', '192.0.2.1:80', '-s', 'rr']);
  t.same(lineWords('   # only a comment'), []);
  t.same(lineWords('-A -t 192.0.2.1:80 -s sh -b '), ['-A', '-t', '192.0.2.1:80', '-s', 'sh'], "ipvsadm-save's bare -b");
});

t.test('a good file becomes the desired rules, with the line of each entry', async (t) => {
  const r = await readRestoreFile(
    [
      '# saved',
      '-A -t 192.0.2.1:http -s rr -p 60 -M 255.255.255.0',
      '-a -t 192.0.2.1:http -r 198.51.100.2 -g -w 3',
      '-a -t 192.0.2.1:80 -r 198.51.100.3:8080 -m -x 10 -y 5',
      '',
      '-A -f -1294967296 -s wlc',
      '-a -f -1294967296 -r 198.51.100.4:0 -i --tun-type gre --tun-csum',
      '--set 100 20 30',
      '--start-daemon master --mcast-interface eth0 --syncid 3',
      '-C',
    ].join('\n'),
  );
  t.notOk('errors' in r, JSON.stringify(r));
  const f = r as RestoreFile;
  t.equal(f.services.length, 2);
  const web = f.services[0];
  t.same(web?.key, { protocol: 'tcp', address: '192.0.2.1', port: 80 }, 'service names resolve through /etc/services');
  t.same(web?.config, { scheduler: 'rr', persistent: true, timeout: 60, netmask: '255.255.255.0', onePacket: false, schedFlags: [] });
  t.same(
    web?.destinations.map((d) => [d.key.address, d.key.port, d.config.forwarding, d.config.weight, d.config.upperThreshold, d.config.lowerThreshold]),
    [
      ['198.51.100.2', 80, 'route', 3, 0, 0],
      ['198.51.100.3', 8080, 'masq', 1, 10, 5],
    ],
  );
  t.equal(f.lineOf(web?.key as object), 2);
  t.equal(f.lineOf(web?.destinations[1]?.key as object), 4);
  t.same(f.services[1]?.key, { fwmark: 3000000000, family: 'ipv4' }, "a negative mark (Debian's ipvsadm-save) is the unsigned mark");
  t.same(f.timeouts, { value: { tcp: 100, tcpFin: 20, udp: 30 }, line: 8 });
  t.same(f.daemons?.get('master'), { daemon: { state: 'master', interface: 'eth0', syncId: 3 }, line: 9 });
});

t.test('every bad line is named, in line order', async (t) => {
  const r = await readRestoreFile(
    ['-a -t 192.0.2.9:80 -r 198.51.100.2', '-A -t 192.0.2.1:80 -s rr', '-A -t 192.0.2.1:80 -s wlc', '-L -n', '-a -t 192.0.2.1:80 -r 198.51.100.2', '-a -t 192.0.2.1:80 -r 198.51.100.2:80'].join('\n'),
  );
  t.same(r, {
    errors: [
      'line 1: service tcp 192.0.2.9:80 has no -A line in this file',
      'line 3: service tcp 192.0.2.1:80 is already defined at line 2',
      "line 4: '-L' is not a rule (a restore file holds -A, -a, --set and --start-daemon lines)",
      'line 6: this real server is already defined at line 5',
    ],
  });
});

t.test("-R input is tokenized as ipvsadm's config_stream_read does", async (t) => {
  const lines = (s: string): string[][] => [...streamLines(s)];
  t.same(lines('-A -t x\n\n  \t\n-L\n'), [['-A', '-t', 'x'], [], [], ['-L']], 'blank lines are empty');
  t.same(lines('ipvsadm -L -n\nipvsadm\n'), [['-L', '-n'], []], 'ipvsadm words are dropped');
  t.same(lines('-A\r\n-L'), [['-A'], ['-L']], 'CR is a blank; a last line without newline counts');
  t.same(lines('-L \t'), [], 'blanks running into the end drop the line, as ipvsadm does');
  t.same(lines(`${'x'.repeat(4100)}\n`), [['x'.repeat(4096), 'xxxx']], 'words are cut at 4096 characters');
});

t.test('services with the same options share a configuration; one option apart, they do not', async (t) => {
  // Each line differs from the one before in one option (or none): read
  // together, each service has the configuration it has when read alone.
  const options = [
    '-s rr',
    '-s rr',
    '-s wlc',
    '-s wlc -p',
    '-s wlc -p 300',
    '-s wlc -p 300 -M 255.255.255.0',
    '-s wlc -p 300 -M 255.255.0.0',
    '-s wlc -p 300 -M 255.255.0.0 --pe sip',
    '-s wlc -p 300 -M 255.255.0.0',
    '-s wlc -o',
    '-s sh -b sh-fallback',
    '-s sh -b sh-port',
    '-s sh',
    '-s mh -b mh-fallback',
    '-s mh -b mh-fallback,mh-port',
    '-s rr',
  ];
  const lines = options.map((o, i) => `-A -u 192.0.2.${i + 1}:53 ${o}`);
  // And IPv6 and fwmark services after IPv4 ones with the same words: another family, another netmask.
  lines.push('-A -u [2001:db8::1]:53 -s rr -p 60', '-A -u 192.0.2.99:53 -s rr -p 60', '-A -f 7 -6 -s rr -p 60', '-A -f 8 -s rr -p 60');
  // A mask of 128.0.0.0 is the bytes of an IPv6 prefix of 128 (host order): only the family tells them apart.
  lines.push('-A -u 192.0.2.98:53 -s rr -p 60 -M 128.0.0.0', '-A -u [2001:db8::2]:53 -s rr -p 60 -M 128');
  const together = (await readRestoreFile(lines.join('\n'))) as RestoreFile;
  t.notOk('errors' in together, JSON.stringify(together));
  let shared = 0;
  for (let i = 0; i < lines.length; i++) {
    const alone = (await readRestoreFile(lines[i] as string)) as RestoreFile;
    t.same(together.services[i]?.config, alone.services[0]?.config, lines[i] as string);
    if (i > 0 && together.services[i]?.config === together.services[i - 1]?.config) shared++;
  }
  t.equal(shared, 1, 'the one pair with the same options shares its configuration object');
});
