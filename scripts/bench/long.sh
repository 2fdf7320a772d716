#!/usr/bin/env bash
# The long form: a province-year on this machine. Run by `all.sh --long`.
#
#   bash scripts/bench/long.sh [--write]     (env: LONG_LINES=50000000 LONG_AGG=20000000,
#                                            BENCH_PROFILE=release: the cargo profile of both
#                                            the project and the bare parse)
#
# Rows (each with peak RSS, sampled through the run):
#   recompute    LONG_LINES lines under the default memory budget (2 GiB),
#                beside the bare JSON parse of the same file
#   aggregator   LONG_AGG records, broker (tansu, memory engine) → aggregate →
#                ClickHouse, steady records/s, RSS at each tenth
#                (scripts/bench/aggregator.sh), beside clickhouse-client
#   API          accruals p99 under 64 clients over LONG_LINES ledger lines,
#                steady and while a live pipeline writes 2,000 records/s
#                into the same ledger; serve's book refresh times
#   freshness    platform → API p99 at 2,000 and 20,000 records/s
#                (scripts/bench/freshness.sh)
#
# Data: the simulator writes a year (2025) of BASE lines for 20,000 entities;
# the LONG_LINES file is that year repeated with record ids made distinct per
# copy (the same entities, centers and months: a denser province). The
# LONG_AGG file is its first copies. The 50 M-line ledger of the API rows is
# the aggregator's ledger plus copies of its lines under new record ids,
# inserted in SQL.
#
# Disk: checked before anything starts (the estimate is printed); the work
# directory is $BENCH_OUT (default target/bench-long), removed at the end
# unless BENCH_KEEP=1.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
LINES="${LONG_LINES:-50000000}"
AGG="${LONG_AGG:-20000000}"
BASE="${LONG_BASE:-10000000}"
# Which parts run (all of them unless named): recompute,aggregator,api,freshness.
PARTS=",${LONG_PARTS:-recompute,aggregator,api,freshness},"
part() { [[ "$PARTS" == *",$1,"* ]]; }
(( LINES % BASE == 0 && AGG % BASE == 0 )) || { echo "LONG_LINES and LONG_AGG must be multiples of LONG_BASE ($BASE)" >&2; exit 2; }
OUT="${BENCH_OUT:-$REPO/target/bench-long}"
mkdir -p "$OUT"
CH_HTTP="http://127.0.0.1:${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_TCP="${SUBSIDY_CH_TCP_PORT:-9000}"
chq() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" "$@"; }
ensure_gnu_time
bash deploy/dev/services.sh install >/dev/null
bash deploy/dev/services.sh start clickhouse >/dev/null
# One build of the workspace and its examples (bare_parse), in BENCH_PROFILE (default release).
PROFILE="${BENCH_PROFILE:-release}"
cargo build --profile "$PROFILE" -q --workspace --bins --examples
BENCH_BIN="$REPO/target/$PROFILE/subsidy-meter"
BIN="$BENCH_BIN"
BARE="$REPO/target/$PROFILE/examples/bare_parse"
export BENCH_BIN SUBSIDY_PLATFORM_TOKEN="${SUBSIDY_PLATFORM_TOKEN:-bench-token}"
STARTED=$(date +%s)
ROWS="$OUT/rows.tsv"
: >"$ROWS"
cleanup() { [ -n "${BENCH_KEEP:-}" ] || rm -rf "$OUT/data" "$OUT/spill" "$OUT"/*.jsonl "$OUT"/*.csv; }
trap cleanup EXIT

# rss_sampler PID FILE: the process's RSS (KiB) every second, "seconds rss".
rss_sampler() {
    local pid=$1 out=$2 t0=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        awk -v t=$((SECONDS - t0)) '$1=="VmRSS:" {print t, $2}' "/proc/$pid/status" 2>/dev/null >>"$out" || true
        sleep 1
    done
}
# sampled FILE CMD...: runs CMD under GNU time (FILE.time: wall s, peak KiB) with FILE.rss sampled.
sampled() {
    local f="$1"; shift
    : >"$f.rss"
    /usr/bin/time -f '%e %M' -o "$f.time" "$@" &
    local tp=$! pid=""
    for _ in $(seq 100); do pid=$(pgrep -P "$tp" || true); [ -n "$pid" ] && break; sleep 0.05; done
    [ -z "$pid" ] || rss_sampler "$pid" "$f.rss" &
    wait "$tp"
}
# The RSS samples at each tenth of the run, MiB.
tenths() { awk '{t[NR]=$1; r[NR]=$2} END {for (q = 1; q <= 10; q++) {i = int(NR * q / 10); if (i < 1) i = 1; printf "%s%.0f", (q > 1 ? "/" : ""), r[i]/1024}}' "$1"; }

echo "== the data: $BASE base lines, $LINES in all"
mkdir -p "$OUT/data/base"
"$BIN" platform-sim --records 20000 --entities 20000 --first-month 2025-01 --last-month 2025-12 --malformed-share 0 \
    --write-files "$OUT/data/probe" --write-only --force 2>/dev/null
per_line=$(( $(stat -c %s "$OUT/data/probe/records.jsonl") / 20000 + 1 ))
# What the work directory needs at its fullest, besides the base year: first the LINES file with
# recompute's spill and outputs (≈ 0.8× the file, measured 0.3× for the spill), then, once that
# file is gone, the AGG file, the aggregator's ClickHouse parts and those of clickhouse-client's
# copy (≈ 255 B a record each, measured at 20 M), the JSON export clickhouse-client inserts
# (≈ 1,470 B a record: 580 B a record copy, 890 B a line with its prior) and the copied lines
# (≈ 160 B each). Unless BENCH_KEEP is set, the base year is removed once the AGG file is cut
# from it. Files an earlier run left (BENCH_KEEP=1) are already on the disk.
have() { stat -c %s "$1" 2>/dev/null || echo 0; }
all_bytes=$(have "$OUT/data/all/records.jsonl")
base_have=$(have "$OUT/data/base/records.jsonl")
phase_a=$(( LINES * per_line * 18 / 10 - all_bytes ))
phase_b=$(( AGG * per_line + AGG * (1470 + 2 * 255) + (LINES - AGG) * 160 - all_bytes ))
[ -n "${BENCH_KEEP:-}" ] || phase_b=$(( phase_b - base_have ))
base_bytes=$(( BASE * per_line - base_have ))
need_gib=$(( ((phase_a > phase_b ? phase_a : phase_b) + (base_bytes > 0 ? base_bytes : 0)) / (1 << 30) + 1 ))
free_gib=$(df -P -BG "$OUT" | awk 'NR==2 {gsub("G", "", $4); print $4}')
echo "disk: about $need_gib GiB needed ($per_line bytes a line), $free_gib GiB free under $OUT"
(( free_gib >= need_gib )) || { echo "not enough free disk for the long form: need about $need_gib GiB, have $free_gib GiB" >&2; exit 1; }
[ -s "$OUT/data/base/records.jsonl" ] || "$BIN" platform-sim --records "$BASE" --entities 20000 --first-month 2025-01 --last-month 2025-12 \
    --malformed-share 0 --write-files "$OUT/data/base" --write-only --force 2>/dev/null
# copies FROM TO DIR: lines of copies FROM..TO-1 of the base year, ids prefixed by the copy number.
copies() {
    mkdir -p "$3"
    cp "$OUT/data/base/entities.json" "$OUT/data/base/centers.json" "$3/"
    for k in $(seq "$1" $(( $2 - 1 ))); do sed "s/\"record_id\":\"ur-/\"record_id\":\"ur-$k/" "$OUT/data/base/records.jsonl"; done >"$3/records.jsonl"
}
! part recompute || [ -s "$OUT/data/all/records.jsonl" ] || copies 0 $(( LINES / BASE )) "$OUT/data/all"

if part recompute; then
echo "== recompute, $LINES lines"
mkdir -p "$OUT/spill"
sampled "$OUT/recompute" "$BIN" recompute --records "$OUT/data/all/records.jsonl" --entities "$OUT/data/all/entities.json" \
    --centers "$OUT/data/all/centers.json" --out "$OUT/settlements.csv" --exclusions "$OUT/exclusions.jsonl" \
    --temp-dir "$OUT/spill" --force 2>"$OUT/recompute.log"
read -r r_wall r_rss <"$OUT/recompute.time"
sampled "$OUT/bare" "$BARE" "$OUT/data/all/records.jsonl" >"$OUT/bare.log"
read -r b_wall b_rss <"$OUT/bare.time"
r_rate=$(awk -v n="$LINES" -v s="$r_wall" 'BEGIN {printf "%.0f", n/s}')
b_rate=$(awk -v n="$LINES" -v s="$b_wall" 'BEGIN {printf "%.0f", n/s}')
row "recompute, $LINES lines" "lines/s, end to end, default memory budget" "$r_rate" "bare JSON parse: $b_rate" "$(ratio "$r_rate" "$b_rate")"
row "peak RSS, $LINES lines" "recompute (at each tenth of the run: $(tenths "$OUT/recompute.rss") MiB)" "$(mib "$r_rss")" "bare parse, streaming: $(mib "$b_rss")" "—"
rm -rf "$OUT/exclusions.jsonl" "$OUT/settlements.csv" "$OUT/data/all" "$OUT/spill"
fi

if part aggregator || part api; then
echo "== aggregator, $AGG records"
copies 0 $(( AGG / BASE )) "$OUT/data/agg"
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$OUT/data/base"
BENCH_DATA="$OUT/data/agg" BENCH_BROKER=memory BENCH_ROUNDS=1 BENCH_RSS_POINTS=10 BENCH_KEEP_LEDGER="$OUT/agg.db" \
    bash scripts/bench/aggregator.sh "$AGG" >"$OUT/aggregator.log" 2>&1 || { tail -n 30 "$OUT/aggregator.log" >&2; exit 1; }
rm -rf "$OUT/data/agg"
line=$(grep -E "^  $AGG records: steady" "$OUT/aggregator.log")
a=$(echo "$line" | sed -E 's/.*steady ([0-9]+) records\/s.*/\1/')
cli=$(echo "$line" | sed -E 's/.*clickhouse-client ([0-9]+) records\/s.*/\1/')
curve=$(grep -o 'RSS at each 1/10 of the messages written: [0-9/]* MiB' "$OUT/aggregator.log" | head -n 1 | sed 's/.*written: //')
row "aggregator, $AGG records" "records/s, broker → ClickHouse ledgers (steady)" "$a" "clickhouse-client inserting the same rows: $cli" "$(ratio "$a" "$cli")"
row "RSS, $AGG records" "aggregate, at each tenth of the messages written" "$curve" "—" "—"
fi

if part api; then
echo "== API over $LINES ledger lines"
DB=$(cat "$OUT/agg.db")
BENCH_DB="$DB" BENCH_LEDGER_LINES="$LINES" bash scripts/bench/api_long.sh >"$OUT/api.log" 2>&1 || { tail -n 30 "$OUT/api.log" >&2; exit 1; }
cat "$OUT/api.log"
steady=$(sed -nE 's/^accruals, steady.*p99 ([0-9.]+) ms.*/\1/p' "$OUT/api.log")
writes=$(sed -nE 's/^accruals, while the pipeline writes.*p99 ([0-9.]+) ms.*/\1/p' "$OUT/api.log")
refresh=$(sed -nE 's/^book refreshes while the pipeline writes \(([a-z]+)\): ([0-9]+), mean ([0-9.]+) s, p99 at most ([^ ]+) s.*/≤ \4 s (\1: \2 refreshes, mean \3 s)/p' "$OUT/api.log" | paste -sd';')
full=$(sed -nE 's/^book read at start: ([0-9.]+) s.*/\1 s/p' "$OUT/api.log")
slowest=$(sed -nE 's/^  slow refresh: ([0-9.]+) s.*/\1/p' "$OUT/api.log" | sort -g | tail -n 1)
[ -z "$slowest" ] || refresh="$refresh, slowest $slowest s"
row "API accruals, $LINES lines, 64 clients" "p99 ms while the pipeline writes" "$writes" "steady: $steady" "—"
row "API book, $LINES lines" "refresh p99 while the pipeline writes" "$refresh" "book read at start: $full" "—"
row "peak RSS, $LINES lines" "serve" "$(sed -nE 's/^serve peak RSS: ([0-9.]+) MiB.*/\1 MiB/p' "$OUT/api.log")" "—" "—"
chq --query "DROP DATABASE IF EXISTS $DB"
fi

part freshness && for rate in 2000 20000; do
    echo "== freshness at $rate records/s"
    # A sample never seen within the probe's minute fails the script; the row says how many.
    bash scripts/bench/freshness.sh "$rate" 60 >"$OUT/freshness-$rate.log" 2>&1 || tail -n 5 "$OUT/freshness-$rate.log" >&2
    IFS=, read -r _ _ p50 p99 samples missing < <(grep '^freshness,' "$OUT/freshness-$rate.log" || echo "freshness,$rate,NA,NA,0,NA")
    row "freshness, $rate records/s" "p99 s, platform → API ($samples samples, $missing missing)" "$p99" "p50: $p50" "—"
done

TOOK=$(( $(date +%s) - STARTED ))
TABLE="$OUT/table.md"
bench_table "$ROWS" "$TABLE"
echo "long form: $TOOK s; logs in $OUT"
[ "$WRITE" = 0 ] || write_bench_section long "$TABLE" "bash scripts/bench/all.sh --long --write" "$TOOK"
