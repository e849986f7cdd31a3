-- Head office reports and exports (issue 13): indexes the report queries
-- use. Voids, refunds and shifts are read by branch and date; discounted
-- sales are a small part of all sales, so they get their own partial index.
CREATE INDEX refunds_date ON refunds (branch_id, business_date);
CREATE INDEX sales_discounted ON sales (branch_id, business_date) WHERE discounts > 0;
CREATE INDEX voids_occurred ON voids (branch_id, occurred_at);
