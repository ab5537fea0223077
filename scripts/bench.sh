#!/usr/bin/env bash
# Benchmarks (npm run bench [-- NAME...]). Each prints its measurements and,
# where there is a reference tool, the ratios against it measured in the same
# run. Names: library (default), cli, agent: inside one User-Mode Linux boot
# pinned to one CPU (the kernel work is real); checks: on the host, loopback
# only (it measures the check engine, and UML would measure UML).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
command -v gcc >/dev/null || { echo "bench: gcc is needed for the raw-C reference client (apt-get install -y gcc libc6-dev)" >&2; exit 1; }
[ -f build/Release/ipvs_native.node ] || npx --no-install node-gyp rebuild >&2
npm run --silent build
rm -rf .build && npx --no-install tsc -p tsconfig.test.json
work=/tmp/ipvs-bench
mkdir -p "$work"
gcc -O2 -Wall -o "$work/rawc-load" bench/rawc/load.c
gcc -O2 -Wall -o "$work/rawc-dump" bench/rawc/dump.c
gcc -O2 -Wall -o "$work/rawc-dump-uring" bench/rawc/dump-uring.c
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(library)
for name in "${names[@]}"; do
  script=".build/bench/$name.js"
  [ -f "$script" ] || { echo "bench: no benchmark '$name' ($script)" >&2; exit 2; }
  if [ "$name" = checks ]; then
    echo "== bench $name (host, loopback)"
    node "$script"
  else
    echo "== bench $name (UML, pinned to CPU 0)"
    node lib/uml/main.js --mem 3072 --timeout 1800 -- node "$script"
  fi
done
