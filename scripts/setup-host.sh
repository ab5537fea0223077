#!/usr/bin/env bash
# Installs what the tests, the lab and the benchmarks need beyond npm:
# Debian's User-Mode Linux kernel (a real 6.1 kernel with IPVS that runs as a
# process), ipvsadm (the reference implementation), iproute2 and kmod;
# iptables (its legacy backend marks packets for fwmark services and counts
# packets in the traffic tests: this UML kernel has no nftables ip family)
# and strace (scripts/capture-fixtures.sh records ipvsadm's requests).
# As root it installs them with apt-get; otherwise it says what to run.
set -euo pipefail
need=()
[ -x /usr/bin/linux.uml ] || need+=(user-mode-linux)
command -v ipvsadm >/dev/null 2>&1 || [ -x /usr/sbin/ipvsadm ] || need+=(ipvsadm)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
[ -x /usr/sbin/modprobe ] || [ -x /sbin/modprobe ] || need+=(kmod)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
[ -x /usr/sbin/iptables-legacy ] || [ -x /sbin/iptables-legacy ] || need+=(iptables)
command -v strace >/dev/null 2>&1 || need+=(strace)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ipvs: missing system packages: ${need[*]}" >&2
  echo "ipvs: run as root: apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ipvs: missing system packages (${need[*]}) and no apt-get here; install the Debian packages ${need[*]} or their equivalents" >&2
  exit 1
fi
echo "ipvs: installing ${need[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
