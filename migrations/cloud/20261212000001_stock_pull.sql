-- Stock on hand for the tills (GET /v1/stock): every write to a stock level
-- stamps it with the writer's transaction id, so a till can ask for the
-- levels changed since a cursor with the same late-commit rule as the pull
-- change log (docs/sync-protocol.md, "Stock levels"). Only the latest level
-- per item matters, so no log is kept: the row itself carries the stamp.
-- Existing rows get 0 and so reach every till on its first ask.
ALTER TABLE stock_levels ADD COLUMN changed_txid xid8 NOT NULL DEFAULT '0';

CREATE FUNCTION sentra_stock_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_txid := pg_current_xact_id();
    RETURN NEW;
END;
$$;

-- Whatever writes the level (ingest, catalog import, psql), the stamp moves.
CREATE TRIGGER stock_levels_stamp BEFORE INSERT OR UPDATE ON stock_levels
    FOR EACH ROW EXECUTE FUNCTION sentra_stock_stamp();

CREATE INDEX stock_levels_changed ON stock_levels (branch_id, changed_txid, sku);
