#!/usr/bin/env bash
# Screenshots of the cashier app's main screens into docs/screenshots: runs the
# real app (a fresh local-only trial till) under a private Xvfb display and
# types at it with xdotool, as a cashier with a keyboard-wedge scanner would.
# The display is wider than the till's 1366×768 window, so the customer
# display (switched to "always" in the settings: Xvfb has one monitor) opens
# beside it rather than on top; each shot is cut from the display.
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
Xvfb "$display" -screen 0 2190x768x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
cleanup() { kill "$app_pid" 2>/dev/null || true; kill "$xvfb" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export DISPLAY="$display" NO_AT_BRIDGE=1
sleep 1
"$app" --data-dir "$work/data" >"$work/app.log" 2>&1 &
app_pid=$!
# shot NAME [WAIT]: the till's window; customer_shot NAME [WAIT]: the
# customer display, 800×600 in the bottom right corner of the display.
shot() { sleep "${2:-1}"; import -window root -crop 1366x768+0+0 +repage "$out/$1.png"; echo "$out/$1.png"; }
customer_shot() { sleep "${2:-1}"; import -window root -crop 800x600+1390+168 +repage "$out/$1.png"; echo "$out/$1.png"; }
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
# A search typed as a person types (a scanner's burst does not search): the
# hits with their price and stock on hand.
xdotool type --delay 180 "teh"
shot search 1.5
xdotool key Escape BackSpace BackSpace BackSpace
sleep 0.5
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
# Customer display "always": Tab from the printer field to its button,
# then on to Save.
xdotool key --delay 80 Tab Tab Tab Tab Tab Tab Tab Tab Tab Return
sleep 0.5
xdotool key --delay 80 Tab Tab Tab Return
sleep 3
customer_shot customer-idle
# A second sale, as the customer sees it; the keys still go to the till.
for code in 8998866200301 8886008101053 2*8993675020145; do
    xdotool type --delay 5 "$code"; xdotool key Return; sleep 0.4
done
customer_shot customer-cart
xdotool key F12
sleep 0.5
xdotool key F3
shot tender-qris
customer_shot customer-qris 0.5
xdotool key F1
sleep 0.5
xdotool key 4
xdotool key Return
customer_shot customer-paid 2
xdotool key Return
sleep 1
xdotool key F9
sleep 0.5
xdotool key 4
sleep 1
keys 140000; xdotool key Return
shot z-report 2
