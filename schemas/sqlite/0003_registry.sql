-- The registry as the aggregator last read it (see the ClickHouse migration
-- of the same name). Upserts keep the highest version; related_group = ''
-- when the entity has none.

CREATE TABLE IF NOT EXISTS registry_entities (
    credit_code      TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    province         TEXT NOT NULL,
    city             TEXT NOT NULL,
    related_group    TEXT NOT NULL,
    version          INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS registry_centers (
    center_id         TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    owner_credit_code TEXT NOT NULL,
    province          TEXT NOT NULL,
    city              TEXT NOT NULL,
    version           INTEGER NOT NULL
);
