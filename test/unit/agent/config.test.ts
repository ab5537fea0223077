import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../../src/agent/config/load';
import { ConfigError } from '../../../src/agent/config/validate';
import { formatPath, parsePath } from '../../../src/agent/config/reader';

const root = join(__dirname, '..', '..', '..', '..');
const example = (name: string): string => readFileSync(join(root, 'examples', name), 'utf8');

/** The problems of an invalid configuration, as `path: message` strings. */
function problems(text: string): { path: string; message: string; line?: number }[] {
  try {
    parseConfig(text);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('the configuration was accepted');
}

const base = (svc: string): string => `services:\n  - protocol: tcp\n    address: 192.0.2.10\n    port: 80\n${svc}`;

t.test('the shipped examples are valid and say what they claim', async (t) => {
  const dr = parseConfig(example('dr-rr.yaml'));
  t.equal(dr.services.length, 1);
  const web = dr.services[0]!;
  t.equal(web.config.scheduler, 'rr');
  t.same(web.realServers.map((r) => [r.id, r.config.forwarding, r.config.weight]), [
    ['192.0.2.11:80', 'route', 1],
    ['192.0.2.12:80', 'route', 1],
    ['192.0.2.13:80', 'route', 1],
  ]);
  t.equal(web.realServers[0]!.check?.kind, 'http');
  t.equal(web.realServers[0]!.check?.intervalMs, 1000);
  t.equal(web.realServers[0]!.check?.fall, 2);
  t.equal(web.drain.timeoutMs, 30_000, 'the top-level drain applies to the service');

  const nat = parseConfig(example('nat-wrr.yaml'));
  const app = nat.services[0]!;
  t.equal(app.config.scheduler, 'wrr');
  t.same(app.realServers.map((r) => [r.id, r.config.forwarding, r.config.weight]), [
    ['198.51.100.11:8080', 'masq', 1],
    ['198.51.100.12:8080', 'masq', 2],
  ]);
  t.equal(app.failurePolicy, 'inhibit');
  t.equal(app.sorryServer?.id, '198.51.100.99:8080');
});

t.test('the example of the issue: a negative weight names its path', async (t) => {
  const p = problems(base('    realServers:\n      - address: 192.0.2.11\n      - address: 192.0.2.12\n        weight: -1\n'));
  t.equal(p.length, 1);
  t.equal(p[0]!.path, 'services[0].realServers[1].weight');
  t.match(p[0]!.message, /^must be >= 0/);
  t.equal(p[0]!.line, 8, 'points at the line of the key');
});

t.test('unknown keys are errors, with a suggestion', async (t) => {
  const p = problems(base('    schedular: rr\n    realServers:\n      - address: 192.0.2.11\n        wieght: 2\n'));
  t.same(p.map((x) => x.path), ['services[0].schedular', 'services[0].realServers[0].wieght']);
  t.match(p[0]!.message, /did you mean 'scheduler'/);
  t.match(p[1]!.message, /did you mean 'weight'/);
  t.same(problems('servics: []\n').map((x) => x.path), ['servics', 'services']);
});

t.test('every problem is reported at once', async (t) => {
  const p = problems(`interval: soon
services:
  - protocol: icmp
    address: 192.0.2.300
    port: 70000
    scheduler: fastest
    failurePolicy: ignore
    realServers:
      - address: 192.0.2.11
        forwarding: teleport
        lowerThreshold: 5
      - port: 80
  - fwmark: 0
`);
  t.same(
    p.map((x) => x.path),
    [
      'interval',
      'services[0].protocol',
      'services[0].address',
      'services[0].port',
      'services[0].scheduler',
      'services[0].failurePolicy',
      'services[0].realServers[0].forwarding',
      'services[0].realServers[0].lowerThreshold',
      'services[0].realServers[1].address',
      'services[1].fwmark',
    ],
  );
});

t.test('checks: validated with paths, inherited by real servers, overridable and disableable', async (t) => {
  const c = parseConfig(
    base(`    check: { type: tcp, interval: 500ms, timeout: 200ms, fall: 4 }
    realServers:
      - address: 192.0.2.11
      - address: 192.0.2.12
        check: { type: http, path: /ping, expect: { status: [200, "300-302"] } }
      - address: 192.0.2.13
        check: false
`),
  );
  const [a, b, d] = c.services[0]!.realServers;
  t.same([a!.check?.kind, a!.check?.intervalMs, a!.check?.fall, a!.check?.rise, a!.check?.initial], ['tcp', 500, 4, 2, 'down']);
  t.same([b!.check?.kind, b!.check?.kind === 'http' && b!.check.expectStatus], ['http', [200, 300, 301, 302]]);
  t.equal(d!.check, undefined, 'check: false means unchecked');

  const p = problems(base('    check: { type: http, timeout: -1s, path: health, colour: red, interval: 2 }\n    realServers:\n      - address: 192.0.2.11\n        check: { type: smoke }\n'));
  t.same(p.map((x) => x.path), ['services[0].check.colour', 'services[0].check.interval', 'services[0].check.timeout', 'services[0].check.path', 'services[0].realServers[0].check.type']);
  t.match(p[1]!.message, /must be a duration like 2s/);
});

t.test('durations: units and bare seconds', async (t) => {
  for (const [text, ms] of [['250ms', 250], ['2s', 2000], ['1.5s', 1500], ['5m', 300_000], [3, 3000]] as const) {
    t.equal(parseConfig(`interval: ${text}\nservices: []\n`).intervalMs, ms, String(text));
  }
});

t.test('duplicates: services, real servers, names, the sorry server', async (t) => {
  const p = problems(`services:
  - { name: a, protocol: tcp, address: 192.0.2.10, port: 80, realServers: [{ address: 192.0.2.11 }, { address: 192.0.2.11, port: 80 }] }
  - { name: a, protocol: tcp, address: 192.0.2.10, port: 80, realServers: [{ address: 192.0.2.12 }] }
  - { name: b, protocol: tcp, address: 192.0.2.10, port: 81, sorryServer: { address: 192.0.2.12, port: 81 }, realServers: [{ address: 192.0.2.12 }] }
`);
  t.same(p.map((x) => x.path), ['services[0].realServers[1]', 'services[1]', 'services[1].name', 'services[2].sorryServer']);
  t.match(p[1]!.message, /tcp 192\.0\.2\.10:80 is already configured at services\[0\]/);
});

t.test('a key given twice is a syntax error with its line', async (t) => {
  const p = problems('interval: 1s\ninterval: 2s\nservices: []\n');
  t.equal(p[0]!.path, '(syntax)');
  t.equal(p[0]!.line, 2);
});

t.test('JSON is accepted', async (t) => {
  const c = parseConfig(JSON.stringify({ services: [{ fwmark: 7, family: 'ipv6', scheduler: 'sh', schedFlags: ['sh-port'], persistence: { timeout: 60, netmask: 64 }, realServers: [{ address: '2001:db8::11', check: { type: 'tcp', port: 80 } }] }] }));
  const s = c.services[0]!;
  t.same(s.key, { fwmark: 7, family: 'ipv6' });
  t.same([s.config.persistent, s.config.timeout, s.config.netmask, s.config.schedFlags], [true, 60, 64, ['sh-port']]);
  t.equal(s.realServers[0]!.id, '[2001:db8::11]:0');
});

t.test('kernel rules are enforced before the kernel sees them', async (t) => {
  t.match(problems(base('    realServers: [{ address: 2001:db8::11 }]\n'))[0], { path: 'services[0].realServers[0].address', message: /mixed address families need forwarding: tunnel/ });
  t.match(problems('services: [{ fwmark: 1, realServers: [{ address: 192.0.2.11, check: { type: tcp } }] }]\n')[0], { path: 'services[0].realServers[0].check.port' });
  t.match(problems(base('    port: 0\n').replace('    port: 80\n', ''))[0], { path: 'services[0].port', message: /persistent/ });
  t.match(problems(base('    realServers: [{ address: 192.0.2.11, forwarding: tunnel, tunnel: { type: gue } }]\n'))[0], { path: 'services[0].realServers[0].tunnel.port' });
  t.match(problems(base('    scheduler: rr\n    schedFlags: [sh-port]\n'))[0], { path: 'services[0].schedFlags[0]' });
  t.match(problems(base('    quorum: { min: 2, hysteresis: 2 }\n'))[0], { path: 'services[0].quorum.hysteresis' });
  t.match(problems(base('    quorum: { min: 2, onLost: sorry }\n'))[0], { path: 'services[0].quorum.onLost', message: /sorryServer/ });
  t.match(problems(base('    onePacket: true\n'))[0], { path: 'services[0].onePacket' });
});

t.test('every field the library has for services and real servers can be expressed', async (t) => {
  const c = parseConfig(`drain: { timeout: 1m, udpTimeout: 5s }
services:
  - name: dns
    protocol: udp
    address: 203.0.113.53
    port: 53
    scheduler: mh
    schedFlags: [mh-fallback, mh-port]
    persistence: { timeout: 10m, netmask: 255.255.255.0, engine: sip }
    onePacket: true
    forwarding: tunnel
    failurePolicy: inhibit
    drain: { timeout: 10s }
    sorryServer: { address: 198.51.100.99, forwarding: masq, weight: 5 }
    quorum: { min: 3, hysteresis: 1, onLost: sorry }
    realServers:
      - { address: 198.51.100.11, weight: 7, upperThreshold: 100, lowerThreshold: 50, tunnel: { type: gue, port: 6080, checksum: remcsum } }
      - { address: 198.51.100.12, tunnel: { type: gre, checksum: csum } }
`);
  const s = c.services[0]!;
  t.same(s.config, { scheduler: 'mh', persistent: true, timeout: 600, netmask: '255.255.255.0', onePacket: true, schedFlags: ['mh-fallback', 'mh-port'], persistenceEngine: 'sip' });
  t.same(s.drain, { timeoutMs: 10_000, udpTimeoutMs: 5000 });
  t.same(s.quorum, { min: 3, hysteresis: 1, onLost: 'sorry' });
  t.same(s.sorryServer?.config, { forwarding: 'masq', weight: 5, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false });
  t.same(s.realServers[0]!.config, { forwarding: 'tunnel', weight: 7, upperThreshold: 100, lowerThreshold: 50, tunnelType: 'gue', tunnelPort: 6080, tunnelCsum: false, tunnelRemcsum: true });
  t.same(s.realServers[1]!.config.tunnelType, 'gre');
  t.same(s.realServers[1]!.config.tunnelCsum, true);
});

t.test('the error message lists every problem with path and line', async (t) => {
  try {
    parseConfig(base('    realServers:\n      - address: 192.0.2.11\n        weight: -1\n'), 'agent.yaml');
    t.fail('accepted');
  } catch (e) {
    t.equal((e as Error).message, 'agent.yaml: a problem, nothing was changed:\n  services[0].realServers[0].weight: must be >= 0 (got -1) (line 7)');
  }
});

t.test('printed paths read back into segments (for validators that report strings)', async (t) => {
  for (const p of [['services', 2, 'realServers', 0, 'check', 'expect', 'status', 1], ['interval'], ['services', 0]] as const) {
    t.same(parsePath(formatPath(p)), p);
  }
});
