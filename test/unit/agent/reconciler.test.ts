import t from 'tap';
import { parseConfig } from '../../../src/agent/config/load';
import type { AgentConfig, RealServerSpec, ServiceSpec } from '../../../src/agent/config/types';
import { Reconciler } from '../../../src/agent/reconciler';
import type { ServiceKey } from '../../../src/ipvs/model';
import type { AgentKernel } from '../../../src/agent/agent';
import { captureLog, FakeIpvs, webYaml } from './helpers';

const VIP: ServiceKey = { protocol: 'tcp', address: '192.0.2.10', port: 80 };
const FOREIGN: ServiceKey = { protocol: 'tcp', address: '203.0.113.99', port: 443 };

function config(extra = '', servers = ['192.0.2.11', '192.0.2.12', '192.0.2.13']): AgentConfig {
  return parseConfig(webYaml({ top: 'drain: { timeout: 60s }\n', check: '{ type: tcp, initial: up }', extra, servers }));
}

/** A reconciler over the fake kernel, with health set per real server address (default up). */
async function setup(cfg: AgentConfig, options: { dryRun?: boolean; wrap?: (k: AgentKernel) => AgentKernel } = {}) {
  const { wrap, ...opts } = options;
  const kernel = await FakeIpvs.open();
  const down = new Set<string>();
  let now = 1_000_000;
  const { log, events } = captureLog();
  const rec = new Reconciler({
    kernel: wrap ? wrap(kernel.port) : kernel.port,
    log,
    health: (_s: ServiceSpec, rs: RealServerSpec) => !down.has(rs.key.address),
    now: () => now,
    ...opts,
  });
  rec.setConfig(cfg);
  return {
    kernel,
    rec,
    events,
    down: (a: string) => (down.add(a), rec.invalidate()),
    up: (a: string) => (down.delete(a), rec.invalidate()),
    advance: (ms: number) => (now += ms),
  };
}

t.test('first pass builds the service in one batch; a converged pass changes nothing', async (t) => {
  const { kernel, rec } = await setup(config());
  const r1 = await rec.pass();
  t.same(r1.operations.map((o) => o.type), ['add-service', 'add-destination', 'add-destination', 'add-destination']);
  t.equal(r1.applied, 4);
  t.ok(r1.converged);
  t.equal(kernel.batches.length, 1, 'one bulk apply');
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@1']);
  const r2 = await rec.pass();
  t.equal(r2.operations.length, 0);
  t.equal(kernel.batches.length, 1, 'no apply for a converged table');
});

t.test('failure policy remove: deleted at once (no drain) and re-added when healthy', async (t) => {
  const { kernel, rec, down, up, events } = await setup(config());
  await rec.pass();
  kernel.setConns(VIP, '192.0.2.12', 80, 5); // connections do not delay a dead server's removal
  down('192.0.2.12');
  const r = await rec.pass();
  t.same(r.operations, [{ type: 'delete-destination', service: VIP, destination: { address: '192.0.2.12', port: 80 } }]);
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.13:80@1']);
  t.equal(events('drain-started').length, 0);
  const change = events('kernel-change').at(-1)!;
  t.match(change, { action: 'delete-destination', realServer: '192.0.2.12:80', reason: 'unhealthy: removed' });
  up('192.0.2.12');
  await rec.pass();
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@1']);
  t.match(events('kernel-change').at(-1), { action: 'add-destination', reason: 'healthy' });
});

t.test('failure policy inhibit: weight 0 by an edit in place, never delete and re-add', async (t) => {
  const { kernel, rec, down, up } = await setup(config('    failurePolicy: inhibit\n'));
  await rec.pass();
  down('192.0.2.11');
  const r = await rec.pass();
  t.same(r.operations.map((o) => o.type), ['edit-destination']);
  t.same(kernel.view(VIP), ['192.0.2.11:80@0', '192.0.2.12:80@1', '192.0.2.13:80@1']);
  up('192.0.2.11');
  const r2 = await rec.pass();
  t.same(r2.operations.map((o) => o.type), ['edit-destination']);
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@1']);
  t.notOk(kernel.operations.some((o) => o.type.startsWith('delete')), 'nothing was ever deleted');
});

