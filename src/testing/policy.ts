/**
 * The kernel's attribute policies for IPVS requests and netlink's liberal
 * ("deprecated") validation of them, so the fake kernel refuses exactly what
 * the kernel refuses, with the same errno and extended-ACK text.
 *
 * Policies: `ip_vs_cmd_policy`, `ip_vs_svc_policy`, `ip_vs_dest_policy`,
 * `ip_vs_daemon_policy` in net/netfilter/ipvs/ip_vs_ctl.c. Validation:
 * `validate_nla` in lib/nlattr.c as the IPVS ops use it
 * (GENL_DONT_VALIDATE_STRICT): attributes of unknown or zero type are
 * skipped, trailing bytes are ignored, the last of duplicates wins, an
 * integer shorter than its type is ERANGE, a NUL string without a NUL in its
 * first `len + 1` bytes is EINVAL, a longer one is ERANGE, binary longer
 * than `len` is ERANGE. Every refusal carries "Attribute failed policy
 * validation" and the offending attribute (seen on 6.1 in UML).
 * @module
 */
import { NLA_HDRLEN, NLA_TYPE_MASK, nlAlign } from '../netlink/constants';
import { readU16 } from '../netlink/hostorder';

/** Kernel policy types (`NLA_*`) the IPVS tables use. */
export type PolicyType = 'u8' | 'u16' | 'u32' | 'nested' | 'binary' | 'nulString' | 'unspec';

/** One attribute's policy: `len` is a maximum (binary, strings) or a minimum (unspec). */
export interface AttrPolicy {
  readonly type: PolicyType;
  readonly len?: number;
}

/** The policy of one nest: attribute types above `maxType` are ignored. */
export interface Policy {
  readonly name: string;
  readonly maxType: number;
  readonly attrs: readonly (AttrPolicy | undefined)[];
}

function policy(name: string, maxType: number, byId: Record<number, AttrPolicy>): Policy {
  const attrs: (AttrPolicy | undefined)[] = [];
  for (const [id, p] of Object.entries(byId)) attrs[Number(id)] = p;
  return { name, maxType, attrs };
}

const U8: AttrPolicy = { type: 'u8' };
const U16: AttrPolicy = { type: 'u16' };
const U32: AttrPolicy = { type: 'u32' };
const NESTED: AttrPolicy = { type: 'nested' };

/** `ip_vs_cmd_policy` (IPVS_CMD_ATTR_MAX = 6). */
export const CMD_POLICY = policy('cmd', 6, { 1: NESTED, 2: NESTED, 3: NESTED, 4: U32, 5: U32, 6: U32 });

/** `ip_vs_svc_policy` (IPVS_SVC_ATTR_MAX = 12; STATS64 has no entry). */
export const SERVICE_POLICY = policy('service', 12, {
  1: U16, // AF
  2: U16, // PROTOCOL
  3: { type: 'binary', len: 16 }, // ADDR (union nf_inet_addr)
  4: U16, // PORT
  5: U32, // FWMARK
  6: { type: 'nulString', len: 15 }, // SCHED_NAME (IP_VS_SCHEDNAME_MAXLEN - 1)
  7: { type: 'binary', len: 8 }, // FLAGS (struct ip_vs_flags)
  8: U32, // TIMEOUT
  9: U32, // NETMASK
  10: NESTED, // STATS
  11: { type: 'nulString', len: 16 }, // PE_NAME (IP_VS_PENAME_MAXLEN)
});

/** `ip_vs_dest_policy` (IPVS_DEST_ATTR_MAX = 15; STATS64 has no entry). */
export const DEST_POLICY = policy('dest', 15, {
  1: { type: 'binary', len: 16 }, // ADDR
  2: U16, // PORT
  3: U32, // FWD_METHOD
  4: U32, // WEIGHT
  5: U32, // U_THRESH
  6: U32, // L_THRESH
  7: U32, // ACTIVE_CONNS
  8: U32, // INACT_CONNS
  9: U32, // PERSIST_CONNS
  10: NESTED, // STATS
  11: U16, // ADDR_FAMILY
  13: U8, // TUN_TYPE
  14: U16, // TUN_PORT
  15: U16, // TUN_FLAGS
});

/** `ip_vs_daemon_policy` (IPVS_DAEMON_ATTR_MAX = 8). */
export const DAEMON_POLICY = policy('daemon', 8, {
  1: U32, // STATE
  2: { type: 'nulString', len: 15 }, // MCAST_IFN (IP_VS_IFNAME_MAXLEN - 1)
  3: U32, // SYNC_ID
  4: U16, // SYNC_MAXLEN
  5: U32, // MCAST_GROUP
  6: { type: 'unspec', len: 16 }, // MCAST_GROUP6 (sizeof(struct in6_addr), a minimum)
  7: U16, // MCAST_PORT
  8: U8, // MCAST_TTL
});

