-- Sentra terminal schema, step 12: the drawer at shift close and between
-- sales. `counted_denominations`: the count by note and coin (JSON array of
-- {"value", "count"}, as in the shift_closed entry), NULL when only the
-- total was typed. `no_sales`: drawer_opened entries of the shift.
ALTER TABLE shifts ADD COLUMN counted_denominations TEXT;
ALTER TABLE shifts ADD COLUMN no_sales INTEGER NOT NULL DEFAULT 0 CHECK (no_sales >= 0);
