-- Sentra terminal schema, step 2: the branch relay's tables.
-- The relay runs on the same schema as a terminal (one migration list, one
-- key custody); on a terminal these tables stay empty. The relay keeps its
-- terminals' entries in `journal` (many devices there, one on a terminal).

-- The relay's own identity: made before enrollment, so a failed enrollment
-- can be retried with a new code and the same key pair.
CREATE TABLE relay_identity (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    signing_key    BLOB    NOT NULL CHECK (length(signing_key) = 32),
    upstream       TEXT    NOT NULL,
    -- Set by enrollment, together.
    branch         TEXT,
    credential     TEXT,
    enrolled_at_ms INTEGER,
    created_at_ms  INTEGER NOT NULL
) STRICT;

-- The branch's devices as the cloud registered them: keys to verify entries,
-- credential hashes to recognise terminals while the uplink is down.
CREATE TABLE relay_devices (
    device_id       TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    public_key      BLOB    NOT NULL CHECK (length(public_key) = 32),
    credential_hash BLOB    NOT NULL CHECK (length(credential_hash) = 32),
    revoked         INTEGER NOT NULL CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE INDEX relay_devices_by_credential ON relay_devices (credential_hash);

-- Per device held: the chain tip here, and how far the cloud holds it.
CREATE TABLE relay_heads (
    device_id       TEXT    PRIMARY KEY,
    seq             INTEGER NOT NULL,
    hash            BLOB    NOT NULL CHECK (length(hash) = 32),
    cloud_acked_seq INTEGER NOT NULL DEFAULT 0,
    -- The cloud's last refusal of this device's next entry, for operators.
    last_refusal    TEXT
) STRICT, WITHOUT ROWID;

-- Master data pulled from the cloud, served to the terminals. `rev` grows
-- with every write (AUTOINCREMENT never reuses a value), so it is the
-- relay's own pull cursor.
CREATE TABLE pull_cache (
    rev     INTEGER PRIMARY KEY AUTOINCREMENT,
    entity  TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    UNIQUE (entity, key)
) STRICT;

-- The cloud's pull cursor, saved with the changes it covers.
CREATE TABLE relay_pull_state (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    cursor      TEXT    NOT NULL,
    pulled_at_ms INTEGER NOT NULL
) STRICT;
