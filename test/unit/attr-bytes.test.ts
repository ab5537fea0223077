// Exact bytes in both directions for every attribute set: each row is a
// value and the hex the kernel reads or writes for it (little-endian host;
// ports, addresses and the IPv4 mask in network order), written by hand
// from the uapi layout. encode(value) must give the hex, decode(hex) the value.
import t from 'tap';
import { decodeAttrs, encodeAttrs, type AttrSet, type AttrValues } from '../../src/netlink/attributes';
import { HOST_LE } from '../../src/netlink/hostorder';
import { NlWriter } from '../../src/netlink/writer';
import { CTRL_ATTRS } from '../../src/genetlink/ctrl';
import { CMD_ATTRS, DAEMON_ATTRS, DEST_ATTRS, INFO_ATTRS, SERVICE_ATTRS, STATS64_ATTRS, STATS_ATTRS } from '../../src/ipvs/schema';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

interface Row {
  name: string;
  set: AttrSet;
  value: AttrValues;
  hex: string;
  /** Only decoded (attributes the kernel sends in its own order). */
  decodeOnly?: boolean;
}

const STATS_HEX = `
  08000100 01000000  08000200 02000000  08000300 03000000
  0c000400 04000000 00000000  0c000500 05000000 00000000
  08000600 06000000  08000700 07000000  08000800 08000000  08000900 09000000  08000a00 0a000000`;
const STATS_VALUE = { conns: 1, inpkts: 2, outpkts: 3, inbytes: 4n, outbytes: 5n, cps: 6, inpps: 7, outpps: 8, inbps: 9, outbps: 10 };

