/**
 * The fake kernel against Linux, byte for byte: the same request datagrams
 * go to the real IPVS (a fresh namespace in UML) and to a FakeKernel set up
 * like that namespace, and every answer must be identical, message by
 * message (port ids aside; services of one dump compared as a set, since
 * the kernel's hash mixes in a namespace pointer). Good requests and bad
 * ones: every command, the policy refusals with their extended ACKs, the
 * errno of each rule, batches, dump/do mix-ups, a second dump in one
 * datagram. This is what keeps `ipvs/testing` honest.
 */
import t from 'tap';
import { FakeKernel } from '../../../src/testing';
import { openNetlinkSocket, type Transport } from '../../../src/netlink/transport';
import { exchangeAll } from '../../exchange';
import { NetlinkConnection } from '../../../src/netlink/connection';
import { resolveFamily } from '../../../src/genetlink/ctrl';
import { NLMSG_HDRLEN, nlAlign } from '../../../src/netlink/constants';
import { readU16, readU32, writeU32 } from '../../../src/netlink/hostorder';
import { withNetns } from '../harness';
import { PARITY_STEPS, type Step } from '../parity-steps';

interface Answer {
  error?: string;
  completed?: number;
  messages: string[];
}

/** Every message of the answer, as hex with the port id zeroed; dumped services sorted. */
function normalize(buf: Buffer, familyId: number): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    out.push(...run.sort());
    run = [];
  };
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = readU32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    const m = Buffer.from(buf.subarray(off, off + len));
    writeU32(m, 0, 12);
    const hex = m.toString('hex');
    // A dumped service (family type, NLM_F_MULTI, genl cmd NEW_SERVICE).
    if (readU16(m, 4) === familyId && readU16(m, 6) & 2 && m[16] === 1) run.push(hex);
    else {
      flush();
      out.push(hex);
    }
    off += nlAlign(len);
  }
  flush();
  return out;
}

async function ask(tr: Transport, step: Step, familyId: number, seq: () => number): Promise<Answer> {
  // Generous by default: daemon commands wait for rtnl_lock (see behaviour.ts).
  const r = await exchangeAll(tr, step.build(familyId, seq), step.timeoutMs ?? 120_000);
  const a: Answer = { messages: normalize(r.answers, familyId), completed: r.done };
  if (r.error) a.error = r.error.code;
  return a;
}

t.test('the fake kernel answers every request exactly as Linux does', async (t) => {
  await withNetns(async (ns) => {
    const real = openNetlinkSocket({ netns: ns.path });
    const familyId = (await resolveFamily(new NetlinkConnection(real), 'IPVS')).id;
    const kernel = new FakeKernel({
      familyId,
      interfaces: { lo: 65536, dummy0: 1500 },
      // The namespace's dummy0 holds 198.51.100.1/24 and 192.0.2.1/24: the
      // local table makes their broadcast addresses RTN_BROADCAST.
      routable: (a) => a !== '198.51.100.255' && a !== '192.0.2.255',
      localAddresses: ['127.0.0.1', '::1', '198.51.100.1', '192.0.2.1', '2001:db8:1::1'],
    });
    const fake = kernel.openTransport();
    let n = 1000;
    try {
      for (const step of PARITY_STEPS) {
        if (step.pauseMs) await new Promise((resolve) => setTimeout(resolve, step.pauseMs));
        const base = n;
        const a = await ask(real, step, familyId, () => n++);
        n = base;
        const b = await ask(fake, step, familyId, () => n++);
        t.same(b, a, step.name);
      }
    } finally {
      real.close();
      fake.close();
    }
  });
});
