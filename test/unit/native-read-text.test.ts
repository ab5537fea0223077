/**
 * The addon's readText(): a file's bytes as a latin1 string, read into the
 * memory the string keeps (what `ipvs restore FILE` reads its file with).
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addon, isNativeError } from '../../src/native/addon';

const dir = mkdtempSync(join(tmpdir(), 'ipvs-read-text-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('every byte value, as readFileSync reads it in latin1', async (t) => {
  const bytes = Buffer.alloc(256 * 40 + 7);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 256;
  const p = join(dir, 'bytes');
  writeFileSync(p, bytes);
  const s = addon().readText(p);
  t.equal(s.length, bytes.length);
  t.equal(s, readFileSync(p, 'latin1'));
  // The string stays whole after the addon returns (its memory is the string's own).
  const again = addon().readText(p);
  t.equal(s + again, readFileSync(p, 'latin1').repeat(2));
  writeFileSync(join(dir, 'empty'), '');
  t.equal(addon().readText(join(dir, 'empty')), '');
});

t.test('files whose size the kernel does not say (/proc, a FIFO) are read to their end', async (t) => {
  t.equal(addon().readText('/proc/version'), readFileSync('/proc/version', 'latin1'));
  const fifo = join(dir, 'fifo');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  // 300 KB through a pipe: many reads, the buffer grown several times.
  const make = "Array.from({ length: 10000 }, (_v, i) => `-a -t 192.0.2.1:80 -r 198.51.100.${i % 250}:${i}\\n`).join('')";
  const text = eval(make) as string;
  const writer = spawn(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(fifo)}, ${make})`]);
  const done = new Promise((resolve) => writer.on('exit', resolve));
  t.equal(addon().readText(fifo), text);
  t.equal(await done, 0, 'the writer finished');
});

t.test('failures are errno errors naming the call', async (t) => {
  const failure = (p: string): unknown => {
    try {
      addon().readText(p);
    } catch (e) {
      return isNativeError(e) ? { errno: e.errno, syscall: e.syscall } : e;
    }
    return 'no error';
  };
  t.same(failure(join(dir, 'missing')), { errno: 2, syscall: 'open' });
  t.same(failure(dir), { errno: 21, syscall: 'read' });
  t.throws(() => (addon().readText as unknown as (x: unknown) => string)(42), TypeError);
});

t.test('ipvs restore says which file it cannot read, exits 2 and touches nothing', async (t) => {
  const bin = join(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [bin, 'restore', join(dir, 'missing')], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `ipvs restore: cannot read ${join(dir, 'missing')}: open: No such file or directory\n`);
});
