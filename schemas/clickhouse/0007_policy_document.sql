-- The policy documents the ledger was settled under, and which one each line
-- and each close names. The document in force is the one of the highest
-- sequence (data, never a clock). ClickHouse has no transactions: `policy
-- apply` writes a row only after its claim stands in the log of closes (the
-- first claim of a sequence wins), as closes do.
-- text: the canonical TOML of the policy; hash: its SHA-256 (lowercase hex).
CREATE TABLE IF NOT EXISTS policy_documents
(
    sequence UInt64,
    hash String,
    text String,
    applied_at DateTime,
    note String
)
ENGINE = ReplacingMergeTree
ORDER BY sequence;

-- Lines and closes written before this migration read '' (settled before the
-- ledger recorded documents) until they are settled again under one.
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: `migrate` skips an
-- ADD COLUMN whose column is already there, so a rerun is harmless.
ALTER TABLE ledger_lines ADD COLUMN policy_hash String DEFAULT '';
ALTER TABLE period_closures ADD COLUMN policy_hash String DEFAULT '';
