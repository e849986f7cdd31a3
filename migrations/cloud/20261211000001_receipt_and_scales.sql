-- The till for shop use (issue 15): the language a branch's receipts are
-- printed in, and how its scales' in-store EAN-13 labels are read.
ALTER TABLE branches
    ADD COLUMN receipt_language text NOT NULL DEFAULT 'id'
        CHECK (receipt_language IN ('id', 'en')),
    -- NULL: the default, prefix 20 with a 5-digit item code and the weight
    -- in grams. Each rule: {"prefix": "20".."29", "item_digits": 4..6,
    -- "embeds": "weight" | "price"}; the office checks the rules, the
    -- database that they are an array of at most ten.
    ADD COLUMN scale_labels jsonb
        CHECK (jsonb_typeof(scale_labels) = 'array' AND jsonb_array_length(scale_labels) <= 10);

GRANT UPDATE (receipt_language, scale_labels) ON branches TO sentra_office;

-- What a terminal pulls of its branch's settings: the two new fields.
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
                                   'tenders', r -> 'tenders',
                                   'receipt_language', r -> 'receipt_language',
                                   'scale_labels',
                                   -- a NULL column is JSON null in the row
                                   CASE WHEN jsonb_typeof(r -> 'scale_labels') = 'array'
                                        THEN r -> 'scale_labels'
                                        ELSE '[{"prefix": "20", "item_digits": 5, "embeds": "weight"}]'::jsonb
                                   END);
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

-- Returns at another till (issue 15): `GET /v1/receipt` finds a sale and
-- its voids and refunds by receipt number within the caller's branch.
CREATE INDEX journal_by_receipt ON journal (branch_id, (payload ->> 'receipt_no'))
    WHERE kind IN ('sale_completed', 'sale_voided', 'refund_issued');

-- A refund made without its original sale (offline, a supervisor's reason):
-- counted like any refund, flagged for head office, never linked to a sale.
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('parked', 'applied', 'unverified'));
-- ...and its conflict kind.
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_kind_check;
ALTER TABLE conflicts ADD CONSTRAINT conflicts_kind_check
    CHECK (kind IN ('oversold', 'stale_price', 'over_refund', 'orphan_reference',
                    'voucher_double_spend', 'clock_skew', 'shift_mismatch', 'fork',
                    'foreign_shift', 'void_not_allowed', 'unverified_return'));
