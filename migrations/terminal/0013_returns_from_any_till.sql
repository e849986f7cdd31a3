-- Sentra terminal schema, step 13: returns from any till of the branch
-- (issue 15). The relay (whose database has this schema too) serves the
-- entries of a receipt; a till verifies them with the keys of its branch's
-- devices and keeps the sale it refunds.

-- Receipt look-ups: the sale, its void and its refunds, by receipt number.
CREATE INDEX journal_by_receipt ON journal (json_extract(payload, '$.receipt_no'))
    WHERE kind IN ('sale_completed', 'sale_voided', 'refund_issued');

-- The branch's devices as the cloud signed them (pulled `device`): the key
-- that verifies another till's entries.
CREATE TABLE branch_devices (
    device_id   TEXT    PRIMARY KEY,
    public_key  TEXT    NOT NULL CHECK (length(public_key) = 64),
    revoked     INTEGER NOT NULL CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;

-- Sales of other tills fetched for a return, verified: the signed entry as
-- served, and the voids and refunds of it the upstream knew (verified too).
CREATE TABLE foreign_sales (
    receipt_no     TEXT    PRIMARY KEY,
    entry          TEXT    NOT NULL,
    related        TEXT    NOT NULL,
    fetched_from   TEXT    NOT NULL CHECK (fetched_from IN ('relay', 'cloud')),
    fetched_at_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- A refund may be of another till's sale: its receipt need not be in
-- `sales`. SQLite cannot drop a constraint, so both refund tables are
-- rebuilt (renamed first, so the foreign keys follow, then copied).
ALTER TABLE refund_lines RENAME TO refund_lines_old;
ALTER TABLE refunds RENAME TO refunds_old;
CREATE TABLE refunds (
    refund_no   TEXT    PRIMARY KEY,
    entry_id    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    receipt_no  TEXT    NOT NULL,
    shift_id    TEXT    NOT NULL REFERENCES shifts (shift_id),
    total       INTEGER NOT NULL,
    tax         INTEGER NOT NULL,
    method      TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO refunds SELECT * FROM refunds_old;
CREATE TABLE refund_lines (
    refund_no      TEXT    NOT NULL REFERENCES refunds (refund_no),
    line_no        INTEGER NOT NULL,
    sku            TEXT    NOT NULL,
    quantity_milli INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    tax            INTEGER NOT NULL,
    PRIMARY KEY (refund_no, line_no)
) STRICT, WITHOUT ROWID;
INSERT INTO refund_lines SELECT * FROM refund_lines_old;
DROP TABLE refund_lines_old;
DROP TABLE refunds_old;
CREATE INDEX refunds_by_receipt ON refunds (receipt_no);

-- Devices were not kept before: pull master data again from the start
-- (every change is an upsert), so the keys arrive.
UPDATE sync_state SET relay_pull_cursor = '', cloud_pull_cursor = '';
