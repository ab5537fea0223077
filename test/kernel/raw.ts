/**
 * Raw IPVS requests for kernel tests: what the kernel itself answers to
 * requests the client would refuse to send (a weight of 2^31, an IPv6
 * netmask of 0, a GUE tunnel without a port...). Requests go through the
 * library's own netlink layers (NetlinkConnection + GenlRequest), below the
 * client's checks, so the kernel's answer can be put through
 * {@link errorFromKernel} and compared with what the client would raise.
 */
import { GenlRequest, resolveFamily } from '../../src/genetlink/ctrl';
import type { AttrValues } from '../../src/netlink/attributes';
import { NetlinkConnection } from '../../src/netlink/connection';
import { NetlinkError } from '../../src/netlink/errors';
import type { NlMessage } from '../../src/netlink/message';
import { openNetlinkSocket } from '../../src/netlink/transport';
import { writeU32 } from '../../src/netlink/hostorder';
import { IPVS_CMD, commandName } from '../../src/ipvs/constants';
import { errorFromKernel, type ErrorContext, type IpvsError } from '../../src/ipvs/errors';
import { CMD_ATTRS } from '../../src/ipvs/schema';

/** A bare IPVS generic netlink connection in a namespace. */
export class RawIpvs {
  private constructor(
    readonly conn: NetlinkConnection,
    readonly familyId: number,
  ) {}

  /** Opens a netlink socket (in `netns` when given) and resolves the IPVS family. */
  static async open(netns?: string, timeoutMs?: number): Promise<RawIpvs> {
    const conn = new NetlinkConnection(openNetlinkSocket(netns !== undefined ? { netns } : {}), timeoutMs !== undefined ? { timeoutMs } : {});
    try {
      const family = await resolveFamily(conn, 'IPVS');
      return new RawIpvs(conn, family.id);
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /**
   * Sends one "do" request with an ACK; resolves with the kernel's refusal,
   * or null when it was accepted; rejects when no answer came in time.
   */
  async send(cmd: number, attrs: AttrValues): Promise<NetlinkError | null> {
    try {
      await this.conn.request(new GenlRequest(this.familyId, cmd, 1, CMD_ATTRS, attrs), commandName(cmd));
      return null;
    } catch (e) {
      if (e instanceof NetlinkError) return e;
      throw e;
    }
  }

  /** A dump request; resolves with its data messages (rejects with a NetlinkError). */
  dump(cmd: number, attrs: AttrValues): Promise<NlMessage[]> {
    return this.conn.dump(new GenlRequest(this.familyId, cmd, 1, CMD_ATTRS, attrs), commandName(cmd));
  }

  /**
   * Sends a request the kernel must refuse and gives the refusal the meaning
   * the client would (errorFromKernel with `ctx`). Throws when it is accepted.
   */
  async refuse(cmd: number, attrs: AttrValues, ctx: ErrorContext = {}): Promise<IpvsError> {
    const e = await this.send(cmd, attrs);
    if (!e) throw new Error(`the kernel accepted ${commandName(cmd)} ${JSON.stringify(attrs, replacer)}`);
    return errorFromKernel(e.errno, { ...ctx, command: cmd }, e.extack);
  }

  close(): void {
    this.conn.close();
  }
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return `<${Buffer.from((v as { data: number[] }).data).toString('hex')}>`;
  return v;
}

/** A u32 as the raw 4 bytes the kernel reads for NETMASK (host order: an IPv6 prefix). */
export function hostU32(v: number): Buffer {
  const b = Buffer.alloc(4);
  writeU32(b, v >>> 0, 0);
  return b;
}

export { IPVS_CMD };
