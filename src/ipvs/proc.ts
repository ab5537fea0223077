/**
 * Parsers for IPVS's /proc/net files: the connection table (ip_vs_conn) and
 * the namespace totals (ip_vs_stats). Formats: `ip_vs_conn.c`
 * (`ip_vs_conn_seq_show`) and `ip_vs_ctl.c` (`ip_vs_stats_show`).
 * @module
 */
import { formatAddress, parseAddress } from './address';
import type { Connection, Totals } from './model';

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
