#!/usr/bin/env bash
# The lab (npm run lab [-- dr|nat]): boots User-Mode Linux (a real Linux
# kernel with IPVS, as a process) and builds the classic LVS experiment inside:
# a director, real HTTP servers and a client in network namespaces, managed
# by ipvs-agent from examples/dr-rr.yaml and examples/nat-wrr.yaml.
# Installs what it needs (as root) and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
[ -d node_modules ] || npm ci
[ -f build/Release/ipvs_native.node ] || npx --no-install node-gyp rebuild >&2
npm run --silent build
exec node lib/uml/main.js --module ip_vs --module veth --module bridge -- node lib/lab/main.js "$@"
