-- The policy documents the ledger was settled under, and which one each line
-- and each close names. The document in force is the one of the highest
-- sequence (data, never a clock); `policy apply` adds one, fenced by a
-- BEGIN IMMEDIATE transaction that checks the sequence it builds on.
-- text: the canonical TOML of the policy; hash: its SHA-256 (lowercase hex).
CREATE TABLE IF NOT EXISTS policy_documents (
    sequence         INTEGER PRIMARY KEY,
    hash             TEXT NOT NULL,
    text             TEXT NOT NULL,
    applied_at       TEXT NOT NULL,
    note             TEXT NOT NULL
);

-- Lines and closes written before this migration read '' (settled before the
-- ledger recorded documents) until they are settled again under one.
ALTER TABLE ledger_lines ADD COLUMN policy_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE period_closures ADD COLUMN policy_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS ledger_lines_by_policy ON ledger_lines (policy_hash, record_id);
