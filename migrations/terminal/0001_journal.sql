-- Sentra terminal schema, step 1: identity, journal, projections, catalog.
-- Forward-only. Applied by rusqlite_migration (tracks PRAGMA user_version).

-- This device's identity. The Ed25519 private key lives only here, inside the
-- encrypted database.
CREATE TABLE device (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id      TEXT    NOT NULL,
    branch         TEXT    NOT NULL,
    device_name    TEXT    NOT NULL,
    signing_key    BLOB    NOT NULL CHECK (length(signing_key) = 32),
    public_key     BLOB    NOT NULL CHECK (length(public_key) = 32),
    currency       TEXT    NOT NULL,
    tax_mode       TEXT    NOT NULL CHECK (tax_mode IN ('inclusive', 'exclusive')),
    created_at_ms  INTEGER NOT NULL
) STRICT;

CREATE TABLE tax_rates (
    category TEXT PRIMARY KEY,
    percent  TEXT NOT NULL
) STRICT;

-- The journal: one immutable row per business fact, keyed by (device_id, seq).
-- A terminal holds only its own device's entries; the relay, many devices'.
CREATE TABLE journal (
    device_id    TEXT    NOT NULL,
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    id           TEXT    NOT NULL,
    format       INTEGER NOT NULL,
    branch       TEXT    NOT NULL,
    hlc_wall_ms  INTEGER NOT NULL,
    hlc_counter  INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    prev_hash    BLOB    NOT NULL,
    hash         BLOB    NOT NULL,
    signature    BLOB    NOT NULL,
    PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;

-- Nothing is edited in place; a correction is a new entry.
CREATE TRIGGER journal_is_append_only_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;
CREATE TRIGGER journal_is_append_only_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;

-- ---------------------------------------------------------------- catalog
CREATE TABLE products (
    sku            TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    unit_price     INTEGER NOT NULL CHECK (unit_price >= 0),
    tax_category   TEXT    NOT NULL,
    -- Stock as imported (NULL: never imported), and the journal seq it was
    -- imported after: stock on hand is this baseline plus the movements of
    -- later entries.
    baseline_stock_milli INTEGER,
    baseline_after_seq   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE barcodes (
    barcode TEXT PRIMARY KEY,
    sku     TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX barcodes_by_sku ON barcodes (sku);

CREATE VIRTUAL TABLE products_fts USING fts5 (
    name,
    content = 'products',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name) VALUES (new.rowid, new.name);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF name ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
    INSERT INTO products_fts (rowid, name) VALUES (new.rowid, new.name);
END;

-- ------------------------------------------------------------ projections
-- Everything below is derived from the journal and can be rebuilt from it.
-- Every B-tree a sale touches is pages encrypted, written and fsynced on the
-- sale's path (see docs/benchmarks.md), so: keyed tables are WITHOUT ROWID,
-- no index is kept that no query reads, a sale's lines and tenders stay in
-- its journal entry (read back from there for refunds and voids), and the
-- shift row carries payments and receipt numbering.

CREATE TABLE shifts (
    shift_id       TEXT    PRIMARY KEY,
    status         TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
    opened_seq     INTEGER NOT NULL,
    opened_at_ms   INTEGER NOT NULL,
    cashier        TEXT,
    opening_float  INTEGER NOT NULL,
    sales_count    INTEGER NOT NULL DEFAULT 0,
    gross          INTEGER NOT NULL DEFAULT 0,
    discounts      INTEGER NOT NULL DEFAULT 0,
    tax            INTEGER NOT NULL DEFAULT 0,
    sales_total    INTEGER NOT NULL DEFAULT 0,
    refunds_count  INTEGER NOT NULL DEFAULT 0,
    refunds_total  INTEGER NOT NULL DEFAULT 0,
    voids_count    INTEGER NOT NULL DEFAULT 0,
    voids_total    INTEGER NOT NULL DEFAULT 0,
    cash_in        INTEGER NOT NULL DEFAULT 0,
    cash_out       INTEGER NOT NULL DEFAULT 0,
    -- Net takings per payment method, a JSON object {"cash": 12000, ...}:
    -- kept in the shift row so a sale writes one row here, not one per method.
    payments       TEXT    NOT NULL DEFAULT '{}',
    -- Receipts and refund notes numbered before this shift: the next receipt
    -- is receipts_before + sales_count + 1, with no counter row to write.
    receipts_before INTEGER NOT NULL,
    refunds_before  INTEGER NOT NULL,
    closed_seq     INTEGER,
    closed_at_ms   INTEGER,
    expected_cash  INTEGER,
    counted_cash   INTEGER,
    variance       INTEGER
) STRICT;
-- At most one open shift per terminal.
CREATE UNIQUE INDEX shifts_one_open ON shifts (status) WHERE status = 'open';

CREATE TABLE sales (
    receipt_no  TEXT    PRIMARY KEY,
    entry_id    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    shift_id    TEXT    NOT NULL REFERENCES shifts (shift_id),
    sold_at_ms  INTEGER NOT NULL,
    gross       INTEGER NOT NULL,
    discounts   INTEGER NOT NULL,
    tax         INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    paid        INTEGER NOT NULL,
    change      INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('completed', 'voided')),
    voided_seq  INTEGER
) STRICT, WITHOUT ROWID;

CREATE TABLE refunds (
    refund_no   TEXT    PRIMARY KEY,
    entry_id    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    receipt_no  TEXT    NOT NULL REFERENCES sales (receipt_no),
    shift_id    TEXT    NOT NULL REFERENCES shifts (shift_id),
    total       INTEGER NOT NULL,
    tax         INTEGER NOT NULL,
    method      TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX refunds_by_receipt ON refunds (receipt_no);

CREATE TABLE refund_lines (
    refund_no      TEXT    NOT NULL REFERENCES refunds (refund_no),
    line_no        INTEGER NOT NULL,
    sku            TEXT    NOT NULL,
    quantity_milli INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    tax            INTEGER NOT NULL,
    PRIMARY KEY (refund_no, line_no)
) STRICT, WITHOUT ROWID;

CREATE TABLE cash_movements (
    seq       INTEGER PRIMARY KEY,
    shift_id  TEXT    NOT NULL REFERENCES shifts (shift_id),
    direction TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    amount    INTEGER NOT NULL,
    reason    TEXT
) STRICT;

CREATE TABLE stock (
    sku           TEXT    PRIMARY KEY,
    on_hand_milli INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
