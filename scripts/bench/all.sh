#!/usr/bin/env bash
# Every benchmark in one run, each figure beside a reference measured in the
# same run, as one table; with --write, docs/BENCHMARKS.md is regenerated
# from it (commit and machine named).
#
#   bash scripts/bench/all.sh [--write]        (env: BENCH_SMALL=1000000 BENCH_LARGE=5000000)
#   bash scripts/bench/all.sh --long [--write] the long form instead: a province-year
#                                              (scripts/bench/long.sh: recompute at 50 M
#                                              lines, the aggregator at 20 M records, the
#                                              API over 50 M ledger lines with writes,
#                                              freshness at 2,000 and 20,000 records/s);
#                                              checks free disk first
#
# Rows:
#   core rules       the settlement step (criterion, pinned to one core) vs
#                    parsing the same records' lines (same bench)
#   recompute        `recompute` over SMALL and LARGE lines vs the bare JSON
#                    parse of the same file (examples/bare_parse.rs: serde_json
#                    Values, same threads) and vs loading the JSONL into
#                    ClickHouse and computing a settlement there in SQL
#   collector        simulator → collect → broker vs a minimal confluent-kafka
#                    producer sending the same lines (scripts/bench/collector.sh)
#   aggregator       broker → aggregate → ClickHouse vs clickhouse-client
#                    inserting the same rows (scripts/bench/aggregator.sh, tansu
#                    memory engine)
#   API              p99 of the accruals endpoint under 64 clients over a year
#                    of SMALL and of LARGE lines, steady and while batches are
#                    written (scripts/bench/api.sh)
#   peak RSS         of recompute, collect, aggregate and serve
# Raw logs of every step are kept in $BENCH_OUT (default: a temporary directory).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
if [ "${1:-}" = "--long" ]; then
    shift
    exec bash scripts/bench/long.sh "$@"
fi
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
SMALL="${BENCH_SMALL:-1000000}"
LARGE="${BENCH_LARGE:-5000000}"
OUT="${BENCH_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
CH_TCP="${SUBSIDY_CH_TCP_PORT:-9000}"
chq() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" "$@"; }
ensure_gnu_time
# Installs what is missing (Debian packages, the broker, the Python venv the raw producer runs in).
bash deploy/dev/services.sh install >/dev/null
bash deploy/dev/services.sh start clickhouse kafka >/dev/null
cargo build --release -q -p subsidy-meter
cargo build --release -q -p subsidy-core --example bare_parse
BIN="$REPO/target/release/subsidy-meter"
BARE="$REPO/target/release/examples/bare_parse"
STARTED=$(date +%s)
ROWS="$OUT/rows.tsv"
: >"$ROWS"

# timed OUTFILE CMD...: runs CMD under GNU time; OUTFILE gets wall seconds and peak RSS (KiB).
timed() {
    local out="$1"; shift
    /usr/bin/time -f '%e %M' -o "$out" "$@"
}

echo "== core rules (criterion, one core)"
taskset -c 0 cargo bench -q -p subsidy-core --bench core -- --noplot >"$OUT/core.txt" 2>&1
# "thrpt:  [low mid high]" after each benchmark's name: the middle estimate, in elements/s.
thrpt() { awk -v name="core/$1" '$1 == name {found=1} found && /thrpt:/ {gsub(/\[|\]/, ""); v=$4; u=$5; m = (u ~ /^M/) ? 1e6 : (u ~ /^K/) ? 1e3 : 1; printf "%.0f", v*m; exit}' "$OUT/core.txt"; }
step=$(thrpt step_accrue_settle)
parse=$(thrpt parse_record)
row "core rules" "settlement step, records/s on one core" "$step" "parsing the same lines: $parse" "$(ratio "$step" "$parse")"

