/**
 * `ipvs restore [--dry-run] [FILE]`: makes the kernel's rules equal a file
 * of ipvsadm-save (or `ipvs save --full`) output, without a flush.
 *
 * 1. The whole file is read, parsed with ipvsadm's grammar and checked
 *    (duplicates, real servers without their service, values the kernel
 *    would refuse). Any problem is reported as `line N: ...` and the command
 *    exits 2 before touching the kernel.
 * 2. The kernel's rule set is read (`IpvsClient.rules()`, no counters) and
 *    `planChanges` computes the difference: unchanged entries are not
 *    touched, changed ones are edited in place, new real servers are added
 *    before old ones are removed, absent services are deleted last.
 * 3. The plan is applied in one batch (`IpvsClient.apply`); each refusal is
 *    reported with the line it came from, and the status is 255 if any.
 *
 * `--set` and `--start-daemon` lines (from `save --full`) are reconciled too
 * when the file has them; a file without them leaves timeouts and daemons
 * alone, as ipvsadm-restore does.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Operation } from '../ipvs/client';
import { formatIPv4, ipv4Value } from '../ipvs/address';
import { checkDestinationInput, completeServiceConfig, serviceKeyText } from '../ipvs/codec';
import { AF_INET } from '../ipvs/constants';
import { IpvsError } from '../ipvs/errors';
import { type DaemonState, type DestinationConfig, type DestinationKey, type DestinationRule, type ServiceConfig, type ServiceKey, type ServiceRule, type SyncDaemon, type Timeouts } from '../ipvs/model';
import { Planner, type PlanSummary } from '../ipvs/plan';
import { addon } from '../native/addon';
import { addressText, destConfigOf, destKeyOf, daemonOf, serviceConfigOf, serviceKeyOf } from './convert';
import { operationArgs } from './format';
import { CMD, FWD, numericService, parseCommand, parseWords, SERVICE_PORT, UsageError, type CommandEntry, type SpecialCommand } from './grammar';
import { RESTORE_HELP } from './help';
import { Exit, type Io } from './io';
import { NeedsLookup, resolveHosts } from './names';
import { daemonLine } from './save';
import { openSession } from './session';
import { mark, report } from './timing';

/** What a restore file asks for. */
export interface RestoreFile {
  services: ServiceRule[];
  /** The line a service key or real-server key object (of `services`) came from. */
  lineOf(key: object): number | undefined;
  /** From a `--set` line, if any. */
  timeouts?: { value: Timeouts; line: number };
  /** From `--start-daemon` lines; undefined when the file has none (daemons are then left alone). */
  daemons?: Map<DaemonState, { daemon: SyncDaemon; line: number }>;
}

/**
 * The words of a restore file line: blanks separate, a word starting with
 * `#` starts a comment, `ipvsadm` words are dropped. A `-b` ending a line
 * is dropped too: ipvsadm-save writes `-b ` with nothing after it for the
 * scheduler flags it has no name for (the third flag of sh and mh).
 */
export function lineWords(line: string, start = 0, end = line.length): string[] {
  const words: string[] = [];
  // A scanner rather than split(/regex/): a restore reads 55,000 lines
  // (from the file's text: `start` and `end` spare slicing each line).
  const n = end;
  let i = start;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    if (c === 35) break; // '#'
    const from = i;
    while (i < n && (c = line.charCodeAt(i)) !== 32 && c !== 9 && c !== 13) i++;
    const w = line.slice(from, i);
    if (w !== 'ipvsadm') words.push(w);
  }
  const last = words[words.length - 1];
  if (words[0] === '-A' && (last === '-b' || last === '--sched-flags')) words.pop();
  return words;
}

/** Lines read without the grammar since the module was loaded, by kind (tests check each path is taken). */
const shapeLines = { servers: 0, firstServers: 0, services: 0 };

/**
 * How many lines, since the module was loaded, were read as a line before
 * with another address: real servers as the one before (`servers`), a
 * service's first real server as the last one of the service before
 * (`firstServers`), services as the -A line before (`services`).
 */
export function shapeLineCounts(): Readonly<typeof shapeLines> {
  return { ...shapeLines };
}

/** A value ipvsadm would send but the kernel refuses, said in ipvsadm's terms. */
function refusedValue(e: IpvsError, c: CommandEntry): string {
  const field = (e as { field?: string }).field ?? '';
  if (field.endsWith('lowerThreshold')) {
    return `the lower threshold (-y ${c.dest.lThreshold}) must not exceed the upper threshold (-x ${c.dest.uThreshold}); the kernel refuses it`;
  }
  if (field.endsWith('persistenceEngine')) return `persistence engine '${c.svc.pe}' is longer than the kernel's 15 characters`;
  return e.message;
}

