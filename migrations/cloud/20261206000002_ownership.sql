-- A void the cloud does not apply (another till's sale, another shift, a
-- closed shift) is kept with status 'refused' and raised as a
-- `void_not_allowed` conflict; the sale stays counted.
ALTER TABLE voids DROP CONSTRAINT IF EXISTS voids_status_check;
ALTER TABLE voids ADD CONSTRAINT voids_status_check
    CHECK (status IN ('parked', 'applied', 'refused'));

-- The ownership conflicts: `foreign_shift` (an entry names another device's
-- shift) and `void_not_allowed` (a void of another till's sale, another
-- shift's, or one from a closed shift).
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_kind_check;
ALTER TABLE conflicts ADD CONSTRAINT conflicts_kind_check
    CHECK (kind IN ('oversold', 'stale_price', 'over_refund', 'orphan_reference',
                    'voucher_double_spend', 'clock_skew', 'shift_mismatch', 'fork',
                    'foreign_shift', 'void_not_allowed'));
