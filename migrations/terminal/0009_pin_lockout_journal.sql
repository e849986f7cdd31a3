-- Sentra terminal schema, step 9: every PIN lock-out is journaled
-- (`pin_locked_out`) for head office. `locked_for_ms`: the length of the
-- lock-out now in force; `journaled_failures`: the failure count the last
-- journaled lock-out was for, so each lock-out is journaled once.
ALTER TABLE pin_attempts ADD COLUMN locked_for_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pin_attempts ADD COLUMN journaled_failures INTEGER NOT NULL DEFAULT 0;
