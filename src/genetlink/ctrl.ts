/**
 * Generic netlink: the 4-byte genl header and family resolution through the
 * nlctrl family (`/usr/include/linux/genetlink.h`).
 * @module
 */
import { decodeAttrs, defineAttrSet, encodeAttrs, type AttrSet, type AttrValues, type AttrView } from '../netlink/attributes';
import type { NetlinkConnection, RequestSpec } from '../netlink/connection';
import { NetlinkError } from '../netlink/errors';
import type { NlMessage } from '../netlink/message';
import type { NlWriter } from '../netlink/writer';
import { NetlinkProtocolError } from '../netlink/message';

/** Size of `struct genlmsghdr`. */
export const GENL_HDRLEN = 4;
/** The nlctrl family's fixed id (`GENL_ID_CTRL`). */
export const GENL_ID_CTRL = 0x10;
/** `CTRL_CMD_GETFAMILY`. */
export const CTRL_CMD_GETFAMILY = 3;

/** nlctrl attributes (`CTRL_ATTR_*`). */
export const CTRL_ATTRS: AttrSet = defineAttrSet('ctrl', [
  { id: 1, name: 'familyId', cName: 'CTRL_ATTR_FAMILY_ID', type: 'u16' },
  { id: 2, name: 'familyName', cName: 'CTRL_ATTR_FAMILY_NAME', type: 'string' },
  { id: 3, name: 'version', cName: 'CTRL_ATTR_VERSION', type: 'u32' },
  { id: 4, name: 'hdrSize', cName: 'CTRL_ATTR_HDRSIZE', type: 'u32' },
  { id: 5, name: 'maxAttr', cName: 'CTRL_ATTR_MAXATTR', type: 'u32' },
]);

/** A generic netlink request: family id, command, version and attributes of one set. */
export class GenlRequest implements RequestSpec {
  constructor(
    readonly type: number,
    readonly cmd: number,
    readonly version: number,
    readonly set: AttrSet,
    readonly attrs: AttrValues,
  ) {}

  write(w: NlWriter): void {
    w.genlHeader(this.cmd, this.version);
    encodeAttrs(w, this.set, this.attrs);
  }
}

/** Shorthand for {@link GenlRequest}. */
export function genlRequest(familyId: number, cmd: number, version: number, set: AttrSet, attrs: AttrValues): RequestSpec {
  return new GenlRequest(familyId, cmd, version, set, attrs);
}

/** The genl command of a reply message. */
export function genlCommand(m: NlMessage): number {
  if (m.end - m.payload < GENL_HDRLEN) throw new NetlinkProtocolError('generic netlink message without a genl header');
  return m.buf[m.payload] as number;
}

/** Loads `view` with a genl reply's attributes (after the 4-byte header). */
export function genlView(m: NlMessage, view: AttrView): AttrView {
  return view.load(m.buf, m.payload + GENL_HDRLEN, m.end);
}

/** Decodes a genl reply's attributes (after the 4-byte header) with `set`. */
export function genlAttrs(m: NlMessage, set: AttrSet): AttrValues {
  return decodeAttrs(m.buf, m.payload + GENL_HDRLEN, m.end, set);
}

/** A resolved generic netlink family. */
export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  maxAttr: number;
}

/** The family is not registered in the kernel (its module is not loaded). */
export class FamilyNotFoundError extends Error {
  readonly code = 'ENOENT';
  readonly errno = 2;
  constructor(readonly family: string) {
    super(`generic netlink family '${family}' is not registered`);
    this.name = 'FamilyNotFoundError';
  }
}

/** Resolves a family name to its id via nlctrl. Needs no privilege. */
export async function resolveFamily(conn: NetlinkConnection, name: string): Promise<GenlFamily> {
  let replies: NlMessage[];
  try {
    replies = await conn.request(
      genlRequest(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, CTRL_ATTRS, { familyName: name }),
      `resolving generic netlink family ${name}`,
    );
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'ENOENT') throw new FamilyNotFoundError(name);
    throw e;
  }
  const reply = replies[0];
  if (!reply) throw new NetlinkProtocolError(`nlctrl sent no reply for family ${name}`);
  const a = genlAttrs(reply, CTRL_ATTRS);
  if (typeof a.familyId !== 'number') throw new NetlinkProtocolError(`nlctrl reply for ${name} has no family id`);
  return {
    id: a.familyId,
    name,
    version: typeof a.version === 'number' ? a.version : 1,
    maxAttr: typeof a.maxAttr === 'number' ? a.maxAttr : 0,
  };
}
