-- Settlements per entity and month, closures and frozen settlements.

-- The highest version of each key stands; eligible_records = 0 hides the key.
CREATE TABLE IF NOT EXISTS settlements (
    credit_code      TEXT NOT NULL,
    period           INTEGER NOT NULL,
    eligible_records INTEGER NOT NULL,
    eligible_base    TEXT NOT NULL,
    uncapped         TEXT NOT NULL,
    subsidy          TEXT NOT NULL,
    version          INTEGER NOT NULL,
    PRIMARY KEY (credit_code, period)
);

-- closed_at is RFC 3339 UTC to the second.
CREATE TABLE IF NOT EXISTS period_closures (
    period           INTEGER PRIMARY KEY,
    closed_at        TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS closed_settlements (
    credit_code      TEXT NOT NULL,
    period           INTEGER NOT NULL,
    eligible_records INTEGER NOT NULL,
    eligible_base    TEXT NOT NULL,
    uncapped         TEXT NOT NULL,
    subsidy          TEXT NOT NULL,
    PRIMARY KEY (credit_code, period)
);
