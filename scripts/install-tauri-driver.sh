#!/usr/bin/env bash
# Installs tauri-driver 2.x (the WebDriver server for Tauri apps; it runs
# Debian's WebKitWebDriver) into ~/.cache/sentra-pos/tools, once.
set -euo pipefail
tools="${SENTRA_TOOLS_DIR:-$HOME/.cache/sentra-pos/tools}"
if [ -x "$tools/bin/tauri-driver" ]; then
    echo "tauri-driver: present ($tools/bin/tauri-driver)"
    exit 0
fi
cargo install --locked tauri-driver@2.1.0 --root "$tools"
