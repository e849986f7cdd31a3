-- Head office runs the chain from the browser (issue 13): the catalog's
-- retail category and unit, the branch settings a receipt needs, the tax
-- classes of PMK 131/2024, a revocation reason, office imports, and what
-- the office role may write — always under row-level security.

-- Products: a retail category (reports group by it) and how the item is
-- sold. Searched by SKU prefix, barcode and name.
ALTER TABLE products
    ADD COLUMN category  text CHECK (length(category) BETWEEN 1 AND 64),
    ADD COLUMN unit      text NOT NULL DEFAULT 'unit' CHECK (unit IN ('unit', 'weighed'));
CREATE INDEX products_name ON products (lower(name) text_pattern_ops);
CREATE INDEX products_barcodes ON products USING gin (barcodes);
CREATE INDEX prices_sku ON prices (sku, effective_from);

-- Branch settings a receipt serving as a faktur pajak eceran prints, and
-- what the till enforces. NULL: not set (the till keeps its own).
ALTER TABLE branches
    ADD COLUMN legal_name               text CHECK (length(legal_name) BETWEEN 1 AND 200),
    ADD COLUMN store_name               text CHECK (length(store_name) BETWEEN 1 AND 200),
    ADD COLUMN address                  text CHECK (length(address) BETWEEN 1 AND 500),
    -- Digits only: 15 (the old NPWP) or 16 (NIK-based, since 2024).
    ADD COLUMN npwp                     text CHECK (npwp ~ '^([0-9]{15}|[0-9]{16})$'),
    ADD COLUMN receipt_footer           text CHECK (length(receipt_footer) <= 500),
    -- A discount above this percent of what it applies to needs a supervisor.
    ADD COLUMN supervisor_discount_pct  text
        CHECK (supervisor_discount_pct ~ '^[0-9]{1,3}(\.[0-9]{1,2})?$'
               AND supervisor_discount_pct::numeric <= 100),
    ADD COLUMN tenders                  text[] NOT NULL DEFAULT '{cash,card,qris,voucher}'
        CHECK (cardinality(tenders) >= 1
               AND tenders <@ ARRAY['cash', 'card', 'qris', 'voucher']::text[]),
    ADD COLUMN settings_updated_at      timestamptz;

-- Tax classes (PMK 131/2024, in force since 1 January 2025). `rate` stays
-- the effective percent the tills compute with; the statutory rate and the
-- DPP fraction say how the PPN return reports it: ordinary goods 12 % on a
-- DPP nilai lain of 11/12 (effective 11 %), luxury goods 12 % of the full
-- price, exempt goods none. NULL nominal_rate: the rate on the full price.
ALTER TABLE tax_rates
    ADD COLUMN nominal_rate     text CHECK (nominal_rate ~ '^[0-9]{1,3}(\.[0-9]{1,4})?$'),
    ADD COLUMN dpp_numerator    integer NOT NULL DEFAULT 1 CHECK (dpp_numerator >= 0),
    ADD COLUMN dpp_denominator  integer NOT NULL DEFAULT 1 CHECK (dpp_denominator >= 1),
    ADD COLUMN rule             text CHECK (length(rule) <= 200),
    ADD CONSTRAINT tax_rates_effective CHECK (
        nominal_rate IS NULL
        OR rate::numeric = round(nominal_rate::numeric * dpp_numerator / dpp_denominator, 4));
UPDATE tax_rates SET nominal_rate = '12', dpp_numerator = 11, dpp_denominator = 12,
                     rule = 'PMK 131/2024: 12% x DPP nilai lain 11/12 (efektif 11%)'
WHERE category = 'standard' AND rate = '11';
UPDATE tax_rates SET rule = 'Dibebaskan / tidak dipungut PPN' WHERE category = 'exempt' AND rate = '0';
INSERT INTO tax_rates (category, rate, nominal_rate, dpp_numerator, dpp_denominator, rule)
VALUES ('luxury', '12', '12', 1, 1, 'PMK 131/2024: 12% x harga jual (barang mewah, PPnBM)')
ON CONFLICT (category) DO NOTHING;

-- Why a device was revoked, and who cleared a flag after review.
ALTER TABLE devices
    ADD COLUMN revoke_reason  text CHECK (length(revoke_reason) BETWEEN 1 AND 500),
    ADD COLUMN reviewed_at    timestamptz,
    ADD COLUMN review_note    text CHECK (length(review_note) <= 500);

-- A catalog file uploaded in the page, kept between its preview and its
-- apply so what is applied is exactly what was previewed.
CREATE TABLE office_imports (
    import_id    uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES office_users,
    created_at   timestamptz NOT NULL DEFAULT now(),
    file_name    text NOT NULL CHECK (length(file_name) <= 255),
    body         bytea NOT NULL CHECK (length(body) <= 33554432),
    applied_at   timestamptz
);

-- Cashiers, enrollment codes and prices per branch under RLS, like the ledger.
ALTER TABLE cashiers ADD COLUMN disabled_reason text CHECK (length(disabled_reason) <= 500);

-- What the office caller's role is ('' when unset): master data of the
-- whole chain (products, chain-wide prices, tax classes, users of every
-- branch, office users) is the admin's.
CREATE FUNCTION sentra_office_role() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(current_setting('sentra.office_role', true), '')
$$;
GRANT EXECUTE ON FUNCTION sentra_office_role() TO sentra_office;

-- Writes the office may make. Reads of these tables were granted in part 1
-- (products, prices) or are granted here; RLS decides which rows.
GRANT SELECT, INSERT, UPDATE (name, barcodes, tax_category, active, category, unit, updated_at)
    ON products TO sentra_office;
