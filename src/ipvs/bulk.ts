/**
 * The bulk encoder: checks an operation and writes it straight into the
 * datagram being packed, allocating nothing per operation.
 *
 * Why it exists: a load of 5,000 services x 10 real servers is 55,000
 * operations, and building attribute objects for each (the generic path,
 * {@link encodeAttrs}) costs more than the kernel's own work, several times
 * more under User-Mode Linux where fresh memory is expensive (bench/).
 *
 * It is not a second source of truth. Every value passes through the same
 * checks as the generic path ({@link checkServiceInput},
 * {@link checkDestinationInput}), attribute ids come from the schema, and
 * test/unit/bulk-encoder.test.ts checks on generated operations that both
 * paths produce the same bytes and reject the same inputs the same way.
 * @module
 */
import { attrIds } from '../netlink/attributes';
import type { NlWriter } from '../netlink/writer';
import { ipv4Value, parseAddress, type ParsedAddress } from './address';
import {
  FWD_NUM,
  protocolNumber,
  TUN_NUM,
  afNumber,
  checkDestinationInput,
  checkInt,
  checkMixedFamily,
  checkServiceInput,
  normalizeServiceKey,
  type CheckedService,
  type NormalKey,
} from './codec';
import {
  IPVS_CMD,
  IPVS_GENL_VERSION,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
  IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
} from './constants';
import { invalidArgument } from './errors';
import { isFwmarkKey, type DestinationKey, type ServiceKey } from './model';
import { CMD_ATTRS, DEST_ATTRS, SERVICE_ATTRS } from './schema';
import { writeU32 } from '../netlink/hostorder';

const C = attrIds(CMD_ATTRS, ['service', 'dest']);
const S = attrIds(SERVICE_ATTRS, ['af', 'protocol', 'addr', 'port', 'fwmark', 'schedName', 'peName', 'flags', 'timeout', 'netmask']);
const D = attrIds(DEST_ATTRS, ['addrFamily', 'addr', 'port', 'fwdMethod', 'weight', 'tunType', 'tunPort', 'tunFlags', 'uThresh', 'lThresh']);

/** The operations the bulk encoder writes itself (others go the generic way). */
export type BulkOp =
  | { type: 'add-service' | 'edit-service'; service: ServiceKey; config?: object }
  | { type: 'delete-service'; service: ServiceKey }
  | { type: 'add-destination' | 'edit-destination'; service: ServiceKey; destination: DestinationKey; config?: object }
  | { type: 'delete-destination'; service: ServiceKey; destination: DestinationKey };

/** True for the operation types {@link BulkEncoder} writes. */
export function isBulkOp(op: { type: string }): op is BulkOp {
  switch (op.type) {
    case 'add-service':
    case 'edit-service':
    case 'delete-service':
    case 'add-destination':
    case 'edit-destination':
    case 'delete-destination':
      return true;
  }
  return false;
}

const netmask4 = Buffer.alloc(4);

/** Writes service and destination operations without per-operation allocation. */
export class BulkEncoder {
  /** Normalized service keys by object identity: one service object is named by all its destinations. */
  private readonly keys = new Map<ServiceKey, NormalKey>();

  /** The normalized key of `key` (cached by identity). */
  service(key: ServiceKey): NormalKey {
    let n = this.keys.get(key);
    if (!n) {
      n = normalizeServiceKey(key);
      if (key !== null && typeof key === 'object') this.keys.set(key, n);
    }
    return n;
  }

  /** Parsed real-server addresses by text: loads name the same real servers again and again. */
  private readonly addresses = new Map<string, ParsedAddress>();

  private address(text: string): ParsedAddress {
    let a = this.addresses.get(text);
    if (!a) {
      a = parseAddress(text);
      if (this.addresses.size >= 4096) this.addresses.clear();
      this.addresses.set(text, a);
    }
    return a;
  }