const PARSE = { replaying: true, signedMarks: true };

function parseLine(words: string[]): CommandEntry | SpecialCommand {
  // The lines save writes take parseWords's way (no popt); any other, popt's.
  return parseWords(words, PARSE) ?? parseCommand(['ipvs', ...words], PARSE);
}

/** Parses and checks a restore file. Returns the desired state, or the errors (`line N: ...`). */
export async function readRestoreFile(text: string): Promise<RestoreFile | { errors: string[] }> {
  // A full load is 55,000 lines, and under UML every object kept alive costs
  // (see DEVELOPERS.md): per real server only what the plan needs is kept
  // (key, configuration, rule, line: one object, FileDestination).
  const errors: { line: number; text: string }[] = [];
  const services = new Map<string, FileService>();
  /** Real servers seen before their service's -A line. */
  const pending: { id: string; rule: FileDestination }[] = [];
  let timeouts: RestoreFile['timeouts'];
  let daemons: RestoreFile['daemons'];
  // Consecutive -a lines name the same service: remember the last one.
  let lastSvc: CommandEntry['svc'] | undefined;
  let lastId = '';
  // Most real servers share a handful of configurations: share the objects
  // too (nothing writes them; the plan and apply only read them).
  const configs = new Map<string, DestinationConfig>();
  let lastDest: CommandEntry['dest'] | undefined;
  // And most services share their options: the same configuration object.
  let lastService: CommandEntry['svc'] | undefined;
  let lastServiceConfig: ServiceConfig | undefined;
  let lastConfig: DestinationConfig | undefined;
  // The last real server line parsed the general way, when the next may
  // differ from it only in the server's address (see DestShape).
  let shape: DestShape | undefined;
  // The shape of the last real server line of any service, for the first
  // real server of the next one (see rebaseShape), and the last -A line
  // parsed the general way (see ServiceShape). A line without words ends
  // both (the tests read a file with blank lines between its lines to
  // compare with the grammar).
  let lastShape: DestShape | undefined;
  let serviceShape: ServiceShape | undefined;
  /** Adds a service (or says it is there already); returns its id. */
  const addService = (key: ServiceKey, family: 'ipv4' | 'ipv6', config: ServiceConfig): string => {
    const id = serviceKeyText(key);
    const seen = services.get(id);
    if (seen) fail(`${id} is already defined at line ${seen.line}`);
    else services.set(id, { key, family, config, destinations: [], line: n });
    return id;
  };
  // Line by line without split(): 55,000 line strings alive at once cost
  // more under UML than reading them one at a time.
  let n = 0;
  const fail = (msg: string): void => void errors.push({ line: n, text: msg });
  for (let at = 0; at < text.length; ) {
    let eol = text.indexOf('\n', at);
    if (eol < 0) eol = text.length;
    const start = at;
    at = eol + 1;
    n++;
    if (shape !== undefined) {
      const rule = sameShapeRule(shape, text, start, eol, n);
      if (rule !== undefined) {
        if (shape.first) {
          shapeLines.firstServers++;
          shape.first = false;
        } else shapeLines.servers++;
        if (shape.entry) shape.entry.destinations.push(rule);
        else pending.push({ id: shape.id, rule });
        continue;
      }
      shape = undefined;
    }
    if (serviceShape !== undefined) {
      const key = sameShapeService(serviceShape, text, start, eol);
      if (key !== undefined) {
        shapeLines.services++;
        const id = addService(key, 'ipv4', serviceShape.config);
        // (A service defined twice keeps its first line's entry, which the real servers after both join.)
        shape = lastShape !== undefined ? rebaseShape(lastShape, key, id, services) : undefined;
        continue;
      }
    }
    const words = lineWords(text, start, eol);
    if (words.length === 0) {
      lastShape = undefined;
      serviceShape = undefined;
      continue;
    }
    let e: CommandEntry | SpecialCommand;
    try {
      for (;;) {
        try {
          e = parseLine(words);
          break;
        } catch (x) {
          if (!(x instanceof NeedsLookup)) throw x;
          await resolveHosts([x.host]);
        }
      }
    } catch (x) {
      if (!(x instanceof UsageError)) throw x;
      errors.push({ line: n, text: x.message.trimEnd() });
      continue;
    }
    if (e.cmd === 'help' || e.cmd === 'version') {
      fail(`'${words[0]}' is not a rule (a restore file holds -A, -a, --set and --start-daemon lines)`);
      continue;
    }
    switch (e.cmd) {
      case CMD.FLUSH:
        // "Start from an empty table": the diff reaches the file's state anyway.
        break;
      case CMD.ADD: {
        const key = serviceKeyOf(e.svc);
        const family = e.svc.af === 10 ? 'ipv6' : 'ipv4';
        let config = lastService !== undefined && sameServiceOptions(lastService, e.svc) ? lastServiceConfig : undefined;
        if (!config) {
          try {
            config = completeServiceConfig(family, serviceConfigOf(e.svc));
          } catch (x) {
            if (!(x instanceof IpvsError)) throw x;
            fail(refusedValue(x, e));
            break;
          }
          lastService = e.svc;
          lastServiceConfig = config;
        }
        // serviceKeyOf is canonical already.
        const id = addService(key, family, config);
        serviceShape = serviceShapeOf(text, start, eol, words, config);
        if (serviceShape !== undefined && lastShape !== undefined) shape = rebaseShape(lastShape, key, id, services);
        break;
      }
      case CMD.ADDDEST: {
        const d = e.dest;
        // Most often the same configuration as the line before: no text key to build.
        let config = lastDest !== undefined && sameDestinationOptions(lastDest, d) ? lastConfig : undefined;
        if (!config) {
          const sig = `${d.fwd} ${d.weight} ${d.uThreshold} ${d.lThreshold} ${d.tunType} ${d.tunPort} ${d.tunFlags}`;
          config = configs.get(sig);
          if (!config) {
            // destConfigOf gives a complete configuration: check it without copying it.
            config = destConfigOf(d);
            try {
              checkDestinationInput(config);
            } catch (x) {
              if (!(x instanceof IpvsError)) throw x;
              fail(refusedValue(x, e));
              break;
            }
            if (configs.size < 4096) configs.set(sig, config);
          }
        }
        lastDest = d;
        lastConfig = config;
        const k = destKeyOf(e.dest);
        const rule = new FileDestination(k.address, k.port, config, n);
        const sv = e.svc;
        const l = lastSvc;
        if (!l || l.addr !== sv.addr || l.port !== sv.port || l.protocol !== sv.protocol || l.fwmark !== sv.fwmark || l.af !== sv.af) {
          lastId = serviceKeyText(serviceKeyOf(sv));
          lastSvc = sv;
        }
        const entry = services.get(lastId);
        if (entry) entry.destinations.push(rule);
        else pending.push({ id: lastId, rule });
        shape = destShape(text, start, eol, words, e, rule, lastId, entry);
        lastShape = shape;
        break;
      }
      case CMD.TIMEOUT:
        if (timeouts) fail(`timeouts are already set at line ${timeouts.line}`);
        else timeouts = { value: e.timeouts, line: n };
        break;
      case CMD.STARTDAEMON: {
        daemons ??= new Map();
        const seen = daemons.get(e.daemon.state);
        if (seen) fail(`the ${e.daemon.state} sync daemon is already defined at line ${seen.line}`);
        else daemons.set(e.daemon.state, { daemon: daemonOf(e.daemon), line: n });
        break;
      }
      default:
        fail(`'${words[0]}' is not a rule (a restore file holds -A, -a, --set and --start-daemon lines)`);
    }
  }
  for (const d of pending) {
    const entry = services.get(d.id);
    if (!entry) {
      errors.push({ line: d.rule.line, text: `${d.id} has no -A line in this file` });
      continue;
    }
    entry.destinations.push(d.rule);
  }
  const entries = [...services.values()];
  for (const entry of entries) {
    // Duplicates are rare: look for them without a per-server map.
    const ds = entry.destinations as FileDestination[];
    if (ds.length < 2) continue;
    // A few servers (the usual case): look at each pair before sorting.
    if (ds.length <= 32 && !hasDuplicate(ds)) continue;
    const order = [...ds].sort((a, b) => cmpKey(a, b) || a.line - b.line);
    for (let k = 1; k < order.length; k++) {
      const a = order[k - 1] as FileDestination;
      const b = order[k] as FileDestination;
      if (cmpKey(a, b) === 0) errors.push({ line: b.line, text: `this real server is already defined at line ${a.line}` });
    }
  }
  if (errors.length) return { errors: errors.sort((a, b) => a.line - b.line).map((x) => `line ${x.line}: ${x.text}`) };
  let index: Map<object, number> | undefined;
  const file: RestoreFile = {
    services: entries,
    lineOf(key) {
      if (key instanceof FileDestination) return key.line;
      if (!index) {
        // Built only when a refusal needs its line.
        index = new Map();
        for (const x of entries) index.set(x.key, x.line);
      }
      return index.get(key);
    },
  };
  if (timeouts) file.timeouts = timeouts;
  if (daemons) file.daemons = daemons;
  return file;
}

