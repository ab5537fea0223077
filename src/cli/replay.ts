/**
 * `ipvs -R`: ipvsadm's additive replay of commands read from stdin.
 *
 * Each line is an ipvsadm command line, tokenized as ipvsadm's
 * `config_stream_read` does (blanks, tabs and CRs separate words, the word
 * `ipvsadm` is dropped, a blank line is skipped), and handled as ipvsadm's
 * `restore_table` handles it: a kernel refusal is printed and the replay
 * goes on, a usage error stops it (earlier lines stay applied), and the
 * status is the last line's.
 *
 * What differs is the cost: consecutive kernel changes are sent to the
 * kernel as one batch (`IpvsClient.apply`) instead of one socket and one
 * family lookup per line, with each line's refusal still printed in order.
 * One deliberate difference: a line whose first word starts with `#` is a
 * comment (ipvsadm stops there with a usage error, which is why
 * ipvsadm-restore filters them out first).
 * @module
 */
import type { Operation } from '../ipvs/client';
import { completeDestinationConfig, completeServiceConfig } from '../ipvs/codec';
import { IpvsError } from '../ipvs/errors';
import { destConfigOf, destKeyOf, serviceConfigOf, serviceKeyOf, zeroesEverything } from './convert';
import { CMD, parseCommand, UsageError, type CommandEntry, type SpecialCommand } from './grammar';
import { NeedsLookup, resolveHosts } from './names';
import { Exit, funcOf, runChange, runList, type RunContext } from './run';
import { ipvsStrerror } from './strerror';

const MAX_TOKEN = 4096;

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/**
 * The lines ipvsadm's `config_stream_read` returns for `text`, as word
 * lists (without `ipvsadm` words). Stops where ipvsadm stops: at the end,
 * and also at blanks that run into the end of input without a newline (the
 * words read on that line are dropped, as ipvsadm drops them).
 */
export function* streamLines(text: string): Generator<string[]> {
  let i = 0;
  const n = text.length;
  for (;;) {
    const words: string[] = [];
    let count = 0;
    let done = false;
    for (;;) {
      if (i >= n) break; // EOF
      if (isBlank(text[i])) {
        // fscanf matched nothing: skip blanks up to the newline.
        let ended = false;
        while (i < n) {
          const c = text[i++];
          if (c === '\n') {
            ended = true;
            break;
          }
          if (!isBlank(c)) {
            i--;
            break;
          }
        }
        if (ended) {
          done = true;
          break;
        }
        if (i >= n) return; // EOF while skipping blanks: ipvsadm ends here
        continue;
      }
      let j = i;
      while (j < n && j - i < MAX_TOKEN && !isBlank(text[j])) j++;
      const word = text.slice(i, j);
      i = j;
      if (word !== 'ipvsadm') {
        words.push(word);
        count++;
      }
      if (i < n && isBlank(text[i])) {
        const tail = text[i++];
        if (tail === '\n') {
          done = true;
          break;
        }
      }
    }
    if (!done && count === 0) return;
    yield words;
    if (!done) return;
  }
}

/** Parses one command line, resolving host names it needs first. */
export async function parseResolving(argv: string[], replaying: boolean): Promise<CommandEntry | SpecialCommand> {
  for (;;) {
    try {
      return parseCommand(argv, { replaying });
    } catch (e) {
      if (!(e instanceof NeedsLookup)) throw e;
      await resolveHosts([e.host]);
    }
  }
}

/** The batched form of a kernel change, or undefined when it must run on its own. */
function operationOf(e: CommandEntry): Operation | undefined {
  try {
    switch (e.cmd) {
      case CMD.FLUSH:
        return { type: 'flush' };
      case CMD.ADD:
      case CMD.EDIT: {
        const service = serviceKeyOf(e.svc);
        const config = serviceConfigOf(e.svc);
        // The library's own checks, so that the batch is never refused as a whole.
        completeServiceConfig(e.svc.af === 10 ? 'ipv6' : 'ipv4', config);
        return e.cmd === CMD.ADD ? { type: 'add-service', service, config } : { type: 'edit-service', service, config };
      }
      case CMD.DEL:
        return { type: 'delete-service', service: serviceKeyOf(e.svc) };
      case CMD.ZERO:
        return zeroesEverything(e.svc) ? { type: 'zero' } : { type: 'zero', service: serviceKeyOf(e.svc) };
      case CMD.ADDDEST:
      case CMD.EDITDEST: {
        const config = destConfigOf(e.dest);
        completeDestinationConfig(config);
        const service = serviceKeyOf(e.svc);
        const destination = destKeyOf(e.dest);
        return e.cmd === CMD.ADDDEST
          ? { type: 'add-destination', service, destination, config }
          : { type: 'edit-destination', service, destination, config };
      }
      case CMD.DELDEST:
        return { type: 'delete-destination', service: serviceKeyOf(e.svc), destination: destKeyOf(e.dest) };
      case CMD.TIMEOUT:
        return { type: 'set-timeouts', timeouts: e.timeouts };
    }
  } catch (err) {
    if (err instanceof IpvsError) return undefined; // the single path emulates the kernel's answer
    throw err;
  }
  return undefined;
}

/** Replays `input` as ipvsadm -R would. Returns the status of the last line; throws {@link Exit} to stop. */
export async function replay(input: string, ctx: RunContext, onSpecial: (s: SpecialCommand) => never): Promise<number> {
  let result = 0;
  let batch: { op: Operation; cmd: number }[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const todo = batch;
    batch = [];
    const r = await ctx.client.apply(todo.map((b) => b.op));
    r.errors.forEach((err, i) => {
      if (err) ctx.io.err(`${err.errno ? ipvsStrerror(err.errno, funcOf((todo[i] as { cmd: number }).cmd)) : err.message}\n`);
    });
    result = r.errors[r.errors.length - 1] ? 255 : 0;
  };
  for (const words of streamLines(input)) {
    if (words.length === 0) continue;
    if ((words[0] as string).startsWith('#')) continue;
    let e: CommandEntry | SpecialCommand;
    try {
      e = await parseResolving(['ipvs', ...words], true);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      await flush();
      ctx.io.err(`${err.message}\n`);
      if (err.fatal) throw new Exit(err.exitCode);
      result = err.exitCode;
      continue;
    }
    if (e.cmd === 'help' || e.cmd === 'version') {
      await flush();
      onSpecial(e);
    }
    const op = operationOf(e);
    if (op) {
      batch.push({ op, cmd: e.cmd });
      continue;
    }
    await flush();
    result = e.cmd === CMD.LIST || e.cmd === CMD.SAVE ? await runList(e, ctx) : await runChange(e, ctx);
  }
  await flush();
  return result;
}
