-- The accelerator model each line stands on, for totals by accelerator.
-- Lines written before this migration read '' until their record is settled again.
ALTER TABLE ledger_lines ADD COLUMN accelerator TEXT NOT NULL DEFAULT '';