/**
 * A service read from a restore file: its rule and its line (one object; the
 * configuration object is shared with the services before it that have the
 * same options: nothing writes it).
 */
interface FileService extends ServiceRule {
  line: number;
}

/**
 * A real server line cut around its server's address: `-a -t 192.0.2.1:80 -r `,
 * the address, ` -m -w 1`. ipvsadm-save writes a service's real servers on
 * consecutive lines that differ only there, so a line with the same head and
 * tail is the same command with another address: its words are the same but
 * one, popt reads them the same way, and with a numeric address of the same
 * family (whose parse depends on its text alone) every check ipvsadm makes
 * has the same outcome. Such a line is read by {@link sameShapeRule} without
 * the grammar: 45,000 of a 5,000 x 10 restore's 55,000 lines.
 */
interface DestShape {
  head: string;
  tail: string;
  /** The real server's address family. */
  af: number;
  /** Direct routing or tunnel to a non-fwmark service: the server takes the service's port. */
  servicePortOnly: boolean;
  /** The service's port (also the port of a server address written without one). */
  servicePort: number;
  config: DestinationConfig;
  /** The service's id, and its entry if its -A line came first. */
  id: string;
  entry: ServiceRule | undefined;
  /**
   * Made by {@link rebaseShape} and no line read yet: `head` is not made
   * (the first line is matched as `around`'s text before the service word,
   * the -A line's service word at `[svcFrom, svcTo)` of the file, and the
   * text after it), and the line is counted apart.
   */
  first: boolean;
  svcFrom: number;
  svcTo: number;
  /**
   * For {@link rebaseShape}: the -a line's protocol, and its text before and
   * after the service word; undefined when the line cannot be rebased.
   */
  around: readonly ['tcp' | 'udp' | 'sctp', string, string] | undefined;
  /** The one shape rebaseShape makes of this one, rewritten for each service. */
  rebased: DestShape | undefined;
}