sql_settle() { # db
    chq --multiquery --query "
SELECT count(), sum(subsidy) FROM (
  SELECT user_credit_code, period, floor(sum(paid) * 0.2 * any(uplift), 2) AS subsidy FROM (
    SELECT user_credit_code, period, paid, uplift FROM (
      SELECT user_credit_code, period, paid FROM (
        SELECT user_credit_code, toYYYYMM(parseDateTimeBestEffort(usage_end), 'Asia/Shanghai') AS period,
               toFloat64OrZero(paid_amount) AS paid, center_id FROM (
          SELECT record_id, argMax(user_credit_code, revision) AS user_credit_code, argMax(usage_end, revision) AS usage_end,
                 argMax(paid_amount, revision) AS paid_amount, argMax(payment_status, revision) AS payment_status,
                 argMax(center_id, revision) AS center_id, argMax(currency, revision) AS currency
          FROM $1.raw GROUP BY record_id)
        WHERE payment_status = 'paid' AND currency = 'CNY')
      ANY INNER JOIN (SELECT center_id, owner_credit_code FROM $1.centers) USING center_id
      WHERE owner_credit_code != user_credit_code)
    ANY INNER JOIN (SELECT credit_code AS user_credit_code, kind,
                           if(city IN ('宿州市', '淮北市', '亳州市', '阜阳市', '蚌埠市', '淮南市'), 1.2, 1.0) AS uplift
                    FROM $1.entities) USING user_credit_code
    WHERE kind IN ('enterprise', 'university', 'research_institute'))
  GROUP BY user_credit_code, period)"
}

sql_reference() { # data_dir -> prints "seconds"
    local data="$1" db="bench_sql_$$" t0 t1
    chq --query "CREATE DATABASE $db"
    chq --multiquery --query "
CREATE TABLE $db.raw (record_id String, revision UInt32, user_credit_code String, center_id String, usage_end String,
                      paid_amount String, payment_status String, currency String) ENGINE = MergeTree ORDER BY record_id;
CREATE TABLE $db.entities (credit_code String, kind String, city String) ENGINE = Memory;
CREATE TABLE $db.centers (center_id String, owner_credit_code String) ENGINE = Memory;"
    python3 -c 'import json,sys; [print(json.dumps(e, ensure_ascii=False)) for e in json.load(open(sys.argv[1]))]' "$data/entities.json" |
        chq --input_format_skip_unknown_fields=1 --query "INSERT INTO $db.entities FORMAT JSONEachRow"
    python3 -c 'import json,sys; [print(json.dumps(e, ensure_ascii=False)) for e in json.load(open(sys.argv[1]))]' "$data/centers.json" |
        chq --input_format_skip_unknown_fields=1 --query "INSERT INTO $db.centers FORMAT JSONEachRow"
    t0=$(date +%s.%N)
    chq --input_format_skip_unknown_fields=1 --input_format_allow_errors_ratio=0.5 --query "INSERT INTO $db.raw FORMAT JSONEachRow" <"$data/records.jsonl"
    sql_settle "$db" >"$OUT/sql-result.txt"
    t1=$(date +%s.%N)
    chq --query "DROP DATABASE $db"
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b-a}'
}

for n in "$SMALL" "$LARGE"; do
    data="$OUT/data-$n"
    echo "== recompute, $n lines"
    [ -s "$data/records.jsonl" ] || SUBSIDY_PLATFORM_TOKEN=bench "$BIN" platform-sim --records "$n" --write-files "$data" --write-only 2>/dev/null
    lines=$(wc -l <"$data/records.jsonl")
    timed "$OUT/recompute-$n.time" "$BIN" recompute --records "$data/records.jsonl" --entities "$data/entities.json" \
        --centers "$data/centers.json" --out "$OUT/settlements-$n.csv" --exclusions "$OUT/exclusions-$n.jsonl" --force 2>"$OUT/recompute-$n.log"
    read -r r_wall r_rss <"$OUT/recompute-$n.time"
    timed "$OUT/bare-$n.time" "$BARE" "$data/records.jsonl" >"$OUT/bare-$n.log"
    read -r b_wall _ <"$OUT/bare-$n.time"
    r_rate=$(awk -v n="$lines" -v s="$r_wall" 'BEGIN {printf "%.0f", n/s}')
    b_rate=$(awk -v n="$lines" -v s="$b_wall" 'BEGIN {printf "%.0f", n/s}')
    row "recompute, $n lines" "lines/s, end to end (files in, CSV and exclusions out)" "$r_rate" "bare JSON parse: $b_rate" "$(ratio "$r_rate" "$b_rate")"
    s_wall=$(sql_reference "$data")
    s_rate=$(awk -v n="$lines" -v s="$s_wall" 'BEGIN {printf "%.0f", n/s}')
    row "recompute, $n lines" "lines/s, end to end" "$r_rate" "ClickHouse load + SQL settlement: $s_rate" "$(ratio "$r_rate" "$s_rate")"
    row "peak RSS, $n lines" "recompute" "$(mib "$r_rss")" "bare parse holding the file: $(mib "$(cut -d' ' -f2 "$OUT/bare-$n.time")")" "—"
