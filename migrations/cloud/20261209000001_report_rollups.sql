-- Summaries for the head-office reports (issue 13). Sales by item, by
-- category, by cashier and by hour and the PPN return read these instead of
-- every sale line of the period: a year of 50 branches is 7.5 M lines, and
-- reading them took 5–14 s (docs/benchmarks.md). Ingest keeps them in the
-- same transaction as `daily_rollup`, with the same rules: a sale counts on
-- its business date until it is voided (the void takes it back on that
-- date), a refund counts on its own business date.
--
-- Rows are per branch, not per till, so concurrent pushes of a branch share
-- them; ingest writes them at the end of its transaction, just before stock,
-- always in key order.

-- The rate a refunded line is filed under in the PPN return: the rate of the
-- sale line refunded when the sale is in the ledger, else the rate of the
-- product's tax class when the refund arrived, else 0. Ingest moves it (and
-- its sums) to the sale line's rate when a parked refund's sale arrives.
ALTER TABLE refund_lines ADD COLUMN tax_rate text;
UPDATE refund_lines rl
SET tax_rate = COALESCE(
    (SELECT sl.tax_rate FROM refunds r
     JOIN sale_lines sl ON sl.branch_id = r.branch_id AND sl.sale_entry_id = r.sale_entry_id
                       AND sl.line_no = rl.line_no
     WHERE r.branch_id = rl.branch_id AND r.entry_id = rl.refund_entry_id),
    (SELECT t.rate FROM products p JOIN tax_rates t ON t.category = p.tax_category
     WHERE p.sku = rl.sku),
    '0');
ALTER TABLE refund_lines ALTER COLUMN tax_rate SET NOT NULL;

-- Sums per business day, and per calendar month (`month` its first day), in
-- tables of their own: a report over whole months reads the month table,
-- and the day table only for the odd days at either end. (In one table the
-- month rows were spread over the day rows' pages, and a month's report read
-- them all.)
CREATE TABLE item_daily_rollup (
    branch_id       integer NOT NULL,
    business_date   date NOT NULL,
    sku             text NOT NULL,
    -- As the till wrote it on the line ("11", "12", "0").
    tax_rate        text NOT NULL,
    -- The greatest of the names the tills sold it under (for SKUs the
    -- catalog does not hold).
    name            text,
    -- Sale lines that stand plus refund lines: a row with none is empty.
    lines           bigint NOT NULL DEFAULT 0,
    quantity_milli  bigint NOT NULL DEFAULT 0,
    gross           bigint NOT NULL DEFAULT 0,
    discounts       bigint NOT NULL DEFAULT 0,
    net             bigint NOT NULL DEFAULT 0,
    tax             bigint NOT NULL DEFAULT 0,
    total           bigint NOT NULL DEFAULT 0,
    refunded_milli  bigint NOT NULL DEFAULT 0,
    refunds         bigint NOT NULL DEFAULT 0,
    refunds_tax     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (branch_id, business_date, sku, tax_rate)
) PARTITION BY LIST (branch_id);

CREATE TABLE item_monthly_rollup (
    LIKE item_daily_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS
) PARTITION BY LIST (branch_id);
ALTER TABLE item_monthly_rollup RENAME COLUMN business_date TO month;
ALTER TABLE item_monthly_rollup ADD PRIMARY KEY (branch_id, month, sku, tax_rate);

CREATE TABLE cashier_daily_rollup (
    branch_id      integer NOT NULL,
    business_date  date NOT NULL,
    -- The sale's cashier; for a refund, the cashier of the shift it was
    -- given in, as known when it arrived. '' when none.
    cashier        text NOT NULL,
    -- Hour of day in the branch's zone (of the sale, or of the refund).
    hour           smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    sales_count    bigint NOT NULL DEFAULT 0,
    voids_count    bigint NOT NULL DEFAULT 0,
    gross          bigint NOT NULL DEFAULT 0,
    discounts      bigint NOT NULL DEFAULT 0,
    tax            bigint NOT NULL DEFAULT 0,
    sales_total    bigint NOT NULL DEFAULT 0,
    refunds_count  bigint NOT NULL DEFAULT 0,
    refunds_total  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (branch_id, business_date, cashier, hour)
) PARTITION BY LIST (branch_id);

CREATE TABLE cashier_monthly_rollup (
    LIKE cashier_daily_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS
) PARTITION BY LIST (branch_id);
ALTER TABLE cashier_monthly_rollup RENAME COLUMN business_date TO month;
ALTER TABLE cashier_monthly_rollup ADD PRIMARY KEY (branch_id, month, cashier, hour);

SELECT sentra_ensure_branch_partitions(branch_id) FROM branches;

-- Head office reads them through the same branch policy as the ledger.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['item_daily_rollup', 'item_monthly_rollup', 'cashier_daily_rollup',
                             'cashier_monthly_rollup']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY office_branches ON %I TO sentra_office
                        USING (branch_id = ANY ((SELECT sentra_office_branches())::integer[]))', t);
        EXECUTE format('GRANT SELECT ON %I TO sentra_office', t);
    END LOOP;
END
$$;

