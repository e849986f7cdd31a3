-- Master data is signed by the cloud (issue 11, defect 5): the key every
-- server of the cloud signs pulled changes with, made by the first server
-- that starts (`INSERT … ON CONFLICT DO NOTHING`, so several servers
-- starting at once agree on one). It lives with the data it vouches for:
-- whoever can write this database can already change the master data.
CREATE TABLE cloud_keys (
    purpose     text PRIMARY KEY CHECK (purpose IN ('master_data')),
    secret      bytea NOT NULL CHECK (length(secret) = 32),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A terminal's credential for its branch relay, distinct from the one the
-- cloud accepts: the relay learns only this hash, and the cloud refuses the
-- relay credential itself. NULL for relays and for terminals enrolled before
-- (they get one from `POST /v1/trust`).
ALTER TABLE devices ADD COLUMN relay_credential_hash bytea UNIQUE
    CHECK (length(relay_credential_hash) = 32);
