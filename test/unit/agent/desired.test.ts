import t from 'tap';
import { nextQuorum } from '../../../src/agent/desired';
import { decideDrain, drainsOnTimer } from '../../../src/agent/drain';

t.test('quorum hysteresis: lost below min - h, regained at min + h, first verdict at min', async (t) => {
  const q = { min: 4, hysteresis: 1, onLost: 'alert' as const };
  const table: [boolean | undefined, number, boolean][] = [
    [undefined, 4, true],
    [undefined, 3, false],
    [true, 3, true],
    [true, 2, false],
    [false, 4, false],
    [false, 5, true],
    [false, 9, true],
    [true, 0, false],
  ];
  for (const [prev, w, want] of table) t.equal(nextQuorum(prev, w, q), want, `prev ${prev}, weight ${w}`);
  // Without hysteresis it is a plain threshold both ways.
  t.equal(nextQuorum(true, 3, { ...q, hysteresis: 0 }), false);
  t.equal(nextQuorum(false, 4, { ...q, hysteresis: 0 }), true);
});

t.test('drain decisions', async (t) => {
  const settings = { timeoutMs: 60_000, udpTimeoutMs: 0 };
  const make = () => ({ service: { protocol: 'tcp' as const, address: '192.0.2.10', port: 80 }, serviceId: 's', destination: { address: '192.0.2.11', port: 80 }, destinationId: 'd', reason: 'r' });
  const start = decideDrain({ existing: undefined, connections: 2, now: 1000, settings, timerBased: false, make });
  t.match(start, { action: 'hold', started: true, record: { startedAt: 1000, deadline: 61_000 } });
  const rec = start.action === 'hold' ? start.record : undefined;
  t.match(decideDrain({ existing: rec, connections: 1, now: 60_999, settings, timerBased: false, make }), { action: 'hold', started: false });
  t.match(decideDrain({ existing: rec, connections: 1, now: 61_000, settings, timerBased: false, make }), { action: 'delete', why: 'drain timeout' });
  t.match(decideDrain({ existing: rec, connections: 0, now: 2000, settings, timerBased: false, make }), { action: 'delete', why: 'no connections' });
  t.match(decideDrain({ existing: undefined, connections: 0, now: 0, settings, timerBased: false, make }), { action: 'delete', why: 'no connections' });
  t.match(decideDrain({ existing: undefined, connections: 9, now: 0, settings, timerBased: true, make }), { action: 'delete', why: 'no drain for UDP' });
  t.match(decideDrain({ existing: undefined, connections: 9, now: 0, settings: { ...settings, udpTimeoutMs: 3000 }, timerBased: true, make }), { action: 'hold', record: { deadline: 3000 } });
  t.match(decideDrain({ existing: undefined, connections: 9, now: 0, settings: { ...settings, timeoutMs: 0 }, timerBased: false, make }), { action: 'delete', why: 'drain timeout' });
  t.equal(drainsOnTimer({ protocol: 'udp', address: '192.0.2.10', port: 53 }, false), true);
  t.equal(drainsOnTimer({ protocol: 'tcp', address: '192.0.2.10', port: 80 }, false), false);
  t.equal(drainsOnTimer({ fwmark: 1, family: 'ipv4' }, true), true, 'one-packet');
});
