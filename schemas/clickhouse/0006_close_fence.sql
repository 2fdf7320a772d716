-- What each close had seen, why it closed early, and the offset of the claim
-- that won it the log of closes. A close that also closed empty earlier months
-- writes one closure row per month, all under its close_id.
-- seen: 'partition:offset,…', the highest bus position of each records partition
-- in the ledger the frozen figures were computed from.
-- lines: how many statement lines the close wrote. A replica that holds a
-- closure row but not yet all its lines is read as lagging, never as a
-- smaller figure.
ALTER TABLE period_closures
    ADD COLUMN seen String DEFAULT '',
    ADD COLUMN early_reason String DEFAULT '',
    ADD COLUMN claim_offset Int64 DEFAULT -1,
    ADD COLUMN lines UInt64 DEFAULT 0;
