/**
 * `ipvs save [-n] [--full]`: the rules as ipvsadm-save prints them
 * (`ipvsadm -S [-n]`), and with `--full` also what ipvsadm-save loses —
 * real-server thresholds (`-x`/`-y` on the `-a` lines), the connection
 * timeouts (`--set`, first) and running sync daemons (`--start-daemon`,
 * last) — all as lines ipvsadm itself accepts, so the file stays portable.
 * @module
 */
import type { SyncDaemon } from '../ipvs/model';
import { serviceLines, listedAddresses } from './format';
import { FMT } from './grammar';
import { SAVE_HELP } from './help';
import { Exit, type Io } from './io';
import { resolveAddresses } from './names';
import { openSession } from './session';
import { compareServices, glibcSort } from './sort';
import { mark, report } from './timing';
import { TextSink } from './sink';

/** A `--start-daemon` line that recreates `d`. */
export function daemonLine(d: SyncDaemon): string {
  let line = `--start-daemon ${d.state} --mcast-interface ${d.interface} --syncid ${d.syncId}`;
  if (d.maxLen) line += ` --sync-maxlen ${d.maxLen}`;
  if (d.group !== undefined) line += ` --mcast-group ${d.group}`;
  if (d.port) line += ` --mcast-port ${d.port}`;
  if (d.ttl) line += ` --mcast-ttl ${d.ttl}`;
  return `${line}\n`;
}

/** Runs `ipvs save ARGS`. */
export async function saveCommand(args: string[], io: Io): Promise<number> {
  let format = FMT.RULE;
  let full = false;
  for (const a of args) {
    if (a === '-n' || a === '--numeric') format |= FMT.NUMERIC;
    else if (a === '--full') full = true;
    else if (a === '-h' || a === '--help') {
      io.out(SAVE_HELP);
      return 0;
    } else {
      io.err(`ipvs save: unknown argument '${a}'\n${SAVE_HELP}`);
      return 2;
    }
  }
  const { client } = await openSession(io);
  mark('open');
  try {
    let services;
    let timeouts;
    let daemons: SyncDaemon[] = [];
    try {
      services = await client.rules();
      if (full) {
        timeouts = await client.getTimeouts();
        daemons = await client.listDaemons();
      }
    } catch (e) {
      io.err(`ipvs save: ${(e as Error).message}\n`);
      throw new Exit(1);
    }
    mark('read rules');
    glibcSort(services, compareServices);
    if (!(format & FMT.NUMERIC)) await resolveAddresses(listedAddresses(services));
    const out = new TextSink();
    if (timeouts) out.push(`--set ${timeouts.tcp} ${timeouts.tcpFin} ${timeouts.udp}\n`);
    const extras = full ? { thresholds: true } : undefined;
    for (const s of services) serviceLines(out, s, format, extras);
    for (const d of daemons) out.push(daemonLine(d));
    mark('sort and format');
    io.out(out.bytes());
    return 0;
  } finally {
    client.close();
    report('save');
  }
}
