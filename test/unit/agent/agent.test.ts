import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import { Agent, subscriptionId } from '../../../src/agent/agent';
import { startHttp, listening, parseListen } from '../../../src/agent/http';
import { parseArgs } from '../../../src/agent/main';
import type { ServiceKey } from '../../../src/ipvs/model';
import { captureLog, FakeIpvs, ScriptedHealth, until, webYaml } from './helpers';

const VIP: ServiceKey = { protocol: 'tcp', address: '192.0.2.10', port: 80 };
const FOREIGN: ServiceKey = { protocol: 'tcp', address: '203.0.113.99', port: 443 };
const ID = (a: string) => `tcp/192.0.2.10:80/${a}:80`;

function yaml(servers: string[], initial = 'up', extra = ''): string {
  return webYaml({ top: 'interval: 60s\n', check: `{ type: http, path: /health, initial: ${initial} }`, extra, servers });
}

async function setup(text: string, opts: { cleanupOnExit?: boolean; kernel?: FakeIpvs } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-agent-test-'));
  const configFile = join(dir, 'agent.yaml');
  writeFileSync(configFile, text);
  const kernel = opts.kernel ?? (await FakeIpvs.open());
  const health = new ScriptedHealth();
  const { log, events, lines } = captureLog();
  const stateDir = join(dir, 'state');
  const agent = new Agent({ configFile, kernel: kernel.port, health, log, stateDir, ...(opts.cleanupOnExit ? { cleanupOnExit: true } : {}) });
  return { dir, configFile, kernel, health, agent, events, lines, stateDir };
}

t.test('start: first pass, snapshot written in ipvsadm -S form, state saved', async (t) => {
  const s = await setup(yaml(['192.0.2.11', '192.0.2.12']));
  const r = await s.agent.start();
  t.equal(r.applied, 3);
  t.equal(
    readFileSync(join(s.stateDir, 'rules.save'), 'utf8'),
    '-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 1\n-a -t 192.0.2.10:80 -r 192.0.2.12:80 -g -w 1\n',
    "ipvsadm's order, not the kernel's newest-first",
  );
  const state = JSON.parse(readFileSync(join(s.stateDir, 'state.json'), 'utf8'));
  t.same(state, { version: 1, owned: [VIP], drains: [] });
  t.same(readdirSync(s.stateDir).sort(), ['rules.save', 'state.json'], 'no temporary files left');
  t.same(s.health.subscriptions.map((x) => [x.id, x.target]), [
    [ID('192.0.2.11'), { address: '192.0.2.11', port: 80 }],
    [ID('192.0.2.12'), { address: '192.0.2.12', port: 80 }],
  ]);
  t.match(s.events('start')[0], { services: 1, realServers: 2 });
  await s.agent.stop();
});

t.test('a health change triggers a pass at once, logged once per state change', async (t) => {
  const s = await setup(yaml(['192.0.2.11', '192.0.2.12']));
  await s.agent.start();
  s.agent.loop();
  s.health.set(ID('192.0.2.12'), false, 'connect ECONNREFUSED', 1.5);
  await until(() => s.kernel.view(VIP)?.length === 1, 1000, 'the failed server to be removed');
  t.same(s.kernel.view(VIP), ['192.0.2.11:80@1']);
  t.match(s.events('health-down'), [{ service: 'web', realServer: '192.0.2.12:80', reason: 'connect ECONNREFUSED', latencyMs: 1.5, check: 'http' }]);
  t.match(s.events('kernel-change').at(-1), { action: 'delete-destination', realServer: '192.0.2.12:80', reason: 'unhealthy: removed' });
  // The snapshot follows the change.
  await s.agent.settle();
  t.equal(readFileSync(join(s.stateDir, 'rules.save'), 'utf8'), '-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 1\n');
  s.health.set(ID('192.0.2.12'), true);
  await until(() => s.kernel.view(VIP)?.length === 2, 1000, 'the server to return');
  t.equal(s.events('health-up').length, 1);
  await s.agent.stop();
});