ALTER TABLE products ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_read ON products FOR SELECT TO sentra_office USING (true);
CREATE POLICY office_insert ON products FOR INSERT TO sentra_office
    WITH CHECK (sentra_office_role() = 'admin');
CREATE POLICY office_update ON products FOR UPDATE TO sentra_office
    USING (sentra_office_role() = 'admin') WITH CHECK (sentra_office_role() = 'admin');

GRANT SELECT, INSERT ON prices TO sentra_office;
GRANT USAGE ON SEQUENCE prices_price_id_seq TO sentra_office;
ALTER TABLE prices ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_read ON prices FOR SELECT TO sentra_office
    USING (branch_id IS NULL OR branch_id = ANY (sentra_office_branches()));
CREATE POLICY office_insert ON prices FOR INSERT TO sentra_office
    WITH CHECK (sentra_office_role() IN ('admin', 'manager')
                AND (branch_id = ANY (sentra_office_branches())
                     OR (branch_id IS NULL AND sentra_office_role() = 'admin')));

GRANT SELECT ON tax_rates TO sentra_office;

GRANT UPDATE (legal_name, store_name, address, npwp, receipt_header, receipt_footer,
              supervisor_discount_pct, tenders, timezone, tax_mode, settings_updated_at)
    ON branches TO sentra_office;
GRANT UPDATE (revoked_at, revoke_reason, flagged_at, flag_reason, reviewed_at, review_note)
    ON devices TO sentra_office;

GRANT SELECT, INSERT ON enroll_codes TO sentra_office;
ALTER TABLE enroll_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_branches ON enroll_codes TO sentra_office
    USING (branch_id = ANY (sentra_office_branches()));

-- Cashiers: those of the caller's branches; the few who may sign in at
-- every branch (branch_id NULL) are the admin's.
GRANT SELECT, INSERT, UPDATE (name, role, pin_hash, active, disabled_reason, updated_at)
    ON cashiers TO sentra_office;
ALTER TABLE cashiers ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_branches ON cashiers TO sentra_office
    USING (branch_id = ANY (sentra_office_branches())
           OR (branch_id IS NULL AND sentra_office_role() = 'admin'))
    WITH CHECK (sentra_office_role() IN ('admin', 'manager')
                AND (branch_id = ANY (sentra_office_branches())
                     OR (branch_id IS NULL AND sentra_office_role() = 'admin')));

-- Office users: only an admin sees or changes them (beyond the email shown
-- beside a decision, granted in part 1).
-- Never the password hash.
GRANT SELECT (user_id, email, role, active, created_at, last_signin_at),
      INSERT (user_id, email, role, password_hash),
      UPDATE (role, active, password_hash)
    ON office_users TO sentra_office;
ALTER TABLE office_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_admin ON office_users TO sentra_office
    USING (sentra_office_role() = 'admin') WITH CHECK (sentra_office_role() = 'admin');
-- Everyone else sees only who decided a conflict they can see.
CREATE POLICY office_deciders ON office_users FOR SELECT TO sentra_office
    USING (user_id IN (SELECT resolved_by FROM conflicts WHERE resolved_by IS NOT NULL));
GRANT SELECT, INSERT, DELETE ON office_user_branches TO sentra_office;
ALTER TABLE office_user_branches ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_admin ON office_user_branches TO sentra_office
    USING (sentra_office_role() = 'admin') WITH CHECK (sentra_office_role() = 'admin');

GRANT SELECT, INSERT, UPDATE (applied_at) ON office_imports TO sentra_office;
ALTER TABLE office_imports ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_admin ON office_imports TO sentra_office
    USING (sentra_office_role() = 'admin') WITH CHECK (sentra_office_role() = 'admin');

-- What a terminal pulls of a product and of its branch's settings: the
-- new columns too.
CREATE OR REPLACE FUNCTION sentra_pull_shape(p_entity text, r jsonb,
                                  OUT branch_id integer, OUT key text, OUT data jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE p_entity
    WHEN 'product' THEN
        key := r ->> 'sku';
        data := jsonb_build_object('sku', r -> 'sku', 'name', r -> 'name',
                                   'barcodes', r -> 'barcodes',
                                   'tax_category', r -> 'tax_category', 'active', r -> 'active',
                                   'category', r -> 'category', 'unit', r -> 'unit');
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
                                   COALESCE(r ->> 'receipt_header', r ->> 'name'),
                                   'legal_name', r -> 'legal_name',
                                   'store_name', COALESCE(r ->> 'store_name', r ->> 'name'),
                                   'address', r -> 'address', 'npwp', r -> 'npwp',
                                   'receipt_footer', r -> 'receipt_footer',
                                   'supervisor_discount_pct', r -> 'supervisor_discount_pct',
                                   'tenders', r -> 'tenders');
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
-- An admin who changes a user's role or disables them ends their sessions.
GRANT SELECT (user_id, ended_at), UPDATE (ended_at) ON office_sessions TO sentra_office;
ALTER TABLE office_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY office_admin ON office_sessions TO sentra_office
    USING (sentra_office_role() = 'admin') WITH CHECK (sentra_office_role() = 'admin');

-- The change-log triggers run as the writer: the office role appends the
-- pull changes of what it writes (and reads none of them).
GRANT INSERT ON pull_changes TO sentra_office;
GRANT USAGE ON SEQUENCE pull_changes_change_id_seq TO sentra_office;
