#!/usr/bin/env bash
# Screenshots of every head-office page into docs/screenshots/office/: the
# browser tests (tests/tests/office_browser.rs → tests/office/e2e.mjs, and
# office_manage_browser.rs → manage.mjs) with
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
SENTRA_OFFICE_SCREENSHOTS="$out" cargo test -p sentra-e2e --test office_browser --locked -- --nocapture
# The pages that run the chain (tests/tests/office_manage_browser.rs → tests/office/manage.mjs).
SENTRA_OFFICE_SCREENSHOTS="$out" cargo test -p sentra-e2e --test office_manage_browser --locked -- --nocapture
# The reports and the PPN return (tests/tests/office_reports_browser.rs → tests/office/reports.mjs).
SENTRA_OFFICE_SCREENSHOTS="$out" cargo test -p sentra-e2e --test office_reports_browser --locked -- --nocapture
ls "$out"
