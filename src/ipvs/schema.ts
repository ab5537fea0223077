/**
 * The IPVS generic netlink attribute schema, in the kernel's vocabulary.
 *
 * Ids, C names and wire types follow `include/uapi/linux/ip_vs.h` and the
 * kernel's `nla_policy` tables in `net/netfilter/ipvs/ip_vs_ctl.c`; the
 * `since` versions follow keepalived's configure.ac notes. The order of each
 * table is the order attributes are written, chosen to match ipvsadm's
 * libipvs so requests can be compared with ipvsadm's byte for byte.
 *
 * Byte order: host order except PORT, TUN_PORT and the IPv4 MCAST_GROUP
 * (network order); ADDR is raw `union nf_inet_addr` bytes (16, network
 * order). NETMASK is a raw `__be32` on the kernel side: an IPv4 mask in
 * network order, an IPv6 prefix length as a host-order number; the schema
 * carries it as `binary` and the model layer interprets it by family.
 * @module
 */
import { defineAttrSet, type AttrSet } from '../netlink/attributes';

/** Counters in `IPVS_*_ATTR_STATS` (32-bit, except the byte counts). */
export const STATS_ATTRS: AttrSet = defineAttrSet('stats', [
  { id: 1, name: 'conns', cName: 'IPVS_STATS_ATTR_CONNS', type: 'u32', outOnly: true },
  { id: 2, name: 'inpkts', cName: 'IPVS_STATS_ATTR_INPKTS', type: 'u32', outOnly: true },
  { id: 3, name: 'outpkts', cName: 'IPVS_STATS_ATTR_OUTPKTS', type: 'u32', outOnly: true },
  { id: 4, name: 'inbytes', cName: 'IPVS_STATS_ATTR_INBYTES', type: 'u64', outOnly: true },
  { id: 5, name: 'outbytes', cName: 'IPVS_STATS_ATTR_OUTBYTES', type: 'u64', outOnly: true },
  { id: 6, name: 'cps', cName: 'IPVS_STATS_ATTR_CPS', type: 'u32', outOnly: true },
  { id: 7, name: 'inpps', cName: 'IPVS_STATS_ATTR_INPPS', type: 'u32', outOnly: true },
  { id: 8, name: 'outpps', cName: 'IPVS_STATS_ATTR_OUTPPS', type: 'u32', outOnly: true },
  { id: 9, name: 'inbps', cName: 'IPVS_STATS_ATTR_INBPS', type: 'u32', outOnly: true },
  { id: 10, name: 'outbps', cName: 'IPVS_STATS_ATTR_OUTBPS', type: 'u32', outOnly: true },
  { id: 11, name: 'pad', cName: 'IPVS_STATS_ATTR_PAD', type: 'binary', outOnly: true, since: '4.7' },
]);

/** Counters in `IPVS_*_ATTR_STATS64`: every counter is 64-bit. */
export const STATS64_ATTRS: AttrSet = defineAttrSet(
  'stats64',
  STATS_ATTRS.attrs.map((a) => (a.type === 'u32' ? { ...a, type: 'u64' as const } : a)),
);

/** `IPVS_SVC_ATTR_*`, inside `IPVS_CMD_ATTR_SERVICE`. */
export const SERVICE_ATTRS: AttrSet = defineAttrSet('service', [
  { id: 1, name: 'af', cName: 'IPVS_SVC_ATTR_AF', type: 'u16', since: '2.6.28' },
  { id: 2, name: 'protocol', cName: 'IPVS_SVC_ATTR_PROTOCOL', type: 'u16', since: '2.6.28' },
  { id: 3, name: 'addr', cName: 'IPVS_SVC_ATTR_ADDR', type: 'binary', maxLen: 16, since: '2.6.28' },
  { id: 4, name: 'port', cName: 'IPVS_SVC_ATTR_PORT', type: 'be16', since: '2.6.28' },
  { id: 5, name: 'fwmark', cName: 'IPVS_SVC_ATTR_FWMARK', type: 'u32', since: '2.6.28' },
  { id: 6, name: 'schedName', cName: 'IPVS_SVC_ATTR_SCHED_NAME', type: 'string', maxLen: 16, since: '2.6.28' },
  { id: 11, name: 'peName', cName: 'IPVS_SVC_ATTR_PE_NAME', type: 'string', maxLen: 16, since: '2.6.37' },
  { id: 7, name: 'flags', cName: 'IPVS_SVC_ATTR_FLAGS', type: 'flags', since: '2.6.28' },
  { id: 8, name: 'timeout', cName: 'IPVS_SVC_ATTR_TIMEOUT', type: 'u32', since: '2.6.28' },
  { id: 9, name: 'netmask', cName: 'IPVS_SVC_ATTR_NETMASK', type: 'binary', maxLen: 4, since: '2.6.28' },
  { id: 10, name: 'stats', cName: 'IPVS_SVC_ATTR_STATS', type: 'nested', nested: STATS_ATTRS, outOnly: true },
  {
    id: 12,
    name: 'stats64',
    cName: 'IPVS_SVC_ATTR_STATS64',
    type: 'nested',
    nested: STATS64_ATTRS,
    outOnly: true,
    since: '4.1',
  },
]);

