#!/usr/bin/env bash
# Demo: a terminal and the cloud.
# 1. A new terminal, the sample catalog, a shift of sales (cash, card, QRIS,
#    voucher, split, weighed goods, discounts), a void, a refund, cash out, the
#    X report, the Z report and a journal check.
# 2. A private PostgreSQL and `sentra-sync serve`: a branch, the catalog, an
#    enrollment code; the terminal enrolls and its journal is pushed over HTTP
#    (twice: the replay is a no-op), then the cloud's reconciled ledger.
#    (The terminal's own sync client and the branch relay come with the next
#    issue; here the push is made with curl from `journal export`.)
# Demo data lives in .data/demo (re-created on each run; nothing else is touched).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-deps.sh build

cargo build -p sentra-terminal --bin sentra-term -p sentra-sync --bin sentra-sync --locked --quiet
term="$CARGO_TARGET_DIR/debug/sentra-term"
sync="$CARGO_TARGET_DIR/debug/sentra-sync"
demo="$PWD/.data/demo"
if [ -d "$demo/pg" ]; then scripts/pg.sh stop "$demo/pg"; fi
rm -rf "$demo"
mkdir -p "$demo/keys"
export SENTRA_DATA_DIR="$demo/JKT01-T01"
say() { printf '\n\033[1m$ sentra-term %s\033[0m\n' "$*"; "$term" "$@"; }

# A headless box has no OS keyring: keep the key in a file outside the data dir.
say init --branch JKT01 --device T01 --key-store file --key-file "$demo/keys/JKT01-T01.key"
say catalog import demo/catalog.csv
say catalog search "indo"
say shift open --float 300000 --cashier SITI
say sell --item 8998866200301x5 --item AQUA600x2 --pay cash:50000
say sell --item BERAS-KGx2.5 --item GULA-1KG --pay qris:54150:QR-20261123-0001
say sell --item MINYAK-2L@10% --item KOPI-KPL --pay card:50150:APPR-884213
say sell --item TEH-BTLx6 --item SABUN-LFBx3 --discount 5% --pay voucher:20000:VCH-7781 --pay cash:30000
say sell --item IND-GRGx10 --pay cash:35000
say void JKT01-T01-000005 --reason "customer changed mind"
say refund JKT01-T01-000001 --item AQUA600 --reason "damaged bottle"
say cash out 100000 --reason "safe drop"
say report x
say journal verify
say journal check
say shift close --counted 253350
printf '\nJournal, encrypted at rest (first bytes of %s):\n' "$SENTRA_DATA_DIR/journal.db"
head -c 48 "$SENTRA_DATA_DIR/journal.db" | od -A n -t x1 | head -3

# ---- the cloud ------------------------------------------------------------
cloud() { printf '\n\033[1m$ sentra-sync %s\033[0m\n' "$*"; "$sync" "$@"; }
printf '\n\033[1m== Cloud: a private PostgreSQL and sentra-sync serve ==\033[0m\n'
DATABASE_URL="$(scripts/pg.sh start "$demo/pg")"
export DATABASE_URL
serve_pid=""
cleanup() {
    if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
    scripts/pg.sh stop "$demo/pg"
}
trap cleanup EXIT
"$sync" serve --listen 127.0.0.1:0 --log-format text >"$demo/serve.out" 2>"$demo/serve.log" &
serve_pid=$!
for _ in $(seq 1 200); do
    grep -q '^listening on ' "$demo/serve.out" 2>/dev/null && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$demo/serve.log" >&2; exit 1; }
    sleep 0.05
done
url="$(sed -n 's/^listening on //p' "$demo/serve.out")"
curl -fsS "$url/health"; echo "  <- GET $url/health"

cloud branch create JKT01 --name "Jakarta Kemang" --timezone Asia/Jakarta
cloud catalog import demo/catalog.csv --branch JKT01
printf '\n\033[1m$ sentra-sync enroll-code --branch JKT01\033[0m\n'
code="$("$sync" enroll-code --branch JKT01)"
echo "$code"

info="$("$term" --json info)"
device_id="$(printf '%s' "$info" | sed -n 's/.*"device_id": *"\([^"]*\)".*/\1/p')"
public_key="$(printf '%s' "$info" | sed -n 's/.*"public_key": *"\([^"]*\)".*/\1/p')"
printf '\n\033[1mPOST /v1/enroll\033[0m (device %s)\n' "$device_id"
enrolled="$(curl -fsS -H 'sentra-protocol: 1' -H 'content-type: application/json' \
    -d "{\"code\":\"$code\",\"name\":\"Till 1\",\"public_key\":\"$public_key\",\"device_id\":\"$device_id\"}" \
    "$url/v1/enroll")"
credential="$(printf '%s' "$enrolled" | sed -n 's/.*"credential":"\([0-9a-f]*\)".*/\1/p')"
printf '%s\n' "$enrolled" | sed 's/"credential":"[0-9a-f]*"/"credential":"<hidden>"/'

push() {
    { printf '{"sent_at_ms":%s,"entries":' "$(date +%s%3N)"; "$term" --json journal export; printf '}'; } >"$demo/push.json"
    curl -fsS -H 'sentra-protocol: 1' -H 'content-type: application/json' \
        -H "authorization: Bearer $credential" --data-binary @"$demo/push.json" "$url/v1/push"
    echo
}
printf '\n\033[1mPOST /v1/push\033[0m (the whole journal)\n'
push
printf '\n\033[1mPOST /v1/push\033[0m again (a replay: nothing new is stored)\n'
push
cloud device list
cloud ledger --branch JKT01
cloud ledger --branch JKT01 --json
printf '\nConflicts raised: %s\n' "$(psql "$DATABASE_URL" -Atc 'SELECT count(*) FROM conflicts')"
