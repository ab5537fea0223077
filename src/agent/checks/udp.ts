/**
 * UDP check: send a payload, expect a reply (optionally matching a pattern).
 * @module
 */
import { datagramProber } from './datagram';
import type { Prober } from './attempt';
import type { ProbeTarget, UdpCheck } from './types';

/** Builds the prober of one UDP check on one target. */
export function udpProber(target: ProbeTarget, check: UdpCheck): Prober {
  const payload = udpPayload(check.send);
  const pattern = check.expect === undefined ? undefined : new RegExp(check.expect);
  return datagramProber(target, check.timeoutMs, {
    request: () => payload,
    judge(reply) {
      // latin1 maps each byte to one character, so a pattern can match binary replies.
      if (pattern === undefined || pattern.test(reply.toString('latin1'))) {
        return { ok: true, reason: `reply ${reply.length} bytes` };
      }
      return { ok: false, reason: `reply does not match ${String(pattern)}` };
    },
  });
}

/** `hex:` prefix for bytes (whitespace ignored), else UTF-8 text. */
export function udpPayload(send: string): Buffer {
  if (!send.startsWith('hex:')) return Buffer.from(send, 'utf8');
  const hex = send.slice(4).replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError(`'${send}' is not hex bytes`);
  return Buffer.from(hex, 'hex');
}
