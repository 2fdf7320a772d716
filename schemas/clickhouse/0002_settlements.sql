-- Settlements per entity and month, closures and the frozen settlements of closed months.

-- The highest version of each (credit_code, period) stands; a row with
-- eligible_records = 0 hides the key.
CREATE TABLE IF NOT EXISTS settlements
(
    credit_code String,
    period UInt32,
    eligible_records UInt64,
    eligible_base Decimal(18, 4),
    uncapped Decimal(38, 10),
    subsidy Decimal(18, 4),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (credit_code, period);

-- Closed months (period as yyyymm).
CREATE TABLE IF NOT EXISTS period_closures
(
    period UInt32,
    closed_at DateTime
)
ENGINE = ReplacingMergeTree
ORDER BY period;

-- Copies taken when a month closes. closed_at ties each copy to its closure,
-- so the rows of an interrupted attempt are never read.
CREATE TABLE IF NOT EXISTS closed_settlements
(
    credit_code String,
    period UInt32,
    eligible_records UInt64,
    eligible_base Decimal(18, 4),
    uncapped Decimal(38, 10),
    subsidy Decimal(18, 4),
    closed_at DateTime
)
ENGINE = ReplacingMergeTree
ORDER BY (credit_code, period, closed_at);
