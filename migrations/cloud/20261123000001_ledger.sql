-- Sentra cloud schema, part 1: branches, devices, enrollment, master data and
-- the per-branch ledger.
--
-- Ledger tables are PARTITION BY LIST (branch_id) and every primary and unique
-- key starts with branch_id. A branch's partitions are made by
-- sentra_ensure_branch_partitions(branch_id) when the branch is created; a
-- later migration that adds a partitioned table must end with
--   SELECT sentra_ensure_branch_partitions(branch_id) FROM branches;
-- so existing branches get the new table's partitions too.

CREATE TABLE branches (
    branch_id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9]{2,16}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    device_id        uuid PRIMARY KEY,
    branch_id        integer NOT NULL REFERENCES branches,
    kind             text NOT NULL CHECK (kind IN ('terminal', 'relay')),
    name             text NOT NULL,
    public_key       bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    -- SHA-256 of the bearer credential; the credential itself is never stored.
    credential_hash  bytea NOT NULL UNIQUE CHECK (length(credential_hash) = 32),
    enrolled_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz,
    -- Set when a fork was seen: the device needs review.
    flagged_at       timestamptz,
    flag_reason      text
);
CREATE INDEX devices_branch ON devices (branch_id);

CREATE TABLE enroll_codes (
    code_hash   bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    branch_id   integer NOT NULL REFERENCES branches,
    kind        text NOT NULL CHECK (kind IN ('terminal', 'relay')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     uuid
);

-- Master data that terminals pull (written by admin commands / head office).
CREATE TABLE products (
    sku           text PRIMARY KEY CHECK (length(sku) BETWEEN 1 AND 64),
    name          text NOT NULL,
    barcodes      text[] NOT NULL DEFAULT '{}',
    tax_category  text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A price is in force from effective_from until a later one for the same
-- (sku, branch) takes over. branch_id NULL is the chain-wide price; a
-- branch's own price wins over it.
CREATE TABLE prices (
    price_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku             text NOT NULL,
    branch_id       integer REFERENCES branches,
    price           bigint NOT NULL CHECK (price >= 0),
    effective_from  timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prices_lookup ON prices (sku, branch_id, effective_from DESC);

-- The partition maker.
CREATE FUNCTION sentra_ensure_branch_partitions(p_branch integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    v_code text;
BEGIN
    SELECT lower(code) INTO STRICT v_code FROM branches WHERE branch_id = p_branch;
    FOR t IN
        SELECT c.relname
        FROM pg_partitioned_table p
        JOIN pg_class c ON c.oid = p.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema()
    LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES IN (%s)',
                       t.relname || '_' || v_code, t.relname, p_branch);
    END LOOP;
END
$$;

-- The raw journal: every accepted entry, exactly as signed.
CREATE TABLE journal (
    branch_id          integer NOT NULL,
    device_id          uuid NOT NULL,
    seq                bigint NOT NULL CHECK (seq >= 1),
    entry_id           uuid NOT NULL,
    format             smallint NOT NULL,
    kind               text NOT NULL,
    hlc_wall_ms        bigint NOT NULL,
    hlc_counter        integer NOT NULL,
    prev_hash          bytea NOT NULL,
    hash               bytea NOT NULL,
    signature          bytea NOT NULL,
    payload            jsonb NOT NULL,
    received_at        timestamptz NOT NULL,
    -- The corrected time the reports use (clock_skew).
    occurred_at        timestamptz NOT NULL,
    -- Set when the entry is held in quarantine (not applied to projections).
    quarantine_reason  text,
    PRIMARY KEY (branch_id, device_id, seq)
) PARTITION BY LIST (branch_id);

-- Per device: the highest contiguous seq held and its hash (the chain tip).
CREATE TABLE device_heads (
    branch_id   integer NOT NULL,
    device_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    hash        bytea NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (branch_id, device_id)
) PARTITION BY LIST (branch_id);

CREATE TABLE sales (
    branch_id      integer NOT NULL,
    entry_id       uuid NOT NULL,
    receipt_no     text NOT NULL,
    device_id      uuid NOT NULL,
    seq            bigint NOT NULL,
    shift_id       uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    business_date  date NOT NULL,
    cashier        text,
    gross          bigint NOT NULL,
    discounts      bigint NOT NULL,
    tax            bigint NOT NULL,
    total          bigint NOT NULL,
    paid           bigint NOT NULL,
    change         bigint NOT NULL,
    voided_by      uuid,
    PRIMARY KEY (branch_id, entry_id)
) PARTITION BY LIST (branch_id);
CREATE INDEX sales_receipt ON sales (branch_id, receipt_no);
CREATE INDEX sales_date ON sales (branch_id, business_date);

CREATE TABLE sale_lines (
    branch_id            integer NOT NULL,
    sale_entry_id        uuid NOT NULL,
    line_no              integer NOT NULL,
    sku                  text NOT NULL,
    name                 text NOT NULL,
    quantity_milli       bigint NOT NULL,
    unit_price           bigint NOT NULL,
    tax_rate             text NOT NULL,
    gross                bigint NOT NULL,
    line_discount        bigint NOT NULL,
    cart_discount_share  bigint NOT NULL,
    net                  bigint NOT NULL,
    tax                  bigint NOT NULL,
    total                bigint NOT NULL,
    PRIMARY KEY (branch_id, sale_entry_id, line_no)
) PARTITION BY LIST (branch_id);

CREATE TABLE sale_payments (
    branch_id      integer NOT NULL,
    sale_entry_id  uuid NOT NULL,
    tender_no      integer NOT NULL,
    method         text NOT NULL,
    amount         bigint NOT NULL,
    reference      text,
    PRIMARY KEY (branch_id, sale_entry_id, tender_no)
) PARTITION BY LIST (branch_id);

-- Voids and refunds; status 'parked' while the sale they name has not
-- arrived (orphan_reference), 'applied' once it has.
CREATE TABLE voids (
    branch_id      integer NOT NULL,
    entry_id       uuid NOT NULL,
    device_id      uuid NOT NULL,
    seq            bigint NOT NULL,
    receipt_no     text NOT NULL,
    sale_entry_id  uuid NOT NULL,
    shift_id       uuid NOT NULL,
    total          bigint NOT NULL,
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    status         text NOT NULL CHECK (status IN ('parked', 'applied')),
    PRIMARY KEY (branch_id, entry_id)
) PARTITION BY LIST (branch_id);
CREATE INDEX voids_sale ON voids (branch_id, sale_entry_id);

CREATE TABLE refunds (
    branch_id      integer NOT NULL,
    entry_id       uuid NOT NULL,
    device_id      uuid NOT NULL,
    seq            bigint NOT NULL,
    hlc_wall_ms    bigint NOT NULL,
    hlc_counter    integer NOT NULL,
    refund_no      text NOT NULL,
    receipt_no     text NOT NULL,
    sale_entry_id  uuid,
    shift_id       uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    business_date  date NOT NULL,
    received_at    timestamptz NOT NULL,
    total          bigint NOT NULL,
    tax            bigint NOT NULL,
    method         text NOT NULL,
    status         text NOT NULL CHECK (status IN ('parked', 'applied')),
    -- Flagged over_refund: kept (the money left the till) but not counted
    -- against the sale's refundable amount.
    over_refund    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (branch_id, entry_id)
) PARTITION BY LIST (branch_id);
CREATE INDEX refunds_receipt ON refunds (branch_id, receipt_no);

CREATE TABLE refund_lines (
    branch_id        integer NOT NULL,
    refund_entry_id  uuid NOT NULL,
    line_index       integer NOT NULL,
    line_no          integer NOT NULL,
    sku              text NOT NULL,
    quantity_milli   bigint NOT NULL,
    amount           bigint NOT NULL,
    tax              bigint NOT NULL,
    PRIMARY KEY (branch_id, refund_entry_id, line_index)
) PARTITION BY LIST (branch_id);

-- A shift: the running totals recomputed from its entries, and what the
-- terminal reported at close.
CREATE TABLE shifts (
    branch_id        integer NOT NULL,
    shift_id         uuid NOT NULL,
    device_id        uuid NOT NULL,
    opened_at        timestamptz NOT NULL,
    opening_float    bigint NOT NULL,
    cashier          text,
    totals           jsonb NOT NULL,
    closed_at        timestamptz,
    reported_totals  jsonb,
    expected_cash    bigint,
    counted_cash     bigint,
    variance         bigint,
    PRIMARY KEY (branch_id, shift_id)
) PARTITION BY LIST (branch_id);

CREATE TABLE cash_movements (
    branch_id    integer NOT NULL,
    entry_id     uuid NOT NULL,
    device_id    uuid NOT NULL,
    shift_id     uuid NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('in', 'out')),
    amount       bigint NOT NULL,
    reason       text,
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (branch_id, entry_id)
) PARTITION BY LIST (branch_id);

-- Stock on hand per branch and item. count_generation moves on with every
-- stock count (an oversold item is raised once per day and count).
CREATE TABLE stock_levels (
    branch_id         integer NOT NULL,
    sku               text NOT NULL,
    on_hand_milli     bigint NOT NULL,
    count_generation  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (branch_id, sku)
) PARTITION BY LIST (branch_id);

CREATE TABLE stock_movements (
    branch_id    integer NOT NULL,
    entry_id     uuid NOT NULL,
    line_index   integer NOT NULL,
    sku          text NOT NULL,
    delta_milli  bigint NOT NULL,
    reason       text NOT NULL CHECK (reason IN ('sale', 'void', 'refund', 'count', 'import')),
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (branch_id, entry_id, line_index)
) PARTITION BY LIST (branch_id);

CREATE TABLE voucher_redemptions (
    branch_id    integer NOT NULL,
    entry_id     uuid NOT NULL,
    tender_no    integer NOT NULL,
    code         text NOT NULL,
    device_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    hlc_wall_ms  bigint NOT NULL,
    hlc_counter  integer NOT NULL,
    amount       bigint NOT NULL,
    PRIMARY KEY (branch_id, entry_id, tender_no)
) PARTITION BY LIST (branch_id);
-- Vouchers are chain-wide: a code is looked up across all branches.
CREATE INDEX voucher_code ON voucher_redemptions (code);

-- Per business day and device (device, so concurrent pushes of one branch
-- never wait on one hot row): what the ledger sums.
CREATE TABLE daily_rollup (
    branch_id      integer NOT NULL,
    business_date  date NOT NULL,
    device_id      uuid NOT NULL,
    sales_count    bigint NOT NULL DEFAULT 0,
    voids_count    bigint NOT NULL DEFAULT 0,
    gross          bigint NOT NULL DEFAULT 0,
    discounts      bigint NOT NULL DEFAULT 0,
    tax            bigint NOT NULL DEFAULT 0,
    sales_total    bigint NOT NULL DEFAULT 0,
    refunds_count  bigint NOT NULL DEFAULT 0,
    refunds_total  bigint NOT NULL DEFAULT 0,
    refunds_tax    bigint NOT NULL DEFAULT 0,
    cash           bigint NOT NULL DEFAULT 0,
    card           bigint NOT NULL DEFAULT 0,
    qris           bigint NOT NULL DEFAULT 0,
    voucher        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (branch_id, business_date, device_id)
) PARTITION BY LIST (branch_id);

-- What the sync found, for head office to review and resolve.
CREATE TABLE conflicts (
    branch_id    integer NOT NULL,
    conflict_id  uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('oversold', 'stale_price', 'over_refund',
                     'orphan_reference', 'voucher_double_spend', 'clock_skew',
                     'shift_mismatch', 'fork')),
    -- Raising the same thing twice is a no-op (e.g. oversold per item and day).
    dedup_key    text NOT NULL,
    device_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    entry_id     uuid,
    details      jsonb NOT NULL,
    raised_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolution   text,
    PRIMARY KEY (branch_id, conflict_id),
    UNIQUE (branch_id, dedup_key)
) PARTITION BY LIST (branch_id);

-- Operational alerts: entries held in quarantine.
CREATE TABLE alerts (
    branch_id    integer NOT NULL,
    alert_id     uuid NOT NULL,
    kind         text NOT NULL,
    device_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    details      jsonb NOT NULL,
    raised_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (branch_id, alert_id)
) PARTITION BY LIST (branch_id);
