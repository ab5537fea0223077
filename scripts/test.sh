#!/usr/bin/env bash
# The test command (npm test): unit tests on the host, kernel suites inside
# User-Mode Linux. Installs the system packages it needs when run as root.
# Extra arguments go to tap (e.g. a file: .build/test/unit/address.test.js).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
[ -f build/Release/ipvs_native.node ] || npx --no-install node-gyp rebuild >&2
npm run --silent build
rm -rf .build
npx --no-install tsc -p tsconfig.test.json
if [ $# -eq 0 ]; then set -- ".build/test/**/*.test.js"; fi
exec npx --no-install tap "$@"
