#!/usr/bin/env bash
# Exploration for issue 14 (not the finished feature): cross-compiles the
# cashier app for Windows and wraps it in an .msi with wixl.
# Usage: installer/build-msi.sh [debug|release]   (default: release)
# Needs: mingw-w64, rustup target x86_64-pc-windows-gnu, wixl + msitools
#   (apt-get install -y wixl msitools), npm for the UI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
profile="${1:-release}"
target=x86_64-pc-windows-gnu
version=$(cargo metadata --no-deps --format-version 1 \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="sentra-pos"))')

scripts/build-ui.sh
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build -p sentra-pos "${flag[@]}" --target "$target" --locked

out="$CARGO_TARGET_DIR/$target/$profile"
# wixl refuses absolute Source paths (GLib assertion "!g_path_is_absolute (name)",
# then "Couldn't find file ..."); relative paths are resolved against the current
# directory, so stage the payload inside the worktree and pass a relative dir.
stage=target-msi/stage
rm -rf "$stage" && mkdir -p "$stage"
cp "$out/sentra-pos.exe" "$out/WebView2Loader.dll" "$stage/"
cp src-tauri/icons/icon.ico "$stage/"
# release keeps line tables (profile.release debug = "line-tables-only"): 156 MB
# exe; stripped 28 MB. Ship the stripped copy, keep the unstripped one for symbols.
x86_64-w64-mingw32-strip "$stage/sentra-pos.exe"
msi="target-msi/SentraPOS-$version-x64.msi"
wixl -a x64 -D Version="$version" -D SourceDir="$stage" -D IconFile="$stage/icon.ico" \
    -o "$msi" installer/SentraPOS.wxs
echo "built $msi"
