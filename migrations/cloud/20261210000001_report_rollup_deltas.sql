-- The report summaries, folded after the commit (issue 13).
--
-- Until now ingest added each batch's sums to the day and month rows in the
-- batch's transaction. Those rows are shared by every till of a branch, so
-- concurrent pushes of one branch queued on them until commit, and the push
-- lost a fifth of its throughput (docs/benchmarks.md). Now ingest only
-- appends the batch's sums to a delta table (no row is shared, nothing
-- waits), and a folder in every `sentra-sync serve` moves the deltas into
-- the summaries every few seconds (`sentra_fold_report_rollups`), in one
-- transaction: a report, which reads the summaries *and* the deltas in one
-- snapshot, sees every sum exactly once, before or after the fold.
--
-- With the folding off the push path, the summaries gain grains that would
-- have cost every push: a row per year for items (a year's report reads one
-- year row instead of twelve month rows), and per business day and month
-- per tax rate for the PPN return (a handful of rows per branch and month).

CREATE TABLE item_yearly_rollup (
    LIKE item_daily_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS
) PARTITION BY LIST (branch_id);
ALTER TABLE item_yearly_rollup RENAME COLUMN business_date TO year;
ALTER TABLE item_yearly_rollup ADD PRIMARY KEY (branch_id, year, sku, tax_rate);

-- Per branch, business day (or month) and the rate the tills applied: the
-- PPN return's sums, the same as `item_…`'s summed over SKUs.
CREATE TABLE tax_daily_rollup (
    branch_id      integer NOT NULL,
    business_date  date NOT NULL,
    tax_rate       text NOT NULL,
    lines          bigint NOT NULL DEFAULT 0,
    total          bigint NOT NULL DEFAULT 0,
    tax            bigint NOT NULL DEFAULT 0,
    refunds        bigint NOT NULL DEFAULT 0,
    refunds_tax    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (branch_id, business_date, tax_rate)
) PARTITION BY LIST (branch_id);

CREATE TABLE tax_monthly_rollup (
    LIKE tax_daily_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS
) PARTITION BY LIST (branch_id);
ALTER TABLE tax_monthly_rollup RENAME COLUMN business_date TO month;
ALTER TABLE tax_monthly_rollup ADD PRIMARY KEY (branch_id, month, tax_rate);

-- What ingest appends: a batch's sums per business day and key, under a
-- key of their own (a number from a sequence), so an insert never meets
-- another batch's row and waits for no one; the folder empties them.
CREATE SEQUENCE report_rollup_delta_ids;
CREATE TABLE item_rollup_delta (
    LIKE item_daily_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    delta_id bigint NOT NULL DEFAULT nextval('report_rollup_delta_ids'),
    PRIMARY KEY (branch_id, delta_id)
) PARTITION BY LIST (branch_id);
CREATE TABLE cashier_rollup_delta (
    LIKE cashier_daily_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    delta_id bigint NOT NULL DEFAULT nextval('report_rollup_delta_ids'),
    PRIMARY KEY (branch_id, delta_id)
) PARTITION BY LIST (branch_id);

SELECT sentra_ensure_branch_partitions(branch_id) FROM branches;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['item_yearly_rollup', 'tax_daily_rollup', 'tax_monthly_rollup',
                             'item_rollup_delta', 'cashier_rollup_delta']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY office_branches ON %I TO sentra_office
                        USING (branch_id = ANY ((SELECT sentra_office_branches())::integer[]))', t);
        EXECUTE format('GRANT SELECT ON %I TO sentra_office', t);
    END LOOP;
END
$$;

-- The lock that lets one folder (or rebuild) at a time write the summaries.
CREATE FUNCTION sentra_report_rollups_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 7301326571 $$;

