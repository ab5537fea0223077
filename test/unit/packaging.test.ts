// The package as a user gets it: `require('ipvs')`, `import … from 'ipvs'`
// and `ipvs/testing` both ways, from the built lib/ through package.json's
// exports. Small scripts run in a temporary directory whose
// node_modules/ipvs points at this package, each doing real work (a fake
// kernel, a client, a service added and read back).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ipvs-pkg-'));
mkdirSync(join(dir, 'node_modules'));
symlinkSync(root, join(dir, 'node_modules', 'ipvs'), 'dir');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const WORK = `
  const kernel = new FakeKernel();
  const client = await IpvsClient.open(kernel.clientOptions());
  await client.addService({ protocol: 'tcp', address: '203.0.113.10', port: 80 }, { scheduler: 'rr' });
  const [s] = await client.listServices();
  client.close();
  console.log(JSON.stringify({ scheduler: s.config.scheduler, rules: kernel.rules().length, errorClass: typeof ServiceExistsError }));
`;
const EXPECTED = { scheduler: 'rr', rules: 1, errorClass: 'function' };

function run(file: string, body: string): unknown {
  writeFileSync(join(dir, file), body);
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8' }).trim());
}

t.test('the build is there, with type declarations', async (t) => {
  for (const f of ['lib/index.js', 'lib/index.mjs', 'lib/index.d.ts', 'lib/testing/index.js', 'lib/testing/index.mjs', 'lib/testing/index.d.ts']) {
    t.ok(existsSync(join(root, f)), f);
  }
});

t.test('require()', async (t) => {
  t.same(
    run('cjs.js', `const { IpvsClient, ServiceExistsError } = require('ipvs');\nconst { FakeKernel } = require('ipvs/testing');\n(async () => {${WORK}})();`),
    EXPECTED,
  );
});

t.test('import', async (t) => {
  t.same(run('esm.mjs', `import { IpvsClient, ServiceExistsError } from 'ipvs';\nimport { FakeKernel } from 'ipvs/testing';\n${WORK}`), EXPECTED);
  t.same(
    run('default.mjs', `import ipvs from 'ipvs';\nimport testing from 'ipvs/testing';\nconsole.log(JSON.stringify([typeof ipvs.IpvsClient, typeof testing.FakeKernel]));`),
    ['function', 'function'],
    'default imports hold the same names',
  );
});

t.test('only the exported entry points resolve', async (t) => {
  t.same(run('meta.js', `console.log(JSON.stringify(require('ipvs/package.json').name));`), 'ipvs');
  t.same(
    run(
      'deep.js',
      `try { require('ipvs/lib/ipvs/client'); console.log('"resolved"'); } catch (e) { console.log(JSON.stringify(e.code)); }`,
    ),
    'ERR_PACKAGE_PATH_NOT_EXPORTED',
  );
});
