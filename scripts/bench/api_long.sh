#!/usr/bin/env bash
# The accruals API over a province-year, while a live pipeline writes into
# the same ledger. Run by long.sh, which leaves the aggregator's ledger of its
# records in the ClickHouse database BENCH_DB.
#
#   BENCH_DB=db BENCH_LEDGER_LINES=50000000 bash scripts/bench/api_long.sh
#
# Steps: copy the database's ledger lines under new record ids (SQL, inside
# ClickHouse) until it holds BENCH_LEDGER_LINES lines; close the months of
# 2025 named in BENCH_CLOSE_MONTHS (none unless named: on ClickHouse 18.16 a
# close over 50 M lines takes minutes); start `serve` (bureau token) and time its first book read; 64 clients (oha)
# ask for the accruals of entities drawn from 500 for BENCH_DURATION; then a
# live pipeline (simulator releasing 2,000 new records a second of the same
# entities → collect → a throwaway tansu (sqlite) → aggregate into the same
# database) runs while the same load is measured again. Prints oha's p50 and
# p99, the book refreshes serve logged while the pipeline wrote (count,
# median, p99, max) and serve's peak RSS.
#
# Env: BENCH_DB, BENCH_LEDGER_LINES (50000000), BENCH_DURATION (30s), BENCH_BIN,
# BENCH_CLOSE_MONTHS (the months of 2025 to close first, e.g. "01 02"; default none).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
DB="${BENCH_DB:?the database to serve}"
TARGET="${BENCH_LEDGER_LINES:-50000000}"
DURATION="${BENCH_DURATION:-30s}"
CH_HTTP="http://127.0.0.1:${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_TCP="${SUBSIDY_CH_TCP_PORT:-9000}"
BIN="${BENCH_BIN:?a built subsidy-meter}"
OHA_VERSION="1.16.0"
if [[ "$(oha --version 2>/dev/null)" != *"$OHA_VERSION"* ]]; then
    cargo install oha --version "$OHA_VERSION" --locked -q
fi
export SUBSIDY_PLATFORM_TOKEN="${SUBSIDY_PLATFORM_TOKEN:-bench-token}"
WORK="$(mktemp -d)"
PIDS=()
chq() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" "$@"; }
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -z "$BROKER_PORT" ] || private_broker stop kafka >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
BROKER_PORT=""
trap cleanup EXIT
BROKER_PORT=$(free_port) BROKER_ENGINE=sqlite
private_broker start kafka >/dev/null
BROKERS="127.0.0.1:$BROKER_PORT"
wait_http() { for _ in $(seq 600); do curl -sf -o /dev/null "$@" && return 0; sleep 0.2; done; echo "no answer from $*" >&2; return 1; }
store=(--clickhouse-url "$CH_HTTP" --clickhouse-database "$DB")

# Copies of the standing lines under new record ids, each copy a new line to the
# ledger and to its change log (no earlier line of its id).
have=$(chq --query "SELECT count() FROM $DB.ledger_lines FINAL")
echo "ledger: $have lines; copying up to $TARGET"
k=1
while (( have < TARGET )); do
    take=$(( TARGET - have < have ? TARGET - have : have ))
    chq --query "$(bash scripts/bench/ledger_copy_sql.sh "$DB" "c$k-" "$take")"
    have=$(chq --query "SELECT count() FROM $DB.ledger_lines FINAL")
    echo "  copy $k: $have lines"
    k=$((k + 1))
done
for m in ${BENCH_CLOSE_MONTHS:-}; do "$BIN" close --period "2025-$m" "${store[@]}" 2>&1 | grep '^close:' || true; done

token_out=$("$BIN" token new --role bureau 2>/dev/null)
TOKEN=$(head -n 1 <<<"$token_out")
tail -n +2 <<<"$token_out" >"$WORK/tokens.toml"
api_port=$(free_port)
t0=$(date +%s.%N)
RUST_LOG="${BENCH_SERVE_LOG:-info,subsidy_api::state=debug}" "$BIN" serve --listen "127.0.0.1:$api_port" --tokens "$WORK/tokens.toml" --kafka-brokers "$BROKERS" "${store[@]}" 2>"$WORK/serve.log" &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_http "http://127.0.0.1:$api_port/openapi.json"
codes=$(chq --query "SELECT user_credit_code FROM (SELECT DISTINCT user_credit_code FROM $DB.ledger_lines) ORDER BY cityHash64(user_credit_code) LIMIT 500" | paste -sd'|')
wait_http -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$api_port/v1/entities/$(cut -d'|' -f1 <<<"$codes")/accruals"
echo "book read at start: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}') s (serve started to first accruals answered)"
base="http://127.0.0.1:$api_port/v1/entities/($codes)"
run() { # name oha-flags…
    local name="$1" json
    shift
    json=$(oha --no-tui --output-format json -c 64 "$@" -H "Authorization: Bearer $TOKEN" --rand-regex-url "$base/accruals")
    python3 - "$name" "$json" <<'PYEOF'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
s, p = r["summary"], r["latencyPercentiles"]
print(f"{name}: {s['requestsPerSec']:.0f} requests/s, p50 {p['p50']*1000:.1f} ms, p99 {p['p99']*1000:.1f} ms, "
      f"statuses {r.get('statusCodeDistribution', {})}, success rate {s['successRate']:.4f}")
PYEOF
}
run "accruals, steady ($DURATION)" -z "$DURATION"