const PROTOCOL_WORDS = new Map<string, 'tcp' | 'udp' | 'sctp'>([
  ['-t', 'tcp'],
  ['--tcp-service', 'tcp'],
  ['-u', 'udp'],
  ['--udp-service', 'udp'],
  ['--sctp-service', 'sctp'],
]);
const SERVICE_WORDS = new Set([...PROTOCOL_WORDS.keys(), '-f', '--fwmark-service']);

/** Where {@link wordSpans} found the words asked for: `[from, to)` in the text, -1 for none. */
const spanA = { from: -1, to: -1 };
const spanB = { from: -1, to: -1 };

/**
 * Finds words `a` and `b` of a line as written (into spanA and spanB), and
 * whether the line has exactly `count` words and no comment: lineWords drops
 * `ipvsadm` words, comments and a trailing `-b`, and a shape is only made of
 * a line whose written words are the parsed ones.
 */
function wordSpans(text: string, start: number, eol: number, count: number, a: number, b: number): boolean {
  let k = 0;
  spanA.from = spanA.to = spanB.from = spanB.to = -1;
  for (let i = start; i < eol; ) {
    const c = text.charCodeAt(i);
    if (isBlank(c)) {
      i++;
      continue;
    }
    if (c === 35) return false; // a comment
    const w = i;
    while (i < eol && !isBlank(text.charCodeAt(i))) i++;
    if (k === a) {
      spanA.from = w;
      spanA.to = i;
    } else if (k === b) {
      spanB.from = w;
      spanB.to = i;
    }
    k++;
  }
  return k === count;
}

/** Whether `text[from, to)` is a plain IPv4 service text with a port of 1-65535 (left in plainAddress and plainPort). */
function plainService(text: string, from: number, to: number): boolean {
  return plainIPv4(text, from, to) && plainPort > 0;
}

/** The shape of a real server line just parsed (`-a SERVICE-OPTION SERVICE [-6] -r ADDRESS ...`), or undefined for any other. */
function destShape(text: string, start: number, eol: number, words: string[], e: CommandEntry, rule: FileDestination, id: string, entry: DestShape['entry']): DestShape | undefined {
  if (words[0] !== '-a' || !SERVICE_WORDS.has(words[1] as string)) return undefined;
  // `-a -t VIP:PORT -r ADDRESS ...`, or `-a -f MARK -6 -r ADDRESS ...`.
  const at = words[3] === '-r' ? 4 : words[3] === '-6' && words[4] === '-r' && e.svc.fwmark ? 5 : -1;
  if (at < 0) return undefined;
  // The words as written (lineWords drops `ipvsadm` and comments): which is the address.
  if (!wordSpans(text, start, eol, words.length, at, 2) || spanA.from < 0) return undefined;
  const from = spanA.from;
  const to = spanA.to;
  const svc = e.svc;
  const dest = e.dest;
  const protocol = PROTOCOL_WORDS.get(words[1] as string);
  // Another service's first real server may be read as this line
  // (rebaseShape) when this one's service is a plain IPv4 text with a port.
  const rebasable = protocol !== undefined && at === 4 && plainService(text, spanB.from, spanB.to);
  return {
    head: text.slice(start, from),
    tail: text.slice(to, eol),
    af: dest.af,
    servicePortOnly: !svc.fwmark && (dest.fwd === FWD.TUNNEL || dest.fwd === FWD.DROUTE),
    servicePort: svc.port,
    config: rule.config,
    id,
    entry,
    first: false,
    svcFrom: 0,
    svcTo: 0,
    around: rebasable ? [protocol, text.slice(start, spanB.from), text.slice(spanB.to, from)] : undefined,
    rebased: undefined,
  };
}

