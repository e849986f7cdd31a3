#!/bin/sh
# Installs what building and testing Sentra POS needs on a fresh Debian/Ubuntu.
# Idempotent: installs only what is missing; runs `apt-get update` at most once.
# Usage: scripts/install-deps.sh build|test   (as root, or a user with sudo)
#   build: what compiling needs (vendored SQLCipher and OpenSSL: a C compiler,
#          make, perl)
#   test:  build, plus the real keyrings and the Windows cross-compiler
set -eu

BUILD_PACKAGES="
gcc
make
perl
pkg-config
libwebkit2gtk-4.1-dev
libssl-dev
"
# libwebkit2gtk-4.1-dev  the cashier app's web view (Tauri 2 on Linux)
# libssl-dev             tauri-driver (the WebDriver bridge the app tests use)
# PostgreSQL server binaries: the demo's cloud database and the sync-server
# tests' throwaway clusters (initdb/pg_ctl run as the unprivileged postgres
# user; no service is started or enabled).
PG_PACKAGES="
postgresql
curl
jq
bsdextrautils
"
# curl            the demo's HTTP calls to the relay and sync server
# jq              the demo's sums of Z reports vs the ledger
# bsdextrautils   column, the demo's table
TEST_PACKAGES="
xvfb
webkit2gtk-driver
xdotool
imagemagick
gnome-keyring
dbus
dbus-x11
keyutils
libsecret-tools
mingw-w64
faketime
chromium
wixl
msitools
osslsigncode
file
wine
haproxy
"
# xvfb              a display for the cashier app in tests and screenshots
# webkit2gtk-driver WebKitWebDriver, which tauri-driver drives the app through
# xdotool           window handling for the screenshot script
# imagemagick       import: screenshots of the app window
# gnome-keyring   Secret Service for the real-keyring tests (crates/keystore)
# dbus            dbus-run-session: a private session bus for those tests
# dbus-x11        dbus-launch, which some gnome-keyring versions call
# keyutils        keyctl: Linux kernel session keyring tests
# libsecret-tools secret-tool: inspect / back up keys in the Secret Service
# mingw-w64       Windows cross-compilation (x86_64-pc-windows-gnu)
# faketime        libfaketime: the fault soak sets a till's clock back and ahead
# chromium        headless browser for the head-office page tests (playwright-core)
# wixl            builds the Windows .msi on Linux (scripts/build-installers.sh)
# msitools        msiinfo, msiextract: the installer tests read the .msi back
# osslsigncode    Authenticode signing and verifying of the exe and the .msi
# file            the installer tests check what the shipped binaries are
# wine            installs, upgrades and uninstalls the .msi in the tests (it
#                 cannot run the app itself)
# haproxy         the load balancer in front of the sync servers and of
#                 PostgreSQL's primary and standby (tests/tests/cloud_ha.rs)

# rustup targets (test only).
RUST_TARGETS="
x86_64-pc-windows-gnu
"

case "${1:-test}" in
    build) APT_PACKAGES="$BUILD_PACKAGES $PG_PACKAGES"; RUST_TARGETS="" ;;
    test) APT_PACKAGES="$BUILD_PACKAGES $PG_PACKAGES $TEST_PACKAGES" ;;
    *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

missing=""
for pkg in $APT_PACKAGES; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
else
    echo "apt packages: all present"
fi

# Node.js builds and tests the cashier app's UI (Vite needs Node 20.19+).
if ! command -v npm >/dev/null 2>&1; then
    echo "installing: nodejs npm"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
    echo "warning: Node.js $(node --version 2>/dev/null) is older than 20; the UI build needs Node 20.19 or newer" >&2
fi

if command -v rustup >/dev/null 2>&1; then
    installed="$(rustup target list --installed)"
    for target in $RUST_TARGETS; do
        if ! printf '%s\n' "$installed" | grep -qx "$target"; then
            rustup target add "$target"
        fi
    done
else
    echo "warning: rustup not found; install Rust (https://rustup.rs), then re-run" >&2
fi
