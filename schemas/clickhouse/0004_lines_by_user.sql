-- Which record ids have had a line for a user and month, sorted by user:
-- the index the accruals API reads an entity's lines through (ledger_lines
-- is sorted by record id). Rows are candidates only: a line that moved to
-- another user keeps its old row here, so readers confirm each id against
-- the standing line in ledger_lines. POPULATE fills it from the lines
-- already written.

CREATE MATERIALIZED VIEW IF NOT EXISTS ledger_lines_by_user
ENGINE = ReplacingMergeTree(version)
ORDER BY (user_credit_code, period, record_id)
POPULATE
AS SELECT user_credit_code, period, record_id, version FROM ledger_lines
