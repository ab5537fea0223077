/**
 * `ipvs save [-n] [--full]`: the rules as ipvsadm-save prints them
 * (`ipvsadm -S [-n]`), and with `--full` also what ipvsadm-save loses —
 * real-server thresholds (`-x`/`-y` on the `-a` lines), the connection
 * timeouts (`--set`, first) and running sync daemons (`--start-daemon`,
 * last) — all as lines ipvsadm itself accepts, so the file stays portable.
 * @module
 */
import type { IpvsClient } from '../ipvs/client';
import type { SyncDaemon } from '../ipvs/model';
import { serviceLines, listedAddresses, type RuleExtras } from './format';
import { FMT } from './grammar';
import { SAVE_HELP } from './help';
import { Exit, type Io } from './io';
import { resolveAddresses } from './names';
import { openSession } from './session';
import { sortServices } from './sort';
import { mark, report } from './timing';
import { TextSink, writeText } from './sink';

/**
 * The `-S` lines of the kernel's rule set, sorted as ipvsadm sorts them.
 *
 * With numeric output the services are sorted before their real servers
 * are read, and each is formatted into the output as soon as its real
 * servers are known, decoded into reused objects (`IpvsClient.eachRule`): a
 * save of 50,000 real servers keeps 5,000 service objects and the output
 * text, nothing per real server (under UML, memory is the cost). Unless
 * thresholds are asked for (`--full`), the real servers come from one read
 * of /proc/net/ip_vs rather than a netlink dump per service. Names need a
 * lookup first, so without -n the whole rule set is read, then formatted.
 */
export async function ruleText(client: IpvsClient, format: number, extras?: RuleExtras): Promise<Buffer[]> {
  const out = new TextSink();
  if (format & FMT.NUMERIC) {
    const fields = extras?.thresholds ? 'all' : 'save';
    await client.eachRule((s) => serviceLines(out, s, format, extras), { reuse: true, order: sortServices, fields });
    mark('read rules and format');
  } else {
    const services = await client.rules();
    mark('read rules');
    sortServices(services);
    await resolveAddresses(listedAddresses(services));
    for (const s of services) serviceLines(out, s, format, extras);
    mark('sort and format');
  }
  return out.chunks();
}

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
    let rules: Buffer[];
    let timeouts;
    let daemons: SyncDaemon[] = [];
    try {
      if (full) {
        timeouts = await client.getTimeouts();
        daemons = await client.listDaemons();
      }
      rules = await ruleText(client, format, full ? { thresholds: true } : undefined);
    } catch (e) {
      io.err(`ipvs save: ${(e as Error).message}\n`);
      throw new Exit(1);
    }
    if (timeouts) io.out(`--set ${timeouts.tcp} ${timeouts.tcpFin} ${timeouts.udp}\n`);
    writeText(io, rules);
    if (daemons.length) io.out(daemons.map(daemonLine).join(''));
    return 0;
  } finally {
    client.close();
    report('save');
  }
}
