#!/usr/bin/env bash
# Collector throughput: simulator → collector → broker, against a minimal
# confluent-kafka producer sending the same payloads to the same broker.
# Runs both side by side ROUNDS times and prints medians and their ratio.
#
#   bash scripts/bench/collector.sh [RECORDS] [ROUNDS]
#
# BENCH_RSS_FILE: where to append the collector's peak RSS (KiB) per round.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
RECORDS="${1:-200000}"
ROUNDS="${2:-3}"
BROKERS="${SUBSIDY_KAFKA_BROKERS:-127.0.0.1:9092}"
bash deploy/dev/services.sh start kafka >/dev/null
PY="$(bash deploy/dev/services.sh python)"
cargo build --release -q -p subsidy-meter
BIN="$REPO/target/release/subsidy-meter"
ensure_gnu_time
WORK="$(mktemp -d)"
RSS_FILE="${BENCH_RSS_FILE:-$WORK/collect.rss}"
trap 'kill $SIM_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
export SUBSIDY_PLATFORM_TOKEN=bench-token
"$BIN" platform-sim --records "$RECORDS" --write-files "$WORK/data" --write-only 2>/dev/null
"$BIN" platform-sim --listen 127.0.0.1:18090 --data-dir "$WORK/data" 2>"$WORK/sim.log" &
SIM_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null -H "Authorization: Bearer $SUBSIDY_PLATFORM_TOKEN" http://127.0.0.1:18090/v1/compute-centers && break; sleep 0.2; done

: >"$WORK/collector.txt"; : >"$WORK/raw.txt"
for round in $(seq "$ROUNDS"); do
    prefix="bench-$$-$round"
    start=$(date +%s.%N)
    out=$(/usr/bin/time -f '%M' -a -o "$RSS_FILE" "$BIN" collect --platform-url http://127.0.0.1:18090 --kafka-brokers "$BROKERS" --exit-when-caught-up \
        --metrics-addr 127.0.0.1:0 --topic-records "$prefix.records" --topic-entities "$prefix.entities" \
        --topic-centers "$prefix.centers" --topic-dead-letter "$prefix.dead-letter" \
        --topic-checkpoints "$prefix.checkpoints" 2>&1 | grep '^collect:')
    end=$(date +%s.%N)
    produced=$(echo "$out" | sed -E 's/.* ([0-9]+) records produced, ([0-9]+) dead-lettered.*/\1 \2/' | awk '{print $1+$2}')
    c=$(echo "$produced $start $end" | awk '{printf "%.0f", $1/($3-$2)}')
    echo "$c" >>"$WORK/collector.txt"
    "$BIN" --help >/dev/null
    r=$("$PY" scripts/bench/raw_producer.py "$BROKERS" "$prefix.raw" "$WORK/data/records.jsonl" | "$PY" -c 'import json,sys; print(round(json.load(sys.stdin)["records_per_s"]))')
    echo "$r" >>"$WORK/raw.txt"
    echo "round $round: collector $c records/s ($produced records), raw confluent-kafka producer $r records/s"
done
cm=$(median <"$WORK/collector.txt"); rm_=$(median <"$WORK/raw.txt")
echo "median over $ROUNDS rounds, $RECORDS records: collector $cm records/s, raw producer $rm_ records/s, ratio $(echo "$cm $rm_" | awk '{printf "%.2f", $1/$2}')"
