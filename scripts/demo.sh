#!/usr/bin/env bash
# Demo: a branch with three terminals and a relay, the cloud behind it.
# 1. A private PostgreSQL (under .data/demo, unless DATABASE_URL is given) and
#    `sentra-sync serve`: a branch, its catalog, enrollment codes.
# 2. `sentra-sync relay` on the branch's "mini-PC", enrolled as its relay.
# 3. Three terminals: set up, enrolled, catalog and prices pulled through the
#    relay; a shift each, sales of every tender.
# 4. The uplink is cut (the cloud stops answering): the terminals keep
#    selling and deliver to the relay, which holds the entries.
# 5. The uplink returns: the relay forwards; every entry reaches the cloud.
# 6. Shifts close; the head-office ledger is printed next to the sum of the
#    terminals' Z reports: they must agree to the last rupiah.
# 7. Head office: a second branch (BDG01) with a till, an admin and a JKT01
#    branch manager with printed credentials, and the URL of the head-office
#    pages (/office) to sign in at.
# Demo data lives in .data/demo (re-created on each run; nothing else is touched).
#
# Usage: scripts/demo.sh [--keep]
#   --keep (or SENTRA_DEMO_KEEP=1): leave the cloud, relay and database running
#   at the end, for a person to look at the head-office pages; Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
keep="${SENTRA_DEMO_KEEP:-0}"
for arg in "$@"; do
    case "$arg" in
        --keep) keep=1 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
source scripts/env.sh
scripts/install-deps.sh build

cargo build -p sentra-terminal --bin sentra-term -p sentra-sync --bin sentra-sync --locked --quiet
term="$CARGO_TARGET_DIR/debug/sentra-term"
sync="$CARGO_TARGET_DIR/debug/sentra-sync"
demo="$PWD/.data/demo"
if [ -d "$demo/pg" ]; then scripts/pg.sh stop "$demo/pg"; fi
rm -rf "$demo"
mkdir -p "$demo/keys"

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
cloud() { printf '\n\033[1m$ sentra-sync %s\033[0m\n' "$*"; "$sync" "$@"; }
# t N ARGS: run sentra-term on terminal N.
t() { local n="$1"; shift; printf '\n\033[1m[T0%s] $ sentra-term %s\033[0m\n' "$n" "$*"; "$term" --data-dir "$demo/T0$n" "$@"; }
# sync_until N WANT: sync terminal N until its exit status is WANT (0: all in
# the cloud, 3: held by the relay, 4: still local); 20 rounds at most.
sync_until() {
    local n="$1" want="$2" rc=0
    for _ in $(seq 1 20); do
        rc=0; "$term" --data-dir "$demo/T0$n" sync >/dev/null 2>&1 || rc=$?
        [ "$rc" -eq "$want" ] && { printf '[T0%s] sync: exit %s\n' "$n" "$rc"; return 0; }
        sleep 0.5
    done
    echo "T0$n: sync never reached exit $want (last $rc)" >&2
    "$term" --data-dir "$demo/T0$n" status >&2 || true
    return 1
}

# Wait for "listening on URL" in $1 from process $2; print the URL.
wait_listening() {
    local out="$1" pid="$2" log="$3"
    for _ in $(seq 1 400); do
        grep -q '^listening on ' "$out" 2>/dev/null && { sed -n 's/^listening on //p' "$out"; return 0; }
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.05
    done
    echo "timed out waiting for $out" >&2; return 1
}

serve_pid="" relay_pid="" own_pg=""
cleanup() {
    for pid in $relay_pid $serve_pid; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [ -n "$own_pg" ]; then scripts/pg.sh stop "$demo/pg"; fi
}
trap cleanup EXIT

# ---- 1. the cloud ------------------------------------------------------------
bold "== 1. Cloud: PostgreSQL and sentra-sync serve =="
if [ -z "${DATABASE_URL:-}" ]; then
    DATABASE_URL="$(scripts/pg.sh start "$demo/pg")"; own_pg=1
    echo "private PostgreSQL cluster in $demo/pg"
