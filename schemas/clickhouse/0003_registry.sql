-- The registry as the aggregator last read it, so that readers of the
-- ledger (the accruals API, its access rules by city) see the entities and
-- centers the lines were settled against. Written whole at each
-- re-settlement round; the row of the highest registry position stands.
-- related_group = '' when the entity has none.

CREATE TABLE IF NOT EXISTS registry_entities
(
    credit_code String,
    name String,
    kind String,
    province String,
    city String,
    related_group String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY credit_code;

CREATE TABLE IF NOT EXISTS registry_centers
(
    center_id String,
    name String,
    owner_credit_code String,
    province String,
    city String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY center_id
