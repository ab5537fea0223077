/**
 * Entry point inside the UML guest: runs every kernel test module of one
 * group (test/kernel/<group>/*.ts, compiled) in this process, as one tap
 * run printed on stdout. The host relay (test/kernel-<group>.test.ts) boots
 * the guest and streams this output to tap.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const group = process.argv[2];
if (!group) {
  process.stderr.write('usage: guest.js GROUP\n');
  process.exit(2);
}
// tap gives a directly run file 30 s (TAP_TIMEOUT) before it kills itself
// with SIGALRM; a whole kernel group takes minutes under UML. The relay's
// own guest timeout bounds the run instead.
process.env.TAP_TIMEOUT ??= '0';
const dir = join(__dirname, group);
const filter = process.env.IPVS_TEST_FILTER;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .filter((f) => !filter || f.includes(filter))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no kernel test modules in ${dir}\n`);
  process.exit(1);
}
for (const f of files) require(join(dir, f));
