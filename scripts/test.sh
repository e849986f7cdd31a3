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

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build --workspace --bins (the end-to-end tests in tests/ run them)"
cargo build --workspace --bins --locked

step "cargo test"
cargo test --workspace --locked

step "sentra-term cross-build for Windows (x86_64-pc-windows-gnu)"
cargo build -p sentra-terminal --bin sentra-term --target x86_64-pc-windows-gnu --locked

step "done in $(( $(date +%s) - started ))s"
