/**
 * Reading IPVS requests as the kernel does: validate a nest against the
 * kernel's policy, then decode it with the library's own schema tables
 * (src/ipvs/schema.ts), so the fake and the client cannot disagree about an
 * attribute's id or width. Then `ip_vs_genl_parse_service` and
 * `ip_vs_genl_parse_dest`: which attributes identify, which a full entry
 * needs, and what a missing one costs (EINVAL; EAFNOSUPPORT for a bad family).
 * @module
 */
import { decodeAttrs, type AttrSet, type AttrValues, type FlagsValue } from '../netlink/attributes';
import { NlWriter } from '../netlink/writer';
import { IPPROTO_TCP, IP_VS_CONN_F_FWD_MASK } from '../ipvs/constants';
import { DEST_ATTRS, SERVICE_ATTRS } from '../ipvs/schema';
import { EAFNOSUPPORT, EINVAL } from './errno';
import { DEST_POLICY, SERVICE_POLICY, isViolation, parseNest, type AttrAt, type ParsedNest, type Policy, type PolicyViolation } from './policy';
import type { DestUser, IpvsState, ServiceUser, SvcEntry } from './state';

/** Payload widths of fixed-size schema types. */
const WIDTH: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, be16: 2, be32: 4, flags: 8 };

/**
 * Decodes the accepted attributes of a nest with the schema. Nests and
 * output-only attributes are left out (the kernel ignores what a request
 * puts there, and nests are parsed on their own); a payload shorter than its
 * schema width, which only a binary policy lets through (FLAGS), is
 * zero-filled as the kernel's `nla_memcpy` does.
 */
export function decodeAccepted(buf: Buffer, parsed: ParsedNest, set: AttrSet): AttrValues {
  const w = new NlWriter(256);
  for (const [type, at] of parsed) {
    const spec = set.byId[type];
    if (!spec || spec.outOnly || spec.type === 'nested') continue;
    let payload = buf.subarray(at.off, at.off + at.len);
    const width = WIDTH[spec.type];
    if (width !== undefined && payload.length < width) payload = Buffer.concat([payload, Buffer.alloc(width - payload.length)]);
    w.attrBytes(type, payload);
  }
  const b = w.toBuffer();
  return decodeAttrs(b, 0, b.length, set);
}

/** The nest at `at` validated against `policy`, or a violation. */
export function nest(buf: Buffer, at: AttrAt, policy: Policy): ParsedNest | PolicyViolation {
  return parseNest(buf, at.off, at.off + at.len, policy);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** A parsed service nest, or an errno. */
export type ServiceParse = { errno: number } | { errno: 0; u: ServiceUser; svc: SvcEntry | undefined };

/** `ip_vs_genl_parse_service`. */
export function parseService(state: IpvsState, buf: Buffer, at: AttrAt | undefined, full: boolean): ServiceParse {
  if (!at) return { errno: EINVAL };
  const parsed = nest(buf, at, SERVICE_POLICY);
  // Service nests are parsed without extended ACK: any refusal is a bare EINVAL.
  if (isViolation(parsed)) return { errno: EINVAL };
  const a = decodeAccepted(buf, parsed, SERVICE_ATTRS);
  const af = num(a.af);
  const hasFwmark = a.fwmark !== undefined;
  if (af === undefined || !(hasFwmark || (a.port !== undefined && a.protocol !== undefined && a.addr !== undefined))) {
    return { errno: EINVAL };
  }
  if (!state.afValid(af)) return { errno: EAFNOSUPPORT };
  const u: ServiceUser = hasFwmark
    ? { af, protocol: IPPROTO_TCP, addr: Buffer.alloc(16), port: 0, fwmark: num(a.fwmark) ?? 0 }
    : { af, protocol: num(a.protocol) ?? 0, addr: a.addr as Buffer, port: num(a.port) ?? 0, fwmark: 0 };
  const svc = state.find(u);
  if (full) {
    if (a.schedName === undefined || a.flags === undefined || a.timeout === undefined || a.netmask === undefined) {
      return { errno: EINVAL };
    }
    const f = a.flags as FlagsValue;
    u.full = {
      flags: f.flags,
      mask: f.mask,
      sched: a.schedName as string,
      pe: typeof a.peName === 'string' ? a.peName : undefined,
      timeout: num(a.timeout) ?? 0,
      netmask: (a.netmask as Buffer).subarray(0, 4),
    };
  }
  return { errno: 0, u, svc };
}

/** A parsed destination nest, or an errno. */
export type DestParse = { errno: number } | { errno: 0; ud: DestUser };

/** `ip_vs_genl_parse_dest`. */
export function parseDest(buf: Buffer, at: AttrAt | undefined, full: boolean): DestParse {
  if (!at) return { errno: EINVAL };
  const parsed = nest(buf, at, DEST_POLICY);
  if (isViolation(parsed)) return { errno: EINVAL };
  const a = decodeAccepted(buf, parsed, DEST_ATTRS);
  if (a.addr === undefined || a.port === undefined) return { errno: EINVAL };
  const ud: DestUser = {
    af: num(a.addrFamily) ?? 0,
    addr: a.addr as Buffer,
    port: num(a.port) ?? 0,
    fwd: 0,
    weight: 0,
    uThresh: 0,
    lThresh: 0,
    tunType: 0,
    tunPort: 0,
    tunFlags: 0,
  };
  if (full) {
    if (a.fwdMethod === undefined || a.weight === undefined || a.uThresh === undefined || a.lThresh === undefined) {
      return { errno: EINVAL };
    }
    ud.fwd = (num(a.fwdMethod) ?? 0) & IP_VS_CONN_F_FWD_MASK;
    ud.weight = (num(a.weight) ?? 0) | 0; // the kernel's int: 2^31 and above are negative
    ud.uThresh = num(a.uThresh) ?? 0;
    ud.lThresh = num(a.lThresh) ?? 0;
    ud.tunType = num(a.tunType) ?? 0;
    ud.tunPort = num(a.tunPort) ?? 0;
    ud.tunFlags = num(a.tunFlags) ?? 0;
  }
  return { errno: 0, ud };
}
