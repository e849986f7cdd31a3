-- Sentra terminal schema, step 14: stock on hand from the cloud (issue 15).
-- The till shows, per item, the level the cloud last sent (`GET /v1/stock`)
-- plus this till's own movements after the entries the cloud had counted
-- in it; see docs/sync-protocol.md, "Stock levels".

-- This till's own stock movements, one row per line of its own entries:
-- a sale (negative), its void and a refund (positive), or a count (sets the
-- level). Part of the projections: rebuilt from the journal like them.
CREATE TABLE stock_moves (
    seq            INTEGER NOT NULL,
    line           INTEGER NOT NULL,
    sku            TEXT    NOT NULL,
    delta_milli    INTEGER,
    counted_milli  INTEGER,
    CHECK ((delta_milli IS NULL) <> (counted_milli IS NULL)),
    PRIMARY KEY (seq, line)
) STRICT, WITHOUT ROWID;
CREATE INDEX stock_moves_by_sku ON stock_moves (sku, seq);

-- The cloud's levels for this branch, each with this till's chain tip as the
-- cloud held it when the level was read: movements after `own_seq` are not
-- in `on_hand_milli` yet.
CREATE TABLE cloud_stock (
    sku            TEXT    PRIMARY KEY,
    on_hand_milli  INTEGER NOT NULL,
    own_seq        INTEGER NOT NULL CHECK (own_seq >= 0),
    -- 0: the cloud has a level but no stock figure to run it from (never
    -- imported with stock nor counted); the till shows none.
    tracked        INTEGER NOT NULL CHECK (tracked IN (0, 1)),
    pulled_at_ms   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Where the next `GET /v1/stock` starts ('' = from the start). The cloud's
-- cursor whichever way it came (a relay passes the cloud's page through).
ALTER TABLE sync_state ADD COLUMN stock_cursor TEXT NOT NULL DEFAULT '';

-- The movements of the entries already in the journal (a terminal's own;
-- a relay's database has no sales or refunds, so nothing is copied there).
INSERT INTO stock_moves (seq, line, sku, delta_milli)
SELECT s.seq, l.key, json_extract(l.value, '$.sku'), -json_extract(l.value, '$.quantity_milli')
FROM sales s
JOIN journal j ON j.device_id = (SELECT device_id FROM device) AND j.seq = s.seq
JOIN json_each(j.payload, '$.lines') AS l;

INSERT INTO stock_moves (seq, line, sku, delta_milli)
SELECT s.voided_seq, l.key, json_extract(l.value, '$.sku'), json_extract(l.value, '$.quantity_milli')
FROM sales s
JOIN journal j ON j.device_id = (SELECT device_id FROM device) AND j.seq = s.seq
JOIN json_each(j.payload, '$.lines') AS l
WHERE s.status = 'voided' AND s.voided_seq IS NOT NULL;

INSERT INTO stock_moves (seq, line, sku, delta_milli)
SELECT r.seq, rl.line_no, rl.sku, rl.quantity_milli
FROM refunds r JOIN refund_lines rl ON rl.refund_no = r.refund_no;

INSERT INTO stock_moves (seq, line, sku, counted_milli)
SELECT j.seq, 0, json_extract(j.payload, '$.sku'), json_extract(j.payload, '$.counted_milli')
FROM journal j
WHERE j.kind = 'stock_counted' AND j.device_id = (SELECT device_id FROM device);
