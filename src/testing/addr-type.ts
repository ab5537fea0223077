/**
 * Which destination addresses the kernel accepts for a new real server
 * (`ip_vs_new_dest` in ip_vs_ctl.c).
 *
 * IPv4: `inet_addr_type()` must say RTN_UNICAST or RTN_LOCAL. It consults only
 * the local routing table, so an address with no route at all is still
 * unicast (docs/kernel-notes.md); 0.0.0.0/8 and 255.255.255.255 are
 * broadcast, 224/4 is multicast, and a subnet's broadcast address (from the
 * local table) is refused too. IPv6: `ipv6_addr_type()` must say unicast and
 * not link-local, unless the address is the host's own. `::` and IPv4-mapped
 * addresses are not unicast; `::1` and IPv4-compatible ones are. Each case
 * was checked on 6.1 in UML.
 * @module
 */

/** True when the kernel's own rule accepts `bytes` (4 or 16 significant bytes) for a new destination. */
export function unicastForDestination(family: 'ipv4' | 'ipv6', bytes: Buffer, isLocal: () => boolean): boolean {
  if (family === 'ipv4') {
    const a = bytes[0] as number;
    if (a === 0) return false; // zeronet: RTN_BROADCAST
    if (bytes.readUInt32BE(0) === 0xffffffff) return false; // limited broadcast
    if (a >= 224 && a <= 239) return false; // RTN_MULTICAST
    return true;
  }
  const w0 = bytes.readUInt32BE(0);
  const w1 = bytes.readUInt32BE(4);
  const w2 = bytes.readUInt32BE(8);
  const w3 = bytes.readUInt32BE(12);
  if ((w0 | w1) === 0) {
    if (w2 === 0) return w3 !== 0; // :: is IPV6_ADDR_ANY; ::1 and ::a.b.c.d are unicast
    if (w2 === 0x0000ffff) return false; // IPv4-mapped: IPV6_ADDR_MAPPED only
  }
  if (bytes[0] === 0xff) return false; // multicast
  if ((w0 & 0xffc00000) >>> 0 === 0xfe800000) return isLocal(); // link-local: only a local address
  return true;
}
