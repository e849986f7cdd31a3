-- A genuinely signed entry is never refused for what it carries: one that
-- breaks a size or schema rule is stored in quarantine. Some cannot be
-- stored in the typed columns at all (PostgreSQL's jsonb cannot hold U+0000,
-- text cannot hold a NUL in a kind name); those keep their wire JSON, exactly
-- as received, in `raw_entry`, with `kind` = 'unstorable' and no `payload`,
-- so an auditor can still verify the signature.
ALTER TABLE journal ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE journal ADD COLUMN raw_entry text;
ALTER TABLE journal ADD CONSTRAINT journal_payload_or_raw
    CHECK (payload IS NOT NULL OR (raw_entry IS NOT NULL AND quarantine_reason IS NOT NULL));
