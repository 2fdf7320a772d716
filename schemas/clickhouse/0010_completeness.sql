-- Completeness against the platform. platform_counts: the platform's own
-- count of usage records and sum of their paid_amount per compute center and
-- day (China Standard Time), as the collector pulled it; version = the
-- offset of the count on its topic, the highest stands (reads use FINAL).
-- close_overrides: a close forced past a gap between those counts and the
-- ledger, with who forced it, why, and the gap then (gaps: the center-days as
-- JSON). Written before the close's claim; it counts only where a closure
-- names its close_id.
CREATE TABLE IF NOT EXISTS platform_counts
(
    center_id String,
    usage_date Date,
    records UInt64,
    paid_amount Decimal(38, 4),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (usage_date, center_id);

CREATE TABLE IF NOT EXISTS close_overrides
(
    close_id String,
    period UInt32,
    reason String,
    operator String,
    at DateTime,
    gap_records UInt64,
    gaps String
)
ENGINE = ReplacingMergeTree
ORDER BY (period, close_id);
