#!/usr/bin/env bash
# Screenshots of the cashier app's main screens into docs/screenshots: runs the
# real app (a fresh local-only trial till) under a private Xvfb display and
# types at it with xdotool, as a cashier with a keyboard-wedge scanner would.
# Usage: scripts/screenshots.sh [--lang en]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-deps.sh test
scripts/build-ui.sh
cargo build -p sentra-pos --locked --quiet
app="$CARGO_TARGET_DIR/debug/sentra-pos"
out=docs/screenshots
mkdir -p "$out"
work="$(mktemp -d)"
display=":$((90 + RANDOM % 300))"
Xvfb "$display" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
cleanup() { kill "$app_pid" 2>/dev/null || true; kill "$xvfb" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export DISPLAY="$display" NO_AT_BRIDGE=1
sleep 1
"$app" --data-dir "$work/data" >"$work/app.log" 2>&1 &
app_pid=$!
shot() { sleep "${2:-1}"; import -window root "$out/$1.png"; echo "$out/$1.png"; }
keys() { xdotool type --delay 25 "$1"; }
shot setup 6
# Trial: till name, supervisor, PIN twice.
xdotool mousemove 920 307 click 1
keys T01; xdotool key Tab; keys Budi; xdotool key Tab; keys 123456; xdotool key Tab; keys 123456; xdotool key Return
shot pin 4
keys 123456; xdotool key Return
shot open-shift 3
keys 100000; xdotool key Return
sleep 2
for code in 8998866200301 8886008101053 8993675020145 2*8998866200301; do
    xdotool type --delay 5 "$code"; xdotool key Return; sleep 0.4
done
shot sale
xdotool key F12
shot tender
xdotool key 4
shot tender-cash
xdotool key Return
shot receipt 2
xdotool key Return
sleep 1
xdotool key F9
shot menu
xdotool key Escape
sleep 0.5
xdotool key F10
shot undelivered
xdotool key Escape
sleep 0.5
xdotool key ctrl+l
shot lock
keys 123456; xdotool key Return
sleep 1
xdotool key F11
shot settings
xdotool key Escape
sleep 0.5
xdotool key F9
sleep 0.5
xdotool key 4
sleep 1
keys 120500; xdotool key Return
shot z-report 2
