/**
 * With real traffic: a client keeps requesting a NAT service (real HTTP
 * servers in their own namespaces) while `ipvs restore` changes other
 * services and this service's other real servers: not one request fails,
 * and the service's counters and connections survive (it was not touched).
 * The same traffic gives counters, rates and connection entries to compare
 * `ipvs -L --stats/--rate/-c` with ipvsadm's.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withNetns, type Netns } from '../harness';
import { IPVS, asIpvs, shown } from '../cli-helpers';


const VIP = '203.0.113.100';
const SERVERS = [1, 2, 3, 4].map((i) => ({ ns: '', name: `rs${i}`, director: `198.51.100.${4 * i - 3}`, address: `198.51.100.${4 * i - 2}` }));

function sh(cmd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', cmd]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function must(cmd: string): Promise<void> {
  const r = await sh(cmd);
  if (r.code !== 0) throw new Error(`'${cmd}' failed: ${r.stderr}`);
}

/** An HTTP server answering its own name, in namespace `ns`. */
function httpServer(ns: string, name: string): ChildProcess {
  const code = `require('http').createServer((q, s) => s.end(${JSON.stringify(name)})).listen(80, () => console.log('up'))`;
  return spawn('ip', ['netns', 'exec', ns, 'node', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** A client requesting http://VIP/ in a loop (a new connection each time) until `stop` exists; prints a summary. */
function client(ns: string, stop: string): ChildProcess {
  const code = `
    const http = require('http'); const fs = require('fs');
    const r = { ok: 0, failed: 0, errors: [], servers: {} }; let said = false;
    const once = () => new Promise((done) => {
      const q = http.get({ host: '${VIP}', port: 80, path: '/', agent: false, timeout: 3000 }, (res) => {
        let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => { r.ok++; r.servers[b] = (r.servers[b] || 0) + 1; done(); });
        res.on('error', (e) => { r.failed++; r.errors.push(String(e)); done(); });
      });
      q.on('timeout', () => q.destroy(new Error('timeout')));
      q.on('error', (e) => { r.failed++; r.errors.push(String(e)); done(); });
    });
    (async () => {
      while (!fs.existsSync(${JSON.stringify(stop)})) {
        await once();
        if (!said && r.ok >= 30) { said = true; console.log('steady'); }
      }
      console.log(JSON.stringify(r));
    })();`;
  return spawn('ip', ['netns', 'exec', ns, 'node', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}

function waitFor(p: ChildProcess, word: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no '${word}' in 60 s: ${out}`)), 60_000);
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(word)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
  });
}

function finished(p: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => resolve(out));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Builds client ⇄ director ⇄ real servers around the director namespace `d`. */
async function topology(d: Netns, run: (c: string) => Promise<void>): Promise<void> {
  const c = `${d.name}c`;
  const procs: ChildProcess[] = [];
  const spaces = [c, ...SERVERS.map((s) => `${d.name}${s.name}`)];
  try {
    await must(`ip -n ${d.name} link del dummy0`);
    await must(`ip netns exec ${d.name} sysctl -qw net.ipv4.ip_forward=1`);
    await must(`ip netns add ${c} && ip -n ${c} link set lo up`);
    await must(`ip -n ${c} link add eth0 type veth peer name cli netns ${d.name}`);
    await must(`ip -n ${c} addr add 203.0.113.2/24 dev eth0 && ip -n ${c} link set eth0 up`);
    await must(`ip -n ${d.name} addr add 203.0.113.1/24 dev cli && ip -n ${d.name} addr add ${VIP}/32 dev cli && ip -n ${d.name} link set cli up`);
    for (const s of SERVERS) {
      s.ns = `${d.name}${s.name}`;
      await must(`ip netns add ${s.ns} && ip -n ${s.ns} link set lo up`);
      await must(`ip -n ${s.ns} link add eth0 type veth peer name ${s.name} netns ${d.name}`);
      await must(`ip -n ${s.ns} addr add ${s.address}/30 dev eth0 && ip -n ${s.ns} link set eth0 up && ip -n ${s.ns} route add default via ${s.director}`);
      await must(`ip -n ${d.name} addr add ${s.director}/30 dev ${s.name} && ip -n ${d.name} link set ${s.name} up`);
      const p = httpServer(s.ns, s.name);
      procs.push(p);
      await waitFor(p, 'up');
    }
    await run(c);
  } finally {
    for (const p of procs) p.kill();
    for (const n of spaces) await sh(`ip netns del ${n}`);
  }
}

/** Compares a view that changes with time (rates, expiry timers): equal in one of a few back-to-back tries. */
async function sameSoon(t: Test, ns: Netns, args: string): Promise<void> {
  let last: [unknown, unknown] = [undefined, undefined];
  for (let i = 0; i < 8; i++) {
    const a = await ns.exec(`ipvsadm ${args}`);
    const b = await ns.exec(`${IPVS} ${args}`);
    const want = { ...shown(a), stdout: asIpvs(a.stdout) };
    last = [shown(b), want];
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

t.test('restore under load: zero failed requests, the busy service untouched', async (t) => {
  await withNetns(async (d) => {
    await topology(d, async (c) => {
      const [s1, s2, s3, s4] = SERVERS as [(typeof SERVERS)[0], (typeof SERVERS)[0], (typeof SERVERS)[0], (typeof SERVERS)[0]];
      const initial = [
        `-A -t ${VIP}:80 -s rr`,
        `-a -t ${VIP}:80 -r ${s1.address}:80 -m -w 1`,
        `-a -t ${VIP}:80 -r ${s2.address}:80 -m -w 1`,
        `-a -t ${VIP}:80 -r ${s3.address}:80 -m -w 1`,
        `-A -t ${VIP}:443 -s wlc`,
        `-a -t ${VIP}:443 -r ${s1.address}:443 -m -w 1`,
        '-A -u 203.0.113.101:53 -s sh',
        `-a -u 203.0.113.101:53 -r ${s2.address}:53 -m -w 1`,
      ];
      await d.exec('ipvsadm -R', `${initial.join('\n')}\n`);
      // Other services change (edited, deleted, added); the busy service keeps
      // its config and s1, s2 is reweighted in place, s3 leaves, s4 joins.
      const file = [
        `-A -t ${VIP}:80 -s rr`,
        `-a -t ${VIP}:80 -r ${s1.address}:80 -m -w 1`,
        `-a -t ${VIP}:80 -r ${s2.address}:80 -m -w 3`,
        `-a -t ${VIP}:80 -r ${s4.address}:80 -m -w 1`,
        `-A -t ${VIP}:443 -s lc -p 60`,
        `-a -t ${VIP}:443 -r ${s2.address}:443 -m -w 2`,
        '-A -t 203.0.113.102:8080 -s rr',
        `-a -t 203.0.113.102:8080 -r ${s3.address}:8080 -m -w 1`,
        '',
      ].join('\n');
      const dir = mkdtempSync(join(tmpdir(), 'ipvs-traffic-'));
      try {
        const stop = join(dir, 'stop');
        const fileName = join(dir, 'rules');
        writeFileSync(fileName, file);
        const cl = client(c, stop);
        const done = finished(cl);
        await waitFor(cl, 'steady');
        await sleep(2500); // counters are folded in by the estimator every 2 s
        const statsBefore = await d.sh(`ipvsadm -L -n --stats --exact -t ${VIP}:80`);
        const r = await d.exec(`${IPVS} restore ${fileName}`);
        t.same(shown(r), { code: 0, stdout: '', stderr: '' }, 'restore succeeds');
        await sleep(2500);
        writeFileSync(stop, '');
        const result = JSON.parse((await done).trim().split('\n').pop() as string) as {
          ok: number;
          failed: number;
          errors: string[];
          servers: Record<string, number>;
        };
        t.equal(result.failed, 0, `no request failed (${result.ok} succeeded; errors: ${result.errors.slice(0, 3).join('; ')})`);
        t.ok(result.ok > 30, 'the client kept going');
        t.ok((result.servers.rs4 ?? 0) > 0, 's4 served requests after the restore');
        t.equal(await d.sh('ipvsadm -S -n'), file, 'the end state is the file');
        const conns = (text: string): bigint => BigInt((/^TCP .* (\d+) +\d+ +\d+ +\d+ +\d+$/m.exec(text) as RegExpExecArray)[1] as string);
        const statsAfter = await d.sh(`ipvsadm -L -n --stats --exact -t ${VIP}:80`);
        t.ok(conns(statsAfter) >= conns(statsBefore) && conns(statsBefore) > 0n, 'the service kept its counters (it was not re-created)');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

t.test('counters, rates and connection entries: the same views as ipvsadm', async (t) => {
  await withNetns(async (d) => {
    await topology(d, async (c) => {
      const [s1, s2] = SERVERS as [(typeof SERVERS)[0], (typeof SERVERS)[0]];
      await d.exec(
        'ipvsadm -R',
        [
          `-A -t ${VIP}:80 -s rr`,
          `-a -t ${VIP}:80 -r ${s1.address}:80 -m`,
          `-a -t ${VIP}:80 -r ${s2.address}:80 -m -w 2`,
          `-A -u ${VIP}:5060 -s rr -p 60 --pe sip`,
          `-a -u ${VIP}:5060 -r ${s1.address}:5060 -m`,
          '',
        ].join('\n'),
      );
      const dir = mkdtempSync(join(tmpdir(), 'ipvs-traffic-'));
      try {
        const stop = join(dir, 'stop');
        const cl = client(c, stop);
        const done = finished(cl);
        await waitFor(cl, 'steady');
        // SIP over UDP: the sip engine keeps the Call-ID in the persistence template.
        const sip = `const s = require('dgram').createSocket('udp4'); const m = Buffer.from('INVITE sip:a@${VIP} SIP/2.0\\r\\nCall-ID: test-call-1234@example.test\\r\\nCSeq: 1 INVITE\\r\\n\\r\\n'); s.send(m, 5060, '${VIP}', () => s.close());`;
        await must(`ip netns exec ${c} node -e "${sip.replace(/"/g, '\\"')}"`);
        writeFileSync(stop, '');
        await done;
        await sleep(4500); // the rate estimator folds counters in every 2 s
        for (const v of ['-L -n --stats', '-L -n --stats --exact', '-L --stats', '-L -n --rate', '-L -n --rate --exact', '-L -n --persistent-conn', `-L -n -t ${VIP}:80 --stats`]) {
          await sameSoon(t, d, v);
        }
        for (const v of ['-L -n -c', '-L -c', '-L -n -c --persistent-conn']) await sameConnections(t, d, v);
        const conns = await d.sh(`${IPVS} -L -n -c`);
        t.match(conns, /^TCP .* 203\.0\.113\.100:80 +198\.51\.100\.[26]:80$/m, 'connection entries are listed');
        t.match(await d.sh(`${IPVS} -L -n -c --persistent-conn`), /sip +test-call-1234@example\.test$/m, 'the sip template carries its Call-ID');
        const json = JSON.parse(await d.sh(`${IPVS} -L -n --json`)) as { services: { port: number; stats: { conns: number } }[] };
        const http = json.services.find((s) => s.port === 80);
        const text = await d.sh(`ipvsadm -L -n --stats --exact -t ${VIP}:80`);
        t.equal(String(http?.stats.conns), (/^TCP +\S+ +(\d+)/m.exec(text) as RegExpExecArray)[1], '--json has the exact counters ipvsadm shows');
        const cj = JSON.parse(await d.sh(`${IPVS} -L -n -c --json`)) as { connections: { protocol: string; template: boolean; persistenceData: string | null }[] };
        t.ok(cj.connections.some((x) => x.template && x.persistenceData === 'test-call-1234@example.test'), '--json lists the sip template');
        t.ok(cj.connections.some((x) => x.protocol === 'TCP' && !x.template), '--json lists the TCP connections');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