t.test('a configuration change is an edit in place', async (t) => {
  const { kernel, rec } = await setup(config());
  await rec.pass();
  const next = config();
  next.services[0]!.config.scheduler = 'wrr';
  next.services[0]!.realServers[1]!.config.weight = 3;
  rec.setConfig(next);
  const r = await rec.pass();
  t.same(r.operations.map((o) => o.type).sort(), ['edit-destination', 'edit-service']);
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@3', '192.0.2.13:80@1']);
});

t.test('changes behind its back are repaired within one pass, and logged as repairs', async (t) => {
  const { kernel, rec, events } = await setup(config());
  await rec.pass();
  await rec.pass(); // converged
  for (const [what, act] of [
    ['ipvsadm -C', () => kernel.exec({ type: 'flush' })],
    ['ipvsadm -d', () => kernel.exec({ type: 'delete-destination', service: VIP, destination: { address: '192.0.2.13', port: 80 } })],
    ['ipvsadm -e -w 9', () => kernel.exec({ type: 'edit-destination', service: VIP, destination: { address: '192.0.2.11', port: 80 }, config: { forwarding: 'masq', weight: 9, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelCsum: false, tunnelRemcsum: false } })],
    ['ipvsadm -E -s wlc', () => kernel.exec({ type: 'edit-service', service: VIP, config: { ...kernel.rules()[0]!.config, scheduler: 'wlc' } })],
    ['ipvsadm -a (an extra real server)', () => kernel.exec({ type: 'add-destination', service: VIP, destination: { address: '192.0.2.77', port: 80 } })],
  ] as const) {
    await act();
    const before = events('kernel-change').length;
    const r = await rec.pass();
    t.ok(r.operations.length > 0 && r.converged, `${what}: repaired`);
    t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@1'], `${what}: table restored`);
    t.equal(kernel.rules()[0]!.config.scheduler, 'rr');
    const logged = events('kernel-change').slice(before);
    t.ok(logged.length > 0 && logged.every((l) => l.repair === true), `${what}: logged as repair`);
    t.equal((await rec.pass()).operations.length, 0, `${what}: converged after one pass`);
  }
  // The extra server (no connections) was deleted at once, edited to masq back to route in place.
  t.notOk(kernel.operations.some((o) => o.type === 'delete-destination' && o.destination.address === '192.0.2.11'), 'the edited server was edited back, not re-added');
});

t.test('a foreign service is never touched: passes, reconfiguration, drift, retirement, cleanup', async (t) => {
  const { kernel, rec } = await setup(config());
  await kernel.exec({ type: 'add-service', service: FOREIGN, config: { scheduler: 'lc' } });
  await kernel.exec({ type: 'add-destination', service: FOREIGN, destination: { address: '203.0.113.7', port: 443 }, config: { weight: 4 } });
  const foreignRule = () => JSON.stringify(kernel.rules().find((s) => JSON.stringify(s.key).includes('203.0.113.99')));
  const snapshot = foreignRule();
  const touched = () => kernel.operations.some((o) => 'service' in o && o.service && JSON.stringify(o.service).includes('203.0.113.99'));
  await rec.pass();
  rec.setConfig(config('', ['192.0.2.11']));
  await rec.pass();
  await kernel.exec({ type: 'flush' });
  await kernel.exec({ type: 'add-service', service: FOREIGN, config: { scheduler: 'lc' } });
  await kernel.exec({ type: 'add-destination', service: FOREIGN, destination: { address: '203.0.113.7', port: 443 }, config: { weight: 4 } });
  await rec.pass();
  rec.setConfig(parseConfig('services: []\n'));
  await rec.pass();
  await rec.pass();
  await kernel.port.apply(rec.cleanupOperations(kernel.rules()));
  t.notOk(touched(), 'no operation ever named the foreign service');
  t.equal(foreignRule(), snapshot, 'identical');
});

t.test('drain: a real server leaving the configuration goes to weight 0, then is deleted at zero connections', async (t) => {
  const { kernel, rec, events, advance } = await setup(config());
  await rec.pass();
  kernel.setConns(VIP, '192.0.2.13', 80, 3);
  rec.setConfig(config('', ['192.0.2.11', '192.0.2.12']));
  const r = await rec.pass();
  t.same(r.operations.map((o) => o.type), ['edit-destination']);
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@0']);
  t.match(events('drain-started')[0], { realServer: '192.0.2.13:80', connections: 3, reason: 'not in the configuration' });
  advance(5000);
  t.equal((await rec.pass()).operations.length, 0, 'held while connections remain');
  kernel.setConns(VIP, '192.0.2.13', 80, 0);
  const r3 = await rec.pass();
  t.same(r3.operations.map((o) => o.type), ['delete-destination']);
  t.match(events('drain-finished')[0], { realServer: '192.0.2.13:80', why: 'no connections', drainedMs: 5000 });
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1']);
  t.same(rec.drainRecords(), []);
});

