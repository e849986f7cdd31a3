-- Sentra terminal schema, step 8: master data signed by the cloud.
-- The cloud's master-data key and the relay credential (distinct from the
-- cloud credential, which never goes to the relay) come with enrollment, or
-- from `POST /v1/trust` for a terminal enrolled before.
ALTER TABLE sync_state ADD COLUMN master_key TEXT;
ALTER TABLE sync_state ADD COLUMN relay_credential TEXT;
-- The last master data refused as not the cloud's (altered, unsigned, for
-- another branch): shown by `status` and in the app until a clean pull.
ALTER TABLE sync_state ADD COLUMN master_alert TEXT;
ALTER TABLE sync_state ADD COLUMN master_alert_at_ms INTEGER;
ALTER TABLE sync_state ADD COLUMN master_alert_upstream TEXT;
-- Pull again from the start: what was pulled before carried no signatures.
UPDATE sync_state SET relay_pull_cursor = '', cloud_pull_cursor = '';

-- The version of the last applied change per (entity, key): an older one
-- (a relay behind the cloud, or a replay) is ignored.
CREATE TABLE pulled_versions (
    entity  TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 0),
    PRIMARY KEY (entity, key)
) STRICT, WITHOUT ROWID;

-- The relay's cache keeps what the terminal verifies: scope, version and
-- the cloud's signature. Unsigned rows are dropped and pulled again.
ALTER TABLE pull_cache ADD COLUMN scope TEXT;
ALTER TABLE pull_cache ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pull_cache ADD COLUMN signature TEXT NOT NULL DEFAULT '';
DELETE FROM pull_cache;
DELETE FROM relay_pull_state;