-- Making a branch's partitions locks every partitioned table in turn, and a
-- fold locks seven of them in another order: the two deadlocked (the bench
-- saw it, creating branches while a folder ran). Partitions are now made
-- under the folder's lock, so they wait for a fold (a second at most) and a
-- fold skips its turn while they are made.
CREATE OR REPLACE FUNCTION sentra_ensure_branch_partitions(p_branch integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    v_code text;
BEGIN
    PERFORM pg_advisory_xact_lock(sentra_report_rollups_lock_key());
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

-- Moves every delta into the day, month and year rows, in one statement
-- (and one transaction): returns how many delta rows it folded, or 0 at
-- once if another folder holds the lock. Rows are written in key order.
CREATE FUNCTION sentra_fold_report_rollups() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    items bigint;
    cashiers bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(sentra_report_rollups_lock_key()) THEN
        RETURN 0;
    END IF;

    WITH d AS (DELETE FROM item_rollup_delta RETURNING *),
    daily AS (
        INSERT INTO item_daily_rollup AS r (branch_id, business_date, sku, tax_rate, name, lines,
            quantity_milli, gross, discounts, net, tax, total, refunded_milli, refunds, refunds_tax)
        SELECT branch_id, business_date, sku, tax_rate, max(name), sum(lines),
               sum(quantity_milli), sum(gross), sum(discounts), sum(net), sum(tax), sum(total),
               sum(refunded_milli), sum(refunds), sum(refunds_tax)
        FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
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
        FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
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
        FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
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
        FROM d GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (branch_id, business_date, tax_rate) DO UPDATE SET
            lines = r.lines + EXCLUDED.lines, total = r.total + EXCLUDED.total,
            tax = r.tax + EXCLUDED.tax, refunds = r.refunds + EXCLUDED.refunds,
            refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax),
    tax_monthly AS (
        INSERT INTO tax_monthly_rollup AS r (branch_id, month, tax_rate, lines, total, tax,
                                             refunds, refunds_tax)
        SELECT branch_id, date_trunc('month', business_date)::date, tax_rate, sum(lines),
               sum(total), sum(tax), sum(refunds), sum(refunds_tax)
        FROM d GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (branch_id, month, tax_rate) DO UPDATE SET
            lines = r.lines + EXCLUDED.lines, total = r.total + EXCLUDED.total,
            tax = r.tax + EXCLUDED.tax, refunds = r.refunds + EXCLUDED.refunds,
            refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax)
    SELECT count(*) INTO items FROM d;

    WITH d AS (DELETE FROM cashier_rollup_delta RETURNING *),
    daily AS (
        INSERT INTO cashier_daily_rollup AS r (branch_id, business_date, cashier, hour,
            sales_count, voids_count, gross, discounts, tax, sales_total, refunds_count,
            refunds_total)
        SELECT branch_id, business_date, cashier, hour, sum(sales_count), sum(voids_count),
               sum(gross), sum(discounts), sum(tax), sum(sales_total), sum(refunds_count),
               sum(refunds_total)
        FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
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
        FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
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

-- The rebuild (see the previous migration) now also empties the branch's
-- deltas — the ledger it rebuilds from already holds what they add — and
-- fills the year and tax rows. It waits for the folder's lock, so no fold
-- runs in between.
ALTER FUNCTION sentra_rebuild_report_rollups(integer)
    RENAME TO sentra_rebuild_day_and_month_rollups;

CREATE FUNCTION sentra_rebuild_report_rollups(p_branch integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(sentra_report_rollups_lock_key());
    DELETE FROM item_rollup_delta WHERE branch_id = p_branch;
    DELETE FROM cashier_rollup_delta WHERE branch_id = p_branch;
    PERFORM sentra_rebuild_day_and_month_rollups(p_branch);
    DELETE FROM item_yearly_rollup WHERE branch_id = p_branch;
    DELETE FROM tax_daily_rollup WHERE branch_id = p_branch;
    DELETE FROM tax_monthly_rollup WHERE branch_id = p_branch;

    INSERT INTO item_yearly_rollup (branch_id, year, sku, tax_rate, name, lines,
                                    quantity_milli, gross, discounts, net, tax, total,
                                    refunded_milli, refunds, refunds_tax)
    SELECT p_branch, date_trunc('year', month)::date, sku, tax_rate, max(name), sum(lines),
           sum(quantity_milli), sum(gross), sum(discounts), sum(net), sum(tax), sum(total),
           sum(refunded_milli), sum(refunds), sum(refunds_tax)
    FROM item_monthly_rollup WHERE branch_id = p_branch
    GROUP BY 2, 3, 4 ORDER BY 2, 3, 4;

    INSERT INTO tax_daily_rollup (branch_id, business_date, tax_rate, lines, total, tax,
                                  refunds, refunds_tax)
    SELECT p_branch, business_date, tax_rate, sum(lines), sum(total), sum(tax), sum(refunds),
           sum(refunds_tax)
    FROM item_daily_rollup WHERE branch_id = p_branch
    GROUP BY 2, 3 ORDER BY 2, 3;

    INSERT INTO tax_monthly_rollup (branch_id, month, tax_rate, lines, total, tax, refunds,
                                    refunds_tax)
    SELECT p_branch, month, tax_rate, sum(lines), sum(total), sum(tax), sum(refunds),
           sum(refunds_tax)
    FROM item_monthly_rollup WHERE branch_id = p_branch
    GROUP BY 2, 3 ORDER BY 2, 3;
END
$$;

SELECT sentra_rebuild_report_rollups(branch_id) FROM branches;
