-- Head office in the browser (issue 12): office users and their sessions,
-- the append-only audit log, what the cloud knows of each device's sync,
-- decisions on conflicts, and row-level security that scopes every query
-- the office pages make to the branches of the person signed in.

-- People who sign in to /office. Managers see the branches listed in
-- office_user_branches; the other roles see every branch.
CREATE TABLE office_users (
    user_id          uuid PRIMARY KEY,
    email            text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    role             text NOT NULL CHECK (role IN ('admin', 'finance', 'manager', 'auditor')),
    -- Argon2id PHC string; the password itself is never stored.
    password_hash    text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_signin_at   timestamptz
);

CREATE TABLE office_user_branches (
    user_id    uuid NOT NULL REFERENCES office_users ON DELETE CASCADE,
    branch_id  integer NOT NULL REFERENCES branches,
    PRIMARY KEY (user_id, branch_id)
);

-- A signed-in browser. The cookie holds a random token; only its SHA-256 is
-- kept, so a copy of this table signs nobody in. Sign-out sets ended_at.
CREATE TABLE office_sessions (
    token_hash     bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id        uuid NOT NULL REFERENCES office_users,
    csrf_token     text NOT NULL,
    lang           text NOT NULL DEFAULT 'id' CHECK (lang IN ('id', 'en')),
    address        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    ended_at       timestamptz
);
CREATE INDEX office_sessions_user ON office_sessions (user_id);

-- Failed sign-ins, for throttling per account and per address.
CREATE TABLE office_signin_failures (
    at       timestamptz NOT NULL DEFAULT now(),
    email    text NOT NULL,
    address  text
);
CREATE INDEX office_signin_failures_email ON office_signin_failures (email, at);
CREATE INDEX office_signin_failures_address ON office_signin_failures (address, at);

-- Who did what, when, from where: sign-ins, failed sign-ins, decisions on
-- conflicts and (part 2) every change made in the office, with old and new
-- values. Append-only: the database refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    audit_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_id     uuid,
    actor_email  text,
    address      text,
    action       text NOT NULL,
    branch_id    integer,
    target       text,
    old_value    jsonb,
    new_value    jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION sentra_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION sentra_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION sentra_audit_append_only();

-- What the cloud knows of each device's sync: when it last called the
-- cloud itself (NULL: only ever heard of through its relay), and the highest
-- seq it has shown the cloud (in any push, its own or forwarded, stored or
-- not). reported_seq above the chain tip is what the cloud knows the device
-- holds and has not delivered.
CREATE TABLE device_activity (
    device_id     uuid PRIMARY KEY REFERENCES devices,
    branch_id     integer NOT NULL REFERENCES branches,
    last_seen_at  timestamptz,
    reported_seq  bigint NOT NULL DEFAULT 0
);

-- A decision on a conflict: resolved or dismissed, by whom, with a comment.
-- It never edits a ledger figure.
ALTER TABLE conflicts
    ADD COLUMN decision     text CHECK (decision IN ('resolved', 'dismissed')),
    ADD COLUMN resolved_by  uuid;

-- Indexes the office's searches and lists use.
CREATE INDEX sales_device_date ON sales (branch_id, device_id, business_date);
CREATE INDEX sales_occurred ON sales (branch_id, occurred_at);
CREATE INDEX sales_total ON sales (branch_id, total);
CREATE INDEX sale_lines_sku ON sale_lines (branch_id, sku);
CREATE INDEX shifts_opened ON shifts (branch_id, opened_at);
CREATE INDEX conflicts_raised ON conflicts (branch_id, raised_at);
CREATE INDEX alerts_raised ON alerts (branch_id, raised_at);
CREATE INDEX refunds_sale ON refunds (branch_id, sale_entry_id);

-- Row-level security. The office's queries run inside a transaction that
-- does SET LOCAL ROLE sentra_office and sets sentra.office_branches to the
-- caller's branch ids; the policies below then show only those branches'
-- rows, whatever a page's SQL says. The server's own role owns the tables
-- and so is not subject to these policies: ingest is unaffected.
-- Roles are cluster-wide; several databases of one cluster share this one.
DO $$
BEGIN
    CREATE ROLE sentra_office NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    EXECUTE format('GRANT sentra_office TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    -- Already a member, or a superuser (who may SET ROLE to any role).
    NULL;
END
$$;
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO sentra_office', current_schema());
END
$$;

-- The branch ids of the office caller; none when unset.
CREATE FUNCTION sentra_office_branches() RETURNS integer[]
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(string_to_array(NULLIF(current_setting('sentra.office_branches', true), ''),
                                    ',')::integer[],
                    '{}'::integer[])
$$;
GRANT EXECUTE ON FUNCTION sentra_office_branches() TO sentra_office;

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
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY office_branches ON %I TO sentra_office
                        USING (branch_id = ANY (sentra_office_branches()))', t);
        EXECUTE format('GRANT SELECT ON %I TO sentra_office', t);
    END LOOP;
END
$$;
-- A decision is the one thing the office writes to a ledger table.
GRANT UPDATE (resolved_at, resolution, decision, resolved_by) ON conflicts TO sentra_office;
-- Products and prices are chain-wide master data (names on receipts).
GRANT SELECT ON products, prices TO sentra_office;
GRANT SELECT, INSERT ON audit_log TO sentra_office;
GRANT USAGE ON SEQUENCE audit_log_audit_id_seq TO sentra_office;
-- Who decided a conflict is shown by email; nothing else of office users.
GRANT SELECT (user_id, email) ON office_users TO sentra_office;
