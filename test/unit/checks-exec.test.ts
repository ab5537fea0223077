import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { substitute } from '../../src/agent/checks/exec';
import { createProber } from '../../src/agent/checks/probe';
import type { ExecCheck } from '../../src/agent/checks/types';
import { leakedHandles } from './checks-servers';

const exec = (argv: string[], timeoutMs = 2000): ExecCheck => ({
  kind: 'exec',
  intervalMs: 5000,
  timeoutMs,
  rise: 1,
  fall: 1,
  initial: 'down',
  argv,
});
const at = { address: '127.0.0.1', port: 8080 };
const node = process.execPath;

/**
 * Running, in the sense that matters: a zombie has been killed already and
 * only waits for its parent (or, orphaned, for PID 1, which in some containers
 * never reaps) to collect it.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

t.test('exit 0 is healthy, anything else is not', async (t) => {
  t.same(await createProber(at, exec(['true']))().then((r) => [r.ok, r.reason]), [true, 'exit 0']);
  t.same(await createProber(at, exec(['false']))().then((r) => [r.ok, r.reason]), [false, 'exit 1']);
  const r = await createProber(at, exec([node, '-e', 'process.exit(7)']))();
  t.same([r.ok, r.reason], [false, 'exit 7']);
});

t.test('the reason quotes what the program said', async (t) => {
  const r = await createProber(at, exec([node, '-e', 'console.log("\\nstdout line"); console.error("backend down: 503"); process.exit(2)']))();
  t.equal(r.reason, 'exit 2: backend down: 503');
  const r2 = await createProber(at, exec([node, '-e', 'console.log("only stdout"); process.exit(2)']))();
  t.equal(r2.reason, 'exit 2: only stdout');
});

t.test('{address} and {port} are substituted; no shell interprets anything', async (t) => {
  t.same(substitute(['check', '--to={address}:{port}', '{port}{port}'], { address: '::1', port: 53 }), ['check', '--to=::1:53', '5353']);
  const script = 'const [a, p, s] = process.argv.slice(1); process.exit(a === "127.0.0.1" && p === "8080" && s === "$(false); *" ? 0 : 3)';
  const r = await createProber(at, exec([node, '-e', script, '{address}', '{port}', '$(false); *']))();
  t.same([r.ok, r.reason], [true, 'exit 0']);
});

t.test("the check's address and port override the target's in the arguments", async (t) => {
  const r = await createProber(at, { ...exec([node, '-e', 'process.exit(process.argv[1] === "::1 53" ? 0 : 1)', '{address} {port}']), address: '::1', port: 53 })();
  t.equal(r.ok, true);
});

t.test('a program that cannot be started', async (t) => {
  const r = await createProber(at, exec(['/nonexistent/check-program']))();
  t.same([r.ok, r.reason], [false, 'spawn /nonexistent/check-program ENOENT']);
});

t.test('a signal ends it', async (t) => {
  const r = await createProber(at, exec([node, '-e', 'process.kill(process.pid, "SIGSEGV")']))();
  t.same([r.ok, r.reason], [false, 'killed by SIGSEGV']);
});

t.test('timeout: the program and what it started are killed, and reaped before the probe ends', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-exec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pids = join(dir, 'pids');
  // The program starts a grandchild, records both pids, and waits forever.
  const script = `
    const { spawn } = require('node:child_process');
    const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    require('node:fs').writeFileSync(${JSON.stringify(pids)}, process.pid + ' ' + g.pid);
    setInterval(() => {}, 1000);`;
  const started = Date.now();
  const r = await createProber(at, exec([node, '-e', script], 700))();
  t.same([r.ok, r.reason], [false, 'timeout after 700 ms (running)']);
  t.ok(Date.now() - started < 1200, `ended after ${Date.now() - started} ms`);
  const [child, grandchild] = readFileSync(pids, 'utf8').split(' ').map(Number) as [number, number];
  // Reaped by us, so not even a zombie is left of it.
  t.throws(() => readFileSync(`/proc/${child}/stat`), 'the program is gone');
  for (let i = 0; i < 100 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 10));
  t.notOk(alive(grandchild), 'what it started is gone too');
});

t.test('exited, but a descendant holds its output open: the exit status decides at the deadline', async (t) => {
  const script = `
    require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: ['ignore', 'inherit', 'inherit'] });
    process.exit(0);`;
  const r = await createProber(at, exec([node, '-e', script], 600))();
  t.same([r.ok, r.reason], [true, 'exit 0']);
});

t.test('leaves no process, pipe or timer behind', async (t) => {
  const leaked = await leakedHandles(() =>
    Promise.all([
      createProber(at, exec(['true']))(),
      createProber(at, exec(['false']))(),
      createProber(at, exec(['sleep', '10'], 100))(),
      createProber(at, exec(['/nonexistent']))(),
    ]),
  );
  t.same(leaked, []);
});
