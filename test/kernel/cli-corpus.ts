/**
 * A rule set that uses every feature ipvsadm can express, as ipvsadm
 * command lines (`-R` input): TCP, UDP, SCTP and firewall-mark services
 * (IPv4 and IPv6, marks up to 2^32-1), every scheduler and scheduler flag,
 * persistence with IPv4 masks and IPv6 prefixes, the sip persistence engine,
 * one-packet scheduling, direct routing, NAT and tunnels of every type with
 * every checksum option, weights up to 2^31-1, thresholds, real servers of
 * the other address family, and orders that ipvsadm's wrapping comparators
 * sort oddly (IPv6 words and marks that differ by 2^31 or more).
 *
 * Deterministic: the same lines every time, in a scrambled order so that
 * listings depend on sorting, not on insertion.
 *
 * Two parts can be left out:
 * - `wrapping`: services that ipvsadm's comparator cannot order (marks or
 *   IPv6 words 2^31 apart make it cyclic), so their -L/-S order depends on
 *   the kernel's dump order, which is hashed per namespace. They belong in
 *   views compared within one namespace, not across namespaces.
 * - `unsaveable`: sh/mh services with the third scheduler flag, which
 *   ipvsadm-save cannot name (it writes a bare `-b` or drops the bit).
 */

/** Which parts of the corpus to include (all by default). */
export interface CorpusOptions {
  wrapping?: boolean;
  unsaveable?: boolean;
}

const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'none'];

/** Real servers for a service, in a deliberately unsorted order. */
function realServers(svc: string, v6: boolean, k: number, port: number): string[] {
  const out: string[] = [];
  const weights = [1, 0, 3, 100, 65535, 65536, 2147483647, 7];
  const n = 2 + (k % 4);
  for (let i = n - 1; i >= 0; i--) {
    const w = weights[(k + i) % weights.length] as number;
    const host = v6 ? `[2001:db8:1::${(k * 7 + i * 3) % 250 + 2}]` : `198.51.100.${(k * 7 + i * 3) % 250 + 2}`;
    const p = port === 0 ? 0 : port;
    switch ((k + i) % 5) {
      case 0:
        out.push(`-a ${svc} -r ${host}:${p} -g -w ${w}`);
        break;
      case 1:
        // NAT may change the port.
        out.push(`-a ${svc} -r ${host}:${p === 0 ? 0 : p + 8000} -m -w ${w} -x ${100 + i} -y ${10 + i}`);
        break;
      case 2:
        out.push(`-a ${svc} -r ${host}:${p} -i -w ${w}`);
        break;
      case 3:
        out.push(`-a ${svc} -r ${host}:${p} -m -w ${w}`);
        break;
      default:
        out.push(`-a ${svc} -r ${host}:${p} -g -w ${w} -x 5000`);
    }
  }
  return out;
}

