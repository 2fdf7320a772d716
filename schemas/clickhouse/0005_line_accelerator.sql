-- The accelerator model each line stands on, for totals by accelerator.
-- Lines written before this migration read '' until their record is settled again.
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: `migrate` skips an
-- ADD COLUMN whose column is already there, so a rerun is harmless.
ALTER TABLE ledger_lines ADD COLUMN accelerator String DEFAULT '';