t.test('drain: the deadline ends it with connections left', async (t) => {
  const { kernel, rec, events, advance } = await setup(config());
  await rec.pass();
  kernel.setConns(VIP, '192.0.2.13', 80, 3);
  rec.setConfig(config('', ['192.0.2.11', '192.0.2.12']));
  await rec.pass();
  advance(59_999);
  t.equal((await rec.pass()).operations.length, 0);
  advance(1);
  t.same((await rec.pass()).operations.map((o) => o.type), ['delete-destination']);
  t.match(events('drain-finished')[0], { why: 'drain timeout', connections: 3 });
});

t.test('drain: a server with no connections leaves at once; UDP does not wait for its timer', async (t) => {
  const { kernel, rec, events } = await setup(config());
  await rec.pass();
  rec.setConfig(config('', ['192.0.2.11', '192.0.2.12']));
  t.same((await rec.pass()).operations.map((o) => o.type), ['delete-destination']);
  t.equal(events('drain-started').length, 0);

  const udp = parseConfig('services: [{ protocol: udp, address: 192.0.2.10, port: 53, realServers: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }] }]\n');
  const s = await setup(udp);
  await s.rec.pass();
  s.kernel.setConns({ protocol: 'udp', address: '192.0.2.10', port: 53 }, '192.0.2.12', 53, 40);
  s.rec.setConfig(parseConfig('services: [{ protocol: udp, address: 192.0.2.10, port: 53, realServers: [{ address: 192.0.2.11 }] }]\n'));
  const r = await s.rec.pass();
  t.same(r.operations.map((o) => o.type), ['delete-destination'], 'UDP with udpTimeout 0: deleted at once despite 40 entries');
  t.match(s.events('kernel-change').at(-1), { reason: 'not in the configuration; no drain for UDP' });
});

t.test('drain: UDP with a short bound holds until the bound', async (t) => {
  const udpKey: ServiceKey = { protocol: 'udp', address: '192.0.2.10', port: 53 };
  const cfg = (rs: string) => parseConfig(`drain: { udpTimeout: 5s }\nservices: [{ protocol: udp, address: 192.0.2.10, port: 53, realServers: [${rs}] }]\n`);
  const s = await setup(cfg('{ address: 192.0.2.11 }, { address: 192.0.2.12 }'));
  await s.rec.pass();
  s.kernel.setConns(udpKey, '192.0.2.12', 53, 40);
  s.rec.setConfig(cfg('{ address: 192.0.2.11 }'));
  t.same((await s.rec.pass()).operations.map((o) => o.type), ['edit-destination']);
  s.advance(5000);
  t.same((await s.rec.pass()).operations.map((o) => o.type), ['delete-destination']);
});

t.test('drain: a server coming back cancels its drain and gets its weight back', async (t) => {
  const { kernel, rec, events } = await setup(config());
  await rec.pass();
  kernel.setConns(VIP, '192.0.2.13', 80, 3);
  rec.setConfig(config('', ['192.0.2.11', '192.0.2.12']));
  await rec.pass();
  rec.setConfig(config());
  const r = await rec.pass();
  t.same(r.operations.map((o) => o.type), ['edit-destination']);
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@1']);
  t.equal(events('drain-cancelled').length, 1);
  t.same(rec.drainRecords(), []);
});

t.test('drain state survives a restart: the new agent finishes the drain at the original deadline', async (t) => {
  const a = await setup(config());
  await a.rec.pass();
  a.kernel.setConns(VIP, '192.0.2.13', 80, 3);
  a.rec.setConfig(config('', ['192.0.2.11', '192.0.2.12']));
  await a.rec.pass();
  const { state } = a.rec.takeState();
  t.equal(state.drains.length, 1);
  const deadline = state.drains[0]!.deadline;
  // A new reconciler (the restarted agent) on the same kernel, with the persisted state.
  const { log } = captureLog();
  let now = deadline - 1000;
  const b = new Reconciler({ kernel: a.kernel.port, log, health: () => true, now: () => now });
  b.setConfig(config('', ['192.0.2.11', '192.0.2.12']), JSON.parse(JSON.stringify(state)));
  t.equal((await b.pass()).operations.length, 0, 'still draining');
  now = deadline;
  t.same((await b.pass()).operations.map((o) => o.type), ['delete-destination'], 'deleted at the persisted deadline');
});

