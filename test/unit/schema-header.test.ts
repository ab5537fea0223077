// The schema's ids, C names and constants against the kernel's own uapi
// header, parsed here: a renumbered or misspelt attribute fails this test.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ALL_SETS } from '../../src/ipvs/schema';
import * as K from '../../src/ipvs/constants';
import { CTRL_ATTRS, CTRL_CMD_GETFAMILY, GENL_ID_CTRL } from '../../src/genetlink/ctrl';

const HEADER = '/usr/include/linux/ip_vs.h';

/** A number, a known name, or `NAME +/- number`. */
function evaluate(expr: string, known: Map<string, number>): number | undefined {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(expr)) return Number(expr);
  const m = expr.match(/^(\w+)\s*([+-])\s*(\d+)$/);
  if (m) {
    const base = known.get(m[1] as string);
    return base === undefined ? undefined : m[2] === '+' ? base + Number(m[3]) : base - Number(m[3]);
  }
  return known.get(expr);
}

/** Every enumerator of every `enum { ... }` in C source, with its value. */
function enumerators(src: string): Map<string, number> {
  const out = new Map<string, number>();
  const body = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  for (const m of body.matchAll(/enum\s*\w*\s*\{([^}]*)\}/g)) {
    let next = 0;
    for (const raw of (m[1] as string).split(',')) {
      const item = raw.trim();
      if (!item) continue;
      const [name, value] = item.split('=').map((s) => s.trim()) as [string, string | undefined];
      const v = value === undefined ? next : evaluate(value, out);
      if (v === undefined) throw new Error(`cannot evaluate ${item}`);
      out.set(name, v);
      next = v + 1;
    }
  }
  return out;
}

/** `#define NAME value` for plain numbers, `(1 << n)`, strings and aliases. */
function defines(src: string): Map<string, number | string> {
  const out = new Map<string, number | string>();
  for (const m of src.matchAll(/^#define\s+(\w+)\s+([^\n/]+)/gm)) {
    const name = m[1] as string;
    const v = (m[2] as string).trim();
    let val: number | string | undefined;
    if (/^(0x[0-9a-f]+|\d+)$/i.test(v)) val = Number(v);
    else if (/^\(\s*\d+\s*\)$/.test(v)) val = Number(v.replace(/[()\s]/g, ''));
    else if (/^\(1 << \d+\)$/.test(v)) val = 1 << Number(v.match(/\d+\)$/)?.[0].slice(0, -1));
    else if (/^"[^"]*"$/.test(v)) val = v.slice(1, -1);
    else val = out.get(v);
    if (val !== undefined) out.set(name, val);
  }
  return out;
}

const src = readFileSync(HEADER, 'utf8');
const enums = enumerators(src);
const defs = defines(src);

t.test('the header was parsed', async (t) => {
  t.equal(enums.get('IPVS_CMD_FLUSH'), 17);
  t.equal(enums.get('IPVS_DEST_ATTR_TUN_FLAGS'), 15);
  t.equal(defs.get('IP_VS_SVC_F_SCHED3'), 0x20);
  t.equal(defs.get('IPVS_GENL_NAME'), 'IPVS');
});

t.test('every schema attribute has its C name\'s id', async (t) => {
  for (const set of ALL_SETS) {
    for (const spec of set.attrs) {
      t.equal(enums.get(spec.cName), spec.id, `${set.name}.${spec.name} is ${spec.cName}`);
    }
  }
});

t.test('every attribute the header defines is in the schema', async (t) => {
  const prefixes: [string, string][] = [
    ['IPVS_CMD_ATTR_', 'cmd'],
    ['IPVS_SVC_ATTR_', 'service'],
    ['IPVS_DEST_ATTR_', 'dest'],
    ['IPVS_DAEMON_ATTR_', 'daemon'],
    ['IPVS_STATS_ATTR_', 'stats'],
    ['IPVS_INFO_ATTR_', 'info'],
  ];
  for (const [prefix, setName] of prefixes) {
    const set = ALL_SETS.find((s) => s.name === setName);
    t.ok(set, setName);
    const names = new Set(set?.attrs.map((a) => a.cName));
    for (const [name] of enums) {
      if (!name.startsWith(prefix) || name.endsWith('_UNSPEC') || name.startsWith('__')) continue;
      t.ok(names.has(name), `${name} is in the ${setName} set`);
    }
  }
  // STATS64 reuses the STATS ids with 64-bit types.
  const s64 = ALL_SETS.find((s) => s.name === 'stats64');
  t.same(s64?.attrs.map((a) => [a.id, a.cName]), ALL_SETS.find((s) => s.name === 'stats')?.attrs.map((a) => [a.id, a.cName]));
});

t.test('the commands and constants are the header\'s', async (t) => {
  for (const [k, v] of Object.entries(K.IPVS_CMD)) t.equal(enums.get(`IPVS_CMD_${k}`), v, `IPVS_CMD_${k}`);
  const direct = [
    'IP_VS_SVC_F_PERSISTENT', 'IP_VS_SVC_F_HASHED', 'IP_VS_SVC_F_ONEPACKET', 'IP_VS_SVC_F_SCHED1', 'IP_VS_SVC_F_SCHED2',
    'IP_VS_SVC_F_SCHED3', 'IP_VS_CONN_F_FWD_MASK', 'IP_VS_CONN_F_MASQ', 'IP_VS_CONN_F_LOCALNODE', 'IP_VS_CONN_F_TUNNEL',
    'IP_VS_CONN_F_DROUTE', 'IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM', 'IP_VS_TUNNEL_ENCAP_FLAG_CSUM', 'IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM',
    'IP_VS_STATE_MASTER', 'IP_VS_STATE_BACKUP', 'IP_VS_SCHEDNAME_MAXLEN', 'IP_VS_PENAME_MAXLEN', 'IP_VS_IFNAME_MAXLEN',
    'IPVS_GENL_NAME', 'IPVS_GENL_VERSION',
  ] as const;
  for (const name of direct) t.equal((K as Record<string, unknown>)[name], defs.get(name), name);
  for (const name of ['IP_VS_CONN_F_TUNNEL_TYPE_IPIP', 'IP_VS_CONN_F_TUNNEL_TYPE_GUE', 'IP_VS_CONN_F_TUNNEL_TYPE_GRE'] as const) {
    t.equal(K[name], enums.get(name), name);
  }
});

t.test('nlctrl ids are genetlink.h\'s', async (t) => {
  const g = readFileSync('/usr/include/linux/genetlink.h', 'utf8');
  const ge = enumerators(g);
  const gd = defines(g);
  t.equal(gd.get('GENL_ID_CTRL'), undefined, 'GENL_ID_CTRL is NLMSG_MIN_TYPE');
  t.match(g, /#define GENL_ID_CTRL\s+NLMSG_MIN_TYPE/);
  t.equal(GENL_ID_CTRL, defines(readFileSync('/usr/include/linux/netlink.h', 'utf8')).get('NLMSG_MIN_TYPE'));
  t.equal(CTRL_CMD_GETFAMILY, ge.get('CTRL_CMD_GETFAMILY'));
  for (const spec of CTRL_ATTRS.attrs) t.equal(ge.get(spec.cName), spec.id, spec.cName);
});