fi
export DATABASE_URL
start_cloud() { # [ADDR]
    "$sync" serve --listen "${1:-127.0.0.1:0}" --log-format text >"$demo/serve.out" 2>>"$demo/serve.log" &
    serve_pid=$!
    cloud_url="$(wait_listening "$demo/serve.out" "$serve_pid" "$demo/serve.log")"
}
start_cloud
echo "cloud at $cloud_url"
cloud branch create JKT01 --name "Jakarta Kemang" --timezone Asia/Jakarta
cloud catalog import demo/catalog.csv --branch JKT01
relay_code="$("$sync" enroll-code --branch JKT01 --kind relay)"

# ---- 2. the relay ------------------------------------------------------------
bold "== 2. The branch relay (sentra-sync relay) =="
echo "$ sentra-sync relay --data-dir $demo/relay --upstream $cloud_url --listen 127.0.0.1:0 --enroll-code $relay_code"
"$sync" relay --data-dir "$demo/relay" --upstream "$cloud_url" --listen 127.0.0.1:0 \
    --enroll-code "$relay_code" --key-store file --key-file "$demo/keys/relay.key" \
    --refresh-secs 2 --log-format text >"$demo/relay.out" 2>"$demo/relay.log" &
relay_pid=$!
relay_url="$(wait_listening "$demo/relay.out" "$relay_pid" "$demo/relay.log")"
curl -fsS "$relay_url/health"; echo "  <- GET $relay_url/health"

# ---- 3. three terminals --------------------------------------------------------
bold "== 3. Three terminals, enrolled, catalog pulled through the relay =="
for n in 1 2 3; do
    t "$n" init --branch JKT01 --device "T0$n" --key-store file --key-file "$demo/keys/T0$n.key" >/dev/null
    code="$("$sync" enroll-code --branch JKT01)"
    t "$n" enroll --server "$cloud_url" --code "$code" --relay "$relay_url" --name "Till $n"
    t "$n" sync
    t "$n" shift open --float 200000 --cashier "KASIR$n" >/dev/null
done
t 1 catalog show AQUA600

ring() { # N: a few sales of every tender on terminal N
    local n="$1"
    "$term" --data-dir "$demo/T0$n" sell --item 8998866200301x5 --item AQUA600x2 --pay cash:50000 >/dev/null
    "$term" --data-dir "$demo/T0$n" sell --item BERAS-KGx2.5 --item GULA-1KG --pay qris:54150:QR-T0$n-$RANDOM >/dev/null
    "$term" --data-dir "$demo/T0$n" sell --item MINYAK-2L@10% --item KOPI-KPL --pay card:50150:APPR-$RANDOM >/dev/null
    "$term" --data-dir "$demo/T0$n" sell --item TEH-BTLx6 --item SABUN-LFBx3 --discount 5% --pay voucher:20000:VCH-T0$n-$RANDOM --pay cash:30000 >/dev/null
}
for n in 1 2 3; do ring "$n"; done
t 2 sell --item IND-GRGx10 --pay cash:35000
for n in 1 2 3; do sync_until "$n" 0; done

# ---- 4. uplink cut --------------------------------------------------------------
bold "== 4. The uplink is cut (the cloud stops answering); the shop keeps selling =="
cloud_addr="${cloud_url#http://}"
kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
for round in 1 2 3; do for n in 1 2 3; do ring "$n"; done; done
t 3 refund JKT01-T03-000001 --item AQUA600 --reason "damaged bottle"
for n in 1 2 3; do sync_until "$n" 3; done
t 1 status
curl -fsS "$relay_url/health"; echo "  <- the relay holds the entries; uplink down"

# ---- 5. uplink back -----------------------------------------------------------
bold "== 5. The uplink returns: the relay forwards =="
start_cloud "$cloud_addr"
for n in 1 2 3; do sync_until "$n" 0; done
curl -fsS "$relay_url/health"; echo

# ---- 6. close and reconcile -----------------------------------------------------
bold "== 6. Shifts close; head office reconciles =="
zsum="$demo/z-reports.json"
: >"$zsum"
for n in 1 2 3; do
    expected="$("$term" --data-dir "$demo/T0$n" --json report x | jq '.expected_cash')"
    "$term" --data-dir "$demo/T0$n" --json shift close --counted "$expected" >>"$zsum"
    sync_until "$n" 0