/** The corpus: `-A`/`-a` lines, each service followed by its real servers. */
export function corpus(options: CorpusOptions = {}): string[] {
  const wrapping = options.wrapping ?? true;
  const unsaveable = options.unsaveable ?? true;
  const lines: string[] = [];
  let k = 0;
  const add = (svc: string, opts: string, v6: boolean, port: number, extra: string[] = []): void => {
    lines.push(`-A ${svc} ${opts}`, ...realServers(svc, v6, k++, port), ...extra);
  };
  // Every scheduler, on each protocol and family.
  SCHEDULERS.forEach((s, i) => {
    add(`-t 203.0.113.${10 + i}:80`, `-s ${s}`, false, 80);
    add(`-u [2001:db8::${(i + 1).toString(16)}]:53`, `-s ${s}`, true, 53);
    if (i % 3 === 0) add(`--sctp-service 192.0.2.${50 + i}:3868`, `-s ${s}`, false, 3868);
  });
  // Scheduler flags, named by scheduler; sh/mh with the third bit (which ipvsadm has no name for).
  add('-t 203.0.113.40:443', '-s sh -b sh-fallback,sh-port', false, 443);
  add('-t 203.0.113.41:443', '-s sh -b sh-port', false, 443);
  add('-t 203.0.113.42:443', '-s mh -b mh-fallback', false, 443);
  add('-u 203.0.113.43:443', '-s mh -b mh-fallback,mh-port', false, 443);
  add('-t 203.0.113.44:443', '-s rr -b flag-1,flag-2,flag-3', false, 443);
  add('-t 203.0.113.45:443', '-s wlc -b flag-2', false, 443);
  if (unsaveable) {
    add('-t 203.0.113.46:443', '-s sh -b flag-3', false, 443);
    add('-t 203.0.113.47:443', '-s mh -b mh-port,flag-3', false, 443);
  }
  // Persistence: default and explicit timeouts, IPv4 masks (also non-contiguous), IPv6 prefixes, port 0.
  add('-t 203.0.113.50:8080', '-s wlc -p', false, 8080);
  add('-t 203.0.113.51:8080', '-s rr -p 60 -M 255.255.255.0', false, 8080);
  add('-t 203.0.113.52:0', '-s lc -p 3600 -M 255.255.0.0', false, 0);
  add('-u 203.0.113.53:0', '-s rr -p 10 -M 255.0.255.0', false, 0);
  add('-t [2001:db8::50]:8080', '-s wlc -p 120 -M 64', true, 8080);
  add('-t [2001:db8::51]:0', '-s rr -p 2678400 -M 1', true, 0);
  add('-u [2001:db8::52]:443', '-s sh -p 30 -M 128', true, 443);
  // The sip persistence engine (with and without persistence: -S shows it either way, -L only when persistent).
  add('-u 203.0.113.60:5060', '-s rr -p 60 --pe sip', false, 5060);
  add('-u [2001:db8::60]:5060', '-s wrr -p 300 -M 96 --pe sip', true, 5060);
  add('-u 203.0.113.61:5060', '-s rr --pe sip', false, 5060);
  // One-packet scheduling.
  add('-u 203.0.113.70:123', '-s rr -o', false, 123);
  add('-u [2001:db8::70]:123', '-s sh -o -b sh-port', true, 123);
  // Firewall marks: small, 2^31 and above (printed negative by Debian's ipvsadm), IPv6, with one-packet.
  add('-f 1', '-s rr', false, 0);
  if (wrapping) {
    add('-f 2147483647', '-s wrr', false, 0);
    add('-f 2147483648', '-s lc', false, 0);
  }
  add('-f 3000000000', '-s rr -p 600', false, 0);
  add('-f 4294967295', '-s sh -o', false, 0);
  add('-f 1 -6', '-s wlc', true, 0);
  add('-f 77 -6', '-s rr -p 60 -M 48', true, 0);
  add('-f 10', '-s rr -o', false, 0);
  // Tunnels of every type and checksum option; real servers of the other family (tunnels only).
  const tunnels = [
    '-i --tun-type ipip',
    '-i --tun-type gue --tun-port 6080',
    '-i --tun-type gue --tun-port 6081 --tun-nocsum',
    '-i --tun-type gue --tun-port 6082 --tun-csum',
    '-i --tun-type gue --tun-port 65535 --tun-remcsum',
    '-i --tun-type gre',
    '-i --tun-type gre --tun-nocsum',
    '-i --tun-type gre --tun-csum',
  ];
  lines.push('-A -t 203.0.113.80:80 -s rr');
  tunnels.forEach((tun, i) => lines.push(`-a -t 203.0.113.80:80 -r 198.51.100.${200 + i} ${tun} -w ${i}`));
  tunnels.forEach((tun, i) => lines.push(`-a -t 203.0.113.80:80 -r [2001:db8:1::${(200 + i).toString(16)}]:80 ${tun}`));
  lines.push('-A -u [2001:db8::80]:4789 -s wrr');
  tunnels.forEach((tun, i) => lines.push(`-a -u [2001:db8::80]:4789 -r 192.0.2.${200 + i} ${tun} -w ${i + 10}`));
  tunnels.forEach((tun, i) => lines.push(`-a -u [2001:db8::80]:4789 -r [2001:db8:1::${(300 + i).toString(16)}]:4789 ${tun}`));
  // IPv6 addresses whose third 32-bit word differs by 2^31 or more: ipvsadm's wrapping comparator.
  for (const a of wrapping ? ['2001:db8:0:0:9000::1', '2001:db8:0:0:1::1', '2001:db8:0:0:ffff::1', '2001:db8:0:0:7fff::1'] : []) {
    lines.push(`-A -t [${a}]:80 -s rr`, `-a -t [${a}]:80 -r [2001:db8:0:0:8000::2]:80 -m`, `-a -t [${a}]:80 -r [2001:db8:0:0:0001::2]:80 -m`);
  }
  // A real server on the director itself (198.51.100.1 is local in the test namespace).
  lines.push('-A -t 203.0.113.90:80 -s rr', '-a -t 203.0.113.90:80 -r 198.51.100.1:80 -g', '-a -t 203.0.113.90:80 -r 198.51.100.2:80 -m');
  // Scramble the order of services (keeping each service's lines together).
  const groups: string[][] = [];
  for (const l of lines) {
    if (l.startsWith('-A')) groups.push([l]);
    else (groups[groups.length - 1] as string[]).push(l);
  }
  const order = groups.map((_g, i) => i).sort((x, y) => ((x * 37) % 101) - ((y * 37) % 101));
  return order.flatMap((i) => groups[i] as string[]);
}
