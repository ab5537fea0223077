/**
 * `ipvs -L -c`: the connection table as ipvsadm prints it (`list_conn`,
 * `print_conn`), from /proc/net/ip_vs_conn of the caller's namespace.
 *
 * ipvsadm reads each line with `sscanf("%s %s %hX %s %hX %s %hX %s %d %s
 * %s")`; this does the same field by field (hex ports wrap at 16 bits, a
 * hex IPv4 address keeps its low 32 bits) so odd lines print the same.
 * @module
 */
import { inetNtoa, inetPton4, inetPton6 } from './cparse';
import { formatAddress } from '../ipvs/address';
import type { Protocol } from '../ipvs/model';
import { addrPortName } from './format';
import { FMT } from './grammar';

/** Where the connection table is. */
export const CONN_FILE = '/proc/net/ip_vs_conn';

interface ConnLine {
  protocol: string;
  proto: Protocol | undefined;
  client: [string, number];
  virtual: [string, number];
  dest: [string, number];
  state: string;
  expires: number;
  pe?: [string, string];
}

/** sscanf's `%hX`: optional sign and 0x, hex digits, kept modulo 2^16. Undefined when no digits. */
function scanHexShort(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const m = /^([+-]?)(?:0[xX])?([0-9a-fA-F]+)/.exec(t);
  if (!m) return undefined;
  let v = Number(BigInt.asUintN(16, BigInt(`0x${m[2]}`)));
  if (m[1] === '-') v = (65536 - v) & 0xffff;
  return v;
}

/** sscanf's `%d`. */
function scanInt(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const m = /^[+-]?\d+/.exec(t);
  if (!m) return undefined;
  return Number(BigInt.asIntN(32, BigInt(m[0])));
}

/** An address field: IPv6 text, dotted IPv4, or the kernel's %08X (low 32 bits of strtoul). */
function scanAddress(t: string): { text: string; v6: boolean } {
  const v6 = inetPton6(t);
  if (v6) return { text: formatAddress(v6, 'ipv6'), v6: true };
  const v4 = inetPton4(t);
  if (v4) return { text: inetNtoa(v4), v6: false };
  const m = /^\s*[+-]?(?:0[xX])?([0-9a-fA-F]*)/.exec(t);
  const hex = m?.[1] ? BigInt.asUintN(32, BigInt(`0x${m[1]}`)) : 0n;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Number(hex), 0);
  return { text: inetNtoa(b), v6: false };
}

function parseLine(line: string): ConnLine | 'eof' {
  const f = line.split(/[ \t\n\v\f\r]+/).filter((x) => x !== '');
  if (f.length === 0) return 'eof';
  const protocol = (f[0] as string).slice(0, 7);
  const proto: Protocol | undefined = protocol === 'TCP' ? 'tcp' : protocol === 'UDP' ? 'udp' : protocol === 'SCTP' ? 'sctp' : undefined;
  // Fields sscanf could not convert keep their (zero) initial values.
  const cport = scanHexShort(f[2]) ?? 0;
  const vport = scanHexShort(f[4]) ?? 0;
  const dport = scanHexShort(f[6]) ?? 0;
  const c = scanAddress(f[1] ?? '');
  // The virtual address is read in the client's family.
  const vText = f[3] ?? '';
  const virtual = c.v6 ? formatAddress(inetPton6(vText) ?? Buffer.alloc(16), 'ipv6') : scanAddress(vText).text;
  const d = scanAddress(f[5] ?? '');
  const conn: ConnLine = {
    protocol,
    proto,
    client: [c.text, cport],
    virtual: [virtual, vport],
    dest: [d.text, dport],
    state: f[7] ?? '',
    expires: scanInt(f[8]) ?? 0,
  };
  if (f.length >= 11) conn.pe = [f[9] as string, f[10] as string];
  return conn;
}

/** The lines ipvsadm's `fgets(buf, 256)` loop sees: long lines come in 255-byte pieces. */
function fgetsLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/(?<=\n)/)) {
    for (let i = 0; i < raw.length; i += 255) out.push(raw.slice(i, i + 255));
  }
  return out;
}

/** The addresses a listing of `text` will name (for reverse lookups first). */
export function connAddresses(text: string): string[] {
  const out: string[] = [];
  for (const line of fgetsLines(text).slice(1)) {
    const c = parseLine(line);
    if (c === 'eof') continue;
    out.push(c.client[0], c.virtual[0], c.dest[0]);
  }
  return out;
}

/**
 * The `-L -c` listing of the connection table text. Returns the output and
 * whether ipvsadm would have stopped (a blank line ends it with status 1).
 */
export function formatConnections(text: string, format: number): { output: string; exitCode: number } {
  const lines = fgetsLines(text);
  const out: string[] = ['IPVS connection entries\n'];
  if (format & FMT.PERSISTENTCONN) {
    out.push(`pro expire ${'state'.padEnd(11)} ${'source'.padEnd(18)} ${'virtual'.padEnd(18)} ${'destination'.padEnd(18)} ${'pe name'.padEnd(16)} pe_data\n`);
  } else {
    out.push(`pro expire ${'state'.padEnd(11)} ${'source'.padEnd(18)} ${'virtual'.padEnd(18)} destination\n`);
  }
  for (const line of lines.slice(1)) {
    const c = parseLine(line);
    if (c === 'eof') return { output: out.join(''), exitCode: 1 };
    const name = ([a, p]: [string, number]): string => addrPortName(a, p, c.proto, format);
    const minutes = Math.trunc(c.expires / 60);
    const seconds = c.expires % 60;
    const expire = `${String(minutes).padStart(2, '0')}:${String(Math.abs(seconds)).padStart(2, '0')}`;
    let row = `${c.protocol.padEnd(3)} ${expire.padEnd(6)} ${c.state.padEnd(11)} ${name(c.client).padEnd(18)} ${name(c.virtual).padEnd(18)} `;
    if (format & FMT.PERSISTENTCONN && c.pe) row += `${name(c.dest).padEnd(16)} ${c.pe[0].padEnd(18)} ${c.pe[1]}`;
    else row += name(c.dest);
    out.push(row, '\n');
  }
  return { output: out.join(''), exitCode: 0 };
}
