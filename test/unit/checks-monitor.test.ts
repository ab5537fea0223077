import t from 'tap';
import type { Prober } from '../../src/agent/checks/attempt';
import { HealthMonitor, scheduleKey, type Clock } from '../../src/agent/checks/monitor';
import type { CheckSpec, HealthChange, ProbeResult, ProbeTarget, Subscription, TcpCheck } from '../../src/agent/checks/types';

/** A clock that moves only when told, running due timers in order. */
class FakeClock implements Clock {
  t = 1_000_000;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const h = { at: this.t + ms, seq: this.seq++, fn };
    this.timers.push(h);
    return h;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x !== h);
  }
  get pending(): number {
    return this.timers.length;
  }
  /** Moves time forward by `ms`, firing timers and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Fake targets: each prober call is recorded (target, time) and answered
 * from a script per address (true/false for a result at once, 'hold' for a
 * probe that waits until released).
 */
class FakeProbes {
  calls: { address: string; at: number }[] = [];
  probers = 0;
  held: { address: string; resolve: (r: ProbeResult) => void }[] = [];
  private scripts = new Map<string, (boolean | 'hold')[]>();
  constructor(private readonly clock: FakeClock) {}
  script(address: string, ...outcomes: (boolean | 'hold')[]): void {
    this.scripts.set(address, outcomes);
  }
  create = (target: ProbeTarget, check: CheckSpec): Prober => {
    this.probers++;
    const address = check.address ?? target.address;
    return () => {
      this.calls.push({ address, at: this.clock.t });
      const s = this.scripts.get(address);
      const outcome = s !== undefined && s.length > 1 ? s.shift()! : (s?.[0] ?? true);
      if (outcome === 'hold') return new Promise((resolve) => this.held.push({ address, resolve }));
      return Promise.resolve(result(outcome));
    };
  };
  release(ok = true): void {
    const h = this.held.shift();
    if (h === undefined) throw new Error('nothing held');
    h.resolve(result(ok));
  }
  callsTo(address: string): number[] {
    return this.calls.filter((c) => c.address === address).map((c) => c.at - 1_000_000);
  }
}

function result(ok: boolean): ProbeResult {
  return { ok, latencyMs: 1, reason: ok ? 'status 200' : 'status 503' };
}

const tcp = (over: Partial<TcpCheck> = {}): TcpCheck => ({
  kind: 'tcp',
  intervalMs: 1000,
  timeoutMs: 500,
  rise: 2,
  fall: 3,
  initial: 'down',
  ...over,
});
const sub = (id: string, address: string, check: CheckSpec = tcp(), port = 80): Subscription => ({ id, target: { address, port }, check });

function setup(options: { concurrency?: number; random?: () => number } = {}) {
  const clock = new FakeClock();
  const probes = new FakeProbes(clock);
  const monitor = new HealthMonitor({ clock, random: options.random ?? (() => 0), createProber: probes.create, concurrency: options.concurrency });
  const changes: HealthChange[] = [];
  const probeEvents: (readonly string[])[] = [];
  monitor.on('change', (c) => changes.push(c));
  monitor.on('probe', (ids) => probeEvents.push(ids));
  return { clock, probes, monitor, changes, probeEvents };
}

t.test('initial down, rise 2: up after two successes, one change event', async (t) => {
  const { clock, probes, monitor, changes } = setup();
  monitor.update([sub('a', '127.0.0.1')]);
  t.same(monitor.health('a'), { healthy: false, since: 1_000_000 });
  await clock.advance(0);
  t.equal(probes.calls.length, 1, 'first probe at jitter 0');
  t.equal(monitor.health('a')!.healthy, false, 'one success is not enough');
  t.equal(changes.length, 0);
  await clock.advance(1000);
  t.same(monitor.health('a'), { healthy: true, since: 1_001_000, last: result(true) });
  t.same(changes, [{ id: 'a', healthy: true, result: result(true) }]);
  await clock.advance(5000);
  t.equal(changes.length, 1, 'no event while it stays up');
});

