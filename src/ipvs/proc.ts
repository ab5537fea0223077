/**
 * Parsers for IPVS's /proc/net files: the connection table (ip_vs_conn),
 * the namespace totals (ip_vs_stats) and the rule table (ip_vs, for reading
 * every real server at once). Formats: `ip_vs_conn.c` (`ip_vs_conn_seq_show`)
 * and `ip_vs_ctl.c` (`ip_vs_stats_show`, `ip_vs_info_seq_show`).
 * @module
 */
import { formatAddress, parseAddress, type Family } from './address';
import { protocolNumber } from './codec';
import { isFwmarkKey, type Connection, type DestinationRule, type ForwardingMethod, type ServiceKey, type Totals } from './model';

/** An IPv4 address printed as `%08X` of its host-order value, or an IPv6 `%pI6` (full form). */
function procAddress(field: string): string {
  if (field.includes(':')) return formatAddress(parseAddress(field).bytes, 'ipv6');
  const v = parseInt(field, 16);
  if (!/^[0-9A-Fa-f]{8}$/.test(field) || Number.isNaN(v)) throw new Error(`bad address field '${field}'`);
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function hexPort(field: string): number {
  if (!/^[0-9A-Fa-f]{1,4}$/.test(field)) throw new Error(`bad port field '${field}'`);
  return parseInt(field, 16);
}

/**
 * Parses `/proc/net/ip_vs_conn`. Lines are
 * `Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires [PEName PEData]`.
 * Throws on a line it cannot read (it names the line).
 */
export function parseConnections(text: string): Connection[] {
  const out: Connection[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (i === 0 && line.startsWith('Pro ')) continue;
    if (line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 9) throw new Error(`ip_vs_conn line ${i + 1}: expected at least 9 fields: '${line}'`);
    try {
      const c: Connection = {
        protocol: f[0] as string,
        clientAddress: procAddress(f[1] as string),
        clientPort: hexPort(f[2] as string),
        virtualAddress: procAddress(f[3] as string),
        virtualPort: hexPort(f[4] as string),
        destinationAddress: procAddress(f[5] as string),
        destinationPort: hexPort(f[6] as string),
        state: f[7] as string,
        expires: Number(f[8]),
        template: false,
      };
      if (f.length >= 10) c.peName = f[9] as string;
      if (f.length >= 11) c.peData = f.slice(10).join(' ');
      // Persistence templates use the template state table (NONE, ASSURED)
      // and a zero client port, or protocol IP for firewall-mark services.
      c.template = c.protocol === 'IP' || c.state === 'ASSURED' || (c.state === 'NONE' && c.clientPort === 0);
      out.push(c);
    } catch (e) {
      throw new Error(`ip_vs_conn line ${i + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * Parses `/proc/net/ip_vs_stats`: two header lines, a line of five hex
 * counters, a blank line, a rate header and a line of five hex rates.
 */
export function parseTotals(text: string): Totals {
  const rows = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[0-9A-Fa-f]+(\s+[0-9A-Fa-f]+){4}$/.test(l));
  const [counters, rates] = rows;
  if (!counters || !rates) throw new Error('ip_vs_stats: expected a counter line and a rate line');
  const n = (row: string): bigint[] => row.split(/\s+/).map((h) => BigInt(`0x${h}`));
  const [conns, inPackets, outPackets, inBytes, outBytes] = n(counters) as [bigint, bigint, bigint, bigint, bigint];
  const [cps, inPps, outPps, inBps, outBps] = n(rates).map(Number) as [number, number, number, number, number];
  return {
    stats: { conns, inPackets, outPackets, inBytes, outBytes },
    rates: { cps, inPps, outPps, inBps, outBps },
  };
}

// ---------------------------------------------------------------- /proc/net/ip_vs

/**
 * The name `/proc/net/ip_vs` gives a service: `TCP  CB007101:03E8`,
 * `UDP  [2001:0db8:0000:0000:0000:0000:0000:0010]:0035` or `FWM  00000007`
 * (`ip_vs_info_seq_show`: `ip_vs_proto_name`, then `%08X:%04X`, `[%pI6]:%04X`
 * or `%08X`). An IPv4 and an IPv6 service with the same firewall mark share
 * a name; {@link ProcRuleTable} reads neither of them.
 */
export function procServiceName(key: ServiceKey, family: Family): string {
  if (isFwmarkKey(key)) return `FWM  ${hex(key.fwmark, 8)}`;
  const p = protocolNumber(key.protocol);
  const name = PROC_PROTO.get(p) ?? `IP_${p}`;
  const b = parseAddress(key.address).bytes;
  let addr: string;
  if (family === 'ipv4') addr = hex(b.readUInt32BE(0), 8);
  else {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16).padStart(4, '0'));
    addr = `[${groups.join(':')}]`;
  }
  return `${name}  ${addr}:${hex(key.port, 4)}`;
}

/** `ip_vs_proto_name` (ip_vs_proto.c); other numbers print as `IP_%u`. */
const PROC_PROTO = new Map<number, string>([
  [0, 'IP'],
  [1, 'ICMP'],
  [6, 'TCP'],
  [17, 'UDP'],
  [58, 'ICMPv6'],
  [132, 'SCTP'],
]);

function hex(v: number, width: number): string {
  return (v >>> 0).toString(16).toUpperCase().padStart(width, '0');
}

/** `ip_vs_fwd_name` (ip_vs_ctl.c), for the methods a real-server line says everything about (not Tunnel). */
const PROC_FWD: [Buffer, ForwardingMethod][] = [
  [Buffer.from('Masq'), 'masq'],
  [Buffer.from('Route'), 'route'],
  [Buffer.from('Local'), 'local'],
];

/** The forwarding method named by the word at [at, end), if it is one of {@link PROC_FWD}. */
function procForwarding(buf: Buffer, at: number, end: number): ForwardingMethod | undefined {
  for (const [name, method] of PROC_FWD) if (end - at === name.length && startsWith(buf, at, name)) return method;
  return undefined;
}

const ARROW = Buffer.from('  -> ', 'latin1');
const HEADER = Buffer.from('IP Virtual Server', 'latin1');

/**
 * `/proc/net/ip_vs` indexed by service name: every real server of every
 * service in one read, where netlink needs one dump per service (the read
 * of 50,000 real servers costs a fifth of the 5,000 dumps under UML; bench/).
 *
 * A real-server line says its address, port, forwarding method and weight,
 * not its thresholds or tunnel settings, so {@link destinations} answers
 * only for services none of whose real servers tunnels, and says false for
 * anything else it cannot read in full (absent, a name two services share,
 * a tunnel, a line it does not recognise): the caller asks netlink for
 * those. Lines are read where they lie in the buffer, nothing is copied.
 */
export class ProcRuleTable {
  /** Service name -> index into `spans` (its real-server lines), or -1 when two services share the name. */
  private readonly index = new Map<string, number>();
  /** Pairs of offsets: the first real-server line of a service and the end of its last. */
  private readonly spans: number[] = [];
  private readonly v4 = new Map<number, string>();
  private readonly v6 = new Map<string, string>();

  constructor(private readonly buf: Buffer) {
    if (!startsWith(buf, 0, HEADER)) return;
    // Three header lines, then a service line and its real-server lines, service after service.
    let at = 0;
    for (let skip = 0; skip < 3; skip++) at = lineEnd(buf, at) + 1;
    let span = -1;
    while (at < buf.length) {
      const eol = lineEnd(buf, at);
      if (startsWith(buf, at, ARROW)) {
        if (span >= 0) this.spans[span + 1] = eol;
      } else {
        // `PROTO  ADDR:PORT sched ...`: the name is everything before the third blank-separated word.
        const sep = buf.indexOf(0x20, at);
        const end = sep < 0 || sep + 2 >= eol ? -1 : buf.indexOf(0x20, sep + 2);
        span = -1;
        if (end > 0 && end <= eol && buf[sep + 1] === 0x20) {
          const name = buf.toString('latin1', at, end);
          const seen = this.index.get(name);
          if (seen === undefined) {
            span = this.spans.length;
            this.spans.push(eol + 1, eol + 1);
            this.index.set(name, span);
          } else this.index.set(name, -1);
        }
      }
      at = eol + 1;
    }
  }

  /**
   * Appends the real servers of service `name` (see {@link procServiceName})
   * to `out`, each in an object from `make` (thresholds 0, tunnel settings
   * the defaults), in the kernel's order; false, with `out` as it was, when
   * this file cannot say everything about them.
   */
  destinations(name: string, make: () => DestinationRule, out: DestinationRule[]): boolean {
    const span = this.index.get(name);
    if (span === undefined || span < 0) return false;
    const buf = this.buf;
    const start = out.length;
    const end = this.spans[span + 1] as number;
    for (let at = this.spans[span] as number; at < end; ) {
      const eol = lineEnd(buf, at);
      const d = make();
      if (!this.destinationLine(at + ARROW.length, eol, d)) {
        out.length = start;
        return false;
      }
      out.push(d);
      at = eol + 1;
    }
    return true;
  }

  /** Reads `ADDR:PORT  FWD  WEIGHT ...` into `d`. */
  private destinationLine(at: number, eol: number, d: DestinationRule): boolean {
    const buf = this.buf;
    let family: Family;
    let address: string | undefined;
    let i: number;
    if (buf[at] === 0x5b) {
      // [xxxx:...:xxxx]:PPPP
      const close = buf.indexOf(0x5d, at);
      if (close < 0 || close > eol || buf[close + 1] !== 0x3a) return false;
      const text = buf.toString('latin1', at + 1, close);
      address = this.v6.get(text);
      if (address === undefined) {
        try {
          address = formatAddress(parseAddress(text).bytes, 'ipv6');
        } catch {
          return false;
        }
        if (this.v6.size >= 4096) this.v6.clear();
        this.v6.set(text, address);
      }
      family = 'ipv6';
      i = close + 2;
    } else {
      const v = hexAt(buf, at, 8);
      if (v < 0 || buf[at + 8] !== 0x3a) return false;
      address = this.v4.get(v);
      if (address === undefined) {
        address = `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
        if (this.v4.size >= 65536) this.v4.clear();
        this.v4.set(v, address);
      }
      family = 'ipv4';
      i = at + 9;
    }
    const port = hexAt(buf, i, 4);
    if (port < 0) return false;
    i += 4;
    while (buf[i] === 0x20) i++;
    const fwdEnd = buf.indexOf(0x20, i);
    if (fwdEnd < 0 || fwdEnd > eol) return false;
    const forwarding = procForwarding(buf, i, fwdEnd);
    if (forwarding === undefined) return false; // a tunnel (its settings are not here), or unknown
    i = fwdEnd;
    while (buf[i] === 0x20) i++;
    let neg = false;
    if (buf[i] === 0x2d) {
      neg = true;
      i++;
    }
    let weight = 0;
    const digits = i;
    for (let c = buf[i] as number; c >= 0x30 && c <= 0x39; c = buf[++i] as number) weight = weight * 10 + (c - 0x30);
    if (i === digits || i - digits > 10 || buf[i] !== 0x20) return false;
    d.key.address = address;
    d.key.port = port;
    d.family = family;
    const c = d.config;
    c.forwarding = forwarding;
    c.weight = (neg ? -weight : weight) | 0;
    c.upperThreshold = 0;
    c.lowerThreshold = 0;
    c.tunnelType = 'ipip';
    c.tunnelPort = 0;
    c.tunnelCsum = false;
    c.tunnelRemcsum = false;
    return true;
  }
}

function lineEnd(buf: Buffer, at: number): number {
  const eol = buf.indexOf(0x0a, at);
  return eol < 0 ? buf.length : eol;
}

function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  for (let k = 0; k < prefix.length; k++) if (buf[at + k] !== prefix[k]) return false;
  return true;
}

/** `width` hex digits at `at` as a number (unsigned), or -1. */
function hexAt(buf: Buffer, at: number, width: number): number {
  let v = 0;
  for (let k = 0; k < width; k++) {
    const c = buf[at + k];
    let h: number;
    if (c === undefined) return -1;
    if (c >= 0x30 && c <= 0x39) h = c - 0x30;
    else if (c >= 0x41 && c <= 0x46) h = c - 0x37;
    else if (c >= 0x61 && c <= 0x66) h = c - 0x57;
    else return -1;
    v = v * 16 + h;
  }
  return v;
}
