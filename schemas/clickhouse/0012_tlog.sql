-- The transparency log of what is payable: the checkpoints the bureau signed
-- after each close, and the cosignatures the cities' witnesses sent for them.
-- The leaves are not stored: they are recomputed from the statements, so an
-- audit catches a statement changed after it was signed.
-- size: the number of statement lines in the log; root: its RFC 6962 root,
-- base64; note: the signed checkpoint (C2SP tlog-checkpoint, signed note);
-- period: the last closed month it holds, YYYYMM. Signing is deterministic,
-- so two closers signing one size write the same row.
CREATE TABLE IF NOT EXISTS tlog_checkpoints
(
    size UInt64,
    root String,
    note String,
    period UInt32
)
ENGINE = ReplacingMergeTree
ORDER BY size;

-- line: the cosignature line (C2SP tlog-cosignature) of witness on the
-- checkpoint of that size; a witness cosigning again replaces its line.
CREATE TABLE IF NOT EXISTS tlog_cosignatures
(
    size UInt64,
    witness String,
    line String
)
ENGINE = ReplacingMergeTree
ORDER BY (size, witness);
