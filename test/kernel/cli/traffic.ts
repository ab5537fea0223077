/**
 * With real traffic (the shared lab, test/kernel/lab.ts: a client, the
 * director, two HTTP real servers): a client keeps requesting a NAT
 * service while `ipvs restore` changes other services and this service's
 * other real server (reweighted in place, removed, added back): not one
 * request fails, and the service keeps its counters (it was never
 * re-created). The same traffic gives counters, rates and connection
 * entries to compare `ipvs -L --stats/--rate/-c` with ipvsadm's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { withLab, type Lab } from '../lab';
import type { Netns } from '../harness';
import { IPVS, asIpvs, shown } from '../cli-helpers';

const VIP = '203.0.113.10';
/** Requests before the client looks at its stop file (it then goes on until the file exists). */
const REQUESTS = 300;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Compares a view that changes with time (rates): equal in one of a few back-to-back tries. */
async function sameSoon(t: Test, ns: Netns, args: string): Promise<void> {
  let last: [unknown, unknown] = [undefined, undefined];
  for (let i = 0; i < 8; i++) {
    const a = await ns.exec(`ipvsadm ${args}`);
    const b = await ns.exec(`${IPVS} ${args}`);
    last = [shown(b), { ...shown(a), stdout: asIpvs(a.stdout) }];
    if (JSON.stringify(last[0]) === JSON.stringify(last[1])) break;
  }
  t.same(last[0], last[1], `ipvs ${args}`);
}

/**
 * Compares connection listings: entry timers tick every second and the two
 * commands run one after the other, so the expiry column may be lower in
 * the later (ipvs) listing by up to the time both took; everything else,
 * including the expiry column's format and width, must be the same.
 */
async function sameConnections(t: Test, ns: Netns, args: string): Promise<void> {
  const started = Date.now();
  const a = await ns.exec(`ipvsadm ${args}`);
  const b = await ns.exec(`${IPVS} ${args}`);
  // Without -n, ipvsadm resolves names between reads of the table: allow the time both took.
  const slack = Math.ceil((Date.now() - started) / 1000) + 1;
  t.same({ code: b.code, stderr: b.stderr }, { code: a.code, stderr: a.stderr }, `ipvs ${args}: status and stderr`);
  const la = a.stdout.split('\n');
  const lb = b.stdout.split('\n');
  t.equal(lb.length, la.length, `ipvs ${args}: as many lines`);
  t.same(lb.slice(0, 2), la.slice(0, 2), `ipvs ${args}: headings`);
  const seconds = (e: string): number => {
    const [m, s] = e.trim().split(':').map(Number) as [number, number];
    return m * 60 + s;
  };
  let bad = 0;
  for (let i = 2; i < la.length; i++) {
    const x = la[i] as string;
    const y = lb[i] ?? '';
    if (x === '' && y === '') continue;
    const dt = seconds(x.slice(4, 10)) - seconds(y.slice(4, 10));
    const sameRest = x.slice(0, 4) === y.slice(0, 4) && x.slice(10) === y.slice(10) && /^\d\d:\d\d {1,2}$/.test(y.slice(4, 11));
    if (!sameRest || dt < 0 || dt > slack) {
      bad++;
      if (bad <= 3) t.fail(`line ${i + 1} differs:\n  ipvsadm: ${x}\n  ipvs:    ${y}`);
    }
  }
  t.equal(bad, 0, `ipvs ${args}: every entry the same (expiry within ${slack} s)`);
}

/** Runs `ipvs restore` of `lines` in the director; the kernel must then hold exactly them. */
async function restore(t: Test, lab: Lab, lines: string[]): Promise<void> {
  const file = `${lines.join('\n')}\n`;
  const r = await lab.director.exec(`${IPVS} restore`, file);
  t.same(shown(r), { code: 0, stdout: '', stderr: '' }, `restore to ${lines.length} lines succeeds`);
  t.equal(await lab.director.sh('ipvsadm -S -n'), file, 'the end state is the file');
}