t.test('initial up, fall 3: down after three consecutive failures; a success resets the count', async (t) => {
  const { clock, probes, monitor, changes } = setup();
  probes.script('127.0.0.1', false, false, true, false, false, false);
  monitor.update([sub('a', '127.0.0.1', tcp({ initial: 'up' }))]);
  t.equal(monitor.health('a')!.healthy, true);
  await clock.advance(4000); // probes at 0, 1000, 2000, 3000, 4000: F F T F F
  t.equal(monitor.health('a')!.healthy, true, 'F F T F F never reaches three in a row');
  await clock.advance(1000);
  t.equal(monitor.health('a')!.healthy, false);
  t.same(changes.map((c) => [c.id, c.healthy, c.result.reason]), [['a', false, 'status 503']]);
  t.equal(monitor.health('a')!.since, 1_005_000);
});

t.test('rise 1 / fall 1 flip on every change of outcome', async (t) => {
  const { clock, probes, monitor, changes } = setup();
  probes.script('127.0.0.1', true, false, true, true);
  monitor.update([sub('a', '127.0.0.1', tcp({ rise: 1, fall: 1 }))]);
  await clock.advance(3000);
  t.same(changes.map((c) => c.healthy), [true, false, true]);
});

t.test('probes run every interval from the start of the previous one', async (t) => {
  const { clock, probes, monitor } = setup({ random: () => 0.25 });
  monitor.update([sub('a', '127.0.0.1', tcp({ intervalMs: 2000 }))]);
  await clock.advance(7000);
  t.same(probes.callsTo('127.0.0.1'), [500, 2500, 4500, 6500]);
});

t.test('a probe that outlives its interval is followed at once by the next, not twice', async (t) => {
  const { clock, probes, monitor } = setup();
  probes.script('127.0.0.1', 'hold', true);
  monitor.update([sub('a', '127.0.0.1')]);
  await clock.advance(2500); // the held probe spans two intervals
  t.same(probes.callsTo('127.0.0.1'), [0]);
  probes.release();
  await clock.advance(0);
  t.same(probes.callsTo('127.0.0.1'), [0, 2500], 'next probe right after');
  await clock.advance(1000);
  t.same(probes.callsTo('127.0.0.1'), [0, 2500, 3500], 'then back on its interval');
});

t.test('jitter: the first probe of each new schedule is at random() × interval', async (t) => {
  const draws = [0.1, 0.5, 0.9];
  const { clock, probes, monitor } = setup({ random: () => draws.shift() ?? 0 });
  monitor.update([sub('a', '127.0.0.1'), sub('b', '127.0.0.2'), sub('c', '127.0.0.3', tcp({ intervalMs: 2000 }))]);
  await clock.advance(1999);
  t.same(
    ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((a) => probes.callsTo(a)[0]),
    [100, 500, 1800],
  );
});

t.test('sharing: one schedule per (target, settings); every subscriber sees its verdict', async (t) => {
  const { clock, probes, monitor, changes, probeEvents } = setup();
  const check = tcp({ rise: 1 });
  monitor.update([
    sub('svc1/web1', '127.0.0.1', check),
    sub('svc2/web1', '127.0.0.1', { ...check }), // equal settings, another object
    sub('svc3/web1', '127.0.0.9', { ...check, address: '127.0.0.1' }), // same place via the override
    sub('svc4/web1', '127.0.0.1', tcp({ rise: 1, fall: 5 })), // other settings: its own schedule
  ]);
  t.equal(probes.probers, 2);
  await clock.advance(0);
  t.equal(probes.calls.length, 2, 'one probe per schedule');
  t.same(probeEvents.map((ids) => [...ids].sort()), [['svc1/web1', 'svc2/web1', 'svc3/web1'], ['svc4/web1']]);
  t.same(changes.map((c) => c.id).sort(), ['svc1/web1', 'svc2/web1', 'svc3/web1', 'svc4/web1'], 'one change per subscriber');
  t.equal(monitor.health('svc3/web1')!.healthy, true);
  t.same(monitor.health('svc2/web1'), monitor.health('svc1/web1'));
  t.same(monitor.stats(), { schedules: 2, subscriptions: 4, inFlight: 0, queued: 0 });
});

