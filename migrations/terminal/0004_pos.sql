-- The cashier app's own state: settings, parked sales and the print queue.
-- None of it is journal: a parked sale is not a sale until it is paid, and a
-- print job is a copy of a document the journal already holds.

CREATE TABLE app_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- A cart put aside (the customer went back for an item); resumed by anyone.
CREATE TABLE parked_sales (
    park_id      TEXT    PRIMARY KEY,
    parked_at_ms INTEGER NOT NULL,
    cashier      TEXT,
    label        TEXT    NOT NULL,
    cart_json    TEXT    NOT NULL
) STRICT;

-- Documents waiting for (or sent to) the receipt printer, oldest first. A job
-- is 'printed' only after the printer took every byte; until then it stays
-- 'pending' and the app retries it.
CREATE TABLE print_jobs (
    job_id        INTEGER PRIMARY KEY,
    document      TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    bytes         BLOB    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'printed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at_ms INTEGER NOT NULL,
    printed_at_ms INTEGER
) STRICT;

CREATE INDEX print_jobs_pending ON print_jobs (job_id) WHERE status = 'pending';
