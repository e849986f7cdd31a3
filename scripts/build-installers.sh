#!/usr/bin/env bash
# Builds the installers into target-installers/:
#   SentraPOS-<version>-x64.msi        the cashier app for Windows (wixl)
#   SentraRelay-<version>-x64.msi      the branch relay as a Windows service (wixl)
#   sentra-relay_<version>_amd64.deb   the branch relay for a Debian/Ubuntu mini-PC
# <version> is the workspace version (Cargo.toml), the only place it is kept.
#
# Signing (Authenticode, osslsigncode): give a certificate as
#   SENTRA_SIGN_PFX=cert.pfx [SENTRA_SIGN_PASSWORD=…]      or
#   SENTRA_SIGN_CERT=cert.pem SENTRA_SIGN_KEY=key.pem
# and the exes and the .msi files are signed; without one the build says loudly that
# they are unsigned. SENTRA_SIGN_TIMESTAMP=URL adds a timestamp (needs the
# network). Installation for shop IT: docs/operations.md §7.
#
# Usage: scripts/build-installers.sh [--version X.Y.Z] [--no-build] [--ui-built] [--out DIR] [--profile NAME]
#   --version   package the build as another version (the tests make an
#               upgrade of the same code this way)
#   --profile   the cargo profile of the binaries (default: release, or
#               SENTRA_INSTALLER_PROFILE when set). The test command uses
#               installer-test: the same sources, targets and packaging at
#               opt-level 1 without line tables, so a machine that never built
#               the project gets through it in time; what ships is release.
#   --no-build  package what the last run built, without building again
#   --ui-built  ui/dist is fresh already (the test command built it): do not
#               build the UI again
#   --out DIR   where the installers go, relative to the clone (default
#               target-installers)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

version=$(cargo metadata --no-deps --format-version 1 --locked \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="sentra-pos"))')
build=yes
ui=yes
out=target-installers
profile="${SENTRA_INSTALLER_PROFILE:-release}"
while [ $# -gt 0 ]; do
    case "$1" in
        --version) version="$2"; shift 2 ;;
        --no-build) build=no; shift ;;
        --ui-built) ui=no; shift ;;
        --out) out="$2"; shift 2 ;;
        --profile) profile="$2"; shift 2 ;;
        *) echo "usage: $0 [--version X.Y.Z] [--no-build] [--ui-built] [--out DIR] [--profile NAME]" >&2; exit 2 ;;
    esac