t.test('scheduleKey ignores key order and address spelling, and sees every setting', async (t) => {
  const a = tcp();
  const b = { fall: 3, rise: 2, initial: 'down', timeoutMs: 500, intervalMs: 1000, kind: 'tcp' } as TcpCheck;
  t.equal(scheduleKey({ address: '2001:db8::1', port: 80 }, a), scheduleKey({ address: '2001:DB8:0::1', port: 80 }, b));
  t.not(scheduleKey({ address: '127.0.0.1', port: 80 }, a), scheduleKey({ address: '127.0.0.1', port: 81 }, a));
  t.not(scheduleKey({ address: '127.0.0.1', port: 80 }, a), scheduleKey({ address: '127.0.0.1', port: 80 }, tcp({ initial: 'up' })));
  t.equal(scheduleKey({ address: '127.0.0.1', port: 80 }, a), scheduleKey({ address: '127.0.0.2', port: 80 }, { ...a, address: '127.0.0.1' }));
});

t.test('concurrency: no more than the limit in flight; the rest wait in order', async (t) => {
  const { clock, probes, monitor } = setup({ concurrency: 2 });
  for (const a of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) probes.script(a, 'hold');
  monitor.update(['1', '2', '3', '4', '5'].map((n) => sub(n, `127.0.0.${n}`)));
  await clock.advance(0);
  t.same(probes.calls.map((c) => c.address), ['127.0.0.1', '127.0.0.2']);
  t.same(monitor.stats(), { schedules: 5, subscriptions: 5, inFlight: 2, queued: 3 });
  probes.release();
  await clock.advance(0);
  t.same(probes.calls.map((c) => c.address).slice(2), ['127.0.0.3'], 'one freed slot, one more probe');
  probes.release();
  probes.release();
  await clock.advance(0);
  t.same(probes.calls.map((c) => c.address).slice(2), ['127.0.0.3', '127.0.0.4', '127.0.0.5'], 'in the order they came due');
  t.equal(monitor.stats().inFlight, 2);
  let most = 0;
  monitor.on('probe', () => (most = Math.max(most, monitor.stats().inFlight)));
  for (let i = 0; i < 20; i++) {
    while (probes.held.length > 0) probes.release();
    await clock.advance(250);
  }
  t.ok(most <= 2, `at most 2 in flight (saw ${most})`);
  t.ok(probes.calls.length > 20, 'and probes keep coming');
});

t.test('update keeps the verdict of subscriptions that stay and stops what nobody wants', async (t) => {
  const { clock, probes, monitor, changes } = setup();
  monitor.update([sub('a', '127.0.0.1'), sub('b', '127.0.0.2')]);
  await clock.advance(1000);
  t.equal(monitor.health('a')!.healthy, true);
  const since = monitor.health('a')!.since;
  monitor.update([sub('a', '127.0.0.1'), sub('c', '127.0.0.3')]);
  t.same(monitor.health('a'), { healthy: true, since, last: result(true) }, 'a stays up, same since');
  t.equal(monitor.health('b'), undefined, 'b is gone');
  t.equal(monitor.health('c')!.healthy, false, 'c starts at initial');
  const before = probes.callsTo('127.0.0.2').length;
  await clock.advance(5000);
  t.equal(probes.callsTo('127.0.0.2').length, before, 'no more probes of b');
  t.same(probes.callsTo('127.0.0.1'), [0, 1000, 2000, 3000, 4000, 5000, 6000], 'a kept its timing');
  t.notOk(changes.some((c) => c.id === 'b' && changes.indexOf(c) >= 2), 'no events for b after it left');
});

t.test('a new subscriber to an existing schedule sees its verdict at once', async (t) => {
  const { clock, probes, monitor } = setup();
  monitor.update([sub('a', '127.0.0.1')]);
  await clock.advance(1000);
  monitor.update([sub('a', '127.0.0.1'), sub('a2', '127.0.0.1')]);
  t.equal(monitor.health('a2')!.healthy, true);
  t.equal(probes.probers, 1);
});

t.test('a check edited on reload keeps its verdict instead of starting over', async (t) => {
  const { clock, monitor, changes } = setup();
  monitor.update([sub('a', '127.0.0.1')]);
  await clock.advance(1000);
  t.equal(monitor.health('a')!.healthy, true);
  monitor.update([sub('a', '127.0.0.1', tcp({ timeoutMs: 300 }))]);
  t.equal(monitor.health('a')!.healthy, true, 'still up under the new settings');
  t.equal(changes.length, 1, 'no change event');
});