t.test('a service leaving the configuration drains, then is deleted and no longer owned', async (t) => {
  const two = parseConfig(`services:
  - { protocol: tcp, address: 192.0.2.10, port: 80, realServers: [{ address: 192.0.2.11 }] }
  - { protocol: tcp, address: 192.0.2.20, port: 80, realServers: [{ address: 192.0.2.21 }, { address: 192.0.2.22 }] }
`);
  const s = await setup(two);
  await s.rec.pass();
  const gone: ServiceKey = { protocol: 'tcp', address: '192.0.2.20', port: 80 };
  s.kernel.setConns(gone, '192.0.2.21', 80, 2);
  s.rec.setConfig(parseConfig('services: [{ protocol: tcp, address: 192.0.2.10, port: 80, realServers: [{ address: 192.0.2.11 }] }]\n'));
  const r = await s.rec.pass();
  t.same(s.kernel.view(gone), ['192.0.2.21:80@0'], 'the idle server left at once, the busy one drains');
  t.notOk(r.operations.some((o) => o.type === 'delete-service'));
  t.ok(s.rec.owns(gone), 'still owned while retiring');
  t.ok(s.rec.takeState().state.owned.some((k) => JSON.stringify(k).includes('192.0.2.20')), 'persisted as owned');
  s.kernel.setConns(gone, '192.0.2.21', 80, 0);
  const r2 = await s.rec.pass();
  t.same(r2.operations.map((o) => o.type), ['delete-service']);
  t.equal(s.kernel.view(gone), undefined);
  t.notOk(s.rec.owns(gone), 'released once deleted');
});

t.test('a service the persisted state owned but the configuration dropped is retired after a restart', async (t) => {
  const { kernel, rec } = await setup(config());
  const old: ServiceKey = { protocol: 'tcp', address: '192.0.2.30', port: 80 };
  await kernel.exec({ type: 'add-service', service: old });
  await kernel.exec({ type: 'add-service', service: FOREIGN });
  rec.setConfig(config(), { owned: [old], drains: [] });
  await rec.pass();
  t.equal(kernel.view(old), undefined, 'the previously owned service is gone');
  t.ok(kernel.view(FOREIGN), 'the foreign one stays');
});

t.test('sorry server: only while no real server is healthy', async (t) => {
  const { kernel, rec, down, up, events } = await setup(config('    sorryServer: { address: 192.0.2.99 }\n', ['192.0.2.11', '192.0.2.12']));
  await rec.pass();
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1']);
  down('192.0.2.11');
  await rec.pass();
  t.same(kernel.view(VIP), ['192.0.2.12:80@1'], 'one healthy left: no sorry server');
  down('192.0.2.12');
  await rec.pass();
  t.same(kernel.view(VIP), ['192.0.2.99:80@1']);
  t.match(events('sorry-server-on')[0], { sorryServer: '192.0.2.99:80' });
  up('192.0.2.12');
  await rec.pass();
  t.same(kernel.view(VIP), ['192.0.2.12:80@1'], 'sorry server (idle) removed once one is healthy');
  t.equal(events('sorry-server-off').length, 1);
});

