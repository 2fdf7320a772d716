-- The programme after the ledger: claims, reviews, payout batches, findings
-- and year closes, as an append-only history numbered from 1 without gaps.
-- Everything the programme shows (grants, batch rows, receivables) is folded
-- from these rows and the statements by the core; nothing else is stored.
-- ClickHouse has no transactions: a writer records a step only after its
-- claim on the sequence stands in the log of closes (the first claim of a
-- sequence wins), as closes and policy changes do.
-- kind: the action (claim, review, batch, finding, close_year); body: the
-- whole event as JSON, what the store reads back.
CREATE TABLE IF NOT EXISTS programme_events
(
    sequence UInt64,
    kind String,
    label String,
    at DateTime,
    body String
)
ENGINE = ReplacingMergeTree
ORDER BY sequence;
