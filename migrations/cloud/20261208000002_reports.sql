-- Head office reports and exports (issue 13): indexes the report queries
-- use. Voids, refunds and shifts are read by branch and date; discounted
-- sales are a small part of all sales, so they get their own partial index.
CREATE INDEX refunds_date ON refunds (branch_id, business_date);
CREATE INDEX sales_discounted ON sales (branch_id, business_date) WHERE discounts > 0;
CREATE INDEX voids_occurred ON voids (branch_id, occurred_at);

-- The branch policies read the caller's branch ids once per query, not once
-- per row: `= ANY ((SELECT …)::integer[])` is an InitPlan, where a bare STABLE function
-- call in a policy is evaluated for every row a scan passes (1.1 s of a
-- year's daily rollup, and a month of sale lines past the 15 s timeout, at
-- 5 M sales; docs/benchmarks.md). The function only reads a setting that
-- parallel workers inherit, so it is parallel safe, and report queries may
-- use workers.
ALTER FUNCTION sentra_office_branches() PARALLEL SAFE;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['journal', 'device_heads', 'sales', 'sale_lines', 'sale_payments',
                             'voids', 'refunds', 'refund_lines', 'shifts', 'cash_movements',
                             'stock_levels', 'stock_movements', 'voucher_redemptions',
                             'daily_rollup', 'conflicts', 'alerts', 'branches', 'devices',
                             'device_activity']
    LOOP
        EXECUTE format('ALTER POLICY office_branches ON %I
                        USING (branch_id = ANY ((SELECT sentra_office_branches())::integer[]))', t);
    END LOOP;
END
$$;
