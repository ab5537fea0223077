/**
 * What the systemd unit (examples/ipvs-agent.service) grants is enough: the
 * agent runs as an unprivileged user with CAP_NET_ADMIN alone (no root, no
 * other capability) and manages IPVS; without the capability it fails with
 * a message that names it.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { drConfig, serviceLines, withLab } from '../agent-harness';

t.test('nobody with only CAP_NET_ADMIN runs the agent; without it, a clear refusal', async (t) => {
  await withLab(t, 'dr', async (lab) => {
    lab.writeConfig(drConfig().replace(/    check: .*\n/, ''));
    // The configuration is readable by the service user, the state directory
    // belongs to it (systemd's StateDirectory= does this).
    chmodSync(lab.dir, 0o755);
    chmodSync(lab.configFile, 0o644);
    mkdirSync(lab.stateDir);
    chownSync(lab.stateDir, 65534, 65534);

    const once = lab.runAgent(['--once'], { asNobody: true });
    t.equal(once.code, 0, `exit status (stderr: ${once.stderr.trim()})`);
    t.equal(serviceLines(lab.save(), '-t 192.0.2.10:80').length, 4, 'the service and its three real servers were added');
    const caps = lab.runAgent(['--check-config'], { asNobody: true });
    t.equal(caps.code, 0);

    lab.director('ipvsadm -C');
    // Under UML's hostfs the state file written above belongs to the host's root, not to nobody.
    lab.director(`rm -f ${lab.stateDir}/state.json ${lab.stateDir}/rules.save`);
    // The same user with no capability at all.
    let out = '';
    let code = 0;
    try {
      execFileSync('ip', ['netns', 'exec', lab.net.director.netns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', 'node', `${__dirname}/../../../src/agent/main.js`, '--config', lab.configFile, '--state-dir', lab.stateDir, '--listen', 'none', '--once'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { status: number; stdout: string };
      code = err.status;
      out = err.stdout;
    }
    t.equal(code, 1, 'fails');
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event?: string; level?: number | string; msg: string });
    t.match(lines.find((l) => l.level === 'error' || l.event === 'pass-failed' || l.event === 'kernel-change-failed' || l.event === 'kernel-unavailable' || l.event === 'start-failed'), { msg: /CAP_NET_ADMIN/ });
    t.equal(lab.save(), '', 'and changed nothing');
  });
});
