-- Closed months and what was fixed for payment when each closed.

-- closed_at is RFC 3339 UTC to the second.
CREATE TABLE IF NOT EXISTS period_closures (
    period           INTEGER PRIMARY KEY,
    close_id         TEXT NOT NULL,
    closed_at        TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS statements (
    close_id         TEXT NOT NULL,
    credit_code      TEXT NOT NULL,
    payout_period    INTEGER NOT NULL,
    for_period       INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    eligible_base    TEXT NOT NULL,
    subsidy          TEXT NOT NULL,
    PRIMARY KEY (close_id, credit_code, for_period, kind)
);
