#!/usr/bin/env node
/**
 * `ipvs-agent`: keeps the kernel's IPVS table converged on "configuration ∩
 * healthy". See docs/agent.md, or `ipvs-agent --help`.
 * @module
 */
import pino from 'pino';
import type { Server } from 'node:http';
import { IpvsClient } from '../ipvs/client';
import { Agent } from './agent';
import { loadConfig } from './config/load';
import { ConfigError } from './config/validate';
import { listening, parseListen, startHttp } from './http';
import { HealthMonitor } from './checks';
import type { HealthSource } from './checks/types';
import { formatOperation } from './save-format';

const USAGE = `usage: ipvs-agent --config FILE [options]

Keeps the kernel's IPVS rules converged on the configured services, minus the
real servers whose health checks fail. Never touches services it does not own.

options:
  -c, --config FILE      configuration (YAML or JSON)                 [required]
      --state-dir DIR    drains and owned services are kept here      [/var/lib/ipvs-agent]
      --snapshot FILE    ipvsadm-save snapshot of the agent's rules   [STATE-DIR/rules.save]
      --listen ADDR      HTTP /metrics /status /healthz, or 'none'    [127.0.0.1:9586]
      --log-level LEVEL  trace, debug, info, warn, error              [info]
      --once             run one pass, then exit (status 1 if a change failed)
      --dry-run          print what one pass would change, change nothing, exit
      --check-config     validate the configuration and exit
      --cleanup-on-exit  on SIGTERM/SIGINT, delete the services the agent owns
  -h, --help             this text

signals: SIGHUP reloads the configuration (an invalid one is refused and the
running one kept); SIGTERM and SIGINT stop without touching the kernel (unless
--cleanup-on-exit).`;

/** Parsed command line. */
export interface Cli {
  config: string;
  stateDir: string;
  snapshot?: string;
  listen?: { host: string; port: number };
  logLevel: string;
  once: boolean;
  dryRun: boolean;
  checkConfig: boolean;
  cleanupOnExit: boolean;
}

/** Parses argv (without node and the script); throws with a usage message. */
export function parseArgs(argv: readonly string[]): Cli | 'help' {
  const cli: Partial<Cli> & { listenText?: string } = { stateDir: '/var/lib/ipvs-agent', logLevel: 'info', once: false, dryRun: false, checkConfig: false, cleanupOnExit: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-c':
      case '--config':
        cli.config = value();
        break;
      case '--state-dir':
        cli.stateDir = value();
        break;
      case '--snapshot':
        cli.snapshot = value();
        break;
      case '--listen':
        cli.listenText = value();
        break;
      case '--log-level': {
        const l = value();
        if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(l)) throw new Error(`--log-level: unknown level '${l}'`);
        cli.logLevel = l;
        break;
      }
      case '--once':
        cli.once = true;
        break;
      case '--dry-run':
        cli.dryRun = true;
        break;
      case '--check-config':
        cli.checkConfig = true;
        break;
      case '--cleanup-on-exit':
        cli.cleanupOnExit = true;
        break;
      case '-h':
      case '--help':
        return 'help';
      default:
        throw new Error(`unknown option '${a}'`);
    }
  }
  if (!cli.config) throw new Error('--config FILE is required');
  const listenText = cli.listenText ?? '127.0.0.1:9586';
  const out: Cli = {
    config: cli.config,
    stateDir: cli.stateDir as string,
    logLevel: cli.logLevel as string,
    once: cli.once as boolean,
    dryRun: cli.dryRun as boolean,
    checkConfig: cli.checkConfig as boolean,
    cleanupOnExit: cli.cleanupOnExit as boolean,
  };
  if (cli.snapshot) out.snapshot = cli.snapshot;
  if (listenText !== 'none') out.listen = parseListen(listenText);
  return out;
}

/** The health-check engine the agent runs with. */
function createHealthSource(): HealthSource {
  return new HealthMonitor();
}

