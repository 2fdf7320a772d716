-- Completeness against the platform (see the ClickHouse migration of the same
-- name). platform_counts: the platform's own count of usage records and sum
-- of their paid_amount per compute center and day (China Standard Time), as
-- the collector pulled it; version = the offset of the count on its topic,
-- the higher stands. close_overrides: a close forced past a gap between
-- those counts and the ledger, with who forced it, why, and the gap then
-- (gaps: the center-days as JSON). Written before the close's transaction;
-- it counts only where a closure names its close_id.

CREATE TABLE IF NOT EXISTS platform_counts (
    center_id        TEXT NOT NULL,
    usage_date       TEXT NOT NULL,
    records          INTEGER NOT NULL,
    paid_amount      TEXT NOT NULL,
    version          INTEGER NOT NULL,
    PRIMARY KEY (center_id, usage_date)
);

CREATE TABLE IF NOT EXISTS close_overrides (
    close_id         TEXT NOT NULL,
    period           INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    operator         TEXT NOT NULL,
    at               TEXT NOT NULL,
    gap_records      INTEGER NOT NULL,
    gaps             TEXT NOT NULL,
    PRIMARY KEY (close_id, period)
);
