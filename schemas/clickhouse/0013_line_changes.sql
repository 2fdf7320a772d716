-- The change log of ledger lines, for readers that keep sums up to date from
-- the changes since their last read (crates/store/src/clickhouse/changes.rs).
-- A merge keeps only the winning row, so the store cannot say afterwards what
-- a line replaced: the writer says it, in the same INSERT as the line. prior_*
-- is the effect of the line it replaced (prior_state 0: none, the record's
-- first line), change_stream names the writer (one per store handle) and
-- change_seq the write's place in it. The view copies each inserted line's
-- change into line_changes, sorted by stream and seq, so a reader reads the
-- changes after its mark without touching the lines. Lines written before this
-- migration have stream '' and no change: a base read sums them from the lines.
-- One ALTER: on a cluster each ALTER is a distributed DDL task, run on one
-- replica and waited for on the others.
ALTER TABLE ledger_lines
    ADD COLUMN prior_state UInt8 DEFAULT 0,
    ADD COLUMN prior_user_credit_code String DEFAULT '',
    ADD COLUMN prior_period UInt32 DEFAULT 0,
    ADD COLUMN prior_reason String DEFAULT '',
    ADD COLUMN prior_policy_hash String DEFAULT '',
    ADD COLUMN prior_center_id String DEFAULT '',
    ADD COLUMN prior_usage_date Date DEFAULT toDate(0),
    ADD COLUMN prior_paid_amount Decimal(18, 4) DEFAULT toDecimal64(0, 4),
    ADD COLUMN prior_base Decimal(18, 4) DEFAULT toDecimal64(0, 4),
    ADD COLUMN prior_contribution Decimal(38, 10) DEFAULT toDecimal128(0, 10),
    ADD COLUMN change_stream String DEFAULT '',
    ADD COLUMN change_seq UInt64 DEFAULT 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS line_changes
ENGINE = MergeTree
ORDER BY (change_stream, change_seq, record_id)
AS SELECT change_stream, change_seq, record_id, prior_state, prior_user_credit_code, prior_period, prior_reason, prior_policy_hash, prior_center_id, prior_usage_date, prior_paid_amount, prior_base, prior_contribution, user_credit_code, period, reason, policy_hash, center_id, usage_date, paid_amount, base, contribution FROM ledger_lines;

-- The writers' streams, each added before its first line: what a reader asks
-- for changes after its mark.
CREATE TABLE IF NOT EXISTS line_change_streams
(
    change_stream String
)
ENGINE = ReplacingMergeTree
ORDER BY change_stream;