  /**
   * Checks `op` and writes its genl header and attributes (the payload after
   * the netlink header); with no writer, only checks (the same checks, in
   * the same code, so a checked operation cannot fail to write). Throws
   * {@link InvalidArgumentError} with the field.
   */
  write(op: BulkOp, w: NlWriter | undefined): void {
    const n = this.service(op.service);
    switch (op.type) {
      case 'add-service':
      case 'edit-service': {
        const c = checkServiceInput(n.family, op.config as never);
        if (!w) return;
        w.genlHeader(op.type === 'add-service' ? IPVS_CMD.NEW_SERVICE : IPVS_CMD.SET_SERVICE, IPVS_GENL_VERSION);
        this.serviceNest(w, n, c);
        return;
      }
      case 'delete-service':
        if (!w) return;
        w.genlHeader(IPVS_CMD.DEL_SERVICE, IPVS_GENL_VERSION);
        this.serviceNest(w, n, undefined);
        return;
      case 'add-destination':
      case 'edit-destination':
      case 'delete-destination': {
        const d = op.destination;
        if (d === null || typeof d !== 'object') throw invalidArgument('destination', 'must be an object');
        if (typeof d.address !== 'string') throw invalidArgument('destination.address', 'must be an IP address');
        let a: ParsedAddress;
        try {
          a = this.address(d.address);
        } catch {
          throw invalidArgument('destination.address', `'${d.address}' is not an IPv4 or IPv6 address`);
        }
        const port = checkInt('destination', 'port', d.port, 0, 65535);
        const cmd =
          op.type === 'add-destination' ? IPVS_CMD.NEW_DEST : op.type === 'edit-destination' ? IPVS_CMD.SET_DEST : IPVS_CMD.DEL_DEST;
        if (op.type === 'delete-destination') {
          if (!w) return;
          w.genlHeader(cmd, IPVS_GENL_VERSION);
          this.serviceNest(w, n, undefined);
          const nest = w.beginNested(C.dest);
          w.attrU16(D.addrFamily, afNumber(a.family));
          w.attrBytes(D.addr, a.bytes);
          w.attrBe16(D.port, port);
          w.endNested(nest);
          return;
        }
        const c = checkDestinationInput(op.config as never);
        checkMixedFamily(n, a.family, c.forwarding, a.text, port);
        if (!w) return;
        w.genlHeader(cmd, IPVS_GENL_VERSION);
        this.serviceNest(w, n, undefined);
        const nest = w.beginNested(C.dest);
        w.attrU16(D.addrFamily, afNumber(a.family));
        w.attrBytes(D.addr, a.bytes);
        w.attrBe16(D.port, port);
        w.attrU32(D.fwdMethod, FWD_NUM[c.forwarding]);
        w.attrU32(D.weight, c.weight);
        w.attrU8(D.tunType, TUN_NUM[c.tunnelType]);
        w.attrBe16(D.tunPort, c.tunnelPort);
        w.attrU16(D.tunFlags, (c.tunnelCsum ? IP_VS_TUNNEL_ENCAP_FLAG_CSUM : 0) | (c.tunnelRemcsum ? IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM : 0));
        w.attrU32(D.uThresh, c.upperThreshold);
        w.attrU32(D.lThresh, c.lowerThreshold);
        w.endNested(nest);
        return;
      }
    }
  }

  /**
   * A query about one service (GET_DEST dump, GET_SERVICE, ZERO): the genl
   * header and the service's identity nest.
   */
  writeQuery(cmd: number, key: ServiceKey, w: NlWriter): void {
    w.genlHeader(cmd, IPVS_GENL_VERSION);
    this.serviceNest(w, this.service(key), undefined);
  }

  /** The service nest: identity, plus the full configuration when `c` is given (schema order). */
  private serviceNest(w: NlWriter, n: NormalKey, c: CheckedService | undefined): void {
    const nest = w.beginNested(C.service);
    const k = n.key;
    w.attrU16(S.af, afNumber(n.family));
    if (isFwmarkKey(k)) {
      w.attrU32(S.fwmark, k.fwmark);
    } else {
      w.attrU16(S.protocol, protocolNumber(k.protocol));
      w.attrBytes(S.addr, n.addr as Buffer);
      w.attrBe16(S.port, k.port);
    }
    if (c) {
      w.attrString(S.schedName, c.scheduler);
      if (c.persistenceEngine) w.attrString(S.peName, c.persistenceEngine);
      w.attrFlags(S.flags, c.schedBits | (c.persistent ? IP_VS_SVC_F_PERSISTENT : 0) | (c.onePacket ? IP_VS_SVC_F_ONEPACKET : 0), 0xffffffff);
      w.attrU32(S.timeout, c.timeout);
      if (n.family === 'ipv6') writeU32(netmask4, c.netmask as number, 0);
      // A checked dotted mask: its bits written where they go (a copy of part of a Buffer makes a view per call).
      else netmask4.writeInt32BE(ipv4Value(c.netmask as string), 0);
      w.attrBytes(S.netmask, netmask4);
    }
    w.endNested(nest);
  }
}
