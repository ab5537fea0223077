#!/usr/bin/env node
/**
 * `node lib/uml/main.js [--mem MB] [--no-pin] [--module M]... -- COMMAND [ARGS...]`
 *
 * Boots User-Mode Linux, runs COMMAND inside (cwd and file system are the
 * host's), streams its output and exits with its status. Used by the test
 * suite, the benchmarks and the lab.
 * @module
 */
import { runInUml } from './runner';

async function main(argv: string[]): Promise<number> {
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1) {
    process.stderr.write('usage: uml-run [--mem MB] [--no-pin] [--module M]... [--timeout S] -- COMMAND [ARGS...]\n');
    return 2;
  }
  const opts = argv.slice(0, sep);
  const command = argv.slice(sep + 1);
  let memoryMB: number | undefined;
  let cpu: number | null | undefined;
  let timeoutMs: number | undefined;
  const modules: string[] = [];
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i];
    if (o === '--mem') memoryMB = Number(opts[++i]);
    else if (o === '--no-pin') cpu = null;
    else if (o === '--module') modules.push(String(opts[++i]));
    else if (o === '--timeout') timeoutMs = Number(opts[++i]) * 1000;
    else {
      process.stderr.write(`uml-run: unknown option ${o}\n`);
      return 2;
    }
  }
  const env: Record<string, string> = {};
  for (const k of ['CI', 'IPVS_TEST_FILTER', 'IPVS_BENCH_SCALE', 'TAP_REPORTER', 'FORCE_COLOR', 'NO_COLOR', 'IPVS_LAB_VARIANT']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  const result = await runInUml({
    command,
    env,
    modules: modules.length ? modules : ['ip_vs'],
    onOutput: (s) => process.stdout.write(s),
    ...(memoryMB !== undefined ? { memoryMB } : {}),
    ...(cpu !== undefined ? { cpu } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  if (result.exitCode < 0) process.stdout.write(result.output.slice(result.output.lastIndexOf('\numl: ')));
  return result.exitCode < 0 ? 1 : result.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`uml-run: ${e.message}\n`);
    process.exit(1);
  },
);
