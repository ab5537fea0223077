#!/usr/bin/env bash
# Captures the golden fixtures in test/fixtures/ from the real kernel: boots
# User-Mode Linux and runs scripts/capture-fixtures.ts inside (see there).
# Re-run after a kernel or ipvsadm upgrade, then review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
[ -f build/Release/ipvs_native.node ] || npx --no-install node-gyp rebuild >&2
npm run --silent build
npx --no-install tsc -p tsconfig.test.json
mkdir -p test/fixtures
exec node lib/uml/main.js --module ip_vs -- node .build/scripts/capture-fixtures.js
