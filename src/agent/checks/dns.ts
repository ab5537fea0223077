/**
 * DNS check: one query over UDP; healthy when the server answers it with an
 * accepted response code.
 * @module
 */
import { randomInt } from 'node:crypto';
import type { Prober } from './attempt';
import { datagramProber } from './datagram';
import { DNS_RCODES, DNS_TYPES, decodeMessage, encodeQuery } from './dns-wire';
import type { DnsCheck, ProbeTarget } from './types';

/** Builds the prober of one DNS check on one target. */
export function dnsProber(target: ProbeTarget, check: DnsCheck): Prober {
  const type = DNS_TYPES[check.type];
  const template = encodeQuery(0, check.query, type);
  const accepted = new Set(check.expectRcode);
  return datagramProber(target, check.timeoutMs, {
    request() {
      // A fresh id per query (RFC 5452 9.2), so a late answer to an earlier
      // probe is not taken for this one's.
      const query = Buffer.from(template);
      query.writeUInt16BE(randomInt(0x10000), 0);
      return query;
    },
    judge(reply, query) {
      const msg = decodeMessage(reply);
      // Not an answer to this query: keep waiting (the deadline still runs).
      if (msg === undefined || !msg.qr || msg.id !== query.readUInt16BE(0)) return undefined;
      if (msg.question !== undefined && !sameQuestion(reply, query, msg.end)) return undefined;
      const rcode = DNS_RCODES[msg.rcode] ?? `RCODE${msg.rcode}`;
      if (!accepted.has(rcode)) return { ok: false, reason: `rcode ${rcode}` };
      return { ok: true, reason: `${rcode}, ${msg.ancount} answer${msg.ancount === 1 ? '' : 's'}` };
    },
  });
}

/**
 * The reply repeats the question (RFC 1035 4.1.2); names compare without
 * regard to ASCII case (RFC 4343), since some servers echo it changed.
 */
function sameQuestion(reply: Buffer, query: Buffer, end: number): boolean {
  if (end !== query.length) return false;
  const nameEnd = end - 4; // type and class follow the name and compare exactly
  for (let i = 12; i < end; i++) {
    let a = reply[i]!;
    let b = query[i]!;
    if (i < nameEnd) {
      if (a >= 0x41 && a <= 0x5a) a |= 0x20;
      if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    }
    if (a !== b) return false;
  }
  return true;
}