t.test('quorum with hysteresis: alert, and with onLost sorry, the sorry server takes the set', async (t) => {
  const extra = '    sorryServer: { address: 192.0.2.99 }\n    quorum: { min: 3, hysteresis: 1, onLost: sorry }\n    failurePolicy: inhibit\n';
  const servers = ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14'];
  const { kernel, rec, down, up, events } = await setup(config(extra, servers));
  await rec.pass();
  down('192.0.2.11');
  await rec.pass(); // weight 3: at min, still met (lost only below min - hysteresis = 2)
  t.equal(events('quorum-lost').length, 0);
  t.same(kernel.view(VIP), ['192.0.2.11:80@0', '192.0.2.12:80@1', '192.0.2.13:80@1', '192.0.2.14:80@1']);
  down('192.0.2.12');
  await rec.pass(); // weight 2: still >= 2
  t.equal(events('quorum-lost').length, 0);
  down('192.0.2.13');
  await rec.pass(); // weight 1 < 2: lost
  t.match(events('quorum-lost')[0], { healthyWeight: 1, min: 3 });
  t.same(kernel.view(VIP), ['192.0.2.11:80@0', '192.0.2.12:80@0', '192.0.2.13:80@0', '192.0.2.14:80@0', '192.0.2.99:80@1'], 'the sorry server takes the set');
  up('192.0.2.13');
  await rec.pass(); // weight 2 < min + hysteresis = 4: still lost
  t.equal(events('quorum-regained').length, 0);
  up('192.0.2.12');
  up('192.0.2.11');
  await rec.pass(); // weight 4: regained
  t.equal(events('quorum-regained').length, 1);
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@1', '192.0.2.14:80@1']);
});

t.test('dry run: plans, logs what it would do, changes nothing', async (t) => {
  const { kernel, rec, events } = await setup(config(), { dryRun: true });
  const r = await rec.pass();
  t.equal(r.operations.length, 4);
  t.equal(kernel.batches.length, 0);
  t.same(events('would-change').map((e) => e.command), [
    'ipvsadm -A -t 192.0.2.10:80 -s rr',
    'ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 1',
    'ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.12:80 -g -w 1',
    'ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.13:80 -g -w 1',
  ]);
});

t.test('a refused operation is logged with its error and retried by the next pass', async (t) => {
  let sabotage = true;
  let fake: FakeIpvs | undefined;
  const { kernel, rec, events } = await setup(config(), {
    wrap: (port) => ({
      ...port,
      apply: async (ops) => {
        if (sabotage && fake) {
          sabotage = false;
          // Someone adds the same service between the read and the write.
          await fake.exec({ type: 'add-service', service: VIP, config: { scheduler: 'rr' } });
        }
        return port.apply(ops);
      },
    }),
  });
  fake = kernel;
  const r = await rec.pass();
  t.equal(r.failed, 1);
  t.notOk(r.converged);
  t.match(events('kernel-change-failed')[0], { action: 'add-service', code: 'ERR_IPVS_SERVICE_EXISTS', errno: 'EEXIST' });
  const r2 = await rec.pass();
  t.ok(r2.converged);
  t.same(kernel.view(VIP), ['192.0.2.11:80@1', '192.0.2.12:80@1', '192.0.2.13:80@1']);
});

t.test('a kernel that cannot be read fails the pass without throwing', async (t) => {
  const { kernel, rec, events } = await setup(config());
  kernel.kernel.failNext('GET_SERVICE', 'EPERM');
  const r = await rec.pass();
  t.match(r.error?.message, /CAP_NET_ADMIN/);
  t.equal(events('pass-failed').length, 1);
});

t.test('a health change recomputes only its service', async (t) => {
  const cfg = parseConfig(`services:
  - { protocol: tcp, address: 192.0.2.10, port: 80, check: { type: tcp }, realServers: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }] }
  - { protocol: tcp, address: 192.0.2.20, port: 80, check: { type: tcp }, realServers: [{ address: 192.0.2.21 }, { address: 192.0.2.22 }] }
`);
  const kernel = await FakeIpvs.open();
  const asked: string[] = [];
  const down = new Set<string>();
  const rec = new Reconciler({ kernel: kernel.port, log: captureLog().log, health: (_s, rs) => (asked.push(rs.id), !down.has(rs.key.address)) });
  rec.setConfig(cfg);
  await rec.pass();
  t.same(asked.sort(), ['192.0.2.11:80', '192.0.2.12:80', '192.0.2.21:80', '192.0.2.22:80']);
  asked.length = 0;
  await rec.pass();
  t.same(asked, [], 'a pass with nothing changed asks nothing');
  down.add('192.0.2.22');
  rec.invalidate('service tcp 192.0.2.20:80');
  const r = await rec.pass();
  t.same(asked.sort(), ['192.0.2.21:80', '192.0.2.22:80'], 'only the changed service is evaluated');
  t.same(r.operations.map((o) => o.type), ['delete-destination']);
  t.same(kernel.view({ protocol: 'tcp', address: '192.0.2.10', port: 80 }), ['192.0.2.11:80@1', '192.0.2.12:80@1']);
});
