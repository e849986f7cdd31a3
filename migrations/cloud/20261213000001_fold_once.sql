-- The fold summed every delta five times over, once per grain (day, month,
-- year, tax day, tax month): a sort and an aggregate of every delta row
-- each time, a sixth of PostgreSQL's CPU in the push bench
-- (docs/benchmarks.md, "What dominates the cost"). Now it sums the deltas
-- per day once (`g`), writes those sums as the day rows, and builds the
-- coarser grains from them: far fewer rows than the deltas whenever an item
-- sells more than once between two folds. Same rows, same sums.

CREATE OR REPLACE FUNCTION sentra_fold_report_rollups() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    items bigint;
    cashiers bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(sentra_report_rollups_lock_key()) THEN
        RETURN 0;
    END IF;

    WITH d AS (DELETE FROM item_rollup_delta RETURNING *),
    -- The deltas summed per day once; the coarser grains sum these sums.
    g AS (
        SELECT branch_id, business_date, sku, tax_rate, max(name) AS name,
               sum(lines)::bigint AS lines, sum(quantity_milli)::bigint AS quantity_milli,
               sum(gross)::bigint AS gross, sum(discounts)::bigint AS discounts,
               sum(net)::bigint AS net, sum(tax)::bigint AS tax, sum(total)::bigint AS total,
               sum(refunded_milli)::bigint AS refunded_milli, sum(refunds)::bigint AS refunds,
               sum(refunds_tax)::bigint AS refunds_tax
        FROM d GROUP BY 1, 2, 3, 4),
    daily AS (
        INSERT INTO item_daily_rollup AS r (branch_id, business_date, sku, tax_rate, name, lines,
            quantity_milli, gross, discounts, net, tax, total, refunded_milli, refunds, refunds_tax)
        SELECT * FROM g ORDER BY 1, 2, 3, 4
        ON CONFLICT (branch_id, business_date, sku, tax_rate) DO UPDATE SET
            name = GREATEST(r.name, EXCLUDED.name), lines = r.lines + EXCLUDED.lines,
            quantity_milli = r.quantity_milli + EXCLUDED.quantity_milli,
            gross = r.gross + EXCLUDED.gross, discounts = r.discounts + EXCLUDED.discounts,
            net = r.net + EXCLUDED.net, tax = r.tax + EXCLUDED.tax,
            total = r.total + EXCLUDED.total,
            refunded_milli = r.refunded_milli + EXCLUDED.refunded_milli,
            refunds = r.refunds + EXCLUDED.refunds,
            refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax),
    monthly AS (
        INSERT INTO item_monthly_rollup AS r (branch_id, month, sku, tax_rate, name, lines,
            quantity_milli, gross, discounts, net, tax, total, refunded_milli, refunds, refunds_tax)
        SELECT branch_id, date_trunc('month', business_date)::date, sku, tax_rate, max(name),
               sum(lines), sum(quantity_milli), sum(gross), sum(discounts), sum(net), sum(tax),
               sum(total), sum(refunded_milli), sum(refunds), sum(refunds_tax)
        FROM g GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (branch_id, month, sku, tax_rate) DO UPDATE SET
            name = GREATEST(r.name, EXCLUDED.name), lines = r.lines + EXCLUDED.lines,
            quantity_milli = r.quantity_milli + EXCLUDED.quantity_milli,
            gross = r.gross + EXCLUDED.gross, discounts = r.discounts + EXCLUDED.discounts,
            net = r.net + EXCLUDED.net, tax = r.tax + EXCLUDED.tax,
            total = r.total + EXCLUDED.total,
            refunded_milli = r.refunded_milli + EXCLUDED.refunded_milli,
            refunds = r.refunds + EXCLUDED.refunds,
            refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax),
    yearly AS (
        INSERT INTO item_yearly_rollup AS r (branch_id, year, sku, tax_rate, name, lines,
            quantity_milli, gross, discounts, net, tax, total, refunded_milli, refunds, refunds_tax)
        SELECT branch_id, date_trunc('year', business_date)::date, sku, tax_rate, max(name),
               sum(lines), sum(quantity_milli), sum(gross), sum(discounts), sum(net), sum(tax),
               sum(total), sum(refunded_milli), sum(refunds), sum(refunds_tax)
        FROM g GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (branch_id, year, sku, tax_rate) DO UPDATE SET
            name = GREATEST(r.name, EXCLUDED.name), lines = r.lines + EXCLUDED.lines,
            quantity_milli = r.quantity_milli + EXCLUDED.quantity_milli,
            gross = r.gross + EXCLUDED.gross, discounts = r.discounts + EXCLUDED.discounts,
            net = r.net + EXCLUDED.net, tax = r.tax + EXCLUDED.tax,
            total = r.total + EXCLUDED.total,
            refunded_milli = r.refunded_milli + EXCLUDED.refunded_milli,
            refunds = r.refunds + EXCLUDED.refunds,
            refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax),
    tax_daily AS (
        INSERT INTO tax_daily_rollup AS r (branch_id, business_date, tax_rate, lines, total, tax,
                                           refunds, refunds_tax)
        SELECT branch_id, business_date, tax_rate, sum(lines), sum(total), sum(tax),
               sum(refunds), sum(refunds_tax)
        FROM g GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (branch_id, business_date, tax_rate) DO UPDATE SET
            lines = r.lines + EXCLUDED.lines, total = r.total + EXCLUDED.total,
            tax = r.tax + EXCLUDED.tax, refunds = r.refunds + EXCLUDED.refunds,
            refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax),
    tax_monthly AS (
        INSERT INTO tax_monthly_rollup AS r (branch_id, month, tax_rate, lines, total, tax,
                                             refunds, refunds_tax)
        SELECT branch_id, date_trunc('month', business_date)::date, tax_rate, sum(lines),
               sum(total), sum(tax), sum(refunds), sum(refunds_tax)
        FROM g GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (branch_id, month, tax_rate) DO UPDATE SET
            lines = r.lines + EXCLUDED.lines, total = r.total + EXCLUDED.total,
            tax = r.tax + EXCLUDED.tax, refunds = r.refunds + EXCLUDED.refunds,
            refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax)
    SELECT count(*) INTO items FROM d;

    WITH d AS (DELETE FROM cashier_rollup_delta RETURNING *),
    g AS (
        SELECT branch_id, business_date, cashier, hour, sum(sales_count)::bigint AS sales_count,
               sum(voids_count)::bigint AS voids_count, sum(gross)::bigint AS gross,
               sum(discounts)::bigint AS discounts, sum(tax)::bigint AS tax,
               sum(sales_total)::bigint AS sales_total,
               sum(refunds_count)::bigint AS refunds_count,
               sum(refunds_total)::bigint AS refunds_total
        FROM d GROUP BY 1, 2, 3, 4),
    daily AS (
        INSERT INTO cashier_daily_rollup AS r (branch_id, business_date, cashier, hour,
            sales_count, voids_count, gross, discounts, tax, sales_total, refunds_count,
            refunds_total)
        SELECT * FROM g ORDER BY 1, 2, 3, 4
        ON CONFLICT (branch_id, business_date, cashier, hour) DO UPDATE SET
            sales_count = r.sales_count + EXCLUDED.sales_count,
            voids_count = r.voids_count + EXCLUDED.voids_count,
            gross = r.gross + EXCLUDED.gross, discounts = r.discounts + EXCLUDED.discounts,
            tax = r.tax + EXCLUDED.tax, sales_total = r.sales_total + EXCLUDED.sales_total,
            refunds_count = r.refunds_count + EXCLUDED.refunds_count,
            refunds_total = r.refunds_total + EXCLUDED.refunds_total),
    monthly AS (
        INSERT INTO cashier_monthly_rollup AS r (branch_id, month, cashier, hour, sales_count,
            voids_count, gross, discounts, tax, sales_total, refunds_count, refunds_total)
        SELECT branch_id, date_trunc('month', business_date)::date, cashier, hour,
               sum(sales_count), sum(voids_count), sum(gross), sum(discounts), sum(tax),
               sum(sales_total), sum(refunds_count), sum(refunds_total)
        FROM g GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (branch_id, month, cashier, hour) DO UPDATE SET
            sales_count = r.sales_count + EXCLUDED.sales_count,
            voids_count = r.voids_count + EXCLUDED.voids_count,
            gross = r.gross + EXCLUDED.gross, discounts = r.discounts + EXCLUDED.discounts,
            tax = r.tax + EXCLUDED.tax, sales_total = r.sales_total + EXCLUDED.sales_total,
            refunds_count = r.refunds_count + EXCLUDED.refunds_count,
            refunds_total = r.refunds_total + EXCLUDED.refunds_total)
    SELECT count(*) INTO cashiers FROM d;

    RETURN items + cashiers;
END
$$;
