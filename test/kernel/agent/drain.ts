/**
 * Graceful drain on the real kernel: a real server leaving the configuration
 * keeps its established connection at weight 0 and is deleted when its
 * drain ends; a restarted agent finishes a drain at its persisted deadline.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnIn } from '../../../src/lab/topology';
import { Proc, waitServing } from '../../../src/lab/procs';
import { drConfig, destLines, sleep, withLab, type AgentLab } from '../agent-harness';

/**
 * Opens a TCP connection from the client to the VIP and keeps it established
 * (the kernel counts it as active): the request line is sent, the headers
 * never end, so the server waits (node's headers timeout is a minute).
 */
async function holdConnection(lab: AgentLab): Promise<Proc> {
  const script = "const s=require('net').connect(80,'192.0.2.10',()=>{s.write('GET / HTTP/1.1\\r\\n');console.log('connected')});s.on('close',()=>console.log('closed'));setInterval(()=>{},1000)";
  const p = new Proc('holder', spawnIn(lab.net.client.netns, ['node', '-e', script]));
  await p.waitLine((l) => l === 'connected', 10_000, 'the held connection');
  await sleep(300);
  return p;
}

function activeConns(lab: AgentLab, rs: string): number {
  const line = lab.director('ipvsadm -L -n').split('\n').find((l) => l.includes(`-> ${rs}`));
  return line ? Number(line.trim().split(/\s+/)[4]) : -1;
}

t.test('a real server leaving the configuration drains at weight 0, then is deleted', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    lab.writeConfig(drConfig({ servers: [11], drain: '{ timeout: 4s }' }));
    const agent = await lab.startAgent();
    await waitServing(agent, ['192.0.2.11:80'], 20_000);
    const holder = await holdConnection(lab);
    t.equal(activeConns(lab, '192.0.2.11:80'), 1, 'one established connection');

    const mark = agent.events.length;
    lab.writeConfig(drConfig({ servers: [12], drain: '{ timeout: 4s }' }));
    agent.child.kill('SIGHUP');
    const started = await agent.waitEvent((e) => e.event === 'drain-started', 10_000, 'drain started', mark);
    t.match(started, { realServer: '192.0.2.11:80', connections: 1 });
    t.same(destLines(lab.save(), '-t 192.0.2.10:80')[0], '-a -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 0', 'weight 0, still present');
    const state = JSON.parse(readFileSync(join(lab.stateDir, 'state.json'), 'utf8'));
    t.match(state.drains, [{ destinationId: '192.0.2.11:80' }], 'the drain is persisted');
    t.equal(activeConns(lab, '192.0.2.11:80'), 1, 'the connection carries on');

    const finished = await agent.waitEvent((e) => e.event === 'drain-finished', 10_000, 'drain finished', mark);
    t.match(finished, { realServer: '192.0.2.11:80', why: 'drain timeout' });
    t.ok((finished.drainedMs as number) >= 4000 && (finished.drainedMs as number) < 6000, `drained ${finished.drainedMs} ms (timeout 4 s)`);
    await sleep(300);
    t.notOk(lab.save().includes('192.0.2.11:80'), 'deleted');
    await holder.stop();
  });
});

t.test('with no connections a leaving real server is deleted at once', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    lab.writeConfig(drConfig({ servers: [11, 12] }).replace(/    check: .*\n/, ''));
    const agent = await lab.startAgent();
    await waitServing(agent, ['192.0.2.11:80', '192.0.2.12:80'], 20_000);
    const mark = agent.events.length;
    lab.writeConfig(drConfig({ servers: [11] }).replace(/    check: .*\n/, ''));
    agent.child.kill('SIGHUP');
    const del = await agent.waitEvent((e) => e.event === 'kernel-change' && e.realServer === '192.0.2.12:80', 10_000, 'deleted', mark);
    t.match(del, { action: 'delete-destination', reason: /no connections/ });
    t.same(agent.named('drain-started', mark), []);
  });
});

t.test('an agent restarted mid-drain finishes the drain at the persisted deadline', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    lab.writeConfig(drConfig({ servers: [11], drain: '{ timeout: 6s }' }));
    let agent = await lab.startAgent();
    await waitServing(agent, ['192.0.2.11:80'], 20_000);
    const holder = await holdConnection(lab);
    lab.writeConfig(drConfig({ servers: [12], drain: '{ timeout: 6s }' }));
    agent.child.kill('SIGHUP');
    const started = await agent.waitEvent((e) => e.event === 'drain-started', 10_000, 'drain started');
    const deadline = Date.parse(started.deadline as string);
    await agent.stop('SIGTERM');
    await sleep(1000);
    agent = await lab.startAgent();
    t.match(agent.named('start')[0], { drains: 1 }, 'the restarted agent knows the drain');
    t.ok(lab.save().includes('-r 192.0.2.11:80 -g -w 0'), 'still held at weight 0 after the restart');
    const finished = await agent.waitEvent((e) => e.event === 'drain-finished', 15_000, 'drain finished after restart');
    const at = Date.parse(finished.time);
    t.ok(at >= deadline && at - deadline < 2000, `finished ${at - deadline} ms after the original deadline`);
    t.match(finished, { why: 'drain timeout' });
    await sleep(300);
    t.notOk(lab.save().includes('192.0.2.11:80'));
    await holder.stop();
  });
});
