-- What each close had seen and why it closed early. A close that also closed
-- empty earlier months writes one closure row per month, all under its close_id;
-- the primary key on period is what lets only one close of a month commit.
-- seen: 'partition:offset,…', the highest bus position of each records partition
-- in the ledger the frozen figures were computed from.
ALTER TABLE period_closures ADD COLUMN seen TEXT NOT NULL DEFAULT '';
ALTER TABLE period_closures ADD COLUMN early_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE period_closures ADD COLUMN claim_offset INTEGER;

CREATE INDEX IF NOT EXISTS statements_by_close ON statements (close_id);
