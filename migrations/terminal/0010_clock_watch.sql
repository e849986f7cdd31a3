-- Sentra terminal schema, step 10: the wall clock's reading at the last
-- entry, so a clock set back is seen (and journaled as
-- `clock_stepped_back`) at the first entry after it.
CREATE TABLE clock_watch (
    singleton     INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_clock_ms INTEGER NOT NULL
) STRICT;
