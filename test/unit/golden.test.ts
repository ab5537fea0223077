/**
 * Golden bytes from the real kernel (test/fixtures, captured in User-Mode
 * Linux by scripts/capture-fixtures.sh), checked on the host.
 *
 * State fixtures: the kernel's answers are replayed to a real IpvsClient,
 * and every read (info, timeouts, daemons, services, rules, snapshot, one
 * service, its destinations) must give the value the fixture records —
 * written from the commands and from ipvsadm's own reading of that kernel,
 * not from this library. Every captured answer must be asked for, so the
 * library's requests still match the captured ones byte for byte.
 *
 * Request fixtures: what ipvsadm sent for a command (strace) against what
 * the library sends for the call of the same meaning, through the single
 * call and through apply(): identical, or a subset of ipvsadm's attributes
 * with the same bytes where ipvsadm sends more than the kernel reads.
 */
import t from 'tap';
import { IpvsClient, type Operation, type ServiceKey } from '../../src/index';
import { NLM_F_ACK } from '../../src/netlink/constants';
import {
  RecordingTransport,
  ReplayTransport,
  plain,
  readFixtures,
  splitMessage,
  type Attr,
  type RequestFixture,
  type StateFixture,
} from './golden-support';

type Json = Record<string, unknown>;

/** A stable text for a key, whatever the property order. */
const keyId = (k: unknown): string => JSON.stringify(Object.fromEntries(Object.entries(k as Json).sort()));
const byKey = (list: unknown): Json[] => [...(list as Json[])].sort((a, b) => (keyId(a.key) < keyId(b.key) ? -1 : 1));

function checkState(fx: StateFixture): void {
  t.test(`state ${fx.name}: ${fx.description}`, async (t) => {
    const exp = fx.expected as { info: Json; timeouts: Json; daemons: Json[]; services: Json[]; destinations: Record<string, Json[]> };
    const destsOf = (key: unknown): Json[] => exp.destinations[JSON.stringify(key)] ?? [];
    const replay = new ReplayTransport(fx.exchanges, fx.portId);
    const client = await IpvsClient.open({ transport: replay });
    const c = client as unknown as Record<string, (a?: ServiceKey) => Promise<unknown>>;
    for (const call of fx.calls) {
      const sp = call.indexOf(' ');
      const method = sp < 0 ? call : call.slice(0, sp);
      const arg = sp < 0 ? undefined : (JSON.parse(call.slice(sp + 1)) as ServiceKey);
      const got = plain(await (c[method] as (a?: ServiceKey) => Promise<unknown>).call(client, arg));
      switch (method) {
        case 'info':
          t.same(got, exp.info, 'info()');
          break;
        case 'getTimeouts':
          t.same(got, exp.timeouts, 'getTimeouts()');
          break;
        case 'listDaemons':
          t.same(got, exp.daemons, 'listDaemons()');
          break;
        case 'listServices':
          t.same(byKey(got), byKey(exp.services), 'listServices()');
          break;
        case 'rules':
          t.same(
            byKey(got),
            byKey(exp.services.map((s) => ({ key: s.key, family: s.family, config: s.config, destinations: destsOf(s.key).map((d) => ({ key: d.key, family: d.family, config: d.config })) }))),
            'rules()',
          );
          break;
        case 'snapshot':
          t.same(byKey(got), byKey(exp.services.map((s) => ({ ...s, destinations: destsOf(s.key) }))), 'snapshot()');
          break;
        case 'getService':
          t.same(got, exp.services.find((s) => keyId(s.key) === keyId(arg)), `getService(${JSON.stringify(arg)})`);
          break;
        case 'listDestinations':
          t.same(got, destsOf(arg), `listDestinations(${JSON.stringify(arg)}): in kernel order`);
          break;
        default:
          t.fail(`unknown call ${method}`);
      }
    }
    t.equal(replay.used.size, fx.exchanges.length, 'every captured request was asked again, byte for byte');
    client.close();
  });
}

/** The operation apply() takes for a client call, where there is one. */
function asOperation(call: RequestFixture['call']): Operation | undefined {
  const a = call.args as [never, never, never];
  switch (call.method) {
    case 'addService':
      return { type: 'add-service', service: a[0], config: a[1] };
    case 'replaceService':
      return { type: 'edit-service', service: a[0], config: a[1] };
    case 'deleteService':
      return { type: 'delete-service', service: a[0] };
    case 'addDestination':
      return { type: 'add-destination', service: a[0], destination: a[1], config: a[2] };
    case 'replaceDestination':
      return { type: 'edit-destination', service: a[0], destination: a[1], config: a[2] };
    case 'deleteDestination':
      return { type: 'delete-destination', service: a[0], destination: a[1] };
    case 'zero':
      return a[0] ? { type: 'zero', service: a[0] } : { type: 'zero' };
    case 'setTimeouts':
      return { type: 'set-timeouts', timeouts: a[0] };
    case 'flush':
      return { type: 'flush' };
  }
  return undefined;
}

