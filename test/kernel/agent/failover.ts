/**
 * Health checks driving the kernel, with real traffic through the VIP: a
 * killed real server is taken out within interval × fall (plus a small
 * margin) and the client sees no error after that; a revived one is back
 * within interval × rise.
 */
import { spawn } from 'node:child_process';
import t from 'tap';
import { burst, stream, tally, waitServing, weightChange, type Hit } from '../../../src/lab/procs';
import { drConfig, destLines, sleep, withLab, type AgentLab } from '../agent-harness';
import { shIn } from '../../../src/lab/topology';

const INTERVAL = 1000;
const FALL = 2;
const RISE = 2;
// Probes are jittered and a pass takes a few ms; UML's timers are coarse.
const MARGIN = 1000;

/** The director's connection entries (`ipvsadm -Lcn`) whose client port is one of the hits'. */
function connEntries(table: string, hits: readonly Hit[]): string {
  const ports = new Set(hits.map((h) => `:${h.port}`));
  const rows = table.split('\n').filter((l) => l.split(/\s+/).some((w) => ports.has(w.slice(w.lastIndexOf(':')))));
  return `failed ports ${hits.map((h) => h.port).join(' ')}; their entries:\n${rows.join('\n') || '(none)'}`;
}

/**
 * A process of its own in the guest that notes every gap of 250 ms or more
 * between its 50 ms ticks: a guest that was not run for that long (UML is
 * one host process; a loaded host can leave it waiting) shows up here, a
 * loss in the network does not.
 */
function stallWatch(): { gaps(): string; stop(): void } {
  const code = `let last = Date.now(); setInterval(() => { const now = Date.now(); if (now - last >= 250) console.log(new Date(last).toISOString() + ' +' + (now - last) + ' ms'); last = now; }, 50);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { gaps: () => out.trim() || '(none)', stop: () => void child.kill() };
}

/**
 * What the hosts saw when requests fail: the director's entries for their
 * ports and its per-server counters, and every host's non-zero drop,
 * retransmission and reset counters. (It found the one loss this test used
 * to meet in a few loaded runs: a client port reused while the director
 * still held a FIN_WAIT entry to the removed server, port-reuse.ts; the DR
 * lab's director now sets expire_nodest_conn=1.)
 */
function diagnose(lab: AgentLab, failed: readonly Hit[], stalls: { gaps(): string }): string {
  const counters = /Drop|Discard|Fail|Retrans|Reset|Abort|PAWS|Overflow|Backlog|Error|Miss|TW|Unreach|Timeout/;
  const hosts = [lab.net.client, lab.net.director, ...lab.net.realServers];
  const nstat = hosts.map((h) => {
    const rows = shIn(h.netns, 'nstat -az 2>/dev/null || true')
      .split('\n')
      .map((l) => l.split(/\s+/))
      .filter(([name = '', value]) => counters.test(name) && Number(value) > 0);
    return `${h.name}: ${rows.map(([name, value]) => `${name}=${value}`).join(' ') || '(none)'}`;
  });
  return [
    `failed at ${failed.map((h) => new Date(h.t).toISOString()).join(' ')}`,
    connEntries(lab.director('ipvsadm -Lcn'), failed),
    lab.director('ipvsadm -Ln --stats'),
    ...nstat,
    `the guest's pauses of 250 ms or more (a ticker process):\n${stalls.gaps()}`,
  ].join('\n');
}

function split(hits: Hit[], at: number): { before: Hit[]; after: Hit[] } {
  return { before: hits.filter((h) => h.t < at), after: hits.filter((h) => h.t >= at) };
}