const rows: Row[] = [
  {
    name: 'service: a full tcp entry (NEW_SERVICE)',
    set: SERVICE_ATTRS,
    value: {
      af: 2,
      protocol: 6,
      addr: hex('cb00710a'),
      port: 80,
      schedName: 'rr',
      peName: 'sip',
      flags: { flags: 1, mask: 0xffffffff },
      timeout: 300,
      netmask: hex('ffffff00'),
    },
    hex: `06000100 02000000  06000200 06000000  08000300 cb00710a  06000400 00500000
          07000600 72720000  08000b00 73697000  0c000700 01000000 ffffffff
          08000800 2c010000  08000900 ffffff00`,
  },
  {
    name: 'service: an IPv6 fwmark identity',
    set: SERVICE_ATTRS,
    value: { af: 10, fwmark: 7 },
    hex: '06000100 0a000000  08000500 07000000',
  },
  {
    name: 'service: IPv6 address, prefix as host-order u32',
    set: SERVICE_ATTRS,
    value: { af: 10, protocol: 17, addr: hex('20010db8000000000000000000000053'), port: 53, netmask: hex('40000000') },
    hex: `06000100 0a000000  06000200 11000000  14000300 20010db8 00000000 00000000 00000053
          06000400 00350000  08000900 40000000`,
  },
  {
    name: 'dest: a full GUE tunnel entry (NEW_DEST)',
    set: DEST_ATTRS,
    value: { addrFamily: 2, addr: hex('c6336402'), port: 8080, fwdMethod: 2, weight: 3, tunType: 1, tunPort: 6080, tunFlags: 1, uThresh: 10, lThresh: 5 },
    hex: `06000b00 02000000  08000100 c6336402  06000200 1f900000  08000300 02000000
          08000400 03000000  05000d00 01000000  06000e00 17c00000  06000f00 01000000
          08000500 0a000000  08000600 05000000`,
  },
  {
    name: 'dest: as the kernel dumps it (ADDR 16 bytes, ADDR_FAMILY late, counts, both stats)',
    set: DEST_ATTRS,
    decodeOnly: true,
    value: {
      addr: hex('c6336402000000000000000000000000'),
      port: 80,
      fwdMethod: 0,
      weight: 1,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
      uThresh: 0,
      lThresh: 0,
      activeConns: 4,
      inactConns: 5,
      persistConns: 6,
      addrFamily: 2,
      stats: STATS_VALUE,
      stats64: { conns: 1n, inpkts: 2n, outpkts: 3n, inbytes: 4n, outbytes: 5n, cps: 6n, inpps: 7n, outpps: 8n, inbps: 9n, outbps: 10n, pad: Buffer.alloc(0) },
    },
    hex: `14000100 c6336402 00000000 00000000 00000000  06000200 00500000  08000300 00000000
          08000400 01000000  05000d00 00000000  06000e00 00000000  06000f00 00000000
          08000500 00000000  08000600 00000000  08000700 04000000  08000800 05000000
          08000900 06000000  06000b00 02000000
          5c000a00 ${STATS_HEX}
          a4000c00 04000b00 0c000100 01000000 00000000  04000b00 0c000200 02000000 00000000
                   04000b00 0c000300 03000000 00000000  04000b00 0c000400 04000000 00000000
                   04000b00 0c000500 05000000 00000000  04000b00 0c000600 06000000 00000000
                   04000b00 0c000700 07000000 00000000  04000b00 0c000800 08000000 00000000
                   04000b00 0c000900 09000000 00000000  04000b00 0c000a00 0a000000 00000000`,
  },
  {
    name: 'daemon: every attribute',
    set: DAEMON_ATTRS,
    value: { state: 1, mcastIfn: 'eth0', syncId: 7, syncMaxlen: 1472, mcastGroup: hex('e0000051'), mcastGroup6: hex('ff020000000000000000000000000099'), mcastPort: 8848, mcastTtl: 1 },
    hex: `08000100 01000000  09000200 65746830 00000000  08000300 07000000  06000400 c0050000
          08000500 e0000051  14000600 ff020000 00000000 00000000 00000099
          06000700 90220000  05000800 01000000`,
  },
  { name: 'stats: 32-bit counters, 64-bit bytes', set: STATS_ATTRS, value: STATS_VALUE, hex: STATS_HEX },
  {
    name: 'stats64: every counter 64-bit',
    set: STATS64_ATTRS,
    value: { conns: 1n, inpkts: 2n, outpkts: 3n, inbytes: 4n, outbytes: 0x1122334455667788n, cps: 6n, inpps: 7n, outpps: 8n, inbps: 9n, outbps: 0xffffffffffffffffn },
    hex: `0c000100 01000000 00000000  0c000200 02000000 00000000  0c000300 03000000 00000000
          0c000400 04000000 00000000  0c000500 88776655 44332211  0c000600 06000000 00000000
          0c000700 07000000 00000000  0c000800 08000000 00000000  0c000900 09000000 00000000
          0c000a00 ffffffff ffffffff`,
  },
  { name: 'info: GET_INFO reply', set: INFO_ATTRS, value: { version: 0x010201, connTabSize: 4096 }, hex: '08000100 01020100  08000200 00100000' },
  {
    name: 'cmd: a service nest and the three timeouts (nests carry no NLA_F_NESTED)',
    set: CMD_ATTRS,
    value: { service: { af: 2, fwmark: 1 }, timeoutTcp: 900, timeoutTcpFin: 120, timeoutUdp: 300 },
    hex: `14000100 06000100 02000000 08000500 01000000
          08000400 84030000  08000500 78000000  08000600 2c010000`,
  },
  {
    name: 'cmd: service and dest nests (a DEL_DEST)',
    set: CMD_ATTRS,
    value: { service: { af: 2, fwmark: 1 }, dest: { addrFamily: 2, addr: hex('c6336407'), port: 0 } },
    hex: `14000100 06000100 02000000 08000500 01000000
          1c000200 06000b00 02000000 08000100 c6336407 06000200 00000000`,
  },
  {
    name: 'cmd: a daemon nest',
    set: CMD_ATTRS,
    value: { daemon: { state: 2 } },
    hex: '0c000300 08000100 02000000',
  },
  { name: 'nlctrl: CTRL_CMD_GETFAMILY by name', set: CTRL_ATTRS, value: { familyName: 'IPVS' }, hex: '09000200 49505653 00000000' },
  {
    name: 'nlctrl: the family reply, OPS kept as unknown',
    set: CTRL_ATTRS,
    decodeOnly: true,
    value: { familyName: 'IPVS', familyId: 28, version: 1, hdrSize: 0, maxAttr: 6, unknown: [{ type: 6, data: hex('14000100 08000100 01000000 08000200 0b000000') }] },
    hex: `09000200 49505653 00000000  06000100 1c000000  08000300 01000000  08000400 00000000
          08000500 06000000  18000600 14000100 08000100 01000000 08000200 0b000000`,
  },
];

t.test('the host is little-endian, as these tables assume', async (t) => {
  t.ok(HOST_LE);
});

for (const row of rows) {
  t.test(row.name, async (t) => {
    const b = hex(row.hex);
    if (!row.decodeOnly) {
      const w = new NlWriter(16);
      encodeAttrs(w, row.set, row.value);
      t.equal(w.toBuffer().toString('hex'), b.toString('hex'), 'encode');
    }
    t.same(decodeAttrs(b, 0, b.length, row.set), row.value, 'decode');
  });
}

t.test('decoding reports a short integer once, after the walk', async (t) => {
  const b = hex('06000400 00500000  06000100 0200 0000  05000200 06000000');
  t.throws(() => decodeAttrs(b, 0, b.length, SERVICE_ATTRS), /service\.protocol: expected 2 bytes, got 1/);
});

t.test('a longer integer is read from its start, as the kernel reads it', async (t) => {
  const b = hex('0c000100 02000000 ffffffff');
  t.same(decodeAttrs(b, 0, b.length, SERVICE_ATTRS), { af: 2 });
});