done

for n in "$SMALL" "$LARGE"; do
    echo "== collector, $n records"
    BENCH_RSS_FILE="$OUT/collect-$n.rss" bash scripts/bench/collector.sh "$n" 1 | tee "$OUT/collector-$n.log" | tail -n 1
    line=$(grep '^median over' "$OUT/collector-$n.log")
    c=$(echo "$line" | sed -E 's/.*collector ([0-9]+) records\/s.*/\1/')
    r=$(echo "$line" | sed -E 's/.*raw producer ([0-9]+) records\/s.*/\1/')
    row "collector, $n records" "records/s, platform → broker acknowledged" "$c" "confluent-kafka producer: $r" "$(ratio "$c" "$r")"
    row "peak RSS, $n records" "collect" "$(mib "$(sort -g "$OUT/collect-$n.rss" | tail -n 1)")" "—" "—"
done

echo "== aggregator, $SMALL and $LARGE records"
BENCH_BROKER=memory BENCH_ROUNDS=1 bash scripts/bench/aggregator.sh "$SMALL" "$LARGE" >"$OUT/aggregator.log" 2>&1
for n in "$SMALL" "$LARGE"; do
    line=$(grep -E "^  $n records: steady" "$OUT/aggregator.log")
    a=$(echo "$line" | sed -E 's/.*steady ([0-9]+) records\/s.*/\1/')
    rss=$(echo "$line" | sed -E 's/.*peak RSS ([0-9.]+) MiB.*/\1/')
    cli=$(echo "$line" | sed -E 's/.*clickhouse-client ([0-9]+) records\/s.*/\1/')
    row "aggregator, $n records" "records/s, broker → ClickHouse ledgers (steady)" "$a" "clickhouse-client inserting the same rows: $cli" "$(ratio "$a" "$cli")"
    row "peak RSS, $n records" "aggregate" "$rss MiB" "—" "—"
done

for n in "$SMALL" "$LARGE"; do
    echo "== API, a year of $n lines"
    BENCH_RECORDS="$n" bash scripts/bench/api.sh >"$OUT/api-$n.log" 2>&1
    steady=$(grep '^accruals, steady' "$OUT/api-$n.log" | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/')
    writes=$(grep '^accruals, while batches' "$OUT/api-$n.log" | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/')
    rps=$(grep '^accruals, steady' "$OUT/api-$n.log" | sed -E 's/.*: ([0-9]+) requests\/s.*/\1/')
    row "API accruals, $n lines, 64 clients" "p99 ms, steady ($rps requests/s)" "$steady" "while batches are written: $writes" "$(ratio "$steady" "$writes")"
    row "peak RSS, $n lines" "serve" "$(grep '^serve peak RSS' "$OUT/api-$n.log" | sed -E 's/serve peak RSS: ([0-9.]+) MiB.*/\1/') MiB" "—" "—"
done

TOOK=$(( $(date +%s) - STARTED ))
TABLE="$OUT/table.md"
bench_table "$ROWS" "$TABLE"
echo "all benchmarks: $TOOK s; logs in $OUT"
[ "$WRITE" = 0 ] || write_bench_section bench "$TABLE" "bash scripts/bench/all.sh --write" "$TOOK"
