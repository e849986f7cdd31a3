#!/usr/bin/env bash
# Runs a Windows program (a cross-compiled test binary) under Wine, in a
# prefix of its own kept in the build dir. Cargo calls it as the runner for
# x86_64-pc-windows-gnu, so
#   CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=scripts/wine-run.sh \
#     cargo test --target x86_64-pc-windows-gnu -p CRATE
# runs CRATE's tests against Windows' file semantics (what Linux forgives,
# Windows refuses: fsync on a read-only handle, renaming an open file).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/env.sh"
prefix="$CARGO_TARGET_DIR/wine-test-prefix"
export WINEPREFIX="$prefix" WINEARCH=win64 WINEDEBUG=-all \
    WINEDLLOVERRIDES="mscoree,mshtml,winemenubuilder.exe="
# Current Rust's standard library imports ProcessPrng from
# bcryptprimitives.dll (Windows 10+), which Wine 8 lacks: the stand-in the
# installer tests use goes into the prefix's system32.
dll="$prefix/drive_c/windows/system32/bcryptprimitives.dll"
src="$here/tests/wine/bcryptprimitives.c"
stale() { [ ! -f "$dll" ] || [ "$src" -nt "$dll" ]; }
if stale; then
    exec 9>"$CARGO_TARGET_DIR/wine-test-prefix.lock"
    flock 9
    if stale; then  # not made meanwhile by another run
        [ -d "$prefix/drive_c/windows/system32" ] || wineboot --init >/dev/null 2>&1
        x86_64-w64-mingw32-gcc -shared -O2 -o "$dll" "$src" \
            "$here/tests/wine/bcryptprimitives.def" -ladvapi32
    fi
    exec 9>&-
fi
exec wine "$@"