t.test('restores under load: zero failed requests, the busy service untouched', async (t) => {
  await withLab(async (lab) => {
    const [r1, r2] = lab.servers;
    const busy = (r2w: number | undefined): string[] => [
      `-A -t ${VIP}:80 -s rr`,
      `-a -t ${VIP}:80 -r ${r1.v4}:8080 -m -w 1`,
      ...(r2w === undefined ? [] : [`-a -t ${VIP}:80 -r ${r2.v4}:8080 -m -w ${r2w}`]),
    ];
    await lab.director.exec(
      'ipvsadm -R',
      `${[...busy(1), '-A -t 203.0.113.11:80 -s wlc', `-a -t 203.0.113.11:80 -r ${r1.v4}:8080 -m -w 1`, '-A -u 203.0.113.20:5060 -s sh -p 60 --pe sip', `-a -u 203.0.113.20:5060 -r ${r2.v4}:5060 -m -w 1`].join('\n')}\n`,
    );
    const others = ['-A -t 203.0.113.11:80 -s lc', `-a -t 203.0.113.11:80 -r ${r2.v4}:8080 -m -w 2`, '-A -t 203.0.113.30:80 -s rr', `-a -t 203.0.113.30:80 -r ${r1.v4}:8080 -m -w 1`];
    let running = true;
    // The client requests until this file exists: the restores below always run under load.
    const dir = mkdtempSync(join(tmpdir(), 'ipvs-traffic-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const stop = join(dir, 'stop');
    // Each request is a new connection; a failed one makes http() reject.
    const load = lab.http(`http://${VIP}/`, REQUESTS, stop).finally(() => (running = false));
    load.catch(() => undefined); // awaited below
    await sleep(1500);
    await lab.director.sh(`ipvsadm -L -n --stats`); // let the estimator see the first connections
    await sleep(2000);
    const statsBefore = await lab.director.sh(`ipvsadm -L -n --stats --exact -t ${VIP}:80`);
    // Other services change; r2 is reweighted in place, then removed, then added back.
    await restore(t, lab, [...busy(3), ...others]);
    await restore(t, lab, [...busy(undefined), ...others]);
    await restore(t, lab, [...busy(1), ...others]);
    t.ok(running, 'the client was still requesting when the last restore ended');
    writeFileSync(stop, '');
    const replies = await load;
    t.ok(replies.length >= REQUESTS, `every request was answered (${replies.length})`);
    t.same(
      replies.filter((r) => r.status !== 200),
      [],
      'no request failed',
    );
    const served = new Set(replies.map((r) => r.body));
    t.ok(served.has('r1') && served.has('r2'), 'both real servers served');
    await sleep(2500);
    const conns = (text: string): bigint => BigInt((/^TCP +\S+ +(\d+)/m.exec(text) as RegExpExecArray)[1] as string);
    const statsAfter = await lab.director.sh(`ipvsadm -L -n --stats --exact -t ${VIP}:80`);
    t.ok(conns(statsBefore) > 0n && conns(statsAfter) > conns(statsBefore), 'the service kept its counters (it was not re-created)');
  });
});

t.test('counters, rates and connection entries: the same views as ipvsadm', async (t) => {
  await withLab(async (lab) => {
    const [r1, r2] = lab.servers;
    const d = lab.director;
    await d.exec(
      'ipvsadm -R',
      [
        `-A -t ${VIP}:80 -s rr`,
        `-a -t ${VIP}:80 -r ${r1.v4}:8080 -m`,
        `-a -t ${VIP}:80 -r ${r2.v4}:8080 -m -w 2`,
        '-A -t [2001:db8:c::10]:80 -s wlc',
        `-a -t [2001:db8:c::10]:80 -r [${r1.v6}]:8080 -m`,
        '-A -u 203.0.113.20:5060 -s rr -p 60 --pe sip',
        `-a -u 203.0.113.20:5060 -r ${r1.v4}:5060 -m`,
        '',
      ].join('\n'),
    );
    await lab.http(`http://${VIP}/`, 40);
    await lab.http('http://[2001:db8:c::10]/', 10);
    await lab.sip('203.0.113.20', 5060, 5070, 'test-call-1234@example.test');
    await sleep(4500); // the rate estimator folds counters in every 2 s
    for (const v of ['-L -n --stats', '-L -n --stats --exact', '-L --stats', '-L -n --rate', '-L -n --rate --exact', '-L -n --persistent-conn', `-L -n -t ${VIP}:80 --stats`]) {
      await sameSoon(t, d, v);
    }
    for (const v of ['-L -n -c', '-L -c', '-L -n -c --persistent-conn']) await sameConnections(t, d, v);
    t.match(await d.sh(`${IPVS} -L -n -c`), /^TCP .* 203\.0\.113\.10:80 +198\.51\.100\.(11|140):8080$/m, 'connection entries are listed');
    t.match(await d.sh(`${IPVS} -L -n -c --persistent-conn`), /sip +test-call-1234@example\.test$/m, 'the sip template carries its Call-ID');
    const json = JSON.parse(await d.sh(`${IPVS} -L -n --json`)) as { services: { address?: string; port: number; stats: { conns: number } }[] };
    const http = json.services.find((s) => s.address === VIP && s.port === 80);
    const text = await d.sh(`ipvsadm -L -n --stats --exact -t ${VIP}:80`);
    t.equal(String(http?.stats.conns), (/^TCP +\S+ +(\d+)/m.exec(text) as RegExpExecArray)[1], '--json has the exact counters ipvsadm shows');
    const cj = JSON.parse(await d.sh(`${IPVS} -L -n -c --json`)) as { connections: { protocol: string; template: boolean; persistenceData: string | null }[] };
    t.ok(cj.connections.some((x) => x.template && x.persistenceData === 'test-call-1234@example.test'), '--json lists the sip template');
    t.ok(cj.connections.some((x) => x.protocol === 'TCP' && !x.template), '--json lists the TCP connections');
  });
});
