-- The registry as of the usage: every entry of an entity or center is kept,
-- one per key and day (valid_from, China Standard Time; '' for an undated
-- entry), and each ledger line names the entries it was judged by.
-- The entry tables replace registry_entities and registry_centers, whose
-- sorting key holds one row per key; those are no longer written or read.
-- Written whole at each re-settlement round: the rows of the highest
-- registry position stand. related_group = '' when the entity has none.

CREATE TABLE IF NOT EXISTS registry_entity_entries
(
    credit_code String,
    valid_from String,
    name String,
    kind String,
    province String,
    city String,
    related_group String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (credit_code, valid_from);

CREATE TABLE IF NOT EXISTS registry_center_entries
(
    center_id String,
    valid_from String,
    name String,
    owner_credit_code String,
    province String,
    city String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (center_id, valid_from);

-- The day of the user's and of the center's entry each line was judged by
-- ('' for an undated entry, or none). Lines written before this migration
-- read '' until their record is settled again.
ALTER TABLE ledger_lines
    ADD COLUMN entity_entry String DEFAULT '',
    ADD COLUMN center_entry String DEFAULT '';
