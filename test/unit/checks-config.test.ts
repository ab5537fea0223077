import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { CheckConfigError, checkFromConfig, parseCheckConfig } from '../../src/agent/checks/config';
import { formatDuration, parseDuration } from '../../src/agent/checks/duration';
import type { CheckSpec } from '../../src/agent/checks/types';

const common = { intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3, initial: 'down' };

function ok(raw: unknown): CheckSpec {
  const r = parseCheckConfig(raw, 'check');
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
  return r.check;
}

function errors(raw: unknown, path = 'check'): string[] {
  const r = parseCheckConfig(raw, path);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

t.test('defaults for each kind', async (t) => {
  t.same(ok({ type: 'http' }), { kind: 'http', ...common, method: 'GET', path: '/', expectStatus: [200], tlsVerify: true });
  t.same(ok({ type: 'https' }), { kind: 'https', ...common, method: 'GET', path: '/', expectStatus: [200], tlsVerify: true });
  t.same(ok({ type: 'tcp' }), { kind: 'tcp', ...common });
  t.same(ok({ type: 'udp', send: 'ping' }), { kind: 'udp', ...common, send: 'ping' });
  t.same(ok({ type: 'dns' }), { kind: 'dns', ...common, query: '.', type: 'A', expectRcode: ['NOERROR'] });
  t.same(ok({ type: 'exec', command: ['/usr/bin/check', '{address}'] }), { kind: 'exec', ...common, argv: ['/usr/bin/check', '{address}'] });
});

t.test('everything set, from YAML as a person writes it', async (t) => {
  const http = parseYaml(`
    type: https
    interval: 5s
    timeout: 1500ms
    rise: 3
    fall: 2
    initial: up
    address: 2001:DB8::10
    port: 8443
    method: HEAD
    path: /healthz?full=1
    host: www.example.com
    expect:
      status: [200, "300-302", 2xx]
      body: "^ok"
    tls:
      verify: false
      sni: api.example.com
  `);
  t.same(ok(http), {
    kind: 'https',
    intervalMs: 5000,
    timeoutMs: 1500,
    rise: 3,
    fall: 2,
    initial: 'up',
    port: 8443,
    address: '2001:db8::10',
    method: 'HEAD',
    path: '/healthz?full=1',
    expectStatus: [...Array.from({ length: 100 }, (_, i) => 200 + i), 300, 301, 302],
    tlsVerify: false,
    host: 'www.example.com',
    expectBody: '^ok',
    sni: 'api.example.com',
  });
  t.same(ok(parseYaml('{ type: udp, send: "hex:01 02", expect: { reply: "^pong" } }')), { kind: 'udp', ...common, send: 'hex:01 02', expect: '^pong' });
  t.same(ok(parseYaml('{ type: dns, query: { name: example.com., type: aaaa }, expect: { rcode: [NOERROR, nxdomain] } }')), {
    kind: 'dns',
    ...common,
    query: 'example.com.',
    type: 'AAAA',
    expectRcode: ['NOERROR', 'NXDOMAIN'],
  });
  t.same(ok({ type: 'dns', expect: { rcode: 'SERVFAIL' } }), { kind: 'dns', ...common, query: '.', type: 'A', expectRcode: ['SERVFAIL'] }, 'one rcode for a list of one');
  t.same((ok({ type: 'http', expect: { status: 204 } }) as { expectStatus: number[] }).expectStatus, [204]);
});

t.test('errors name their path, and all are reported at once', async (t) => {
  t.same(errors({ type: 'http', interval: 2, timeout: '1 s', rise: 0, fall: 1.5, initial: 'maybe', port: 70000 }, 'services[2].realServers[0].check'), [
    'services[2].realServers[0].check.interval: must be a duration like 2s, 500ms or 1m30s, not 2',
    'services[2].realServers[0].check.timeout: must be a duration like 2s, 500ms or 1m30s, not "1 s"',
    'services[2].realServers[0].check.rise: must be between 1 and 100, not 0',
    'services[2].realServers[0].check.fall: must be a whole number, not 1.5',
    'services[2].realServers[0].check.initial: must be one of up, down, not "maybe"',
    'services[2].realServers[0].check.port: must be between 1 and 65535, not 70000',
  ]);
});

t.test('unknown keys are errors, including keys of another kind', async (t) => {
  t.same(errors({ type: 'tcp', path: '/', colour: 'red' }), [
    'check.path: unknown key (type tcp takes type, interval, timeout, rise, fall, initial, address, port)',
    'check.colour: unknown key (type tcp takes type, interval, timeout, rise, fall, initial, address, port)',
  ]);
  t.same(errors({ type: 'http', tls: { verify: false } }), [
    'check.tls: unknown key (type http takes type, interval, timeout, rise, fall, initial, address, port, method, path, host, expect)',
  ]);
  t.same(errors({ type: 'https', expect: { status: 200, reply: 'x' }, tls: { verify: 'no', ca: 'x' } }), [
    'check.expect.reply: unknown key (type https takes status, body)',
    'check.tls.ca: unknown key (tls takes verify, sni)',
    'check.tls.verify: must be true or false, not "no"',
  ]);
});

t.test('type', async (t) => {
  t.same(errors({}), ['check.type: required: one of http, https, tcp, udp, dns, exec']);
  t.same(errors({ type: 'icmp' }), ['check.type: must be one of http, https, tcp, udp, dns, exec, not "icmp"']);
  t.same(errors('http'), ['check: must be a mapping (key: value), not "http"']);
  t.same(errors(null), ['check: must be a mapping (key: value), not null']);
  t.same(errors([]), ['check: must be a mapping (key: value), not a list']);
});

t.test('durations: bounds, and the timeout within the interval', async (t) => {
  t.same(errors({ type: 'tcp', interval: '1s', timeout: '2s' }), ['check.timeout: must not exceed the interval (1s)']);
  t.same(errors({ type: 'tcp', interval: '50ms' }), ['check.interval: must be between 100ms and 24h, not 50ms']);
  t.same(errors({ type: 'tcp', timeout: '5ms' }), ['check.timeout: must be between 10ms and 24h, not 5ms']);
  t.same(ok({ type: 'tcp', interval: '1m30s', timeout: '1.5s' }), { kind: 'tcp', ...common, intervalMs: 90_000, timeoutMs: 1500 });
});

t.test('http fields', async (t) => {
  t.same(errors({ type: 'http', method: 'GET /x', path: 'health', host: 'a b' }), [
    'check.method: must be an HTTP method like GET or HEAD, not "GET /x"',
    'check.path: must start with / and hold no spaces or control characters (percent-encode them), not "health"',
    'check.host: must be a host name without spaces, not "a b"',
  ]);
  t.same(errors({ type: 'http', path: '/a\r\nX-Injected: 1' }), [
    'check.path: must start with / and hold no spaces or control characters (percent-encode them), not "/a\\r\\nX-Injected: 1"',
  ]);
  t.same(errors({ type: 'http', expect: { status: [200, '399-300', 'abc', 99, '6xx'], body: '(' } }), [
    'check.expect.status[1]: must be a status code (200), a range ("300-399") or a class ("2xx"), not "399-300"',
    'check.expect.status[2]: must be a status code (200), a range ("300-399") or a class ("2xx"), not "abc"',
    'check.expect.status[3]: must be a status code (200), a range ("300-399") or a class ("2xx"), not 99',
    'check.expect.status[4]: must be a status code (200), a range ("300-399") or a class ("2xx"), not "6xx"',
    'check.expect.body: must be a regular expression: Invalid regular expression: /(/: Unterminated group',
  ]);
  t.same(errors({ type: 'http', expect: { status: [] } }), ['check.expect.status: must accept at least one status code']);
  t.same(errors({ type: 'https', tls: { sni: '127.0.0.1' } }), ['check.tls.sni: must be a DNS name (not an address), not "127.0.0.1"']);
  t.same(errors({ type: 'http', address: 'web1.example' }), ['check.address: must be an IPv4 or IPv6 address, not "web1.example"']);
  t.same(errors({ type: 'http', expect: 'ok' }), ['check.expect: must be a mapping (key: value), not "ok"']);
});

t.test('udp, dns and exec fields', async (t) => {
  t.same(errors({ type: 'udp' }), ['check.send: required: the payload to send (text, or hex: followed by bytes)']);
  t.same(errors({ type: 'udp', send: 'hex:xyz' }), ['check.send: must be hex bytes after hex: (like hex:0a1b), not "hex:xyz"']);
  t.same(errors({ type: 'udp', send: '' }), ['check.send: must not be empty']);
  t.same(errors({ type: 'dns', query: { name: 'a..b', type: 'HINFO' }, expect: { rcode: ['NOERROR', 'BOGUS'] } }), [
    "check.query.name: must be a domain name: 'a..b' has an empty label",
    'check.query.type: must be one of A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, ANY, not "HINFO"',
    'check.expect.rcode[1]: must be one of NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH, NOTZONE, not "BOGUS"',
  ]);
  t.same(errors({ type: 'dns', query: 'example.com' }), ['check.query: must be a mapping (key: value), not "example.com"']);
  t.same(errors({ type: 'exec' }), ['check.command: required: the program and its arguments, as a list']);
  t.same(errors({ type: 'exec', command: '/usr/bin/check {address}' }), [
    'check.command: must be a list (the program and its arguments; no shell runs it), like ["/usr/bin/check", "{address}"]',
  ]);
  t.same(errors({ type: 'exec', command: [] }), ['check.command: must be a non-empty list: the program and its arguments']);
  t.same(errors({ type: 'exec', command: ['/bin/check', '', { a: 1 }] }), [
    'check.command[1]: must be a non-empty string, not ""',
    'check.command[2]: must be a non-empty string, not a mapping',
  ]);
  t.same((ok({ type: 'exec', command: ['/bin/check', '-p', 8080] }) as { argv: string[] }).argv, ['/bin/check', '-p', '8080'], 'numbers in argv become text');
});

t.test('checkFromConfig throws a CheckConfigError with every issue', async (t) => {
  t.same(checkFromConfig({ type: 'tcp' }, 'x'), { kind: 'tcp', ...common });
  try {
    checkFromConfig({ type: 'tcp', rise: 'a', fall: 'b' }, 'x.check');
    t.fail('did not throw');
  } catch (err) {
    t.ok(err instanceof CheckConfigError);
    const e = err as CheckConfigError;
    t.same(e.errors.map((i) => i.path), ['x.check.rise', 'x.check.fall']);
    t.equal(e.message, 'x.check.rise: must be a whole number, not "a"\nx.check.fall: must be a whole number, not "b"');
  }
});

t.test('parseDuration / formatDuration', async (t) => {
  const cases: [string, number | undefined][] = [
    ['2s', 2000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['0.1s', 100],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['2', undefined],
    ['', undefined],
    ['1.5ms', undefined],
    ['s', undefined],
    ['-1s', undefined],
    ['1 s', undefined],
    ['1d', undefined],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, text);
  for (const ms of [0, 1, 999, 1000, 1500, 90_000, 3_600_000, 3_661_001]) t.equal(parseDuration(formatDuration(ms)), ms, `round trip ${ms}`);
  t.equal(formatDuration(90_000), '1m30s');
});