/** Attributes as comparable values: type and bytes, or type and children for a nest (NLA_F_NESTED aside). */
const strip = (attrs: readonly Attr[]): unknown => attrs.map((a) => (a.children ? { type: a.type, children: strip(a.children) } : { type: a.type, data: a.data.toString('hex') }));

function compareRequest(t: tap.Test, mine: Buffer, theirs: Buffer, r: RequestFixture, path: string): void {
  const m = splitMessage(mine);
  const h = splitMessage(theirs);
  t.equal(m.type, h.type, `${path}: message type (the family id)`);
  const dump = (h.flags & 0x300) !== 0;
  if (dump) t.equal(m.flags & ~NLM_F_ACK, h.flags & ~NLM_F_ACK, `${path}: dump flags (0x${m.flags.toString(16)} vs ipvsadm's 0x${h.flags.toString(16)})`);
  else if (r.ack === 'next') t.equal(m.flags, h.flags & ~NLM_F_ACK, `${path}: flags: ipvsadm's without the ACK request`);
  else t.equal(m.flags, h.flags, `${path}: flags`);
  t.equal(m.genl.toString('hex'), h.genl.toString('hex'), `${path}: genl header`);
  if (r.relation === 'same') {
    t.same(strip(m.attrs), strip(h.attrs), `${path}: the same attributes, in the same order`);
  } else if (r.relation === 'unordered') {
    const sorted = (x: readonly Attr[]): Attr[] => [...x].map((a) => ({ ...a, children: a.children ? sorted(a.children) : undefined }) as Attr).sort((p, q) => p.type - q.type);
    t.same(strip(sorted(m.attrs)), strip(sorted(h.attrs)), `${path}: the same attributes, in another order`);
  } else {
    const missing: string[] = [];
    for (const a of m.attrs) {
      const b = h.attrs.find((x) => x.type === a.type);
      if (!b) missing.push(`attribute ${a.type}`);
      else if (!a.children && !a.data.equals(b.data)) missing.push(`attribute ${a.type} differs`);
      for (const c of a.children ?? []) {
        const d = b?.children?.find((x) => x.type === c.type);
        if (!d || !d.data.equals(c.data)) missing.push(`attribute ${a.type}.${c.type} ${d ? 'differs' : 'not in ipvsadm'}`);
      }
    }
    t.same(missing, [], `${path}: every attribute the library sends, ipvsadm sends with the same bytes`);
    t.ok(m.attrs.length > 0, `${path}: not empty`);
  }
}

function checkRequest(r: RequestFixture): void {
  t.test(`request: ipvsadm ${r.ipvsadm} (${r.call.method})`, async (t) => {
    const theirs = Buffer.from(r.request, 'hex');
    const { type, genl } = splitMessage(theirs);
    const pick = (rec: RecordingTransport): Buffer | undefined => rec.sent.find((s) => s.type === type && s.message[16] === genl[0])?.message;
    /** For `ack: 'next'`: the message after ours in its datagram must be a GET_INFO asking for the ACK. */
    const checkAckCarrier = (rec: RecordingTransport, path: string): void => {
      const i = rec.sent.findIndex((s) => s.type === type && s.message[16] === genl[0]);
      const next = rec.sent[i + 1];
      t.ok(next && next.datagram === rec.sent[i]?.datagram && next.message[16] === 15 && (next.flags & NLM_F_ACK) !== 0, `${path}: a GET_INFO asking for the ACK follows in the same datagram`);
    };
    const rec = new RecordingTransport(type);
    const client = await IpvsClient.open({ transport: rec });
    const c = client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    // The recording kernel accepts everything and answers reads with nothing.
    await (c[r.call.method] as (...a: unknown[]) => Promise<unknown>).apply(client, r.call.args).catch(() => undefined);
    const mine = pick(rec);
    t.ok(mine, `${r.call.method} sent the command`);
    if (mine) compareRequest(t, mine, theirs, r, r.call.method);
    if (r.ack === 'next') checkAckCarrier(rec, r.call.method);
    const op = asOperation(r.call);
    if (op) {
      const bulk = new RecordingTransport(type);
      const bc = await IpvsClient.open({ transport: bulk });
      const res = await bc.apply([op]);
      t.equal(res.failures.length, 0, 'apply() sent it');
      const viaApply = pick(bulk);
      if (viaApply) compareRequest(t, viaApply, theirs, r, 'apply');
      bc.close();
    }
    client.close();
  });
}

const fixtures = readFixtures();
t.ok(fixtures.length >= 2, `${fixtures.length} fixture files`);
for (const fx of fixtures) {
  if (fx.kind === 'state') checkState(fx);
  else for (const r of fx.requests) checkRequest(r);
}