/**
 * The shape of `last` (a real server line of the service before) for the
 * service of the -A line just read, whose service word is at
 * `[shapeFrom, shapeTo)`: `-a -t 192.0.2.1:80 -r `, the address, ` -m -w 1`
 * becomes `-a -t 192.0.2.2:80 -r `, the address, ` -m -w 1`. ipvsadm-save
 * writes each service's real servers right after its -A line, so a
 * service's first real server line is often the last one before with
 * another service and address. With both services plain IPv4 texts with a
 * port (1-65535), the checks ipvsadm makes of a real server that read its
 * service (the port a server without one or a direct-routing or tunnel
 * server takes, the family rule) have the same outcomes but for that port,
 * which the shape carries. The real servers' service is named by the -a
 * lines' protocol word, which need not be the -A line's.
 */
function rebaseShape(last: DestShape, key: ServiceKey, id: string, services: Map<string, FileService>): DestShape | undefined {
  const around = last.around;
  if (around === undefined) return undefined;
  const protocol = around[0];
  const k = key as { protocol: string; address: string; port: number };
  // The real servers' service: this -A line's address and port, the -a
  // lines' protocol word (the -A line's id when they agree).
  if (k.protocol !== protocol) id = serviceKeyText({ protocol, address: k.address, port: k.port });
  // One object per shape, rewritten: a full load rebases 5,000 times.
  const r = (last.rebased ??= { ...last, around: undefined });
  r.head = '';
  r.servicePort = k.port;
  r.id = id;
  r.entry = services.get(id);
  r.first = true;
  r.svcFrom = shapeFrom;
  r.svcTo = shapeTo;
  r.around = around;
  return r;
}

/**
 * Where the address of a line of a rebased shape (`first`) begins, or -1 when
 * the line does not begin as the shape does: the -a line's text before its
 * service word, the -A line's service word, the text after it (compared
 * where they lie: no head string is made for a shape that may read one line).
 */
function rebasedHeadEnd(shape: DestShape, text: string, start: number): number {
  const [, before, after] = shape.around as NonNullable<DestShape['around']>;
  if (!text.startsWith(before, start)) return -1;
  let i = start + before.length;
  const n = shape.svcTo - shape.svcFrom;
  for (let k = 0; k < n; k++) if (text.charCodeAt(i + k) !== text.charCodeAt(shape.svcFrom + k)) return -1;
  i += n;
  return text.startsWith(after, i) ? i + after.length : -1;
}

/** The service word of the -A line {@link serviceShapeOf} or {@link sameShapeService} last read. */
let shapeFrom = 0;
let shapeTo = 0;

/**
 * An -A line cut around its service's address and port: `-A -t `,
 * `192.0.2.1:80`, ` -s wlc`. ipvsadm-save writes services whose options
 * are the same on lines that differ only there; with both texts plain IPv4
 * with a port of 1-65535, the line is the same command for another service:
 * the same words but one, and every check ipvsadm makes of an -A line
 * (options, the zero-port rule, one-packet for UDP only, the netmask of the
 * family) has the same outcome. Read by {@link sameShapeService} without
 * the grammar: 4,999 of a 5,000 x 10 restore's 5,000 -A lines.
 */
interface ServiceShape {
  head: string;
  tail: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  config: ServiceConfig;
}

/** The shape of an -A line just read (`-A -t 192.0.2.1:80 ...`), or undefined for any other. */
function serviceShapeOf(text: string, start: number, eol: number, words: string[], config: ServiceConfig): ServiceShape | undefined {
  const protocol = PROTOCOL_WORDS.get(words[1] as string);
  if (words[0] !== '-A' || protocol === undefined) return undefined;
  if (!wordSpans(text, start, eol, words.length, 2, -1) || spanA.from < 0 || !plainService(text, spanA.from, spanA.to)) return undefined;
  shapeFrom = spanA.from;
  shapeTo = spanA.to;
  return { head: text.slice(start, spanA.from), tail: text.slice(spanA.to, eol), protocol, config };
}