/** `IPVS_DEST_ATTR_*`, inside `IPVS_CMD_ATTR_DEST`. */
export const DEST_ATTRS: AttrSet = defineAttrSet('dest', [
  { id: 11, name: 'addrFamily', cName: 'IPVS_DEST_ATTR_ADDR_FAMILY', type: 'u16', since: '3.18' },
  { id: 1, name: 'addr', cName: 'IPVS_DEST_ATTR_ADDR', type: 'binary', maxLen: 16, since: '2.6.28' },
  { id: 2, name: 'port', cName: 'IPVS_DEST_ATTR_PORT', type: 'be16', since: '2.6.28' },
  { id: 3, name: 'fwdMethod', cName: 'IPVS_DEST_ATTR_FWD_METHOD', type: 'u32', since: '2.6.28' },
  { id: 4, name: 'weight', cName: 'IPVS_DEST_ATTR_WEIGHT', type: 'u32', since: '2.6.28' },
  { id: 13, name: 'tunType', cName: 'IPVS_DEST_ATTR_TUN_TYPE', type: 'u8', since: '5.2' },
  { id: 14, name: 'tunPort', cName: 'IPVS_DEST_ATTR_TUN_PORT', type: 'be16', since: '5.2' },
  { id: 15, name: 'tunFlags', cName: 'IPVS_DEST_ATTR_TUN_FLAGS', type: 'u16', since: '5.3' },
  { id: 5, name: 'uThresh', cName: 'IPVS_DEST_ATTR_U_THRESH', type: 'u32', since: '2.6.28' },
  { id: 6, name: 'lThresh', cName: 'IPVS_DEST_ATTR_L_THRESH', type: 'u32', since: '2.6.28' },
  { id: 7, name: 'activeConns', cName: 'IPVS_DEST_ATTR_ACTIVE_CONNS', type: 'u32', outOnly: true },
  { id: 8, name: 'inactConns', cName: 'IPVS_DEST_ATTR_INACT_CONNS', type: 'u32', outOnly: true },
  { id: 9, name: 'persistConns', cName: 'IPVS_DEST_ATTR_PERSIST_CONNS', type: 'u32', outOnly: true },
  { id: 10, name: 'stats', cName: 'IPVS_DEST_ATTR_STATS', type: 'nested', nested: STATS_ATTRS, outOnly: true },
  {
    id: 12,
    name: 'stats64',
    cName: 'IPVS_DEST_ATTR_STATS64',
    type: 'nested',
    nested: STATS64_ATTRS,
    outOnly: true,
    since: '4.1',
  },
]);

/** `IPVS_DAEMON_ATTR_*`, inside `IPVS_CMD_ATTR_DAEMON`. */
export const DAEMON_ATTRS: AttrSet = defineAttrSet('daemon', [
  { id: 1, name: 'state', cName: 'IPVS_DAEMON_ATTR_STATE', type: 'u32', since: '2.6.28' },
  { id: 2, name: 'mcastIfn', cName: 'IPVS_DAEMON_ATTR_MCAST_IFN', type: 'string', maxLen: 16, since: '2.6.28' },
  { id: 3, name: 'syncId', cName: 'IPVS_DAEMON_ATTR_SYNC_ID', type: 'u32', since: '2.6.28' },
  { id: 4, name: 'syncMaxlen', cName: 'IPVS_DAEMON_ATTR_SYNC_MAXLEN', type: 'u16', since: '4.3' },
  { id: 5, name: 'mcastGroup', cName: 'IPVS_DAEMON_ATTR_MCAST_GROUP', type: 'binary', maxLen: 4, since: '4.3' },
  { id: 6, name: 'mcastGroup6', cName: 'IPVS_DAEMON_ATTR_MCAST_GROUP6', type: 'binary', maxLen: 16, since: '4.3' },
  { id: 7, name: 'mcastPort', cName: 'IPVS_DAEMON_ATTR_MCAST_PORT', type: 'u16', since: '4.3' },
  { id: 8, name: 'mcastTtl', cName: 'IPVS_DAEMON_ATTR_MCAST_TTL', type: 'u8', since: '4.3' },
]);

/** `IPVS_CMD_ATTR_*`: the top level of every IPVS command. */
export const CMD_ATTRS: AttrSet = defineAttrSet('cmd', [
  { id: 1, name: 'service', cName: 'IPVS_CMD_ATTR_SERVICE', type: 'nested', nested: SERVICE_ATTRS },
  { id: 2, name: 'dest', cName: 'IPVS_CMD_ATTR_DEST', type: 'nested', nested: DEST_ATTRS },
  { id: 3, name: 'daemon', cName: 'IPVS_CMD_ATTR_DAEMON', type: 'nested', nested: DAEMON_ATTRS },
  { id: 4, name: 'timeoutTcp', cName: 'IPVS_CMD_ATTR_TIMEOUT_TCP', type: 'u32' },
  { id: 5, name: 'timeoutTcpFin', cName: 'IPVS_CMD_ATTR_TIMEOUT_TCP_FIN', type: 'u32' },
  { id: 6, name: 'timeoutUdp', cName: 'IPVS_CMD_ATTR_TIMEOUT_UDP', type: 'u32' },
]);

/** `IPVS_INFO_ATTR_*`: top level of the GET_INFO reply (ids overlap CMD_ATTRS). */
export const INFO_ATTRS: AttrSet = defineAttrSet('info', [
  { id: 1, name: 'version', cName: 'IPVS_INFO_ATTR_VERSION', type: 'u32', outOnly: true },
  { id: 2, name: 'connTabSize', cName: 'IPVS_INFO_ATTR_CONN_TAB_SIZE', type: 'u32', outOnly: true },
]);

/** Every set, for the header check and documentation. */
export const ALL_SETS: readonly AttrSet[] = [
  CMD_ATTRS,
  SERVICE_ATTRS,
  DEST_ATTRS,
  DAEMON_ATTRS,
  STATS_ATTRS,
  STATS64_ATTRS,
  INFO_ATTRS,
];
