/**
 * The library's seeded rule-set generator (test/kernel/corpus.ts) through
 * the CLI: every listing and save view of each set against ipvsadm's, and
 * `ipvs restore` of one set's save over another set giving back the file.
 * A failure names its seed.
 */
import t from 'tap';
import { withNetns, type Netns } from '../harness';
import { IPVS, asIpvs, shown, stateOf } from '../cli-helpers';
import { coverage, generateRuleSet, ipvsadmCommands, requiredCoverage } from '../corpus';

const SEEDS = [11, 22, 33, 44, 55, 66];
const SERVICES = 40;

const VIEWS = ['-L -n', '-S -n', '-L -n --stats --exact', '-L -n --thresholds', '-L -n --persistent-conn', '-L -n --tun-info', '-L -n --nosort'];

async function load(ns: Netns, seed: number): Promise<void> {
  const r = await ns.exec('ipvsadm -R', `${ipvsadmCommands(generateRuleSet(seed, SERVICES)).join('\n')}\n`);
  if (r.code !== 0) throw new Error(`seed ${seed}: ipvsadm -R failed (${r.code}): ${r.stderr}`);
}

t.test('the generated sets cover every feature', async (t) => {
  const seen = coverage(SEEDS.map((s) => generateRuleSet(s, SERVICES)));
  t.same(requiredCoverage().filter((f) => !seen.has(f)), []);
});

t.test('every view of every generated set, byte for byte', async (t) => {
  for (const seed of SEEDS) {
    await withNetns(async (ns) => {
      await load(ns, seed);
      for (const v of VIEWS) {
        const a = await ns.exec(`ipvsadm ${v}`);
        const b = await ns.exec(`${IPVS} ${v}`);
        t.same(shown(b), { ...shown(a), stdout: asIpvs(a.stdout) }, `seed ${seed}: ipvs ${v}`);
      }
    });
  }
});

t.test("restore of one set's save over another set gives back the file", async (t) => {
  for (const seed of SEEDS) {
    await withNetns(async (a) => {
      await load(a, seed);
      const file = await a.sh('ipvsadm -S -n');
      const full = await a.sh(`${IPVS} save --full -n`);
      await withNetns(async (b) => {
        await load(b, seed + 1000);
        const r = await b.exec(`${IPVS} restore`, file);
        t.same(shown(r), { code: 0, stdout: '', stderr: '' }, `seed ${seed}: restore succeeds`);
        t.equal(await b.sh('ipvsadm -S -n'), file, `seed ${seed}: ipvsadm -S -n gives back the file`);
        const r2 = await b.exec(`${IPVS} restore`, full);
        t.equal(r2.code, 0, `seed ${seed}: save --full restores (${r2.stderr})`);
        t.equal(await stateOf(b), await stateOf(a), `seed ${seed}: thresholds too`);
      });
    });
  }
});
