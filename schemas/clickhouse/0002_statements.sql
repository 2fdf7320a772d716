-- Closed months and what was fixed for payment when each closed.

-- One row per closed month; close_id names the close whose statements count.
CREATE TABLE IF NOT EXISTS period_closures
(
    period UInt32,
    close_id String,
    closed_at DateTime
)
ENGINE = ReplacingMergeTree
ORDER BY period;

-- Statement lines of each close: a closed month's frozen figure ('settled')
-- and the adjustments it booked for earlier closed months. Lines of a close
-- that never recorded its closure are never read.
CREATE TABLE IF NOT EXISTS statements
(
    close_id String,
    credit_code String,
    payout_period UInt32,
    for_period UInt32,
    kind String,
    eligible_base Decimal(18, 4),
    subsidy Decimal(18, 4)
)
ENGINE = ReplacingMergeTree
ORDER BY (close_id, credit_code, for_period, kind);
