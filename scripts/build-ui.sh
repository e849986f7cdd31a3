#!/usr/bin/env bash
# Builds the cashier app's web UI into ui/dist (the app embeds it at compile
# time). Installs the npm packages from the lock file when they are missing
# or stale. Usage: scripts/build-ui.sh [--test]  (--test also type-checks and
# runs the Vitest unit tests)
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
if [ "${1:-}" = "--test" ]; then
    npx tsc --noEmit
    npx vitest run
fi
npx vite build --logLevel warn
