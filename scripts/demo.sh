#!/usr/bin/env bash
# Terminal-only demo: a new terminal, the sample catalog, a shift of sales
# (cash, card, QRIS, voucher, split, weighed goods, discounts), a void, a
# refund, cash out, the X report, the Z report and a journal check.
# Demo data lives in .data/demo (re-created on each run; nothing else is touched).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-deps.sh build

cargo build -p sentra-terminal --bin sentra-term --locked --quiet
term="$CARGO_TARGET_DIR/debug/sentra-term"
demo="$PWD/.data/demo"
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