# The live pipeline: new records of the same entities, released at 2,000 a second. The
# simulator's seed, months and entity count are long.sh's, so it serves the same registry
# (which does not depend on the number of records); the record ids are made new. A
# registry of its own would change every entity, and the aggregator would re-settle the
# whole ledger while the API is measured.
"$BIN" platform-sim --records 400000 --entities 20000 --first-month 2025-01 --last-month 2025-12 --malformed-share 0 \
    --write-files "$WORK/live" --write-only --force 2>/dev/null
sed -i 's/"record_id":"ur-/"record_id":"live-ur-/' "$WORK/live/records.jsonl"
prefix="api-long-$$"
topics=(--topic-records "$prefix.records" --topic-entities "$prefix.entities" --topic-centers "$prefix.centers")
"$BIN" aggregate --kafka-brokers "$BROKERS" "${topics[@]}" "${store[@]}" --group "$prefix" --fetch-wait-ms 20 \
    --metrics-addr 127.0.0.1:0 2>"$WORK/aggregate.log" &
PIDS+=($!)
sim_port=$(free_port)
"$BIN" platform-sim --listen "127.0.0.1:$sim_port" --data-dir "$WORK/live" --release-rate 2000 2>"$WORK/sim.log" &
PIDS+=($!)
wait_http -H "Authorization: Bearer $SUBSIDY_PLATFORM_TOKEN" "http://127.0.0.1:$sim_port/v1/compute-centers"
"$BIN" collect --platform-url "http://127.0.0.1:$sim_port" --kafka-brokers "$BROKERS" "${topics[@]}" \
    --topic-dead-letter "$prefix.dead-letter" --topic-checkpoints "$prefix.checkpoints" --metrics-addr 127.0.0.1:0 2>"$WORK/collect.log" &
PIDS+=($!)
sleep 10
curl -sf "http://127.0.0.1:$api_port/metrics" >"$WORK/before.prom"
window_from=$(wc -l <"$WORK/serve.log")
run "accruals, while the pipeline writes 2000 records/s ($DURATION)" -z "$DURATION"
curl -sf "http://127.0.0.1:$api_port/metrics" >"$WORK/after.prom"
# The refreshes of the window, from serve's histogram: count, mean, and the bucket bound
# under which 99 % of them fell, by kind (full or incremental).
python3 - "$WORK/before.prom" "$WORK/after.prom" <<'PYEOF'
import re, sys
def read(path):
    out = {}
    for m in re.finditer(r'^subsidy_api_book_refresh_seconds_(bucket|sum|count)\{([^}]*)\} ([0-9.e+]+)$', open(path).read(), re.M):
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
for kind in ("incremental", "full"):
    n = b.get(("count", f'kind="{kind}"'), 0) - a.get(("count", f'kind="{kind}"'), 0)
    if not n:
        continue
    total = b[("sum", f'kind="{kind}"')] - a.get(("sum", f'kind="{kind}"'), 0)
    buckets = sorted((float(k[1].split('le="')[1].rstrip('"')), v - a.get(k, 0)) for k, v in b.items()
                     if k[0] == "bucket" and f'kind="{kind}"' in k[1])
    p99 = next(le for le, c in buckets if c >= 0.99 * n)
    print(f"book refreshes while the pipeline writes ({kind}): {int(n)}, mean {total / n:.3f} s, p99 at most {p99} s")
PYEOF
# Where the slowest refreshes of the window spent their time (serve's debug log).
tail -n +"$((window_from + 1))" "$WORK/serve.log" >"$WORK/window.log"
python3 - "$WORK/window.log" <<'PYEOF'
import re, sys
log = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in open(sys.argv[1])]
def num(line, field):
    m = re.search(r"\b" + field + r"=([0-9.e+-]+)", line)
    return float(m.group(1)) if m else 0.0
ups = sorted((l for l in log if "brought the book up" in l), key=lambda l: num(l, "seconds"), reverse=True)
for l in ups[:3]:
    print(f"  slow refresh: {num(l, 'seconds'):.3f} s (parts {num(l, 'parts_seconds'):.3f} s, fold {num(l, 'fold_seconds'):.3f} s)")
reads = sorted((l for l in log if "read the changes after a mark" in l), key=lambda l: num(l, "seconds"), reverse=True)
for l in reads[:3]:
    print(f"  slow read of changes: {num(l, 'seconds'):.3f} s ({num(l, 'rows'):.0f} rows, of which listing the streams {num(l, 'streams_seconds'):.3f} s)")
parts = [num(l, "seconds") for l in log if "parts again" in l]
gaps = sorted(num(l, "seconds") for l in log if "compared the open months" in l)
print(f"  parts read again {len(parts)} times (max {max(parts, default=0):.3f} s); "
      f"usage-count comparisons {len(gaps)}, median {gaps[len(gaps) // 2] if gaps else 0:.3f} s")
PYEOF
echo "the live pipeline: $(grep -o '[0-9]* messages consumed' "$WORK/aggregate.log" | tail -n 1 || echo 'still running')"
echo "serve peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$SERVE_PID/status")"