done
case "$out" in
    /*) echo "--out must be relative to the clone (wixl refuses absolute paths)" >&2; exit 2 ;;
esac
case "$version" in
    *[!0-9.]* | "" ) echo "version $version: MSI versions are numbers only (X.Y.Z)" >&2; exit 2 ;;
esac

win=x86_64-pc-windows-gnu
mkdir -p "$out"

sign_args=()
if [ -n "${SENTRA_SIGN_PFX:-}" ]; then
    sign_args=(-pkcs12 "$SENTRA_SIGN_PFX")
    [ -n "${SENTRA_SIGN_PASSWORD:-}" ] && sign_args+=(-pass "$SENTRA_SIGN_PASSWORD")
elif [ -n "${SENTRA_SIGN_CERT:-}" ] && [ -n "${SENTRA_SIGN_KEY:-}" ]; then
    sign_args=(-certs "$SENTRA_SIGN_CERT" -key "$SENTRA_SIGN_KEY")
fi
# sign FILE DESCRIPTION: Authenticode-signs FILE in place, if a certificate was given.
sign() {
    [ ${#sign_args[@]} -eq 0 ] && return 0
    local ts=()
    [ -n "${SENTRA_SIGN_TIMESTAMP:-}" ] && ts=(-ts "$SENTRA_SIGN_TIMESTAMP")
    osslsigncode sign "${sign_args[@]}" "${ts[@]}" -h sha256 -n "$2" \
        -i https://sentra.example -in "$1" -out "$1.signed"
    mv "$1.signed" "$1"
}

# ---------------------------------------------------------------- Windows builds
# One cargo run for every Windows binary, so their dependencies are built
# once: the app, the relay, and the terminal CLI (not packaged; the README
# promises it cross-compiles, and here that costs seconds).
if [ "$build" = yes ]; then
    if [ "$ui" = yes ]; then scripts/build-ui.sh; fi
    cargo build --profile "$profile" --target "$win" --locked \
        -p sentra-pos -p sentra-sync -p sentra-terminal \
        --bin sentra-pos --bin sentra-sync --bin sentra-term
fi

# ---------------------------------------------------------------- the .msi files
built="$CARGO_TARGET_DIR/$win/$profile"

# msi NAME WXS TITLE EXE [FILE…]: stages EXE (stripped, signed), the other
# files and the icon in $out/NAME, then builds and signs $out/<WXS name>-<version>-x64.msi.
msi() {
    local name="$1" wxs="$2" title="$3" exe="$4"
    shift 4
    # wixl refuses absolute Source paths: stage inside the clone, pass it relative.
    local stage="$out/$name"
    rm -rf "$stage" && mkdir -p "$stage"
    cp "$built/$exe" "$stage/"
    for f in "$@"; do cp "$built/$f" "$stage/"; done
    cp src-tauri/icons/icon.ico "$stage/"
    # The release profile keeps line tables (150+ MB); the shipped copy is
    # stripped and the unstripped one stays in the build dir for crash symbols.
    x86_64-w64-mingw32-strip "$stage/$exe"
    sign "$stage/$exe" "$title"
    local package
    package="$out/$(basename "$wxs" .wxs)-$version-x64.msi"
    wixl -a x64 -D Version="$version" -D SourceDir="$stage" -o "$package" "$wxs"
    sign "$package" "$title installer"
    echo "built $package"
}

msi app installer/SentraPOS.wxs "Sentra POS" sentra-pos.exe WebView2Loader.dll
msi relay installer/SentraRelay.wxs "Sentra POS Relay" sentra-sync.exe

# ---------------------------------------------------------------- the relay, Linux
# SENTRA_DEB_PROFILE: the .deb's own profile (default: --profile's). The
# test command packages the dev build its end-to-end tests already made.
deb_profile="${SENTRA_DEB_PROFILE:-$profile}"
deb_dir="$deb_profile"
[ "$deb_profile" = dev ] && deb_dir=debug
if [ "$build" = yes ]; then
    cargo build -p sentra-sync --profile "$deb_profile" --bin sentra-sync --locked
fi
pkg="$out/deb/sentra-relay"
rm -rf "$pkg" && mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" \
    "$pkg/usr/share/doc/sentra-relay"
install -m 0755 "$CARGO_TARGET_DIR/$deb_dir/sentra-sync" "$pkg/usr/bin/sentra-sync"
strip "$pkg/usr/bin/sentra-sync"
sed 's|/usr/local/bin/sentra-sync|/usr/bin/sentra-sync|' installer/sentra-relay.service \
    > "$pkg/lib/systemd/system/sentra-relay.service"
chmod 0644 "$pkg/lib/systemd/system/sentra-relay.service"
install -m 0644 docs/operations.md "$pkg/usr/share/doc/sentra-relay/operations.md"
for s in postinst prerm postrm; do
    install -m 0755 "installer/deb/$s" "$pkg/DEBIAN/$s"
done
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" installer/deb/control > "$pkg/DEBIAN/control"
deb="$out/sentra-relay_${version}_amd64.deb"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null
echo "built $deb"

if [ ${#sign_args[@]} -eq 0 ]; then
    cat >&2 <<'EOF'

  !!! UNSIGNED: sentra-pos.exe, sentra-sync.exe and the .msi files carry no
  !!! Authenticode signature.
  !!! Windows SmartScreen will warn the shop, and IT cannot tell this build
  !!! from a tampered one. Set SENTRA_SIGN_PFX (or SENTRA_SIGN_CERT and
  !!! SENTRA_SIGN_KEY) to sign a release.

EOF
fi
