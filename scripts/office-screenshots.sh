#!/usr/bin/env bash
# Screenshots of every head-office page into docs/screenshots/office/: the
# browser test (tests/tests/office_browser.rs → tests/office/e2e.mjs) with
# real tills, a real server and headless Chromium, saving a picture of each
# page it visits at 1366×768 (and the overview at tablet width).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-deps.sh test
(cd tests/office && if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi)
cargo build -p sentra-sync --bin sentra-sync -p sentra-terminal --bin sentra-term --locked --quiet
out="$PWD/docs/screenshots/office"
mkdir -p "$out"
SENTRA_OFFICE_SCREENSHOTS="$out" cargo test -p sentra-e2e --test office_browser --test office_reports_browser --locked -- --nocapture
ls "$out"