/** The service key of a line of the given shape with a plain IPv4 service text; undefined for any other line. */
function sameShapeService(shape: ServiceShape, text: string, start: number, eol: number): ServiceKey | undefined {
  if (!text.startsWith(shape.head, start)) return undefined;
  const from = start + shape.head.length;
  const to = wordBeforeTail(text, from, eol, shape.tail);
  if (to < 0 || !plainService(text, from, to)) return undefined;
  shapeFrom = from;
  shapeTo = to;
  return { protocol: shape.protocol, address: formatIPv4(plainAddress), port: plainPort };
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

/** The end of the word at `from` when the line's text after it, to `eol`, is `tail`; -1 otherwise (or for no word). */
function wordBeforeTail(text: string, from: number, eol: number, tail: string): number {
  let to = from;
  while (to < eol && !isBlank(text.charCodeAt(to))) to++;
  return to === from || to + tail.length !== eol || !text.startsWith(tail, to) ? -1 : to;
}

/** The rule of a line of the given shape with a numeric address of its family; undefined for any other line. */
function sameShapeRule(shape: DestShape, text: string, start: number, eol: number, line: number): FileDestination | undefined {
  let from: number;
  if (shape.first) {
    from = rebasedHeadEnd(shape, text, start);
    if (from < 0) return undefined;
  } else {
    if (!text.startsWith(shape.head, start)) return undefined;
    from = start + shape.head.length;
  }
  const to = wordBeforeTail(text, from, eol, shape.tail);
  if (to < 0) return undefined;
  let rule: FileDestination;
  if (shape.af === AF_INET && plainIPv4(text, from, to)) {
    // The usual text, read where it lies (no slices, no parse objects).
    const port = shape.servicePortOnly || plainPort < 0 ? shape.servicePort : plainPort;
    rule = new FileDestination(formatIPv4(plainAddress), port, shape.config, line);
  } else {
    // Not remembered: a real server's text (address and port) is mostly new; its address part is.
    const server = numericService(text.slice(from, to), false);
    if (server === undefined || server.af !== shape.af) return undefined;
    const port = shape.servicePortOnly || !(server.result & SERVICE_PORT) ? shape.servicePort : server.port;
    rule = new FileDestination(addressText(server.af, server.addr), port, shape.config, line);
  }
  // The lines after the first of a rebased shape begin as it did.
  if (shape.first) shape.head = text.slice(start, from);
  return rule;
}

/** What {@link plainIPv4} read: the address (its 32 bits, signed, as ipv4Value gives them), and the port or -1 for none. */
let plainAddress = 0;
let plainPort = -1;

/**
 * Whether `text[from, to)` is a dotted quad without leading zeros (so that
 * inet_aton reads it as written, not in octal) and an optional port of 1-5
 * digits up to 65535: then {@link numericService} would give this address
 * and port, and they are left in plainAddress and plainPort. Any other text
 * (names, IPv6, other inet_aton forms, odd ports) is false: the general way
 * reads it. test/unit/cli-parse-words.test.ts holds the two ways to the same
 * rules.
 */
function plainIPv4(text: string, from: number, to: number): boolean {
  const colon = text.indexOf(':', from);
  const quadEnd = colon < 0 || colon >= to ? to : colon;
  const address = ipv4Value(text, from, quadEnd);
  if (Number.isNaN(address)) return false;
  let port = -1;
  if (quadEnd < to) {
    const start = quadEnd + 1;
    let i = start;
    port = 0;
    for (let c = text.charCodeAt(i); i < to && c >= 48 && c <= 57; c = text.charCodeAt(++i)) port = port * 10 + (c - 48);
    if (i !== to || i === start || i - start > 5 || port > 65535) return false;
  }
  plainAddress = address;
  plainPort = port;
  return true;
}

/**
 * A real server read from a restore file, which is its own key and knows
 * its line: one object per real server instead of two, and no per-service
 * array of line numbers (a full load keeps 50,000 of them until the plan is
 * applied; under UML kept objects are what a restore pays for). Nothing
 * writes them; the plan's operations name them as their destination.
 */
class FileDestination implements DestinationRule, DestinationKey {
  constructor(
    readonly address: string,
    readonly port: number,
    readonly config: DestinationConfig,
    /** The file line it was read from. */
    readonly line: number,
  ) {}

  get key(): DestinationKey {
    return this;
  }

  /** Said by the address (a numeric text, canonical): a field less in 50,000 objects. */
  get family(): 'ipv4' | 'ipv6' {
    return this.address.includes(':') ? 'ipv6' : 'ipv4';
  }
}

/** Whether two -A lines give their services the same configuration (everything but the address, port or mark). */
function sameServiceOptions(a: CommandEntry['svc'], b: CommandEntry['svc']): boolean {
  return a.af === b.af && a.sched === b.sched && a.flags === b.flags && a.timeout === b.timeout && a.pe === b.pe && a.netmask.equals(b.netmask);
}

/** Whether two -a lines give a real server the same configuration (everything but its address). */
function sameDestinationOptions(a: CommandEntry['dest'], b: CommandEntry['dest']): boolean {
  return a.fwd === b.fwd && a.weight === b.weight && a.uThreshold === b.uThreshold && a.lThreshold === b.lThreshold && a.tunType === b.tunType && a.tunPort === b.tunPort && a.tunFlags === b.tunFlags;
}

function hasDuplicate(ds: DestinationRule[]): boolean {
  for (let b = 1; b < ds.length; b++) {
    const kb = (ds[b] as DestinationRule).key;
    for (let a = 0; a < b; a++) {
      const ka = (ds[a] as DestinationRule).key;
      if (ka.port === kb.port && ka.address === kb.address) return true;
    }
  }
  return false;
}

function cmpKey(a: DestinationRule, b: DestinationRule): number {
  return a.key.address < b.key.address ? -1 : a.key.address > b.key.address ? 1 : a.key.port - b.key.port;
}

/** A service or real server in ipvsadm syntax (numeric), for plans and messages. */
/** One operation in ipvsadm syntax with its marker (`+` add, `~` edit in place, `-` remove), as --dry-run prints it. */
export function operationText(op: Operation): string {
  const marker = op.type.startsWith('add-') ? '+' : op.type.startsWith('edit-') ? '~' : op.type.startsWith('delete-') ? '-' : '?';
  return `${marker} ${operationArgs(op)}`;
}

function summaryText(s: PlanSummary): string {
  return (
    `services: ${s.addServices} to add, ${s.editServices} to edit, ${s.deleteServices} to delete; ` +
    `real servers: ${s.addDestinations} to add, ${s.editDestinations} to edit, ${s.deleteDestinations} to delete; ` +
    `${s.unchanged} unchanged`
  );
}

function sameDaemon(a: SyncDaemon, b: SyncDaemon): boolean {
  const opt = (x: number | undefined, y: number | undefined): boolean => x === undefined || y === undefined || x === y;
  return (
    a.interface === b.interface &&
    a.syncId === b.syncId &&
    opt(a.maxLen, b.maxLen) &&
    opt(a.port, b.port) &&
    opt(a.ttl, b.ttl) &&
    (a.group === undefined || b.group === undefined || a.group === b.group)
  );
}

function stderrIsTerminal(): boolean {
  try {
    return addon().isatty(2);
  } catch {
    return process.stderr.isTTY === true; // no addon: the command fails later anyway
  }
}

/** Runs `ipvs restore ARGS`. */
export async function restoreCommand(args: string[], io: Io): Promise<number> {
  let dryRun = false;
  let path: string | undefined;
  for (const a of args) {
    if (a === '--dry-run') dryRun = true;
    else if (a === '-h' || a === '--help') {
      io.out(RESTORE_HELP);
      return 0;
    } else if (a.startsWith('-') && a !== '-') {
      io.err(`ipvs restore: unknown option '${a}'\n${RESTORE_HELP}`);
      return 2;
    } else if (path !== undefined) {
      io.err(`ipvs restore: one file at most (got '${path}' and '${a}')\n`);
      return 2;
    } else path = a;
  }
  let text: string;
  try {
    // A file through the addon: its bytes once, as the string's own memory
    // (readFileSync holds them twice: under UML 800 more fresh pages for a
    // 3.2 MB file).
    text = path === undefined || path === '-' ? readFileSync(0, 'latin1') : addon().readText(path);
  } catch (e) {
    io.err(`ipvs restore: cannot read ${path ?? 'stdin'}: ${(e as Error).message}\n`);
    return 2;
  }
  // Asked of the descriptor, not of process.stderr, which a restore that
  // prints nothing does not need to make (see main.ts).
  const progress = stderrIsTerminal() ? (s: string): void => void process.stderr.write(`\r\x1b[K${s}`) : undefined;
  mark('read file');
  progress?.('ipvs restore: checking the file');
  const parsed = await readRestoreFile(text);
  mark('parse and check');
  if ('errors' in parsed) {
    progress?.('');
    for (const m of parsed.errors) io.err(`ipvs restore: ${m}\n`);
    io.err(`ipvs restore: ${parsed.errors.length} error(s); nothing was changed\n`);
    return 2;
  }
  const { client } = await openSession(io);
  mark('open');
  try {
    progress?.('ipvs restore: reading the kernel rules');
    // Each kernel service is compared with the file's as its dump ends, its
    // real servers decoded into reused objects: nothing of the kernel's
    // 55,000 entries is kept but the differences (under UML, kept objects
    // are the cost of a restore that changes little).
    const planner = new Planner(parsed.services);
    let timeouts: Timeouts | undefined;
    let daemons: SyncDaemon[] = [];
    try {
      await client.eachRule(
        (s) => {
          // ipvsadm cannot say "local": -g means direct routing, and the kernel
          // may report a local address as local; both are the same rule here.
          for (const d of s.destinations) if (d.config.forwarding === 'local') d.config.forwarding = 'route';
          planner.current(s);
        },
        { reuse: true },
      );
      if (parsed.timeouts) timeouts = await client.getTimeouts();
      if (parsed.daemons) daemons = await client.listDaemons();
    } catch (e) {
      progress?.('');
      io.err(`ipvs restore: cannot read the kernel rules: ${(e as Error).message}\n`);
      throw new Exit(1);
    }
    mark('read kernel rules and compare');
    // Operations are made slice by slice as they are applied (Planner.lazy).
    const plan = planner.lazy();
    mark(`plan (${plan.count} operations)`);

    const extra: { text: string; run: () => Promise<void>; line?: number; before: boolean }[] = [];
    if (parsed.timeouts && timeouts) {
      const t = parsed.timeouts.value;
      const changes = (t.tcp && t.tcp !== timeouts.tcp) || (t.tcpFin && t.tcpFin !== timeouts.tcpFin) || (t.udp && t.udp !== timeouts.udp);
      if (changes) extra.push({ text: `~ --set ${t.tcp} ${t.tcpFin} ${t.udp}`, run: () => client.setTimeouts(t), line: parsed.timeouts.line, before: true });
    }
    if (parsed.daemons) {
      for (const state of ['master', 'backup'] as DaemonState[]) {
        const now = daemons.find((d) => d.state === state);
        const wanted = parsed.daemons.get(state);
        if (now && wanted && sameDaemon(now, wanted.daemon)) continue;
        if (now) extra.push({ text: `- --stop-daemon ${state}`, run: () => client.stopDaemon(state), before: true });
        if (wanted) extra.push({ text: `+ ${daemonLine(wanted.daemon).trimEnd()}`, run: () => client.startDaemon(wanted.daemon), line: wanted.line, before: false });
      }
    }

    if (dryRun) {
      progress?.('');
      const out: string[] = [];
      for (const x of extra) if (x.before) out.push(x.text, '\n');
      for (const part of plan.slices(4096)) for (const op of part) out.push(operationText(op), '\n');
      for (const x of extra) if (!x.before) out.push(x.text, '\n');
      out.push(`# ${summaryText(plan.summary)}\n`);
      io.out(out.join(''));
      return 0;
    }

    let failed = 0;
    const report = (line: number | undefined, what: string, e: unknown): void => {
      failed++;
      progress?.('');
      io.err(`ipvs restore: ${line !== undefined ? `line ${line}: ` : ''}${what}: ${(e as Error).message}\n`);
    };
    for (const x of extra) {
      if (!x.before) continue;
      try {
        await x.run();
      } catch (e) {
        report(x.line, x.text.slice(2), e);
      }
    }
    // In slices of 2,048 operations made as they are applied: a full load's
    // 55,000 never live at once (under UML plan and apply touched 1,600 new
    // pages before, 1,040-1,130 with slices of 4,096), and a slice is gone
    // before the young generation's collections move it to the old one
    // (slices of 4,096 outlived two and 3 MB of them were promoted: 980-1,040
    // page faults in apply against 160-220 with 2,048, 90-160 with 1,024,
    // which takes twice the round trips).
    // The file was checked before anything was sent, so a slice cannot be
    // refused as a whole. On a terminal, progress between slices.
    let from = 0;
    for (const part of plan.slices(2048)) {
      progress?.(`ipvs restore: applying ${from}/${plan.count}`);
      from += part.length;
      const r = await client.apply(part);
      for (const f of r.failures) {
        const op = f.operation;
        const line =
          op.type === 'add-destination' || op.type === 'edit-destination'
            ? parsed.lineOf(op.destination)
            : op.type === 'add-service' || op.type === 'edit-service'
              ? parsed.lineOf(op.service)
              : undefined;
        report(line, operationText(op).slice(2), f.error);
      }
    }
    for (const x of extra) {
      if (x.before) continue;
      try {
        await x.run();
      } catch (e) {
        report(x.line, x.text.slice(2), e);
      }
    }
    mark('apply');
    progress?.('');
    return failed ? 255 : 0;
  } finally {
    client.close();
    report('restore');
  }
}
