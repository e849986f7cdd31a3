-- Sentra terminal schema, step 11: the branch settings head office sets
-- (entity `branch_settings`: legal name, store name, address, NPWP, receipt
-- header and footer, time zone, tax mode, supervisor discount level,
-- tenders), kept as the cloud signed them, one row per branch code.
CREATE TABLE branch_settings (
    branch  TEXT PRIMARY KEY,
    data    TEXT NOT NULL
) STRICT;
