/**
 * Raw exchanges for tests that talk netlink bytes to a Transport (the fake
 * kernel's or the native socket): request datagrams in, all answers out,
 * following the Transport contract's windows (`partial`/`resume`).
 */
import { ExchangeError, type Transport } from '../src/netlink/transport';

/** All answers (datagrams back to back), how many request datagrams were answered, and the failure if one ended it. */
export interface RawAnswers {
  answers: Buffer;
  done: number;
  error?: ExchangeError;
}

/** Sends `datagrams` through `transport` and collects every answer. */
export async function exchangeAll(transport: Transport, datagrams: Buffer[], timeoutMs: number, window = 1 << 20): Promise<RawAnswers> {
  const data = Buffer.concat(datagrams);
  const ends = new Uint32Array(datagrams.length);
  let off = 0;
  datagrams.forEach((d, i) => (ends[i] = off += d.length));
  const recv = Buffer.alloc(window);
  const parts: Buffer[] = [];
  let from = 0;
  let resume = false;
  while (from < ends.length) {
    const base = from === 0 ? 0 : (ends[from - 1] as number);
    try {
      const p = await transport.exchange(data.subarray(base), ends.subarray(from).map((e) => e - base), recv, resume, timeoutMs);
      parts.push(Buffer.from(recv.subarray(0, p.used)));
      from += p.done;
      resume = p.partial;
    } catch (e) {
      if (!(e instanceof ExchangeError)) throw e;
      parts.push(Buffer.from(recv.subarray(0, e.used)));
      return { answers: Buffer.concat(parts), done: from + e.done, error: e };
    }
  }
  return { answers: Buffer.concat(parts), done: from };
}
