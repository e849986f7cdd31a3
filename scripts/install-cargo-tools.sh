#!/usr/bin/env bash
# Installs the dependency checkers the test command runs, into
# ~/.cache/sentra-pos/tools, once: cargo-deny (licences, bans, sources) and
# cargo-machete (dependencies a crate declares but never uses). Pinned, so
# every machine checks with the same rules. About 3 minutes on 2 cores.
set -euo pipefail
tools="${SENTRA_TOOLS_DIR:-$HOME/.cache/sentra-pos/tools}"
install() { # <crate@version> <executable> [cargo install flags]
    local spec=$1 exe=$2
    shift 2
    if [ -x "$tools/bin/$exe" ] && "$tools/bin/$exe" --version | grep -q "${spec#*@}"; then
        echo "$exe: present ($tools/bin/$exe)"
        return
    fi
    # Its own build dir (not the workspace's), removed afterwards.
    env -u CARGO_TARGET_DIR cargo install --locked "$spec" --root "$tools" "$@"
}
install cargo-deny@0.20.2 cargo-deny --no-default-features
install cargo-machete@0.9.2 cargo-machete