async function main(argv: string[]): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`ipvs-agent: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (cli === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (cli.checkConfig) {
    try {
      const c = await loadConfig(cli.config);
      process.stdout.write(`${cli.config}: valid (${c.services.length} service(s), ${c.services.reduce((n, s) => n + s.realServers.length, 0)} real server(s))\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`ipvs-agent: ${(e as Error).message}\n`);
      return 1;
    }
  }

  // A dry run's stdout is the plan; its log goes to stderr.
  const log = pino(
    { name: 'ipvs-agent', level: cli.logLevel, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    pino.destination({ dest: cli.dryRun ? 2 : 1, sync: true }),
  );
  // Signals are caught from here on: SIGHUP's default action is to terminate,
  // and a reload or stop asked for during start-up must wait for it instead.
  const early: string[] = [];
  const capture = (signal: string) => (): void => {
    early.push(signal);
  };
  const captures = (['SIGHUP', 'SIGTERM', 'SIGINT'] as const).map((sig) => [sig, capture(sig)] as const);
  for (const [sig, fn] of captures) process.on(sig, fn);

  let client: IpvsClient;
  try {
    client = await IpvsClient.open();
  } catch (e) {
    log.fatal({ event: 'kernel-unavailable', err: e }, (e as Error).message);
    return 1;
  }
  const health = createHealthSource();
  const agent = new Agent({
    configFile: cli.config,
    kernel: client,
    health,
    log,
    stateDir: cli.stateDir,
    ...(cli.snapshot ? { snapshotFile: cli.snapshot } : {}),
    dryRun: cli.dryRun,
    cleanupOnExit: cli.cleanupOnExit,
  });

  let first;
  try {
    first = await agent.start();
  } catch (e) {
    if (e instanceof ConfigError) {
      log.fatal({ event: 'config-invalid', config: cli.config, problems: e.problems.map((p) => `${p.path}: ${p.message}${p.line ? ` (line ${p.line})` : ''}`) }, 'invalid configuration; nothing was changed');
      process.stderr.write(`ipvs-agent: ${e.message}\n`);
    } else log.fatal({ event: 'start-failed', err: e }, (e as Error).message);
    await health.stop();
    client.close();
    return 1;
  }
  if (cli.dryRun || cli.once) {
    if (cli.dryRun) {
      process.stdout.write(
        `# ipvs-agent --dry-run: ${first.operations.length} change(s) for ${agent.config.services.length} service(s) of ${cli.config}\n` +
          '# health: real servers serving in the kernel count as up; others take their check\'s initial state\n',
      );
      for (const op of first.operations) process.stdout.write(`${formatOperation(op)}\n`);
    }
    await agent.stop(cli.dryRun ? 'dry run' : 'one pass');
    client.close();
    return first.error || first.failed > 0 ? 1 : 0;
  }

  let server: Server | undefined;
  if (cli.listen) {
    try {
      server = await startHttp(agent, cli.listen);
      log.info({ event: 'http-listening', address: listening(server) }, `metrics, status and healthz on http://${listening(server)}/`);
    } catch (e) {
      log.error({ event: 'http-failed', err: e }, `cannot listen on ${cli.listen.host}:${cli.listen.port}: ${(e as Error).message}`);
    }
  }
  agent.loop();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn({ event: 'stop-forced', signal }, 'second signal: exiting at once');
        resolve(1);
        return;
      }
      stopping = true;
      void agent.stop(signal).finally(() => {
        server?.close();
        client.close();
        resolve(0);
      });
    };
    const reload = (): void => {
      log.info({ event: 'reload-requested', signal: 'SIGHUP' }, 'SIGHUP: reloading the configuration');
      void agent.reload();
    };
    for (const [sig, fn] of captures) process.off(sig, fn);
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', reload);
    // Signals that arrived during start-up, in order.
    for (const sig of early) {
      if (sig === 'SIGHUP') reload();
      else stop(sig);
    }
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`ipvs-agent: ${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
}
