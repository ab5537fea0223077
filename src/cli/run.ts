/**
 * Runs one parsed ipvsadm command against the kernel, printing what
 * ipvsadm prints: listings on stdout, the libipvs error text on stderr, and
 * ipvsadm's status (0, 255 for a kernel refusal, 1 when a listing fails).
 * @module
 */
import type { IpvsClient } from '../ipvs/client';
import { IpvsError } from '../ipvs/errors';
import type { Info, ServiceEntry } from '../ipvs/model';
import { CONN_FILE, connAddresses, formatConnections } from './conn';
import { daemonOf, destConfigOf, destKeyOf, serviceConfigOf, serviceKeyOf, zeroesEverything } from './convert';
import { listedAddresses, serviceLines, title, versionLine, type ListedService } from './format';
import { CMD, FMT, OPT, type CommandEntry } from './grammar';
import { connectionsJson, daemonsJson, servicesJson, timeoutsJson } from './json';
import { resolveAddresses } from './names';
import { sortServices } from './sort';
import { ERRNO, ipvsStrerror, type IpvsFunc } from './strerror';
import { Exit, type Io } from './io';
import { TextSink, writeText } from './sink';
import { ruleText } from './save';
import { mark } from './timing';

export { Exit, type Io };


/** What a command runs with. */
export interface RunContext {
  client: IpvsClient;
  /** GET_INFO, read at start as ipvsadm does. */
  info: Info;
  io: Io;
}

/** The errno of a library error; 0 for errors raised before anything was sent. */
function errnoOf(e: unknown): number {
  return e instanceof IpvsError ? e.errno : 0;
}

/** The libipvs function ipvsadm calls for a command (its errno table depends on it). */
export function funcOf(cmd: number): IpvsFunc {
  switch (cmd) {
    case CMD.ADD: return 'add_service';
    case CMD.EDIT: return 'update_service';
    case CMD.DEL: return 'del_service';
    case CMD.ZERO: return 'zero_service';
    case CMD.ADDDEST: return 'add_dest';
    case CMD.EDITDEST: return 'update_dest';
    case CMD.DELDEST: return 'del_dest';
    case CMD.STARTDAEMON: return 'start_daemon';
    case CMD.STOPDAEMON: return 'stop_daemon';
    case CMD.TIMEOUT: return 'set_timeout';
    default: return 'flush';
  }
}

/**
 * The errno the kernel would answer for a command the library refuses to
 * send (its checks are stricter than the kernel's attribute policy).
 * Undefined when the refusal is not one the kernel makes.
 */
export async function emulatedErrno(e: CommandEntry, err: IpvsError, client: IpvsClient): Promise<number | undefined> {
  const field = (err as { field?: string }).field ?? '';
  const exists = async (): Promise<boolean> => {
    try {
      await client.getService(serviceKeyOf(e.svc));
      return true;
    } catch (x) {
      if (errnoOf(x) === ERRNO.ESRCH) return false;
      throw x;
    }
  };
  if (field.endsWith('persistenceEngine')) {
    // A name longer than the kernel's 15 bytes is looked up like any other
    // and not found (ENOENT), once the service has been looked up.
    if (e.cmd === CMD.ADD) return (await exists()) ? ERRNO.EEXIST : ERRNO.ENOENT;
    return (await exists()) ? ERRNO.ENOENT : ERRNO.ESRCH;
  }
  if (field.endsWith('lowerThreshold')) {
    // ip_vs_add_dest/ip_vs_edit_dest answer ERANGE, after the service lookup (ESRCH).
    return (await exists()) ? ERRNO.ERANGE : ERRNO.ESRCH;
  }
  return undefined;
}

/** Runs a kernel-changing command; returns 0 or 255 (ipvsadm's -1). */
export async function runChange(e: CommandEntry, ctx: RunContext): Promise<number> {
  const { client, io } = ctx;
  try {
    switch (e.cmd) {
      case CMD.FLUSH:
        await client.flush();
        break;
      case CMD.ADD:
        await client.addService(serviceKeyOf(e.svc), serviceConfigOf(e.svc));
        break;
      case CMD.EDIT:
        await client.replaceService(serviceKeyOf(e.svc), serviceConfigOf(e.svc));
        break;
      case CMD.DEL:
        await client.deleteService(serviceKeyOf(e.svc));
        break;
      case CMD.ZERO:
        await (zeroesEverything(e.svc) ? client.zero() : client.zero(serviceKeyOf(e.svc)));
        break;
      case CMD.ADDDEST:
        await client.addDestination(serviceKeyOf(e.svc), destKeyOf(e.dest), destConfigOf(e.dest));
        break;
      case CMD.EDITDEST:
        await client.replaceDestination(serviceKeyOf(e.svc), destKeyOf(e.dest), destConfigOf(e.dest));
        break;
      case CMD.DELDEST:
        await client.deleteDestination(serviceKeyOf(e.svc), destKeyOf(e.dest));
        break;
      case CMD.TIMEOUT:
        await client.setTimeouts(e.timeouts);
        break;
      case CMD.STARTDAEMON:
        await client.startDaemon(daemonOf(e.daemon));
        break;
      case CMD.STOPDAEMON:
        await client.stopDaemon(e.daemon.state);
        break;
    }
    return 0;
  } catch (err) {
    io.err(`${await refusalText(e, err, client)}\n`);
    return 255;
  }
}

