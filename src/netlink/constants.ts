/**
 * Netlink constants, from `/usr/include/linux/netlink.h` (uapi).
 * @module
 */

/** `NETLINK_GENERIC` protocol number. */
export const NETLINK_GENERIC = 16;

/** Size of `struct nlmsghdr`. */
export const NLMSG_HDRLEN = 16;
/** Size of `struct nlattr` header. */
export const NLA_HDRLEN = 4;
/** Netlink alignment (NLMSG_ALIGNTO / NLA_ALIGNTO). */
export const NL_ALIGN = 4;

/** Control message types. */
export const NLMSG_NOOP = 0x1;
export const NLMSG_ERROR = 0x2;
export const NLMSG_DONE = 0x3;
export const NLMSG_OVERRUN = 0x4;

/** nlmsg_flags. */
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
/** In an NLMSG_ERROR: the request payload was not echoed (NETLINK_CAP_ACK). */
export const NLM_F_CAPPED = 0x100;
/** In an NLMSG_ERROR: extended-ACK TLVs follow. */
export const NLM_F_ACK_TLVS = 0x200;

/** Extended ACK attributes (`enum nlmsgerr_attrs`). */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

/** Attribute type flags, masked off the 16-bit nla_type. */
export const NLA_F_NESTED = 1 << 15;
export const NLA_F_NET_BYTEORDER = 1 << 14;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Rounds up to the netlink alignment. */
export function nlAlign(n: number): number {
  return (n + NL_ALIGN - 1) & ~(NL_ALIGN - 1);
}