t.test('DR, policy remove: killed server deleted within interval × fall, no client error after; revived within interval × rise', async (t) => {
  const stalls = stallWatch();
  t.teardown(stalls.stop);
  await withLab(t, 'dr', async (lab) => {
    lab.writeConfig(drConfig());
    const agent = await lab.startAgent();
    await waitServing(agent, ['192.0.2.11:80', '192.0.2.12:80', '192.0.2.13:80'], 20_000);

    const flow = stream(lab.net, 'http://192.0.2.10/', 40);
    await sleep(1500);
    const mark = agent.events.length;
    const killedAt = Date.now();
    await lab.kill('web2');
    const removed = await agent.waitEvent((e) => weightChange(e, '192.0.2.12:80', false), 10_000, 'web2 removed', mark);
    const removedAt = Date.parse(removed.time);
    t.equal(removed.action, 'delete-destination');
    t.match(agent.named('health-down', mark)[0], { realServer: '192.0.2.12:80', reason: /ECONNREFUSED|ECONNRESET/ });
    const delay = removedAt - killedAt;
    t.ok(delay <= INTERVAL * FALL + MARGIN, `removed ${delay} ms after the kill (bound ${INTERVAL * FALL} + ${MARGIN})`);
    t.same(destLines(lab.save(), '-t 192.0.2.10:80'), ['-a -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 1', '-a -t 192.0.2.10:80 -r 192.0.2.13:80 -g -w 1']);
    await sleep(3000);
    const hits = await flow.stop();
    const { after } = split(hits, removedAt);
    t.ok(after.length >= 60, `${after.length} requests after the removal`);
    const failed = after.filter((h) => h.error);
    t.same(failed, [], 'no failed request after the removal');
    // Should a request fail here, what the hosts saw is printed with it.
    if (failed.length > 0) t.comment(diagnose(lab, failed, stalls));
    t.same([...tally(after).keys()].sort(), ['web1', 'web3'], 'served by the two others');
    t.same(hits.filter((h) => h.t + h.ms < killedAt && h.error), [], 'no failure before the kill');

    const mark2 = agent.events.length;
    const flow2 = stream(lab.net, 'http://192.0.2.10/', 40);
    await lab.revive('web2');
    const upAt = Date.now();
    const back = await agent.waitEvent((e) => weightChange(e, '192.0.2.12:80', true), 10_000, 'web2 back', mark2);
    const backAt = Date.parse(back.time);
    t.ok(backAt - upAt <= INTERVAL * RISE + MARGIN, `back ${backAt - upAt} ms after it listened (bound ${INTERVAL * RISE} + ${MARGIN})`);
    await sleep(2000);
    const hits2 = await flow2.stop();
    const failed2 = hits2.filter((h) => h.error);
    t.same(failed2, [], 'no failure while it came back');
    if (failed2.length > 0) t.comment(diagnose(lab, failed2, stalls));
    t.ok(split(hits2, backAt).after.some((h) => h.server === 'web2'), 'web2 serves again');
  });
});

t.test('NAT, policy inhibit: a killed server goes to weight 0 in place (never deleted), then back', async (t) => {
  await withLab(t, 'nat', async (lab) => {
    lab.writeConfig(`interval: 1s
services:
  - protocol: tcp
    address: 203.0.113.10
    port: 80
    scheduler: wrr
    forwarding: masq
    failurePolicy: inhibit
    check: { type: tcp, interval: 1s, timeout: 500ms, fall: 2, rise: 2 }
    realServers:
      - { address: 198.51.100.11, port: 8080, weight: 1 }
      - { address: 198.51.100.12, port: 8080, weight: 2 }
`);
    const agent = await lab.startAgent();
    await waitServing(agent, ['198.51.100.11:8080', '198.51.100.12:8080'], 20_000);
    const flow = stream(lab.net, 'http://203.0.113.10/', 40);
    await sleep(1000);
    const mark = agent.events.length;
    const killedAt = Date.now();
    await lab.kill('app2');
    const inhibited = await agent.waitEvent((e) => weightChange(e, '198.51.100.12:8080', false), 10_000, 'app2 inhibited', mark);
    t.equal(inhibited.action, 'edit-destination', 'an edit in place');
    t.ok(Date.parse(inhibited.time) - killedAt <= INTERVAL * FALL + MARGIN, `inhibited ${Date.parse(inhibited.time) - killedAt} ms after the kill`);
    t.same(destLines(lab.save(), '-t 203.0.113.10:80'), ['-a -t 203.0.113.10:80 -r 198.51.100.11:8080 -m -w 1', '-a -t 203.0.113.10:80 -r 198.51.100.12:8080 -m -w 0']);
    await sleep(2500);
    const hits = await flow.stop();
    t.same(split(hits, Date.parse(inhibited.time)).after.filter((h) => h.error), [], 'no failure after the inhibition');
    await lab.revive('app2');
    await waitServing(agent, ['198.51.100.12:8080'], 10_000, mark);
    t.same(destLines(lab.save(), '-t 203.0.113.10:80'), ['-a -t 203.0.113.10:80 -r 198.51.100.11:8080 -m -w 1', '-a -t 203.0.113.10:80 -r 198.51.100.12:8080 -m -w 2']);
    t.notOk(agent.events.some((e) => e.event === 'kernel-change' && e.action === 'delete-destination'), 'never deleted');
    // The distribution is back to 1:2.
    const d = tally(burst(lab.net, 'http://203.0.113.10/', 90));
    t.same([d.get('app1'), d.get('app2')], [30, 60]);
  });
});
