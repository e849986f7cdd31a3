-- Sentra terminal schema, step 3: the sync client.
-- Forward-only. What the terminal knows about its upstreams (cloud and
-- optional branch relay), and the master data it pulls from them.

-- Enrollment and sync progress, one row. The bearer credential is a secret:
-- it lives only here, inside the encrypted database.
CREATE TABLE sync_state (
    singleton          INTEGER PRIMARY KEY CHECK (singleton = 1),
    server_url         TEXT,
    relay_url          TEXT,
    credential         TEXT,
    enrolled_device_id TEXT,
    enrolled_branch    TEXT,
    enrolled_at_ms     INTEGER,
    -- Highest contiguous seq each upstream is known to hold durably.
    relay_acked_seq    INTEGER NOT NULL DEFAULT 0 CHECK (relay_acked_seq >= 0),
    cloud_acked_seq    INTEGER NOT NULL DEFAULT 0 CHECK (cloud_acked_seq >= 0),
    -- Pull cursors are per upstream: a relay's and the cloud's are
    -- different spaces. '' = from the start.
    relay_pull_cursor  TEXT    NOT NULL DEFAULT '',
    cloud_pull_cursor  TEXT    NOT NULL DEFAULT '',
    last_round_ms      INTEGER,
    last_outcome       TEXT,
    last_success_ms    INTEGER,
    last_upstream      TEXT CHECK (last_upstream IN ('relay', 'cloud')),
    last_error_kind    TEXT,
    last_error_message TEXT,
    last_error_at_ms   INTEGER
) STRICT;
INSERT INTO sync_state (singleton) VALUES (1);

-- Entries an upstream refused, the latest refusal per upstream and seq, for
-- the UI and support. Cleared when that upstream later acknowledges the seq.
CREATE TABLE sync_refusals (
    upstream TEXT    NOT NULL CHECK (upstream IN ('relay', 'cloud')),
    seq      INTEGER NOT NULL,
    reason   TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    at_ms    INTEGER NOT NULL,
    PRIMARY KEY (upstream, seq)
) STRICT, WITHOUT ROWID;

-- Price history as pulled (the branch's own rows and chain-wide ones, branch
-- NULL). The product's `unit_price` is the row in force now, recomputed at
-- every sync round so prices set ahead of time take effect offline too.
CREATE TABLE prices (
    price_id          INTEGER PRIMARY KEY,
    sku               TEXT    NOT NULL,
    branch            TEXT,
    price             INTEGER NOT NULL CHECK (price >= 0),
    effective_from_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX prices_by_sku ON prices (sku, effective_from_ms);

-- Products as pulled. A product enters `products` (becomes sellable) only
-- once a price is in force for it, so nothing is ever sold at 0 for lack of
-- a price.
CREATE TABLE pulled_products (
    sku          TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    barcodes     TEXT    NOT NULL,  -- JSON array of strings
    tax_category TEXT    NOT NULL,
    active       INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT, WITHOUT ROWID;

-- An inactive product stays known (receipts, refunds, stock counts) but is
-- no longer sold.
ALTER TABLE products ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));

-- Cashiers and supervisors who may sign in here; PINs as Argon2id hashes.
CREATE TABLE cashiers (
    user_id  TEXT    PRIMARY KEY,
    branch   TEXT,
    name     TEXT    NOT NULL,
    role     TEXT    NOT NULL,
    pin_hash TEXT    NOT NULL,
    active   INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT, WITHOUT ROWID;
