/**
 * Changes made behind the agent's back with ipvsadm are repaired within one
 * pass (the periodic interval), each logged as a repair.
 */
import t from 'tap';
import { waitServing } from '../../../src/lab/procs';
import { drConfig, sleep, withLab } from '../agent-harness';

const INTERVAL = 1000;
// A pass is due within one interval of the change; allow for the pass itself and UML's timers.
const BOUND = INTERVAL + 500;

t.test('ipvsadm -C, -d, -e, -E and an extra -a are each repaired within one pass', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    lab.writeConfig(drConfig({ interval: `${INTERVAL}ms` }));
    const agent = await lab.startAgent();
    await waitServing(agent, ['192.0.2.11:80', '192.0.2.12:80', '192.0.2.13:80'], 20_000);
    await sleep(1500);
    const good = lab.save();
    // Each tampering, and the repair it must cause (the pass may come before
    // the test can even look, so the repair event is the evidence).
    const cases: [string, string, string, string | undefined][] = [
      ['flush (ipvsadm -C)', 'ipvsadm -C', 'add-service', undefined],
      ['delete a real server (ipvsadm -d)', 'ipvsadm -d -t 192.0.2.10:80 -r 192.0.2.12:80', 'add-destination', '192.0.2.12:80'],
      ['edit a weight (ipvsadm -e)', 'ipvsadm -e -t 192.0.2.10:80 -r 192.0.2.11:80 -g -w 7', 'edit-destination', '192.0.2.11:80'],
      ['edit the scheduler (ipvsadm -E)', 'ipvsadm -E -t 192.0.2.10:80 -s wlc', 'edit-service', undefined],
      ['add a real server (ipvsadm -a)', 'ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.50:80 -g', 'delete-destination', '192.0.2.50:80'],
    ];
    for (const [what, cmd, action, realServer] of cases) {
      const mark = agent.events.length;
      const at = Date.now();
      lab.director(cmd);
      const fix = await agent.waitEvent((e) => e.event === 'kernel-change' && e.action === action && e.realServer === realServer, 5000, `${what} repaired`, mark);
      const took = Date.parse(fix.time) - at;
      await sleep(300); // the rest of the same pass's changes are logged with it
      t.equal(lab.save(), good, `${what}: restored`);
      t.ok(took <= BOUND, `${what}: repaired ${took} ms after the change (one pass: ≤ ${BOUND})`);
      t.ok(agent.named('kernel-change', mark).every((e) => e.repair === true), `${what}: logged as a repair`);
      const passes = new Set(agent.named('kernel-change', mark).map((e) => e.time.slice(0, 21)));
      t.ok(passes.size <= 2, `${what}: in one pass (${[...passes].join(', ')})`);
    }
  });
});
