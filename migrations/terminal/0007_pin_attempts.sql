-- Sentra terminal schema, step 7: wrong PINs are counted, and after a few a
-- PIN check is refused for a growing while — kept here so a restart of the
-- app does not reset it. `key` is a user id (sign-in, unlock) or
-- 'supervisor' (approvals, which name no user).
CREATE TABLE pin_attempts (
    key             TEXT    PRIMARY KEY,
    failures        INTEGER NOT NULL CHECK (failures >= 0),
    locked_until_ms INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
