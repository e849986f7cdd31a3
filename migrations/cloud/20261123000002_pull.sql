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

CREATE FUNCTION sentra_pull_products() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
    o_key text;
    n_key text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o_key := OLD.sku;
        o := jsonb_build_object('sku', OLD.sku, 'name', OLD.name,
                                'barcodes', to_jsonb(OLD.barcodes),
                                'tax_category', OLD.tax_category, 'active', OLD.active);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_key := NEW.sku;
        n := jsonb_build_object('sku', NEW.sku, 'name', NEW.name,
                                'barcodes', to_jsonb(NEW.barcodes),
                                'tax_category', NEW.tax_category, 'active', NEW.active);
    END IF;
    PERFORM sentra_pull_record('product', TG_OP, NULL, o_key, o, NULL, n_key, n);
    RETURN NULL;
END
$$;

CREATE FUNCTION sentra_pull_prices() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
    o_branch integer;
    n_branch integer;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o_branch := OLD.branch_id;
        o := jsonb_build_object('price_id', OLD.price_id, 'sku', OLD.sku,
                                'branch', sentra_pull_branch_code(OLD.branch_id),
                                'price', OLD.price,
                                'effective_from', sentra_rfc3339(OLD.effective_from));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_branch := NEW.branch_id;
        n := jsonb_build_object('price_id', NEW.price_id, 'sku', NEW.sku,
                                'branch', sentra_pull_branch_code(NEW.branch_id),
                                'price', NEW.price,
                                'effective_from', sentra_rfc3339(NEW.effective_from));
    END IF;
    PERFORM sentra_pull_record('price', TG_OP,
        o_branch, (o ->> 'price_id'), o, n_branch, (n ->> 'price_id'), n);
    RETURN NULL;
END
$$;

CREATE FUNCTION sentra_pull_cashiers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
    o_branch integer;
    n_branch integer;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o_branch := OLD.branch_id;
        o := jsonb_build_object('user_id', OLD.user_id,
                                'branch', sentra_pull_branch_code(OLD.branch_id),
                                'name', OLD.name, 'role', OLD.role,
                                'pin_hash', OLD.pin_hash, 'active', OLD.active);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_branch := NEW.branch_id;
        n := jsonb_build_object('user_id', NEW.user_id,
                                'branch', sentra_pull_branch_code(NEW.branch_id),
                                'name', NEW.name, 'role', NEW.role,
                                'pin_hash', NEW.pin_hash, 'active', NEW.active);
    END IF;
    PERFORM sentra_pull_record('user', TG_OP,
        o_branch, (o ->> 'user_id'), o, n_branch, (n ->> 'user_id'), n);
    RETURN NULL;
END
$$;

CREATE FUNCTION sentra_pull_tax_rates() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := jsonb_build_object('category', OLD.category, 'rate', OLD.rate);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := jsonb_build_object('category', NEW.category, 'rate', NEW.rate);
    END IF;
    PERFORM sentra_pull_record('tax', TG_OP,
        NULL, (o ->> 'category'), o, NULL, (n ->> 'category'), n);
    RETURN NULL;
END
$$;

CREATE FUNCTION sentra_pull_branches() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
    o_branch integer;
    n_branch integer;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o_branch := OLD.branch_id;
        o := jsonb_build_object('branch', OLD.code, 'name', OLD.name,
                                'timezone', OLD.timezone, 'currency', OLD.currency,
                                'tax_mode', OLD.tax_mode,
                                'receipt_header', COALESCE(OLD.receipt_header, OLD.name));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_branch := NEW.branch_id;
        n := jsonb_build_object('branch', NEW.code, 'name', NEW.name,
                                'timezone', NEW.timezone, 'currency', NEW.currency,
                                'tax_mode', NEW.tax_mode,
                                'receipt_header', COALESCE(NEW.receipt_header, NEW.name));
    END IF;
    PERFORM sentra_pull_record('branch_settings', TG_OP,
        o_branch, (o ->> 'branch'), o, n_branch, (n ->> 'branch'), n);
    RETURN NULL;
END
$$;

-- Devices: what a relay needs to verify signatures. Never the credential hash.
CREATE FUNCTION sentra_pull_devices() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    n jsonb;
    o_branch integer;
    n_branch integer;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o_branch := OLD.branch_id;
        o := jsonb_build_object('device_id', OLD.device_id,
                                'branch', sentra_pull_branch_code(OLD.branch_id),
                                'kind', OLD.kind, 'name', OLD.name,
                                'public_key', encode(OLD.public_key, 'hex'),
                                'revoked', OLD.revoked_at IS NOT NULL,
                                'revoked_at', sentra_rfc3339(OLD.revoked_at));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_branch := NEW.branch_id;
        n := jsonb_build_object('device_id', NEW.device_id,
                                'branch', sentra_pull_branch_code(NEW.branch_id),
                                'kind', NEW.kind, 'name', NEW.name,
                                'public_key', encode(NEW.public_key, 'hex'),
                                'revoked', NEW.revoked_at IS NOT NULL,
                                'revoked_at', sentra_rfc3339(NEW.revoked_at));
    END IF;
    PERFORM sentra_pull_record('device', TG_OP,
        o_branch, (o ->> 'device_id'), o, n_branch, (n ->> 'device_id'), n);
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
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_products();
CREATE TRIGGER pull_changes_prices AFTER INSERT OR UPDATE OR DELETE ON prices
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_prices();
CREATE TRIGGER pull_changes_cashiers AFTER INSERT OR UPDATE OR DELETE ON cashiers
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_cashiers();
CREATE TRIGGER pull_changes_tax_rates AFTER INSERT OR UPDATE OR DELETE ON tax_rates
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_tax_rates();
CREATE TRIGGER pull_changes_branches AFTER INSERT OR UPDATE OR DELETE ON branches
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_branches();
CREATE TRIGGER pull_changes_devices AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION sentra_pull_devices();

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
SELECT NULL, 'product', sku,
       jsonb_build_object('sku', sku, 'name', name, 'barcodes', to_jsonb(barcodes),
                          'tax_category', tax_category, 'active', active), false
FROM products ORDER BY sku;

INSERT INTO pull_changes (branch_id, entity, key, data, deleted)
SELECT branch_id, 'price', price_id::text,
       jsonb_build_object('price_id', price_id, 'sku', sku,
                          'branch', sentra_pull_branch_code(branch_id), 'price', price,
                          'effective_from', sentra_rfc3339(effective_from)), false
FROM prices ORDER BY price_id;

INSERT INTO pull_changes (branch_id, entity, key, data, deleted)
SELECT branch_id, 'branch_settings', code,
       jsonb_build_object('branch', code, 'name', name, 'timezone', timezone,
                          'currency', currency, 'tax_mode', tax_mode,
                          'receipt_header', COALESCE(receipt_header, name)), false
FROM branches ORDER BY branch_id;

INSERT INTO pull_changes (branch_id, entity, key, data, deleted)
SELECT branch_id, 'device', device_id::text,
       jsonb_build_object('device_id', device_id, 'branch', sentra_pull_branch_code(branch_id),
                          'kind', kind, 'name', name, 'public_key', encode(public_key, 'hex'),
                          'revoked', revoked_at IS NOT NULL,
                          'revoked_at', sentra_rfc3339(revoked_at)), false
FROM devices ORDER BY enrolled_at, device_id;

-- Indonesia's defaults (sentra_domain::TaxConfig::indonesia_default): PPN 11%
-- on standard goods, 0 on exempt ones. Through the trigger, so they are pulled.
INSERT INTO tax_rates (category, rate) VALUES ('standard', '11'), ('exempt', '0');
