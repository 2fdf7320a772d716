#!/usr/bin/env bash
# recompute throughput and memory, end to end (reading, JSON parsing,
# classification, accrual, settlement, writing the CSV and the exclusions).
#
# Generates RECORDS record lines with the simulator, then runs `recompute`
# ROUNDS times under /usr/bin/time -v and prints the median wall time,
# lines/s and the largest peak RSS, next to the size of the records file.
# Then runs it once more over the file concatenated with itself: twice the
# lines, the same distinct record ids (every line of the second half repeats
# one of the first), so peak RSS should stay nearly the same.
#
#   bash scripts/bench/recompute.sh [RECORDS] [ROUNDS]
#
# Env: BENCH_ENTITIES (default 300; try 20000 for a province-sized registry),
#      BENCH_DIR (keep the generated data there instead of a temporary directory),
#      BENCH_MEMORY_BUDGET (recompute's --memory-budget, default 2G: past it the
#      per-record state is spilled to the work directory; peak RSS is reported either way).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
RECORDS="${1:-1000000}"
ROUNDS="${2:-5}"
ENTITIES="${BENCH_ENTITIES:-300}"
BUDGET="${BENCH_MEMORY_BUDGET:-2G}"

ensure_gnu_time

cargo build --release -q -p subsidy-meter
BIN="$REPO/target/release/subsidy-meter"
if [ -n "${BENCH_DIR:-}" ]; then
    WORK="$BENCH_DIR"
    mkdir -p "$WORK"
else
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
fi
DATA="$WORK/data-$RECORDS-$ENTITIES"
if [ ! -s "$DATA/records.jsonl" ]; then
    SUBSIDY_PLATFORM_TOKEN="${SUBSIDY_PLATFORM_TOKEN:-bench-token}" \
        "$BIN" platform-sim --records "$RECORDS" --entities "$ENTITIES" --write-files "$DATA" --write-only 2>/dev/null
fi

max() { sort -g | tail -n 1; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b/1048576}'; }

# run RECORDS_FILE: one timed recompute; prints "wall_s peak_rss_kib lines cpu_s"
# (cpu_s = user + system; cpu_s / wall_s near 1 means the run had one core, not two)
run() {
    /usr/bin/time -v -o "$WORK/time.txt" "$BIN" recompute --records "$1" \
        --entities "$DATA/entities.json" --centers "$DATA/centers.json" \
        --out "$WORK/settlements.csv" --exclusions "$WORK/exclusions.jsonl" --force \
        --memory-budget "$BUDGET" --temp-dir "$WORK" 2>"$WORK/stderr.txt"
    local wall rss lines cpu
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/time.txt" | awk -F: '{s=0; for (i=1;i<=NF;i++) s=s*60+$i; print s}')
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time.txt")
    cpu=$(sed -n 's/.*\(User\|System\) time (seconds): //p' "$WORK/time.txt" | awk '{s+=$1} END {printf "%.2f", s}')
    lines=$(sed -n 's/^recompute: \([0-9]*\) lines.*/\1/p' "$WORK/stderr.txt")
    echo "$wall $rss $lines $cpu"
}

# series FILE ROUNDS LABEL: ROUNDS timed runs, then the summary line
series() {
    local file="$1" rounds="$2" label="$3" bytes
    bytes=$(stat -c %s "$file")
    : >"$WORK/wall.txt"; : >"$WORK/rss.txt"; : >"$WORK/cpu.txt"
    for round in $(seq "$rounds"); do
        read -r wall rss lines cpu < <(run "$file")
        [ -n "$lines" ] || { echo "recompute failed:" >&2; cat "$WORK/stderr.txt" >&2; exit 1; }
        echo "$wall" >>"$WORK/wall.txt"; echo "$rss" >>"$WORK/rss.txt"; echo "$cpu" >>"$WORK/cpu.txt"
        echo "  $label round $round: $lines lines in ${wall}s, $(echo "$lines $wall" | awk '{printf "%.0f", $1/$2}') lines/s," \
            "cpu ${cpu}s, peak RSS $(mib $((rss * 1024))) MiB"
    done
    local w r c
    w=$(median <"$WORK/wall.txt"); r=$(max <"$WORK/rss.txt"); c=$(median <"$WORK/cpu.txt")
    echo "$label: $lines lines, file $(mib "$bytes") MiB; median wall ${w}s over $rounds rounds," \
        "$(echo "$lines $w" | awk '{printf "%.0f", $1/$2}') lines/s; median cpu ${c}s; peak RSS $(mib $((r * 1024))) MiB"
}

echo "recompute bench: $RECORDS records, $ENTITIES entities, $(nproc) cores, --memory-budget $BUDGET"
series "$DATA/records.jsonl" "$ROUNDS" "single"
grep '^recompute:' "$WORK/stderr.txt"

# The same file twice: lines double, distinct record ids do not.
cat "$DATA/records.jsonl" "$DATA/records.jsonl" >"$WORK/doubled.jsonl"
series "$WORK/doubled.jsonl" "$(( ROUNDS < 3 ? ROUNDS : 3 ))" "doubled"
grep '^recompute:' "$WORK/stderr.txt"
rm -f "$WORK/doubled.jsonl"