t.test('restart: real servers serving in the kernel stay while their first probes run', async (t) => {
  const kernel = await FakeIpvs.open();
  await kernel.exec({ type: 'add-service', service: VIP, config: { scheduler: 'rr' } });
  await kernel.exec({ type: 'add-destination', service: VIP, destination: { address: '192.0.2.11', port: 80 } });
  await kernel.exec({ type: 'add-destination', service: VIP, destination: { address: '192.0.2.12', port: 80 }, config: { weight: 0 } });
  // initial: down — a new server must prove itself; 192.0.2.13 is new.
  const s = await setup(yaml(['192.0.2.11', '192.0.2.12', '192.0.2.13'], 'down', '    failurePolicy: inhibit\n'), { kernel });
  const r = await s.agent.start();
  t.equal(r.operations.length, 1, 'only the new server is added (inhibited)');
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@0', '192.0.2.13:80@0']);
  const initial = Object.fromEntries(s.health.subscriptions.map((x) => [x.id, x.check.initial]));
  t.same(initial, { [ID('192.0.2.11')]: 'up', [ID('192.0.2.12')]: 'down', [ID('192.0.2.13')]: 'down' });
  await s.agent.stop();
});

t.test('reload: an invalid file changes nothing and is logged; a valid one is applied', async (t) => {
  const s = await setup(yaml(['192.0.2.11', '192.0.2.12']));
  await s.agent.start();
  const before = JSON.stringify(s.kernel.rules());
  const batches = s.kernel.batches.length;
  writeFileSync(s.configFile, yaml(['192.0.2.11']).replace('scheduler: rr', 'scheduler: rr\n    weight: 3'));
  t.equal(await s.agent.reload(), false);
  await s.agent.settle();
  t.equal(JSON.stringify(s.kernel.rules()), before, 'kernel unchanged');
  t.equal(s.kernel.batches.length, batches, 'nothing applied');
  t.equal(s.agent.config.services[0]!.realServers.length, 2, 'old configuration kept');
  t.match(s.events('reload-refused')[0], { problems: [/services\[0\]\.weight: unknown key/] });
  // A periodic pass after the refusal still enforces the old configuration.
  await s.agent.reconciler.pass();
  t.same(s.kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1']);

  writeFileSync(s.configFile, yaml(['192.0.2.11', '192.0.2.13']));
  t.equal(await s.agent.reload(), true);
  await s.agent.settle();
  t.same(s.kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.13:80@1']);
  t.match(s.events('reload-accepted')[0], { services: 1 });
  t.ok(s.health.subscriptions.some((x) => x.id === ID('192.0.2.13')));
  t.notOk(s.health.subscriptions.some((x) => x.id === ID('192.0.2.12')), 'the removed server is unsubscribed');
  const m = await s.agent.renderMetrics();
  t.match(m, /\nipvs_agent_reloads_total\{result="refused"\} 1\n/);
  t.match(m, /\nipvs_agent_reloads_total\{result="accepted"\} 1\n/);
  await s.agent.stop();
});

t.test('stop leaves the kernel alone; --cleanup-on-exit removes only owned services', async (t) => {
  const s = await setup(yaml(['192.0.2.11']));
  await s.kernel.exec({ type: 'add-service', service: FOREIGN });
  await s.agent.start();
  const before = JSON.stringify(s.kernel.rules());
  const batches = s.kernel.batches.length;
  await s.agent.stop();
  t.equal(JSON.stringify(s.kernel.rules()), before);
  t.equal(s.kernel.batches.length, batches);
  t.ok(s.health.stopped);
  t.match(s.events('stop')[0], { cleanup: false, removedServices: 0 });

  const c = await setup(yaml(['192.0.2.11']), { cleanupOnExit: true });
  await c.kernel.exec({ type: 'add-service', service: FOREIGN });
  await c.agent.start();
  await c.agent.stop();
  t.same(c.kernel.rules().map((x) => x.key), [FOREIGN]);
  t.match(c.events('stop')[0], { cleanup: true, removedServices: 1 });
  t.notOk(c.kernel.operations.some((o) => o.type === 'flush'), 'never a flush');
});

t.test('a damaged state file is set aside, not fatal', async (t) => {
  const s = await setup(yaml(['192.0.2.11']));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(s.stateDir);
  writeFileSync(join(s.stateDir, 'state.json'), '{"version":1,"owned":[{"protocol":"tcp"');
  await s.agent.start();
  t.equal(s.events('state-damaged').length, 1);
  t.ok(readdirSync(s.stateDir).some((f) => f.startsWith('state.json.damaged-')));
  t.ok(existsSync(join(s.stateDir, 'state.json')), 'a fresh state written');
  await s.agent.stop();
});

t.test('metrics: per service and real server, 64-bit counters exact, health, weights, passes', async (t) => {
  const s = await setup(yaml(['192.0.2.11', '192.0.2.12']));
  await s.agent.start();
  s.kernel.kernel.setStats({ service: VIP }, { stats: { conns: 2n ** 60n + 1n } });
  s.health.set(ID('192.0.2.12'), false, 'status 503', 12);
  await s.agent.settle();
  const text = await s.agent.renderMetrics();
  const sample = (name: string): string | undefined => text.split('\n').find((l) => l.startsWith(name));
  const value = (name: string): string | undefined => sample(name)?.split(' ').at(-1);
  t.equal(sample('ipvs_agent_service_connections_total{'), 'ipvs_agent_service_connections_total{service="web",vip="tcp 192.0.2.10:80"} 1152921504606846977', '2^60+1 printed exactly');
  t.equal(sample('ipvs_agent_real_server_healthy{service="web",vip="tcp 192.0.2.10:80",real_server="192.0.2.12:80"}'), 'ipvs_agent_real_server_healthy{service="web",vip="tcp 192.0.2.10:80",real_server="192.0.2.12:80"} 0');
  t.equal(value('ipvs_agent_real_server_weight{service="web",vip="tcp 192.0.2.10:80",real_server="192.0.2.11:80"}'), '1');
  t.equal(value('ipvs_agent_real_server_present{service="web",vip="tcp 192.0.2.10:80",real_server="192.0.2.12:80"}'), '0');
  t.equal(value('ipvs_agent_check_latency_seconds{service="web",vip="tcp 192.0.2.10:80",real_server="192.0.2.12:80"}'), '0.012');
  t.equal(value('ipvs_agent_passes_total{result="ok"}'), '2');
  t.equal(value('ipvs_agent_kernel_changes_total{operation="delete-destination"}'), '1');
  t.equal(value('ipvs_agent_reconcile_duration_seconds_count'), '2');
  t.match(text, /# TYPE ipvs_agent_reconcile_duration_seconds histogram/);
  t.match(text, /ipvs_agent_netlink_errors_total 0/);
  // Every family is declared once.
  const types = text.split('\n').filter((l) => l.startsWith('# TYPE'));
  t.equal(new Set(types).size, types.length);
  await s.agent.stop();
});

t.test('HTTP endpoint: /healthz, /status, /metrics on loopback', async (t) => {
  const s = await setup(yaml(['192.0.2.11']));
  await s.agent.start();
  const server = await startHttp(s.agent, { host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  t.match(listening(server), /^127\.0\.0\.1:\d+$/);
  const fetchText = (path: string) =>
    new Promise<{ status: number; body: string; type: string }>((resolve, reject) => {
      get(`http://${listening(server)}${path}`, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      }).on('error', reject);
    });
  t.match(await fetchText('/healthz'), { status: 200, body: 'ok\n' });
  const status = await fetchText('/status');
  t.equal(status.type, 'application/json');
  t.match(JSON.parse(status.body), { services: [{ name: 'web', vip: 'tcp 192.0.2.10:80', realServers: [{ address: '192.0.2.11:80', healthy: true, desired: 'active' }] }], lastPass: { converged: true } });
  const m = await fetchText('/metrics');
  t.match(m.type, /^text\/plain; version=0\.0\.4/);
  t.match(m.body, /ipvs_agent_service_present\{service="web",vip="tcp 192.0.2.10:80"\} 1/);
  t.equal((await fetchText('/nothing')).status, 404);
  s.kernel.kernel.failNext('GET_SERVICE', 'EPERM');
  await s.agent.reconciler.pass().then((r) => (s.agent.lastPass = { ...r, at: Date.now() }));
  t.match(await fetchText('/healthz'), { status: 503, body: /latest pass failed: permission denied/ });
  await s.agent.stop();
});

t.test('command line', async (t) => {
  t.same(parseArgs(['-c', 'a.yaml']), { config: 'a.yaml', stateDir: '/var/lib/ipvs-agent', logLevel: 'info', once: false, dryRun: false, checkConfig: false, cleanupOnExit: false, listen: { host: '127.0.0.1', port: 9586 } });
  t.match(parseArgs(['--config=a.yaml', '--listen', 'none', '--once', '--dry-run', '--cleanup-on-exit', '--state-dir', '/s']), { once: true, dryRun: true, cleanupOnExit: true, stateDir: '/s', listen: undefined });
  t.match(parseArgs(['-c', 'a', '--listen', '[::1]:9100']), { listen: { host: '::1', port: 9100 } });
  t.equal(parseArgs(['--help']), 'help');
  t.throws(() => parseArgs([]), /--config FILE is required/);
  t.throws(() => parseArgs(['-c', 'a', '--frobnicate']), /unknown option '--frobnicate'/);
  t.throws(() => parseListen('localhost'), /not HOST:PORT/);
  t.equal(subscriptionId({ id: 'service fwmark 7' } as never, { id: '192.0.2.11:0' } as never), 'fwmark/7/192.0.2.11:0');
});
