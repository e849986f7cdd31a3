#!/usr/bin/env bash
# The whole test suite: installs what it needs, then formatting, lints, every
# test (real SQLCipher, real keyrings), and the Windows cross-build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "installing missing system packages"
scripts/install-deps.sh test

step "cargo-deny and cargo-machete, if missing: built in the background while the UI steps run"
tools_log=$(mktemp)
scripts/install-cargo-tools.sh > "$tools_log" 2>&1 &
tools_pid=$!

step "UI: npm packages, type check, Vitest unit tests, build (ui/dist is embedded in the app)"
scripts/build-ui.sh --test

step "head-office browser tests: playwright-core (drives Debian's chromium), from the lock file"
(cd tests/office && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi)

step "the cashier app's screens keep nothing per sale: 2,000 sales in Chromium, JS heap after GC, DOM nodes, listeners (and a planted leak is caught)"
(cd ui && npx vite build --config vite.leak.config.ts --logLevel warn)
(cd tests/office && node ui-memory.mjs && node ui-memory.mjs --sales 300 --plant)

step "tauri-driver (WebDriver for the app's end-to-end tests), if missing"
scripts/install-tauri-driver.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "dependencies: cargo deny check licenses bans sources (deny.toml), cargo machete (none declared and unused)"
if ! wait "$tools_pid"; then
    cat "$tools_log" >&2
    echo "installing cargo-deny / cargo-machete failed" >&2
    exit 1
fi
tail -n 2 "$tools_log"
tools="${SENTRA_TOOLS_DIR:-$HOME/.cache/sentra-pos/tools}"
PATH="$tools/bin:$PATH" cargo deny --log-level error check licenses bans sources
PATH="$tools/bin:$PATH" cargo machete

step "cargo build --workspace --bins (the end-to-end tests in tests/ run them)"
cargo build --workspace --bins --locked

step "cargo test"
cargo test --workspace --locked

step "TypeScript bindings generated from Rust (ts-rs) are committed and fresh"
if git rev-parse --git-dir >/dev/null 2>&1; then
    if ! git diff --exit-code --stat -- ui/src/bindings || [ -n "$(git status --porcelain -- ui/src/bindings)" ]; then
        echo "ui/src/bindings changed when the tests regenerated them: commit the new files" >&2
        exit 1
    fi
fi

# The installers' binaries at the installer-test profile (opt-level 1, no
# line tables; Cargo.toml): the same sources, targets and packaging as the
# release ones that ship, cheaper to build on a machine that never built the
# project. The installers test packages the same build again.
export SENTRA_INSTALLER_PROFILE=installer-test
# The relay's .deb packages the dev build the end-to-end tests already ran.
export SENTRA_DEB_PROFILE=dev
step "Windows cross-build (the app, the relay, the sentra-term CLI) and the installers: the app's .msi, the relay's .msi and .deb (scripts/build-installers.sh, profile $SENTRA_INSTALLER_PROFILE)"
scripts/build-installers.sh --ui-built

step "the data dir's file handling under Windows' rules: sentra-journal-store and sentra-keystore tests cross-compiled and run under Wine"
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/wine-run.sh" \
    cargo test --profile "$SENTRA_INSTALLER_PROFILE" --target x86_64-pc-windows-gnu --locked -p sentra-journal-store -p sentra-keystore

step "installers, read back with msiinfo/msiextract/objdump, signed and verified with osslsigncode, the .deb installed, upgraded and removed with dpkg, both .msi under Wine (the relay's as a running service)"
cargo test -p sentra-e2e --test installers --locked -- --ignored

step "done in $(( $(date +%s) - started ))s"
