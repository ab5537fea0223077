/**
 * Bulk apply on the real kernel: many operations per sendmsg, an ACK asked
 * only of each datagram's last message, the kernel carrying on after a
 * refused message. Every refusal must land on its own operation, with its
 * own typed error, wherever it falls in a datagram (first, middle, last: the
 * last one carries the ACK request), and the table must end up exactly as
 * the accepted operations alone would leave it.
 */
import t from 'tap';
import {
  completeDestinationConfig,
  completeServiceConfig,
  InvalidOperationsError,
  serviceKeyText,
  type AddressServiceKey,
  type IpvsClient,
  type Operation,
} from '../../../src/index';
import { withNetns, type Netns } from '../harness';

interface Case {
  op: Operation;
  /** Expected error class, or null when the kernel must accept it. */
  want: string | null;
  /** Text the error message must contain. */
  names?: string;
}

const svc = (i: number): AddressServiceKey => ({ protocol: 'tcp', address: `203.0.113.${i + 1}`, port: 80 });

/** A deterministic mix of accepted and refused operations of every kind. */
function mixedCases(n: number): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const s = svc(i);
    const text = serviceKeyText(s);
    const rs = { address: `198.51.100.${i + 2}`, port: 80 };
    cases.push({ op: { type: 'add-service', service: s, config: { scheduler: 'rr' } }, want: null });
    if (i % 5 === 0) cases.push({ op: { type: 'add-service', service: s, config: { scheduler: 'wrr' } }, want: 'ServiceExistsError', names: `${text} already exists` });
    cases.push({ op: { type: 'add-destination', service: s, destination: rs, config: { weight: i, forwarding: 'masq' } }, want: null });
    if (i % 4 === 1) cases.push({ op: { type: 'add-destination', service: s, destination: rs }, want: 'DestinationExistsError', names: `destination ${rs.address}:80 already exists in ${text}` });
    if (i % 6 === 2) {
      const missing = { protocol: 'tcp', address: '203.0.113.200', port: 1000 + i } as const;
      cases.push({ op: { type: 'add-destination', service: missing, destination: rs }, want: 'ServiceNotFoundError', names: `service tcp 203.0.113.200:${1000 + i} does not exist` });
    }
    if (i % 7 === 3) cases.push({ op: { type: 'add-destination', service: s, destination: { address: `224.0.0.${i + 1}`, port: 80 } }, want: 'InvalidArgumentError', names: `destination 224.0.0.${i + 1}:80 for ${text}` });
    if (i % 8 === 4) cases.push({ op: { type: 'delete-destination', service: s, destination: { address: `192.0.2.${i + 2}`, port: 80 } }, want: 'DestinationNotFoundError', names: `destination 192.0.2.${i + 2}:80 does not exist in ${text}` });
    if (i % 9 === 5) cases.push({ op: { type: 'edit-service', service: s, config: completeServiceConfig('ipv4', { scheduler: 'nosuch' }) }, want: 'SchedulerNotFoundError', names: "scheduler 'nosuch'" });
    if (i % 10 === 6) cases.push({ op: { type: 'delete-service', service: { fwmark: 100 + i, family: 'ipv4' } }, want: 'ServiceNotFoundError', names: `service fwmark ${100 + i} does not exist` });
    if (i % 11 === 7) cases.push({ op: { type: 'zero', service: { protocol: 'udp', address: s.address, port: 80 } }, want: 'ServiceNotFoundError', names: `service udp ${s.address}:80 does not exist` });
    if (i % 12 === 8) cases.push({ op: { type: 'set-timeouts', timeouts: { tcp: 0x7fffffff } }, want: 'InvalidArgumentError', names: 'timeouts' });
    if (i % 13 === 9) cases.push({ op: { type: 'edit-destination', service: s, destination: rs, config: completeDestinationConfig({ weight: 99, forwarding: 'masq', upperThreshold: 50, lowerThreshold: 5 }) }, want: null });
    if (i % 3 === 0) cases.push({ op: { type: 'zero', service: s }, want: null });
  }
  return cases;
}

/** Applies the accepted operations one call at a time: the reference state. */
async function applyOneByOne(c: IpvsClient, cases: readonly Case[]): Promise<void> {
  for (const { op } of cases) {
    switch (op.type) {
      case 'add-service':
        await c.addService(op.service, op.config);
        break;
      case 'add-destination':
        await c.addDestination(op.service, op.destination, op.config);
        break;
      case 'edit-destination':
        await c.replaceDestination(op.service, op.destination, op.config);
        break;
      case 'zero':
        await c.zero(op.service);
        break;
      default:
        throw new Error(`no reference for ${op.type}`);
    }
  }
}