t.test('moving onto a schedule with another verdict is reported as a change', async (t) => {
  const { clock, probes, monitor, changes } = setup();
  probes.script('127.0.0.2', false);
  monitor.update([sub('a', '127.0.0.1'), sub('b', '127.0.0.2', tcp({ initial: 'up', fall: 1 }))]);
  await clock.advance(1000);
  t.same([monitor.health('a')!.healthy, monitor.health('b')!.healthy], [true, false]);
  changes.length = 0;
  monitor.update([sub('a', '127.0.0.2', tcp({ initial: 'up', fall: 1 })), sub('b', '127.0.0.2', tcp({ initial: 'up', fall: 1 }))]);
  t.same(changes.map((c) => [c.id, c.healthy]), [['a', false]]);
});

t.test('update refuses duplicate ids and changes nothing', async (t) => {
  const { monitor } = setup();
  monitor.update([sub('a', '127.0.0.1')]);
  t.throws(() => monitor.update([sub('x', '127.0.0.5'), sub('x', '127.0.0.6')]), /duplicate subscription id 'x'/);
  t.ok(monitor.health('a'));
  t.equal(monitor.health('x'), undefined);
});

t.test('update refuses a check that cannot be run and changes nothing', async (t) => {
  const monitor = new HealthMonitor({ clock: new FakeClock() });
  const bad = { ...tcp(), kind: 'http', method: 'GET', path: '/', expectStatus: [200], tlsVerify: true, expectBody: '(' } as CheckSpec;
  t.throws(() => monitor.update([sub('ok', '127.0.0.1'), sub('bad', '127.0.0.2', bad)]), SyntaxError);
  t.equal(monitor.health('ok'), undefined);
  await monitor.stop();
});

t.test('stop waits for probes in flight, drops their results, and runs nothing more', async (t) => {
  const { clock, probes, monitor, probeEvents } = setup();
  probes.script('127.0.0.1', 'hold');
  monitor.update([sub('a', '127.0.0.1'), sub('b', '127.0.0.2')]);
  await clock.advance(0);
  let stopped = false;
  const stopping = monitor.stop().then(() => (stopped = true));
  await clock.advance(0);
  t.equal(stopped, false, 'still waiting for the held probe');
  const events = probeEvents.length;
  probes.release();
  await stopping;
  t.equal(stopped, true);
  t.equal(probeEvents.length, events, 'its result is not reported');
  const calls = probes.calls.length;
  await clock.advance(10_000);
  t.equal(probes.calls.length, calls, 'nothing runs after stop');
  t.equal(clock.pending, 0, 'no timer left');
  t.throws(() => monitor.update([]), /stopped/);
  await monitor.stop(); // twice is fine
});

t.test('stop drops probes waiting for a slot', async (t) => {
  const { clock, probes, monitor } = setup({ concurrency: 1 });
  probes.script('127.0.0.1', 'hold');
  monitor.update([sub('a', '127.0.0.1'), sub('b', '127.0.0.2')]);
  await clock.advance(0);
  t.equal(monitor.stats().queued, 1);
  const stopping = monitor.stop();
  probes.release();
  await stopping;
  await clock.advance(0);
  t.same(probes.calls.map((c) => c.address), ['127.0.0.1'], 'the queued probe never ran');
});

t.test('a prober that rejects counts as a failed probe', async (t) => {
  const clock = new FakeClock();
  const monitor = new HealthMonitor({
    clock,
    random: () => 0,
    createProber: () => () => Promise.reject(new Error('bug')),
  });
  monitor.update([sub('a', '127.0.0.1', tcp({ initial: 'up', fall: 1 }))]);
  await clock.advance(0);
  t.same(monitor.health('a'), { healthy: false, since: clock.t, last: { ok: false, latencyMs: 0, reason: 'probe error: Error: bug' } });
  await monitor.stop();
});

t.test('the concurrency option is checked', async (t) => {
  t.throws(() => new HealthMonitor({ concurrency: 0 }), RangeError);
  t.throws(() => new HealthMonitor({ concurrency: 1.5 }), RangeError);
});