/** The line ipvsadm prints for a failed command (libipvs's text for the errno). */
export async function refusalText(e: CommandEntry, err: unknown, client: IpvsClient): Promise<string> {
  let errno = errnoOf(err);
  if (errno === 0 && err instanceof IpvsError) errno = (await emulatedErrno(e, err, client)) ?? 0;
  if (errno === 0) return err instanceof Error ? err.message : String(err);
  return ipvsStrerror(errno, funcOf(e.cmd));
}

/** Runs a listing (-L, -S). Throws {@link Exit} where ipvsadm exits. */
export async function runList(e: CommandEntry, ctx: RunContext): Promise<number> {
  const { io } = ctx;
  if (e.cmd === CMD.SAVE) {
    writeText(io, await listAll(ctx, e.format, false));
    return 0;
  }
  if (e.has[OPT.CONNECTION]) return listConnections(e, ctx);
  if (e.has[OPT.SERVICE]) {
    io.out(await listOne(e, ctx));
    return 0;
  }
  if (e.has[OPT.TIMEOUT]) {
    const t = await guard(ctx, 'get_services', () => ctx.client.getTimeouts(), '');
    io.out(e.json ? timeoutsJson(t) : `Timeout (tcp tcpfin udp): ${t.tcp} ${t.tcpFin} ${t.udp}\n`);
    return 0;
  }
  if (e.has[OPT.DAEMON]) {
    const list = await guard(ctx, 'get_services', () => ctx.client.listDaemons(), '');
    if (e.json) io.out(daemonsJson(list));
    else {
      for (const d of list) {
        let line = `${d.state} sync daemon (mcast=${d.interface}, syncid=${d.syncId}`;
        if (d.maxLen) line += `, maxlen=${d.maxLen}`;
        if (d.group !== undefined) line += `, group=${d.group}`;
        if (d.port) line += `, port=${d.port}`;
        if (d.ttl) line += `, ttl=${d.ttl}`;
        io.out(`${line})\n`);
      }
    }
    return 0;
  }
  writeText(io, await listAll(ctx, e.format, e.json));
  return 0;
}

/**
 * Runs `fn`; on failure prints what ipvsadm prints (`text` === '' means
 * ipvsadm prints nothing, as for --timeout and --daemon) and exits 1.
 */
async function guard<T>(ctx: RunContext, func: IpvsFunc, fn: () => Promise<T>, text?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const errno = errnoOf(err);
    const msg = text ?? (errno ? ipvsStrerror(errno, func) : err instanceof Error ? err.message : String(err));
    if (msg !== '') ctx.io.err(`${msg}\n`);
    throw new Exit(1);
  }
}

/** `list_all`: the whole table (-L, or -S with FMT_RULE). */
export async function listAll(ctx: RunContext, format: number, json: boolean): Promise<string | Buffer[]> {
  const rule = (format & FMT.RULE) !== 0;
  mark('open');
  // -S needs no counters: the rule set is the cheaper read.
  if (rule && !json) return guard(ctx, 'get_services', () => ruleText(ctx.client, format));
  const services: ListedService[] = await guard(ctx, 'get_services', () => (rule ? ctx.client.rules() : ctx.client.snapshot()));
  mark(rule ? 'read rules' : 'read snapshot');
  if (!(format & FMT.NOSORT)) sortServices(services);
  if (json) return servicesJson(services, !(format & FMT.NOSORT), ctx.info);
  if (!(format & FMT.NUMERIC)) await resolveAddresses(listedAddresses(services));
  const out = new TextSink();
  if (!rule) out.push(versionLine(ctx.info));
  out.push(title(format));
  for (const s of services) serviceLines(out, s, format);
  mark('sort and format');
  return out.chunks();
}

/** `list_service`: one service (-L -t VIP:PORT), without the version line. */
async function listOne(e: CommandEntry, ctx: RunContext): Promise<string> {
  const key = serviceKeyOf(e.svc);
  const svc = await guard(ctx, 'get_service', () => ctx.client.getService(key));
  const destinations = await guard(ctx, 'get_dests', () => ctx.client.listDestinations(key));
  const entry: ServiceEntry = { ...svc, destinations };
  if (e.json) return servicesJson([entry], !(e.format & FMT.NOSORT));
  if (!(e.format & FMT.NUMERIC)) await resolveAddresses(listedAddresses([entry]));
  const out: string[] = [title(e.format)];
  serviceLines(out, entry, e.format);
  return out.join('');
}

async function listConnections(e: CommandEntry, ctx: RunContext): Promise<number> {
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  let text: string;
  try {
    text = readFileSync(CONN_FILE, 'latin1');
  } catch {
    ctx.io.err(`cannot open file ${CONN_FILE}\n`);
    throw new Exit(1);
  }
  if (text === '') {
    ctx.io.err(`unexpected input from ${CONN_FILE}\n`);
    throw new Exit(1);
  }
  if (e.json) {
    const { parseConnections } = require('../ipvs/proc') as typeof import('../ipvs/proc');
    ctx.io.out(connectionsJson(parseConnections(text)));
    return 0;
  }
  if (!(e.format & FMT.NUMERIC)) await resolveAddresses(connAddresses(text));
  const r = formatConnections(text, e.format);
  ctx.io.out(r.output);
  if (r.exitCode) throw new Exit(r.exitCode);
  return 0;
}