async function checkAttribution(t: tap.Test, ns: Netns, cases: readonly Case[], label: string): Promise<void> {
  const r = await ns.client.apply(cases.map((c) => c.op));
  const got = r.errors.map((e) => (e ? e.constructor.name : null));
  t.same(got, cases.map((c) => c.want), `${label}: each operation's outcome, in order`);
  t.equal(r.applied, cases.filter((c) => c.want === null).length, `${label}: applied count`);
  t.same(r.failures.map((f) => f.index), cases.flatMap((c, i) => (c.want ? [i] : [])), `${label}: failures by index`);
  const misnamed = cases.flatMap((c, i) => {
    const e = r.errors[i];
    return c.names && e && !e.message.includes(c.names) ? [`#${i}: '${e.message}' lacks '${c.names}'`] : [];
  });
  t.same(misnamed, [], `${label}: every message names its own objects`);
  t.ok(r.failures.every((f) => f.operation === cases[f.index]?.op && f.error.errno > 0 && f.error.command !== undefined), `${label}: each failure carries its operation, errno and command`);
}

t.test('mixed accepted and refused operations, 7 to a datagram: every refusal on its own operation', async (t) => {
  const cases = mixedCases(60);
  const positions = new Set(cases.flatMap((c, i) => (c.want ? [i % 7] : [])));
  t.ok(positions.has(0) && positions.has(6), `refusals fall first and last in a datagram (positions ${[...positions].sort().join(',')})`);
  await withNetns(async (a) => {
    await checkAttribution(t, a, cases, '7 per datagram');
    t.ok(a.client.counters.sends >= Math.ceil(cases.length / 7), `${a.client.counters.sends} datagrams sent`);
    await withNetns(async (b) => {
      await applyOneByOne(b.client, cases.filter((c) => c.want === null));
      for (const cmd of ['ipvsadm -S -n', 'ipvsadm -Ln --thresholds']) {
        t.equal(await a.sh(cmd), await b.sh(cmd), `${cmd}: the table is what the accepted operations alone make`);
      }
    });
    t.same(await a.client.getTimeouts(), { tcp: 900, tcpFin: 120, udp: 300 }, 'the refused timeouts changed nothing');
  }, { batchMessages: 7 });
});

t.test('the same mix in one datagram', async (t) => {
  await withNetns(async (ns) => {
    const cases = mixedCases(60);
    const before = ns.client.counters.sends;
    await checkAttribution(t, ns, cases, 'one datagram');
    t.equal(ns.client.counters.sends - before, 1, 'one sendmsg');
  });
});

t.test('5,000 operations over several datagrams, every 97th refused', async (t) => {
  await withNetns(async (ns) => {
    const cases: Case[] = [];
    for (let i = 0; cases.length < 5000; i++) {
      const s: AddressServiceKey = { protocol: i % 2 ? 'udp' : 'tcp', address: `203.0.113.${(i % 250) + 1}`, port: 1 + Math.floor(i / 250) };
      if (cases.length % 97 === 96) cases.push({ op: { type: 'add-service', service: svc(0) }, want: 'ServiceExistsError', names: 'service tcp 203.0.113.1:80 already exists' });
      else if (i === 0) cases.push({ op: { type: 'add-service', service: svc(0) }, want: null });
      else cases.push({ op: { type: 'add-service', service: s }, want: null });
    }
    const before = ns.client.counters.sends;
    await checkAttribution(t, ns, cases, '5,000');
    t.ok(ns.client.counters.sends - before > 1, `${ns.client.counters.sends - before} datagrams`);
    const lines = (await ns.sh('ipvsadm -S -n')).split('\n').filter(Boolean).length;
    t.equal(lines, cases.filter((c) => c.want === null).length, 'ipvsadm lists every accepted service');
  });
});

t.test('an invalid operation: nothing is sent', async (t) => {
  await withNetns(async (ns) => {
    const ops: Operation[] = [
      { type: 'add-service', service: svc(0) },
      { type: 'add-destination', service: svc(0), destination: { address: '198.51.100.2', port: 80 }, config: { weight: -1 } },
      { type: 'add-service', service: svc(1) },
    ];
    const sends = ns.client.counters.sends;
    await t.rejects(ns.client.apply(ops), InvalidOperationsError, 'apply throws InvalidOperationsError');
    try {
      await ns.client.apply(ops);
    } catch (e) {
      t.same((e as InvalidOperationsError).failures.map((f) => [f.index, (f.error as { field?: string }).field]), [[1, 'config.weight']], 'naming the operation and its field');
    }
    t.equal(ns.client.counters.sends, sends, 'no datagram went out');
    t.equal(await ns.sh('ipvsadm -S -n'), '', 'the kernel table is untouched');
  });
});