-- Rebuilds a branch's summaries from its ledger rows: how this migration
-- fills them, and what an operator runs if they are ever in doubt
-- (`SELECT sentra_rebuild_report_rollups(branch_id) FROM branches;`). Run it
-- while the branch is not pushing: a batch applied during the rebuild could
-- be counted twice or not at all.
CREATE FUNCTION sentra_rebuild_report_rollups(p_branch integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM item_daily_rollup WHERE branch_id = p_branch;
    DELETE FROM item_monthly_rollup WHERE branch_id = p_branch;
    DELETE FROM cashier_daily_rollup WHERE branch_id = p_branch;
    DELETE FROM cashier_monthly_rollup WHERE branch_id = p_branch;

    INSERT INTO item_daily_rollup (branch_id, business_date, sku, tax_rate, name, lines,
                                   quantity_milli, gross, discounts, net, tax, total,
                                   refunded_milli, refunds, refunds_tax)
    WITH x AS (
        SELECT s.business_date AS d, l.sku, l.tax_rate AS rate, l.name, l.quantity_milli AS qty,
               l.gross, l.line_discount + l.cart_discount_share AS disc, l.net, l.tax, l.total,
               0::bigint AS rqty, 0::bigint AS ramount, 0::bigint AS rtax
        FROM sales s
        JOIN sale_lines l ON l.branch_id = s.branch_id AND l.sale_entry_id = s.entry_id
        WHERE s.branch_id = p_branch AND l.branch_id = p_branch AND s.voided_by IS NULL
        UNION ALL
        SELECT r.business_date, rl.sku, rl.tax_rate, NULL, 0, 0, 0, 0, 0, 0,
               rl.quantity_milli, rl.amount, rl.tax
        FROM refunds r
        JOIN refund_lines rl ON rl.branch_id = r.branch_id AND rl.refund_entry_id = r.entry_id
        WHERE r.branch_id = p_branch AND rl.branch_id = p_branch
    )
    SELECT p_branch, d, sku, rate, max(name), count(*), sum(qty), sum(gross), sum(disc), sum(net),
           sum(tax), sum(total), sum(rqty), sum(ramount), sum(rtax)
    FROM x GROUP BY d, sku, rate ORDER BY d, sku, rate;

    INSERT INTO item_monthly_rollup (branch_id, month, sku, tax_rate, name, lines,
                                     quantity_milli, gross, discounts, net, tax, total,
                                     refunded_milli, refunds, refunds_tax)
    SELECT p_branch, date_trunc('month', business_date)::date, sku, tax_rate, max(name),
           sum(lines), sum(quantity_milli), sum(gross), sum(discounts), sum(net), sum(tax),
           sum(total), sum(refunded_milli), sum(refunds), sum(refunds_tax)
    FROM item_daily_rollup WHERE branch_id = p_branch
    GROUP BY 2, 3, 4 ORDER BY 2, 3, 4;

    INSERT INTO cashier_daily_rollup (branch_id, business_date, cashier, hour, sales_count,
                                      voids_count, gross, discounts, tax, sales_total,
                                      refunds_count, refunds_total)
    WITH x AS (
        SELECT s.business_date AS d, COALESCE(s.cashier, '') AS cashier,
               extract(hour FROM s.occurred_at AT TIME ZONE b.timezone)::smallint AS hour,
               (s.voided_by IS NULL)::int AS n, (s.voided_by IS NOT NULL)::int AS v,
               CASE WHEN s.voided_by IS NULL THEN s.gross ELSE 0 END AS gross,
               CASE WHEN s.voided_by IS NULL THEN s.discounts ELSE 0 END AS disc,
               CASE WHEN s.voided_by IS NULL THEN s.tax ELSE 0 END AS tax,
               CASE WHEN s.voided_by IS NULL THEN s.total ELSE 0 END AS total,
               0 AS rn, 0::bigint AS ramount
        FROM sales s JOIN branches b ON b.branch_id = s.branch_id
        WHERE s.branch_id = p_branch
        UNION ALL
        SELECT r.business_date, COALESCE(sh.cashier, ''),
               extract(hour FROM r.occurred_at AT TIME ZONE b.timezone)::smallint,
               0, 0, 0, 0, 0, 0, 1, r.total
        FROM refunds r
        JOIN branches b ON b.branch_id = r.branch_id
        LEFT JOIN shifts sh ON sh.branch_id = r.branch_id AND sh.shift_id = r.shift_id
        WHERE r.branch_id = p_branch
    )
    SELECT p_branch, d, cashier, hour, sum(n), sum(v), sum(gross), sum(disc), sum(tax),
           sum(total), sum(rn), sum(ramount)
    FROM x GROUP BY d, cashier, hour ORDER BY d, cashier, hour;

    INSERT INTO cashier_monthly_rollup (branch_id, month, cashier, hour, sales_count,
                                        voids_count, gross, discounts, tax, sales_total,
                                        refunds_count, refunds_total)
    SELECT p_branch, date_trunc('month', business_date)::date, cashier, hour, sum(sales_count),
           sum(voids_count), sum(gross), sum(discounts), sum(tax), sum(sales_total),
           sum(refunds_count), sum(refunds_total)
    FROM cashier_daily_rollup WHERE branch_id = p_branch
    GROUP BY 2, 3, 4 ORDER BY 2, 3, 4;
END
$$;

SELECT sentra_rebuild_report_rollups(branch_id) FROM branches;

-- The discounts report is in this order (branch, then time), so a page's
-- first thousand rows come straight off the index (a year's ≈ 500,000
-- discounted sales were sorted for each page view).
DROP INDEX sales_discounted;
CREATE INDEX sales_discounted ON sales (branch_id, business_date, occurred_at, receipt_no)
    WHERE discounts > 0;
