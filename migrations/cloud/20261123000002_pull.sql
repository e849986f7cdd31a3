-- Sentra cloud schema, part 2: the rest of the master data terminals pull
-- (cashiers, tax rates, branch settings) and the change log pull reads.
--
-- Master tables are not ledger tables: they are not partitioned.
--
-- Every write to products, prices, cashiers, tax_rates, branches and devices
-- appends to pull_changes from a row trigger, so the change is recorded in
-- the writer's own transaction whatever wrote it (admin command, ingest,
-- psql). Pull hands out changes in (txid, change_id) order and only from
-- transactions older than the oldest one still running, so a change that
-- commits late is never skipped (see docs/sync-protocol.md, "Pull").

-- Branch settings live on the branch row. The receipt header falls back to
-- the branch name when not set.
ALTER TABLE branches
    ADD COLUMN currency        text NOT NULL DEFAULT 'IDR' CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN tax_mode        text NOT NULL DEFAULT 'inclusive'
                               CHECK (tax_mode IN ('inclusive', 'exclusive')),
    ADD COLUMN receipt_header  text CHECK (length(receipt_header) <= 500);

-- People who sign in at a terminal. branch_id NULL: every branch.
CREATE TABLE cashiers (
    user_id     uuid PRIMARY KEY,
    branch_id   integer REFERENCES branches,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role        text NOT NULL CHECK (role IN ('cashier', 'supervisor')),
    -- Argon2id PHC string; the PIN itself is never stored.
    pin_hash    text NOT NULL CHECK (pin_hash LIKE '$argon2id$%'),
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cashiers_branch ON cashiers (branch_id);

-- Tax rate per category, a decimal percent as text ("11" is 11%), the same
-- as the terminal's tax_rates.percent.
CREATE TABLE tax_rates (
    category    text PRIMARY KEY CHECK (category ~ '^[a-z0-9_]{1,32}$'),
    rate        text NOT NULL CHECK (rate ~ '^[0-9]{1,3}(\.[0-9]{1,4})?$'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The change log. txid is the writer's transaction id (64-bit, never wraps);
-- change_id orders the changes of one transaction. branch_id NULL: a change
-- every branch pulls. data NULL when deleted.
CREATE TABLE pull_changes (
    change_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    branch_id   integer,
    entity      text NOT NULL CHECK (entity IN ('product', 'price', 'user', 'tax',
                    'branch_settings', 'device')),
    key         text NOT NULL,
    data        jsonb,
    deleted     boolean NOT NULL,
    CHECK (deleted = (data IS NULL))
);
CREATE INDEX pull_changes_cursor ON pull_changes (txid, change_id);

-- Records one row change. On UPDATE nothing is recorded when what a puller
-- sees is the same (e.g. a device's flag or an unchanged re-import); when
-- the row's key or branch moves, the old one is deleted for the old scope.
CREATE FUNCTION sentra_pull_record(
    p_entity text, p_op text,
    o_branch integer, o_key text, o_data jsonb,
    n_branch integer, n_key text, n_data jsonb
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_op = 'UPDATE' AND o_branch IS NOT DISTINCT FROM n_branch
       AND o_key = n_key AND o_data = n_data THEN
        RETURN;
    END IF;
    IF p_op = 'DELETE'
       OR (p_op = 'UPDATE' AND (o_branch IS DISTINCT FROM n_branch OR o_key <> n_key)) THEN
        INSERT INTO pull_changes (branch_id, entity, key, data, deleted)
        VALUES (o_branch, p_entity, o_key, NULL, true);
    END IF;
    IF p_op IN ('INSERT', 'UPDATE') THEN
        INSERT INTO pull_changes (branch_id, entity, key, data, deleted)
        VALUES (n_branch, p_entity, n_key, n_data, false);
    END IF;
END
$$;

CREATE FUNCTION sentra_pull_branch_code(p_branch integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT code FROM branches WHERE branch_id = p_branch
$$;

-- RFC 3339 in UTC with milliseconds, e.g. 2026-11-23T01:00:00.000Z.
CREATE FUNCTION sentra_rfc3339(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- What a puller sees of one row of a pulled table (the row as jsonb, so
-- OLD and NEW go through the same code): its branch (NULL = every branch),
-- its key and its data.
CREATE FUNCTION sentra_pull_shape(p_entity text, r jsonb,
                                  OUT branch_id integer, OUT key text, OUT data jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE p_entity
    WHEN 'product' THEN
        key := r ->> 'sku';
        data := jsonb_build_object('sku', r -> 'sku', 'name', r -> 'name',
                                   'barcodes', r -> 'barcodes',
                                   'tax_category', r -> 'tax_category', 'active', r -> 'active');
    WHEN 'price' THEN
        branch_id := (r ->> 'branch_id')::integer;
        key := r ->> 'price_id';
        data := jsonb_build_object('price_id', r -> 'price_id', 'sku', r -> 'sku',
                                   'branch', sentra_pull_branch_code(branch_id),
                                   'price', r -> 'price',
                                   'effective_from',
                                   sentra_rfc3339((r ->> 'effective_from')::timestamptz));
    WHEN 'user' THEN
        branch_id := (r ->> 'branch_id')::integer;
        key := r ->> 'user_id';
        data := jsonb_build_object('user_id', r -> 'user_id',
                                   'branch', sentra_pull_branch_code(branch_id),
                                   'name', r -> 'name', 'role', r -> 'role',
                                   'pin_hash', r -> 'pin_hash', 'active', r -> 'active');
    WHEN 'tax' THEN
        key := r ->> 'category';
        data := jsonb_build_object('category', r -> 'category', 'rate', r -> 'rate');
    WHEN 'branch_settings' THEN
        branch_id := (r ->> 'branch_id')::integer;
        key := r ->> 'code';
        data := jsonb_build_object('branch', r -> 'code', 'name', r -> 'name',
                                   'timezone', r -> 'timezone', 'currency', r -> 'currency',
                                   'tax_mode', r -> 'tax_mode',
                                   'receipt_header',
                                   COALESCE(r ->> 'receipt_header', r ->> 'name'));
    -- Devices: what a relay needs to verify signatures. Never the credential hash.
    WHEN 'device' THEN
        branch_id := (r ->> 'branch_id')::integer;
        key := r ->> 'device_id';
        data := jsonb_build_object('device_id', r -> 'device_id',
                                   'branch', sentra_pull_branch_code(branch_id),
                                   'kind', r -> 'kind', 'name', r -> 'name',
                                   -- to_jsonb(bytea) is "\x<hex>"
                                   'public_key', substr(r ->> 'public_key', 3),
                                   'revoked', (r ->> 'revoked_at') IS NOT NULL,
                                   'revoked_at',
                                   sentra_rfc3339((r ->> 'revoked_at')::timestamptz));
    END CASE;
END
$$;

-- The row trigger of every pulled table; its argument is the entity name.
CREATE FUNCTION sentra_pull_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    entity text := TG_ARGV[0];
    o_branch integer;
    o_key text;
    o_data jsonb;
    n_branch integer;
    n_key text;
    n_data jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT s.branch_id, s.key, s.data INTO o_branch, o_key, o_data
        FROM sentra_pull_shape(entity, to_jsonb(OLD)) s;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT s.branch_id, s.key, s.data INTO n_branch, n_key, n_data
        FROM sentra_pull_shape(entity, to_jsonb(NEW)) s;
    END IF;
    PERFORM sentra_pull_record(entity, TG_OP, o_branch, o_key, o_data, n_branch, n_key, n_data);
    RETURN NULL;
END
$$;

-- TRUNCATE fires no row triggers: refuse it on the pulled tables, so no
-- write path can bypass the change log.
CREATE FUNCTION sentra_pull_no_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % would bypass the pull change log; DELETE instead',
        TG_TABLE_NAME;
END
$$;

CREATE TRIGGER pull_changes_products AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_trigger('product');
CREATE TRIGGER pull_changes_prices AFTER INSERT OR UPDATE OR DELETE ON prices
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_trigger('price');
CREATE TRIGGER pull_changes_cashiers AFTER INSERT OR UPDATE OR DELETE ON cashiers
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_trigger('user');
CREATE TRIGGER pull_changes_tax_rates AFTER INSERT OR UPDATE OR DELETE ON tax_rates
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_trigger('tax');
CREATE TRIGGER pull_changes_branches AFTER INSERT OR UPDATE OR DELETE ON branches
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_trigger('branch_settings');
CREATE TRIGGER pull_changes_devices AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_trigger('device');

CREATE TRIGGER pull_no_truncate_products BEFORE TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION sentra_pull_no_truncate();
CREATE TRIGGER pull_no_truncate_prices BEFORE TRUNCATE ON prices
    FOR EACH STATEMENT EXECUTE FUNCTION sentra_pull_no_truncate();
CREATE TRIGGER pull_no_truncate_cashiers BEFORE TRUNCATE ON cashiers
    FOR EACH STATEMENT EXECUTE FUNCTION sentra_pull_no_truncate();
CREATE TRIGGER pull_no_truncate_tax_rates BEFORE TRUNCATE ON tax_rates
    FOR EACH STATEMENT EXECUTE FUNCTION sentra_pull_no_truncate();
CREATE TRIGGER pull_no_truncate_branches BEFORE TRUNCATE ON branches
    FOR EACH STATEMENT EXECUTE FUNCTION sentra_pull_no_truncate();
CREATE TRIGGER pull_no_truncate_devices BEFORE TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION sentra_pull_no_truncate();

-- Rows written before this migration: recorded once, as of now, so a puller
-- starting from the beginning gets them too.
INSERT INTO pull_changes (branch_id, entity, key, data, deleted)
SELECT v.branch_id, v.entity, v.key, v.data, false
FROM (
    SELECT 1 AS pass, s.*, 'product' AS entity FROM products t,
           sentra_pull_shape('product', to_jsonb(t)) s
    UNION ALL
    SELECT 2, s.*, 'price' FROM prices t, sentra_pull_shape('price', to_jsonb(t)) s
    UNION ALL
    SELECT 3, s.*, 'branch_settings' FROM branches t,
           sentra_pull_shape('branch_settings', to_jsonb(t)) s
    UNION ALL
    SELECT 4, s.*, 'device' FROM devices t, sentra_pull_shape('device', to_jsonb(t)) s
) v
ORDER BY v.pass, v.key;

-- Indonesia's defaults (sentra_domain::TaxConfig::indonesia_default): PPN 11%
-- on standard goods, 0 on exempt ones. Through the trigger, so they are pulled.
INSERT INTO tax_rates (category, rate) VALUES ('standard', '11'), ('exempt', '0');