/** Where one accepted attribute is: header offset, payload offset and length. */
export interface AttrAt {
  readonly hdr: number;
  readonly off: number;
  readonly len: number;
}

/** The accepted attributes of a nest, by type (the last of duplicates wins). */
export type ParsedNest = Map<number, AttrAt>;

/** A refusal by the policy: errno, the offending attribute's header offset, its policy. */
export interface PolicyViolation {
  readonly errno: number;
  /** Offset of the attribute's header in the buffer. */
  readonly at: number;
  readonly policy: AttrPolicy;
}

const EINVAL = 22;
const ERANGE = 34;
const MIN_LEN: Partial<Record<PolicyType, number>> = { u8: 1, u16: 2, u32: 4 };

/** Validates one attribute payload; returns 0 or an errno (validate_nla). */
function validateOne(buf: Buffer, off: number, len: number, p: AttrPolicy): number {
  switch (p.type) {
    case 'nulString': {
      const minlen = p.len ? Math.min(len, p.len + 1) : len;
      if (minlen === 0 || buf.subarray(off, off + minlen).indexOf(0) < 0) return EINVAL;
      let n = len;
      if (buf[off + len - 1] === 0) n--;
      if (p.len && n > p.len) return ERANGE;
      return 0;
    }
    case 'binary':
      return p.len && len > p.len ? ERANGE : 0;
    case 'nested':
      // Empty is allowed; otherwise room for at least one attribute header.
      return len !== 0 && len < NLA_HDRLEN ? ERANGE : 0;
    case 'unspec':
      return p.len && len < p.len ? ERANGE : 0;
    default:
      return len < (MIN_LEN[p.type] ?? 0) ? ERANGE : 0;
  }
}

/**
 * Walks the attributes in `buf[start, end)` as the kernel's liberal parser
 * does and validates them against `policy`. Returns the accepted attributes
 * or the first violation.
 */
export function parseNest(buf: Buffer, start: number, end: number, policy: Policy): ParsedNest | PolicyViolation {
  const out: ParsedNest = new Map();
  let off = start;
  while (off + NLA_HDRLEN <= end) {
    const len = readU16(buf, off);
    if (len < NLA_HDRLEN || off + len > end) break; // leftover bytes: only a kernel warning
    const type = readU16(buf, off + 2) & NLA_TYPE_MASK;
    if (type !== 0 && type <= policy.maxType) {
      const p = policy.attrs[type];
      if (p) {
        const errno = validateOne(buf, off + NLA_HDRLEN, len - NLA_HDRLEN, p);
        if (errno) return { errno, at: off, policy: p };
      }
      out.set(type, { hdr: off, off: off + NLA_HDRLEN, len: len - NLA_HDRLEN });
    }
    off += nlAlign(len);
  }
  return out;
}

/** True when {@link parseNest} refused the nest. */
export function isViolation(r: ParsedNest | PolicyViolation): r is PolicyViolation {
  return !(r instanceof Map);
}

/** The extended-ACK text every policy refusal carries. */
export const POLICY_MESSAGE = 'Attribute failed policy validation';

/** `enum netlink_attribute_type` values the policy dump uses. */
const NL_ATTR_TYPE: Record<PolicyType, number> = {
  u8: 2,
  u16: 3,
  u32: 4,
  binary: 10,
  unspec: 0,
  nulString: 12,
  nested: 13,
};

/** `NL_POLICY_TYPE_ATTR_*`. */
export const NL_POLICY_TYPE_ATTR = { TYPE: 1, MIN_VALUE_U: 4, MAX_VALUE_U: 5, MAX_LENGTH: 7, PAD: 11 } as const;

/**
 * What the policy TLV of an extended ACK says about `p`
 * (`netlink_policy_dump_write_attr`), or undefined when the kernel writes
 * none: it cannot describe NLA_UNSPEC, and drops the TLV (seen on 6.1).
 */
export function policyDescription(p: AttrPolicy): { u64: [number, bigint][]; u32: [number, number][] } | undefined {
  if (p.type === 'unspec') return undefined;
  const u64: [number, bigint][] = [];
  const u32: [number, number][] = [];
  switch (p.type) {
    case 'u8':
    case 'u16':
    case 'u32': {
      const bits = p.type === 'u8' ? 8 : p.type === 'u16' ? 16 : 32;
      u64.push([NL_POLICY_TYPE_ATTR.MIN_VALUE_U, 0n], [NL_POLICY_TYPE_ATTR.MAX_VALUE_U, (1n << BigInt(bits)) - 1n]);
      break;
    }
    case 'binary':
    case 'nulString':
      if (p.len) u32.push([NL_POLICY_TYPE_ATTR.MAX_LENGTH, p.len]);
      break;
    case 'nested':
      break;
  }
  u32.push([NL_POLICY_TYPE_ATTR.TYPE, NL_ATTR_TYPE[p.type]]);
  return { u64, u32 };
}
