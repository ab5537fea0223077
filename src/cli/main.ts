#!/usr/bin/env node
/**
 * `ipvs`: an ipvsadm-compatible command (see help.ts and docs/cli.md).
 *
 * Start-up is kept lean because node's own start-up already costs more
 * than ipvsadm's whole run on small tables: this file loads only the
 * grammar; the netlink client, the formatter, the restore planner are
 * required by the commands that use them.
 * @module
 */
import './heap';
import { CMD, parseCommand, UsageError, type CommandEntry, type SpecialCommand } from './grammar';
import { Exit, type Io } from './io';
import { NeedsLookup } from './names';

// process.stdout and process.stderr are made on first use, and for a pipe or
// a terminal making one loads node:net (~190 page faults of start-up under
// UML): a command that prints nothing (a restore, `-a`, `-d`) never does.
let stdoutReady = false;

const io: Io = {
  out: (s) => {
    if (!stdoutReady) {
      stdoutReady = true;
      // A closed pipe (`ipvs -L | head`) ends the command quietly, as SIGPIPE ends ipvsadm.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
        throw e;
      });
    }
    process.stdout.write(s);
  },
  err: (s) => void process.stderr.write(s),
};

function packageVersion(): string {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function special(s: SpecialCommand): never {
  if (s.cmd === 'help') io.out((require('./help') as typeof import('./help')).HELP);
  else io.out((require('./help') as typeof import('./help')).versionText(packageVersion()));
  throw new Exit(0);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

async function ipvsadm(argv: string[]): Promise<number> {
  let e: CommandEntry | SpecialCommand;
  try {
    try {
      e = parseCommand(['ipvs', ...argv]);
    } catch (err) {
      if (!(err instanceof NeedsLookup)) throw err;
      // A host name in the arguments: resolve it (asynchronously) and parse again.
      e = await (require('./replay') as typeof import('./replay')).parseResolving(['ipvs', ...argv], false);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`${err.message}\n`);
    return err.exitCode;
  }
  if (e.cmd === 'help' || e.cmd === 'version') special(e);
  const { openSession } = require('./session') as typeof import('./session');
  const run = require('./run') as typeof import('./run');
  const session = await openSession(io);
  const ctx = { client: session.client, info: session.info, io };
  try {
    if (e.cmd === CMD.RESTORE) {
      const { replay } = require('./replay') as typeof import('./replay');
      return await replay(await readStdin(), ctx, special);
    }
    if (e.cmd === CMD.LIST || e.cmd === CMD.SAVE) return await run.runList(e, ctx);
    return await run.runChange(e, ctx);
  } finally {
    session.client.close();
    (require('./timing') as typeof import('./timing')).report(e.cmd === CMD.SAVE ? '-S' : 'command');
  }
}

async function main(argv: string[]): Promise<number> {
  switch (argv[0]) {
    case 'save':
      return (require('./save') as typeof import('./save')).saveCommand(argv.slice(1), io);
    case 'restore':
      return (require('./restore') as typeof import('./restore')).restoreCommand(argv.slice(1), io);
    case 'list':
      return ipvsadm(['-L', ...argv.slice(1)]);
    case 'help':
      io.out((require('./help') as typeof import('./help')).HELP);
      return 0;
  }
  // No arguments: ipvsadm lists the table.
  return ipvsadm(argv.length === 0 ? ['-L'] : argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof Exit) {
      process.exitCode = e.code;
      return;
    }
    process.stderr.write(`ipvs: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 255;
  },
);
