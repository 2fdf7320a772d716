-- The programme after the ledger: claims, reviews, payout batches, findings
-- and year closes, as an append-only history numbered from 1 without gaps.
-- Everything the programme shows (grants, batch rows, receivables) is folded
-- from these rows and the statements by the core; nothing else is stored.
-- A step is recorded in a BEGIN IMMEDIATE transaction that checks it is the
-- next one; the primary key refuses a second row of one sequence.
-- kind: the action (claim, review, batch, finding, close_year); body: the
-- whole event as JSON, what the store reads back.
CREATE TABLE IF NOT EXISTS programme_events (
    sequence         INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    label            TEXT NOT NULL,
    at               TEXT NOT NULL,
    body             TEXT NOT NULL
);
