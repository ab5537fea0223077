/**
 * The `ipvs` command's help texts and version line.
 * @module
 */

/** The version line (`ipvs -v`). */
export function versionText(version: string): string {
  return `ipvs v${version} (ipvsadm v1.31 compatible, IPVS v1.2.1)\n`;
}

/** `ipvs -h`, `ipvs --help`, `ipvs help`. */
export const HELP = `ipvs: manage Linux Virtual Server (IPVS) tables. A drop-in for ipvsadm,
ipvsadm-save and ipvsadm-restore: same grammar, output and exit codes.

Usage:
  ipvs -A|-E virtual-service [-s scheduler] [-p [timeout]] [-M netmask]
            [--pe engine] [-o] [-b sched-flags]
  ipvs -D virtual-service
  ipvs -a|-e virtual-service -r server-address [-g|-i|-m] [-w weight]
            [-x upper] [-y lower] [--tun-type ipip|gue|gre [--tun-port port]
            [--tun-nocsum|--tun-csum|--tun-remcsum]]
  ipvs -d virtual-service -r server-address
  ipvs -L|-l [virtual-service] [list-options]   (also: ipvs list ...)
  ipvs -Z [virtual-service]
  ipvs -C
  ipvs -S [-n]                                  (also: ipvs save ...)
  ipvs -R                                       (ipvsadm's additive replay of stdin)
  ipvs --set tcp tcpfin udp
  ipvs --start-daemon master|backup [daemon-options]
  ipvs --stop-daemon master|backup
  ipvs -h | -v

Subcommands:
  ipvs list [list-options]       the table, as ipvs -L
  ipvs save [-n] [--full]        the rules as ipvsadm-save prints them; --full also
                                 keeps thresholds, timeouts and sync daemons
  ipvs restore [--dry-run] [FILE]
                                 make the kernel equal FILE (default stdin) by a
                                 diff, never a flush: unchanged entries are not
                                 touched, changed ones are edited in place, new
                                 real servers are added before old ones leave;
                                 the whole file is checked first ("line N: ...",
                                 exit 2, nothing changed); --dry-run prints the plan
  ipvs help                      this text

Commands (short and long forms):
  -A --add-service    -E --edit-service    -D --delete-service   -C --clear
  -a --add-server     -e --edit-server     -d --delete-server    -Z --zero
  -L -l --list        -S --save            -R --restore          --set
  --start-daemon      --stop-daemon        -h --help             -v --version
  Edits (-E, -e) replace the whole entry: options left out take their defaults.

virtual-service:
  -t --tcp-service ADDR[:PORT]   -u --udp-service ADDR[:PORT]
  --sctp-service ADDR[:PORT]     -f --fwmark-service MARK [-6|--ipv6]
  ADDR is an IPv4 address or host name, or [IPv6]; PORT a number or a name
  from /etc/services. Port 0 (or none) needs -p.

Service options:
  -s --scheduler NAME      rr wrr lc wlc (default) lblc lblcr dh sh sed nq fo ovf mh
  -p --persistent [SECS]   client affinity (default 360 s)
  -M --netmask MASK        persistence granularity (IPv4 mask, IPv6 prefix length)
  --pe NAME                persistence engine (sip)
  -o --ops                 one-packet scheduling (UDP and fwmark services)
  -b --sched-flags LIST    flag-1,flag-2,flag-3; sh-fallback,sh-port; mh-fallback,mh-port

Server options:
  -r --real-server ADDR[:PORT]   the port defaults to the service's
  -g --gatewaying (direct routing, default)  -i --ipip (tunnel)  -m --masquerading (NAT)
  -w --weight N (default 1)  -x --u-threshold N  -y --l-threshold N
  --tun-type ipip|gue|gre  --tun-port PORT (gue)  --tun-nocsum|--tun-csum|--tun-remcsum

List options:
  -n --numeric  -c --connection  --timeout  --daemon  --stats  --rate  -X --exact
  --thresholds  --persistent-conn  --tun-info  --sort  --nosort
  --json        machine-readable output (docs/cli-json.md); counters are exact

Daemon options:
  --mcast-interface IF (default eth0)  --syncid 0..255  --sync-maxlen N
  --mcast-group ADDR  --mcast-port PORT  --mcast-ttl TTL

Examples:
  # Direct routing (DR): real servers answer clients themselves
  ipvs -A -t 203.0.113.10:80 -s wrr
  ipvs -a -t 203.0.113.10:80 -r 198.51.100.11 -g -w 3
  ipvs -a -t 203.0.113.10:80 -r 198.51.100.12 -g -w 1

  # NAT: replies return through the director; real servers may use other ports
  ipvs -A -t 203.0.113.10:443 -s lc
  ipvs -a -t 203.0.113.10:443 -r 192.0.2.21:8443 -m

  # Tunnel (TUN): IP-in-IP, or GUE with checksums
  ipvs -A -u 203.0.113.10:53 -s sh -b sh-port
  ipvs -a -u 203.0.113.10:53 -r 198.51.100.31 -i
  ipvs -a -u 203.0.113.10:53 -r 198.51.100.32 -i --tun-type gue --tun-port 6080 --tun-csum

  # Persistence: the same client /24 sticks to one server for 10 minutes
  ipvs -A -t 203.0.113.10:0 -s rr -p 600 -M 255.255.255.0

  # Firewall mark: one service for ports 80 and 443 marked by nftables
  nft add rule ip mangle prerouting ip daddr 203.0.113.10 tcp dport { 80, 443 } meta mark set 1
  ipvs -A -f 1 -s wlc -p 300
  ipvs -a -f 1 -r 198.51.100.11 -g

  # Save, change the file, apply only the difference (no flush)
  ipvs save -n > /etc/ipvs.rules
  ipvs restore --dry-run /etc/ipvs.rules && ipvs restore /etc/ipvs.rules

Exit status: 0 ok; 2 usage or parse error; 255 the kernel refused; 1 a listing failed.
`;

/** `ipvs save --help`. */
export const SAVE_HELP = `Usage: ipvs save [-n] [--full]
Prints the rules as ipvsadm-save does (-n: numeric addresses and ports).
--full also writes what ipvsadm-save loses, as lines ipvsadm accepts:
  real server thresholds (-x/-y), connection timeouts (--set tcp tcpfin udp)
  and running sync daemons (--start-daemon ...).
`;

/** `ipvs restore --help`. */
export const RESTORE_HELP = `Usage: ipvs restore [--dry-run] [FILE]
Makes the kernel's rules equal FILE (ipvsadm-save or 'ipvs save --full' output;
stdin when FILE is absent or -), by a diff against the kernel, never a flush.
  - the whole file is read and checked first: any error is reported as
    "line N: ..." with exit status 2, and the kernel is left as it was;
  - unchanged services and real servers are not touched, changed ones are
    edited in place, new real servers are added before old ones are removed,
    services not in the file are deleted last;
  - '#' comments and blank lines are allowed;
  - --set and --start-daemon lines (from save --full) are applied when present;
  - --dry-run prints the plan and changes nothing;
  - each kernel refusal is reported; the exit status is 255 if any happened.
For ipvsadm's own semantics (replay each line, no removals) use: ipvs -R < FILE
`;