done
t 1 report z
cloud ledger --branch JKT01
ledger="$("$sync" ledger --branch JKT01 --json)"
bold "Head-office ledger vs. the sum of the three Z reports (IDR)"
jq -rn --argjson l "$ledger" --slurpfile z "$zsum" '
  ($z | map(.payments) | map(to_entries) | add | group_by(.key)
      | map({key: .[0].key, value: (map(.value) | add)}) | from_entries) as $zp
  | (["method", "ledger", "Z reports", ""] | @tsv),
    (($l.payments + $zp) | keys[] as $m
      | [$m, ($l.payments[$m] // 0), ($zp[$m] // 0),
         (if ($l.payments[$m] // 0) == ($zp[$m] // 0) then "ok" else "MISMATCH" end)] | @tsv)' \
  | column -t -s $'\t'
ok="$(jq -rn --argjson l "$ledger" --slurpfile z "$zsum" '
  ($z | map(.payments) | map(to_entries) | add | group_by(.key)
      | map({key: .[0].key, value: (map(.value) | add)}) | from_entries) as $zp
  | ($l.payments | with_entries(select(.value != 0))) == ($zp | with_entries(select(.value != 0)))')"
printf '\nConflicts raised: %s\n' "$(psql "$DATABASE_URL" -Atc "SELECT kind || ': ' || count(*) FROM conflicts GROUP BY kind ORDER BY kind" | paste -sd, - || true)"
if [ "$ok" = "true" ]; then
    bold "Every sale reached the cloud exactly once: the ledger equals the Z reports."
else
    bold "MISMATCH between the ledger and the Z reports"; exit 1
fi

# ---- 7. head office ---------------------------------------------------------------
bold "== 7. Head office in the browser =="
cloud branch create BDG01 --name "Bandung Dago" --timezone Asia/Jakarta
"$sync" catalog import demo/catalog.csv --branch BDG01 >/dev/null
t 4 init --branch BDG01 --device T01 --key-store file --key-file "$demo/keys/T04.key" >/dev/null
t 4 enroll --server "$cloud_url" --code "$("$sync" enroll-code --branch BDG01)" --name "Bandung till 1"
t 4 sync >/dev/null
t 4 shift open --float 150000 --cashier "KASIR-BDG" >/dev/null
# Head office raises the price after this till pulled it: its next sale is at
# the old price, a stale_price conflict for finance to review at /office.
cloud price set TEH-BTL 6500 --branch BDG01
"$term" --data-dir "$demo/T04" sell --item TEH-BTLx2 --item AQUA600 --pay cash:20000 >/dev/null
"$term" --data-dir "$demo/T04" sell --item BERAS-KGx5 --pay qris:72500:QR-BDG-$RANDOM >/dev/null
sync_until 4 0
printf 'Conflicts for head office to review: %s\n' "$(psql "$DATABASE_URL" -Atc "SELECT b.code || ' ' || kind || ': ' || count(*) FROM conflicts JOIN branches b USING (branch_id) GROUP BY b.code, kind ORDER BY b.code, kind" | paste -sd, - || true)"
admin_pw="sentra-admin-demo"
manager_pw="sentra-manajer-demo"
printf '%s\n' "$admin_pw" | cloud office-user add admin@sentra.demo --role admin >/dev/null
printf '%s\n' "$manager_pw" | cloud office-user add manajer.jkt@sentra.demo --role manager --branch JKT01 >/dev/null
bold "Head office: $cloud_url/office"
printf '  %-26s %-22s %s\n' "user" "password" "sees" \
    "admin@sentra.demo" "$admin_pw" "every branch, the audit log" \
    "manajer.jkt@sentra.demo" "$manager_pw" "JKT01 only"
if [ "$keep" = "1" ]; then
    bold "Everything keeps running (--keep): open $cloud_url/office in a browser. Ctrl-C stops it all."
    wait
else
    echo "(run with --keep to leave it running and look at the pages)"
fi
