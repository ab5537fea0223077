/**
 * The agent's life cycle on the real kernel, under continuous traffic:
 * restart and SIGHUP reload lose no request; an invalid reload changes
 * nothing; a foreign service created with ipvsadm survives every operation
 * untouched; stop never flushes; --cleanup-on-exit removes only what the
 * agent owns; --dry-run changes nothing; --once runs one pass.
 */
import t from 'tap';
import { burst, stream, tally, waitServing } from '../../../src/lab/procs';
import { drConfig, destLines, serviceLines, sleep, withLab, type AgentLab } from '../agent-harness';

const WEB = ['192.0.2.11:80', '192.0.2.12:80', '192.0.2.13:80'];
const FOREIGN = '-t 203.0.113.99:443';

/** Creates a service the agent does not own, with ipvsadm, and returns its save lines. */
function addForeign(lab: AgentLab): string[] {
  lab.director(`ipvsadm -A ${FOREIGN} -s lc -p 120 && ipvsadm -a ${FOREIGN} -r 192.0.2.77:443 -m -w 4 && ipvsadm -a ${FOREIGN} -r 192.0.2.78:443 -g -w 0`);
  return serviceLines(lab.save(), FOREIGN);
}

t.test('restart and SIGHUP reload under continuous traffic: zero failed requests; the foreign service untouched throughout', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    const foreign = addForeign(lab);
    t.equal(foreign.length, 3);
    lab.writeConfig(drConfig());
    let agent = await lab.startAgent();
    await waitServing(agent, WEB, 20_000);
    const flow = stream(lab.net, 'http://192.0.2.10/', 40);
    await sleep(1500);

    // Restart: stop (SIGTERM) and start again while traffic flows.
    await agent.stop('SIGTERM');
    t.match(agent.named('stop')[0], { cleanup: false, removedServices: 0 });
    t.same(destLines(lab.save(), '-t 192.0.2.10:80').length, 3, 'stopping left the rules in place');
    agent = await lab.startAgent();
    await sleep(4000); // several passes and every first probe
    t.same(agent.named('kernel-change'), [], 'the restarted agent changed nothing: serving servers were adopted');

    // Reload: a weight change and a fourth server that does not exist (its check never passes).
    lab.writeConfig(drConfig({ servers: [11, 12, 13, 14] }).replace('      - address: 192.0.2.11\n', '      - address: 192.0.2.11\n        weight: 2\n'));
    const mark = agent.events.length;
    agent.child.kill('SIGHUP');
    await agent.waitEvent((e) => e.event === 'reload-accepted', 10_000, 'reload accepted', mark);
    const edit = await agent.waitEvent((e) => e.event === 'kernel-change' && e.realServer === '192.0.2.11:80', 10_000, 'the weight edit', mark);
    t.equal(edit.action, 'edit-destination', 'edited in place');
    await sleep(3000);
    const hits = await flow.stop();
    t.ok(hits.length > 250, `${hits.length} requests`);
    t.same(hits.filter((h) => h.error), [], 'no failed request across restart and reload');
    t.same(destLines(lab.save(), '-t 192.0.2.10:80'), [
      '-a -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 2',
      '-a -t 192.0.2.10:80 -r 192.0.2.12:80 -g -w 1',
      '-a -t 192.0.2.10:80 -r 192.0.2.13:80 -g -w 1',
    ]);
    t.same(serviceLines(lab.save(), FOREIGN), foreign, 'the foreign service is untouched');
    t.notOk(agent.lines.some((l) => l.includes('203.0.113.99')), 'the agent never even mentioned it');
  });
});

t.test('an invalid configuration on reload changes nothing, and the agent says why', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    const foreign = addForeign(lab);
    lab.writeConfig(drConfig());
    const agent = await lab.startAgent();
    await waitServing(agent, WEB, 20_000);
    const before = lab.save();
    // One real server less (a change a valid file would make), plus a bad weight and a typo.
    lab.writeConfig(drConfig({ servers: [11, 12] }).replace('    scheduler: rr\n', '    scheduler: rr\n    schedular: wrr\n').replace('      - address: 192.0.2.12\n', '      - address: 192.0.2.12\n        weight: -5\n'));
    const mark = agent.events.length;
    agent.child.kill('SIGHUP');
    const refused = await agent.waitEvent((e) => e.event === 'reload-refused', 10_000, 'reload refused', mark);
    t.match(refused.problems, [/^services\[0\]\.schedular: unknown key/, /^services\[0\]\.realServers\[1\]\.weight: must be >= 0/]);
    await sleep(3000); // three periodic passes with the old configuration
    t.equal(lab.save(), before, 'the kernel is exactly as before');
    t.same(agent.named('kernel-change', mark), []);
    t.same(serviceLines(lab.save(), FOREIGN), foreign);
    // The old configuration is still enforced: drift is still repaired.
    lab.director('ipvsadm -d -t 192.0.2.10:80 -r 192.0.2.13:80');
    await agent.waitEvent((e) => e.event === 'kernel-change' && e.realServer === '192.0.2.13:80', 5000, 'repair with the old configuration', mark);
    t.equal(lab.save(), before);
  });
});

t.test('stop never flushes; --cleanup-on-exit removes only owned services; the foreign service survives both', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    const foreign = addForeign(lab);
    lab.writeConfig(drConfig());
    let agent = await lab.startAgent();
    await waitServing(agent, WEB, 20_000);
    await agent.stop('SIGINT');
    t.equal(serviceLines(lab.save(), '-t 192.0.2.10:80').length, 4, 'SIGINT: rules left in place');
    agent = await lab.startAgent(['--cleanup-on-exit']);
    await sleep(1500);
    await agent.stop('SIGTERM');
    t.match(agent.named('stop')[0], { cleanup: true, removedServices: 1 });
    t.same(serviceLines(lab.save(), '-t 192.0.2.10:80'), [], 'the owned service is gone');
    t.same(serviceLines(lab.save(), FOREIGN), foreign, 'the foreign one is untouched');
    t.equal(lab.save().split('\n').filter(Boolean).length, 3, 'and nothing else is left');
  });
});

t.test('--dry-run prints the plan and changes nothing; --once applies one pass and exits', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    const foreign = addForeign(lab);
    // Unchecked real servers: a one-shot run has no probes to wait for.
    lab.writeConfig(drConfig().replace(/    check: .*\n/, ''));
    const dry = lab.runAgent(['--dry-run']);
    t.equal(dry.code, 0, dry.stderr);
    t.same(dry.stdout.split('\n').filter((l) => l && !l.startsWith('#')), [
      'ipvsadm -A -t 192.0.2.10:80 -s rr',
      'ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 1',
      'ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.12:80 -g -w 1',
      'ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.13:80 -g -w 1',
    ]);
    t.same(serviceLines(lab.save(), '-t 192.0.2.10:80'), [], 'nothing applied');
    const once = lab.runAgent(['--once']);
    t.equal(once.code, 0, once.stderr);
    t.equal(serviceLines(lab.save(), '-t 192.0.2.10:80').length, 4, 'one pass applied');
    t.same(serviceLines(lab.save(), FOREIGN), foreign);
    const again = lab.runAgent(['--dry-run']);
    t.same(again.stdout.split('\n').filter((l) => l && !l.startsWith('#')), [], 'converged: a dry run has nothing to do');
    const d = tally(burst(lab.net, 'http://192.0.2.10/', 30));
    t.same([d.get('web1'), d.get('web2'), d.get('web3')], [10, 10, 10], 'and it serves, round robin');
  });
});
