/**
 * IPVS constants. Every value is from the kernel's uapi header
 * `include/uapi/linux/ip_vs.h` (Debian: `/usr/include/linux/ip_vs.h`), and
 * test/unit/schema-header.test.ts checks them against that file.
 * @module
 */

/** `IPVS_GENL_NAME`. */
export const IPVS_GENL_NAME = 'IPVS';
/** `IPVS_GENL_VERSION`. */
export const IPVS_GENL_VERSION = 1;

/** Generic netlink commands (`enum { IPVS_CMD_* }`). */
export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

/** Name of an IPVS command number, e.g. 1 → `IPVS_CMD_NEW_SERVICE`. */
export function commandName(cmd: number): string {
  for (const [k, v] of Object.entries(IPVS_CMD)) if (v === cmd) return `IPVS_CMD_${k}`;
  return `IPVS_CMD_${cmd}`;
}

/** Service flags (`IP_VS_SVC_F_*`). */
export const IP_VS_SVC_F_PERSISTENT = 0x0001;
/** Kernel-internal "in the hash table": stripped on add, present in every dump. */
export const IP_VS_SVC_F_HASHED = 0x0002;
export const IP_VS_SVC_F_ONEPACKET = 0x0004;
export const IP_VS_SVC_F_SCHED1 = 0x0008;
export const IP_VS_SVC_F_SCHED2 = 0x0010;
export const IP_VS_SVC_F_SCHED3 = 0x0020;

/** Forwarding methods (`IP_VS_CONN_F_*`, the low 3 bits of conn_flags). */
export const IP_VS_CONN_F_FWD_MASK = 0x0007;
export const IP_VS_CONN_F_MASQ = 0x0000;
export const IP_VS_CONN_F_LOCALNODE = 0x0001;
export const IP_VS_CONN_F_TUNNEL = 0x0002;
export const IP_VS_CONN_F_DROUTE = 0x0003;

/** Tunnel types (`IP_VS_CONN_F_TUNNEL_TYPE_*`). */
export const IP_VS_CONN_F_TUNNEL_TYPE_IPIP = 0;
export const IP_VS_CONN_F_TUNNEL_TYPE_GUE = 1;
export const IP_VS_CONN_F_TUNNEL_TYPE_GRE = 2;

/** Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`). */
export const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM = 0;
export const IP_VS_TUNNEL_ENCAP_FLAG_CSUM = 1 << 0;
export const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM = 1 << 1;

/** Sync daemon states (`IP_VS_STATE_*`). */
export const IP_VS_STATE_MASTER = 0x0001;
export const IP_VS_STATE_BACKUP = 0x0002;

/** Name length limits, including the NUL. */
export const IP_VS_SCHEDNAME_MAXLEN = 16;
export const IP_VS_PENAME_MAXLEN = 16;
export const IP_VS_IFNAME_MAXLEN = 16;

/** Address families (`<sys/socket.h>`). */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** IP protocol numbers. */
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;
