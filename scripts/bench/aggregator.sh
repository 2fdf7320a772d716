#!/usr/bin/env bash
# Aggregator throughput and memory: records topic (tansu) → `aggregate` →
# ClickHouse, against clickhouse-client inserting the same record_copies and
# ledger_lines rows as JSONEachRow into a fresh copy of the tables.
#
#   bash scripts/bench/aggregator.sh [RECORDS...]        (default: 1000000)
#
# For each RECORDS: generate a data set with the simulator, serve it, load it
# into fresh topics with `collect --exit-when-caught-up`, stop the simulator,
# read the records topic once with a bare confluent-kafka consumer (the
# broker's ceiling); then ROUNDS times: run `aggregate` with a fresh group into
# a fresh ClickHouse database under /usr/bin/time -v (installs Debian `time`
# if missing), then export what it wrote and insert it again with
# clickhouse-client. Bench databases are dropped at the end.
#
# Broker: by default a throwaway tansu (same binary, sqlite engine, its own
# state directory and port, started and stopped through deploy/dev/services.sh),
# and no malformed lines in the data. Reason: tansu 0.6.0's sqlite engine
# looks up the headers of every record it serves with a query that scans its
# whole header table, and only dead letters carry headers, so every consumer's
# speed falls with the number of dead letters anywhere on the broker. A
# private, empty broker measures the aggregator rather than what other runs
# left behind. Malformed lines never reach the records topic anyway (the
# collector dead-letters them), so the aggregator's input is the same apart
# from their count. BENCH_BROKER=shared uses $SUBSIDY_KAFKA_BROKERS instead,
# BENCH_MALFORMED=0.01 restores the simulator's default share.
# BENCH_BROKER=memory runs the throwaway tansu on its memory engine, which
# serves far faster than sqlite. That engine loses records when a fetch
# starts inside a produced batch, which a fresh group reading from the start
# without restarts never does; every round checks that the aggregator
# consumed at least as many messages as the bare consumer read.
#
# How records/s is measured: /metrics is scraped every 0.25 s;
# `subsidy_aggregator_messages_consumed_total` grows only after a batch is
# written to the store. "steady" = (total − first non-zero sample) / (time of
# the first sample at the total − time of the first non-zero sample), so it
# leaves out start-up (migrations, registry load, group join), the first batch
# and the 2 s idle wait before exit. "from start" = total / (time of the first
# sample at the total − launch), start-up included. Both are ±0.25 s per end.
# The same loop samples the process's resident memory (printed at each of
# BENCH_RSS_POINTS even shares, by default a quarter,
# half, three quarters and all of the messages) and ClickHouse's
# system.processes: the share of samples with a standing-revision lookup
# (SELECT … FROM ledger_lines PREWHERE record_id IN …) or an INSERT running says
# where the aggregator waits. Other clients of the same server show up there
# too; run it on a quiet server. A ClickHouse restart or store errors during a
# run are flagged. After the run, a lookup probe times one standing-revision
# query of 20,000 random ids against the finished ledger_lines (with and
# without FINAL). CPU seconds of ClickHouse and the broker are read from /proc.
#
# clickhouse-client side: SELECT * … FORMAT JSONEachRow of record_copies and
# ledger_lines (no FINAL: every row the aggregator inserted and ClickHouse has
# not merged away yet, so somewhat fewer rows than were written), `migrate`
# into a fresh database, then two timed `INSERT … FORMAT JSONEachRow` one
# after the other; records/s = record_copies rows / both inserts' time. Row
# counts and money sums (with FINAL) are compared between the two databases.
#
# Env: BENCH_ROUNDS (aggregator runs per size, default 1),
#      BENCH_BROKER (private | memory | shared, default private), BENCH_MALFORMED (default 0),
#      BENCH_BATCH_ROWS / BENCH_BATCH_BYTES (passed as --batch-rows / --batch-bytes),
#      BENCH_FETCH_WAIT_MS (--fetch-wait-ms of the aggregator and the bare consumer's
#                    fetch.wait.max.ms, default 20: tansu holds every fetch that long),
#      BENCH_PERF=1 (perf record -g the aggregate process; prints the top of the report;
#                    perf slows the run, so its figures are not throughput figures),
#      BENCH_KEEP=1 (keep the bench databases),
#      BENCH_DATA=DIR (the data set in DIR instead of a generated one; RECORDS is then
#                    only its label; the simulator serves its registry and the records
#                    are streamed onto the topic by stream_producer.py, keyed by record
#                    id as the collector keys them, so no process holds them all),
#      BENCH_KEEP_LEDGER=FILE (keep the aggregator's database of the last round and write
#                    its name to FILE),
#      BENCH_RSS_POINTS (at how many even shares of the messages RSS is printed, default 4).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
[ $# -gt 0 ] || set -- 1000000
ROUNDS="${BENCH_ROUNDS:-1}"
RSS_POINTS="${BENCH_RSS_POINTS:-4}"
BROKER_MODE="${BENCH_BROKER:-private}"
MALFORMED="${BENCH_MALFORMED:-0}"
CH_HTTP="http://127.0.0.1:${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_TCP="${SUBSIDY_CH_TCP_PORT:-9000}"
# tansu holds every fetch for the consumer's whole fetch wait; both consumers use the same.
FETCH_WAIT_MS="${BENCH_FETCH_WAIT_MS:-20}"
AGG_FLAGS=(--fetch-wait-ms "$FETCH_WAIT_MS")
[ -z "${BENCH_BATCH_ROWS:-}" ] || AGG_FLAGS+=(--batch-rows "$BENCH_BATCH_ROWS")
[ -z "${BENCH_BATCH_BYTES:-}" ] || AGG_FLAGS+=(--batch-bytes "$BENCH_BATCH_BYTES")

ensure_gnu_time
if [ "$BROKER_MODE" != shared ]; then
    bash deploy/dev/services.sh start clickhouse >/dev/null
else
    bash deploy/dev/services.sh start clickhouse kafka >/dev/null
fi
PY="$(bash deploy/dev/services.sh python)"
if [ -z "${BENCH_BIN:-}" ]; then
    cargo build --release -q -p subsidy-meter
    BENCH_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/subsidy-meter"
fi
BIN="$BENCH_BIN"
export SUBSIDY_PLATFORM_TOKEN="${SUBSIDY_PLATFORM_TOKEN:-bench-token}"

WORK="$(mktemp -d)"
SIM_PID=""
BROKER_PORT=""
DATABASES=()
# A throwaway broker: the same tansu binary and sqlite engine, its own state directory and port.
BROKER_ENGINE=sqlite
[ "$BROKER_MODE" != memory ] || BROKER_ENGINE=memory://tansu/
chq() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" "$@"; }
cleanup() {
    [ -z "$SIM_PID" ] || kill "$SIM_PID" 2>/dev/null || true
    if [ -z "${BENCH_KEEP:-}" ]; then
        for db in "${DATABASES[@]}"; do [ -z "$db" ] || chq --query "DROP DATABASE IF EXISTS $db" || true; done
    else
        echo "kept databases: ${DATABASES[*]}"
    fi
    [ -z "$BROKER_PORT" ] || private_broker stop kafka >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Pids of the broker and ClickHouse, for their CPU time during a run.
STATUS="$(bash deploy/dev/services.sh status || true)"
CH_PID=$(echo "$STATUS" | awk '$1=="clickhouse" {print $NF}')
if [ "$BROKER_MODE" != shared ]; then
    BROKER_PORT=$(free_port)
    private_broker start kafka >/dev/null
    BROKERS="127.0.0.1:$BROKER_PORT"
    KAFKA_PID=$(cat "$WORK/state/tansu/tansu.pid")
else
    BROKERS="${SUBSIDY_KAFKA_BROKERS:-127.0.0.1:9092}"
    KAFKA_PID=$(echo "$STATUS" | awk '$1=="kafka" {print $NF}')
fi
HZ=$(getconf CLK_TCK)
cpu_s() { awk -v hz="$HZ" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
metric() { awk -v n="$1" '$1==n {print $2}' "$2"; }

# Reads a topic from the start with a bare confluent-kafka consumer (assigned partitions,
# no group, no processing): the broker's ceiling for anything that consumes the topic.
raw_consume() {
    "$PY" - "$BROKERS" "$1" "$FETCH_WAIT_MS" <<'PYEOF'
import sys, time
from confluent_kafka import Consumer, TopicPartition
brokers, topic = sys.argv[1:3]  # argv[3]: fetch wait, ms
c = Consumer({"bootstrap.servers": brokers, "group.id": "bench-raw", "enable.auto.commit": False,
              "enable.partition.eof": True, "fetch.max.bytes": 8388608, "max.partition.fetch.bytes": 2097152,
              "fetch.wait.max.ms": int(sys.argv[3])})  # as the aggregator's --fetch-wait-ms
parts = len(c.list_topics(topic, timeout=10).topics[topic].partitions)
c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
n, eof, t0, first, last = 0, set(), time.time(), None, None
while len(eof) < parts:
    for m in c.consume(10000, 1.0):
        if m.error():
            if m.error().code() == -191:
                eof.add(m.partition())
            continue
        eof.discard(m.partition())
        n += 1
        last = time.time()
        first = first or last
c.close()
print(f"{n} {n / (last - first) if last and last > first else 0:.0f} {last - t0 if last else 0:.1f}")
PYEOF
}

# Samples /metrics and system.processes until the aggregate process ends.
# Lines: unix_time records_consumed lookups_running inserts_running rss_kib
sampler() {
    local pid=$1 addr=$2 out=$3 last=$4 t c q rss
    local sql="SELECT countIf(query LIKE 'SELECT%FROM ledger_lines PREWHERE record_id IN%'), countIf(query LIKE 'INSERT INTO%') FROM system.processes WHERE query NOT LIKE '%system.processes%' FORMAT TSV"
    while kill -0 "$pid" 2>/dev/null; do
        t=$(date +%s.%N)
        if curl -sf --max-time 1 -o "$last.tmp" "http://$addr/metrics"; then
            mv "$last.tmp" "$last"
            c=$(metric subsidy_aggregator_messages_consumed_total "$last")
        else
            c=NA
        fi
        q=$(curl -sf --max-time 1 --data-binary "$sql" "$CH_HTTP/" || echo "NA NA")
        rss=$(awk '$1=="VmRSS:" {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        echo "$t ${c:-NA} $q ${rss:-NA}" >>"$out"
        sleep 0.25
    done
}

# One aggregate run plus the clickhouse-client comparison; appends a result line to $WORK/results.txt.
run_round() {
    local n=$1 prefix=$2 round=$3
    local db="bench_agg_$$_${n}_${round}" cli_db="bench_agg_$$_${n}_${round}_cli"
    DATABASES+=("$db" "$cli_db")
    local r="$WORK/r-$n-$round"
    mkdir -p "$r"
    local ch0 k0 ch1 k1 launch
    CH_PID=$({ bash deploy/dev/services.sh status 2>/dev/null || true; } | awk '$1=="clickhouse" {print $NF}')
    ch0=$(cpu_s "$CH_PID"); k0=$(cpu_s "$KAFKA_PID")
    launch=$(date +%s.%N)
    /usr/bin/time -v -o "$r/time.txt" "$BIN" aggregate --kafka-brokers "$BROKERS" \
        --topic-records "$prefix.records" --topic-entities "$prefix.entities" --topic-centers "$prefix.centers" \
        --topic-dead-letter "$prefix.dead-letter" --topic-checkpoints "$prefix.checkpoints" \
        --clickhouse-url "$CH_HTTP" --clickhouse-database "$db" --group "bench-agg-$$-$n-$round" \
        --metrics-addr 127.0.0.1:0 --exit-when-idle-secs 2 "${AGG_FLAGS[@]}" 2>"$r/stderr.txt" &
    local time_pid=$! pid="" addr=""
    for _ in $(seq 200); do
        pid=$(pgrep -P "$time_pid" || true)
        addr=$(grep -o 'addr=[0-9.:]*' "$r/stderr.txt" 2>/dev/null | head -n 1 | cut -d= -f2 || true)
        [ -n "$pid" ] && [ -n "$addr" ] && break
        sleep 0.05
    done
    [ -n "$addr" ] || { cat "$r/stderr.txt" >&2; echo "aggregate did not start" >&2; exit 1; }
    local perf_pid=""
    if [ -n "${BENCH_PERF:-}" ]; then
        perf record -q -F 499 -g -p "$pid" -o "$r/perf.data" 2>/dev/null &
        perf_pid=$!
    fi
    sampler "$pid" "$addr" "$r/samples.txt" "$r/last.prom" &
    local sampler_pid=$!
    wait "$time_pid" || { cat "$r/stderr.txt" >&2; exit 1; }
    grep -q '^aggregate: [1-9][0-9]* messages consumed' "$r/stderr.txt" || { cat "$r/stderr.txt" >&2; echo "aggregate consumed nothing" >&2; exit 1; }
    wait "$sampler_pid" || true
    ch1=$(cpu_s "$CH_PID"); k1=$(cpu_s "$KAFKA_PID")
    local ch_after warn=""
    ch_after=$({ bash deploy/dev/services.sh status 2>/dev/null || true; } | awk '$1=="clickhouse" {print $NF}')
    [ "$ch_after" = "$CH_PID" ] || warn=" WARNING: ClickHouse was restarted during this run (pid $CH_PID -> ${ch_after:-down}); the figures include the outage."
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        echo "--- perf (aggregate, $n records, round $round): top symbols by self time"
        perf report -i "$r/perf.data" --no-children -g none --sort dso,symbol --percent-limit 0.7 --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -n 30 || true
        echo "--- perf: by thread"
        perf report -i "$r/perf.data" --no-children -g none --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -n 12 || true
    fi

    local total batches wall rss cpu
    total=$(sed -n 's/^aggregate: \([0-9]*\) messages consumed in \([0-9]*\) batches.*/\1/p' "$r/stderr.txt")
    # (held records retried count again, so more is possible; fewer means the broker lost some)
    [ "$total" -ge "$RAW_N" ] || { echo "aggregate consumed $total messages, the bare consumer read $RAW_N: the broker lost messages" >&2; exit 1; }
    batches=$(sed -n 's/^aggregate: \([0-9]*\) messages consumed in \([0-9]*\) batches.*/\2/p' "$r/stderr.txt")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$r/time.txt" | awk -F: '{s=0; for (i=1;i<=NF;i++) s=s*60+$i; print s}')
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$r/time.txt")
    cpu=$(sed -n 's/.*\(User\|System\) time (seconds): //p' "$r/time.txt" | awk '{s+=$1} END {printf "%.1f", s}')
    # steady, from-start, active seconds, and the shares of active samples with a lookup / an insert running
    local timing
    timing=$(awk -v total="$total" -v launch="$launch" '
        $2 != "NA" && $2 > 0 && !t1 {t1 = $1; c1 = $2}
        t1 && !t2 && $3 != "NA" {n++; if ($3 > 0) l++; if ($4 > 0) i++; if ($3 == 0 && $4 == 0) o++}
        $2 != "NA" && $2 == total && !t2 {t2 = $1}
        END {
            if (!t1 || !t2) {print "NA NA NA NA NA NA"; exit}
            steady = (t2 > t1 && total > c1) ? sprintf("%.0f", (total - c1) / (t2 - t1)) : "NA"
            if (!n) n = 1
            printf "%s %.0f %.1f %.0f %.0f %.0f\n", steady, total / (t2 - launch), t2 - t1, 100*l/n, 100*i/n, 100*o/n
        }' "$r/samples.txt")
    local steady from_start active lookup_pct insert_pct other_pct
    read -r steady from_start active lookup_pct insert_pct other_pct <<<"$timing"
    # Resident memory when each of RSS_POINTS even shares of the messages was written.
    local rss_curve
    rss_curve=$(awk -v total="$total" -v k="$RSS_POINTS" '
        $5 != "NA" {rss = $5}
        $2 != "NA" {for (q = 1; q <= k; q++) if (!done[q] && $2 >= total * q / k) {done[q] = 1; r[q] = rss}}
        END {for (q = 1; q <= k; q++) printf "%s%.0f", (q > 1 ? "/" : ""), r[q]/1024}' "$r/samples.txt")
    local wsum wcount ur ll
    wsum=$(metric subsidy_aggregator_store_write_duration_seconds_sum "$r/last.prom")
    wcount=$(metric subsidy_aggregator_store_write_duration_seconds_count "$r/last.prom")
    ur=$(awk '$1=="subsidy_aggregator_rows_written_total{table=\"record_copies\"}" {print $2}' "$r/last.prom")
    ll=$(awk '$1=="subsidy_aggregator_rows_written_total{table=\"ledger_lines\"}" {print $2}' "$r/last.prom")
    local src_new src_recent src_store
    src_new=$(awk '$1=="subsidy_aggregator_standing_lookups_total{source=\"new\"}" {print $2}' "$r/last.prom")
    src_recent=$(awk '$1=="subsidy_aggregator_standing_lookups_total{source=\"recent\"}" {print $2}' "$r/last.prom")
    src_store=$(awk '$1=="subsidy_aggregator_standing_lookups_total{source=\"store\"}" {print $2}' "$r/last.prom")
    local store_errors
    store_errors=$(awk '$1 ~ /^subsidy_aggregator_store_errors_total/ {s += $2} END {print s + 0}' "$r/last.prom")
    [ "$store_errors" = 0 ] || warn="$warn WARNING: $store_errors store errors (retried)."

    # Lookup probe: one standing-revision query of 20,000 random ids, as the store sends it.
    chq --query "SELECT record_id FROM $db.ledger_lines ORDER BY rand() LIMIT 20000 FORMAT TSV" \
        | awk 'BEGIN {printf "["} {printf "%s'\''%s'\''", (NR > 1 ? "," : ""), $1} END {printf "]"}' >"$r/ids.txt"
    local cols="record_id, revision, fingerprint, conflict, user_credit_code, center_id, usage_date, payment_status, paid_amount, period, policy_version, rate, uplift, base, contribution, reason, kafka_partition, kafka_offset, version"
    probe() {
        { printf 'SELECT %s FROM %s.ledger_lines %s WHERE record_id IN (SELECT arrayJoin(' "$cols" "$db" "$1"; cat "$r/ids.txt"; printf ')) FORMAT Null'; } >"$r/probe.sql"
        for _ in 1 2 3; do curl -sf -o /dev/null -w '%{time_total}\n' --data-binary @"$r/probe.sql" "$CH_HTTP/?max_query_size=10000000"; done | median
    }
    local probe_final probe_plain lines_rows
    probe_final=$(probe FINAL); probe_plain=$(probe "")
    lines_rows=$(chq --query "SELECT count() FROM $db.ledger_lines")

    # clickhouse-client: the same record_copies and ledger_lines rows, as JSONEachRow.
    chq --query "SELECT * FROM $db.record_copies FORMAT JSONEachRow" >"$r/record_copies.json"
    chq --query "SELECT * FROM $db.ledger_lines FORMAT JSONEachRow" >"$r/ledger_lines.json"
    "$BIN" migrate --clickhouse-url "$CH_HTTP" --clickhouse-database "$cli_db" >/dev/null 2>&1
    local c0 c1 c2
    c0=$(date +%s.%N)
    chq --query "INSERT INTO $cli_db.record_copies FORMAT JSONEachRow" <"$r/record_copies.json"
    c1=$(date +%s.%N)
    chq --query "INSERT INTO $cli_db.ledger_lines FORMAT JSONEachRow" <"$r/ledger_lines.json"
    c2=$(date +%s.%N)
    # FINAL on both sides: the source keeps merging after the export.
    local check="SELECT count(), sum(revision), sum(length(raw)) FROM DB.record_copies FINAL"
    local check2="SELECT count(), sum(base), sum(contribution) FROM DB.ledger_lines FINAL"
    local same="yes"
    for q in "$check" "$check2"; do
        [ "$(chq --query "${q//DB/$db}")" = "$(chq --query "${q//DB/$cli_db}")" ] || same="NO"
    done
    local ur_rows json_mib cli_rate ratio
    ur_rows=$(wc -l <"$r/record_copies.json")
    json_mib=$(du -cm "$r/record_copies.json" "$r/ledger_lines.json" | awk 'END {print $1}')
    cli_rate=$(awk -v n="$ur_rows" -v a="$c0" -v b="$c2" 'BEGIN {printf "%.0f", n/(b-a)}')
    ratio=$(awk -v a="$steady" -v b="$cli_rate" 'BEGIN {if (a == "NA") print "NA"; else printf "%.2f", a/b}')
    rm -f "$r/record_copies.json" "$r/ledger_lines.json" "$r/perf.data"
    if [ -n "${BENCH_KEEP_LEDGER:-}" ]; then
        # The ledger the aggregator wrote stays for the caller, named in that file.
        echo "$db" >"$BENCH_KEEP_LEDGER"
        local kept=()
        for d in "${DATABASES[@]}"; do [ "$d" = "$db" ] || kept+=("$d"); done
        DATABASES=("${kept[@]}")
        chq --query "DROP DATABASE IF EXISTS $cli_db"
    elif [ -z "${BENCH_KEEP:-}" ]; then
        chq --query "DROP DATABASE IF EXISTS $db"; chq --query "DROP DATABASE IF EXISTS $cli_db"
    fi

    echo "round $round, $n records: aggregate consumed $total messages in $batches batches;" \
        "steady $steady records/s over $active s, from start $from_start records/s; wall $wall s (incl. 2 s idle), CPU $cpu s, peak RSS $(mib "$rss") MiB (RSS at each 1/$RSS_POINTS of the messages written: $rss_curve MiB)$warn"
    echo "  during the run: ClickHouse CPU $(awk -v a="$ch0" -v b="$ch1" 'BEGIN {printf "%.1f", b-a}') s, broker CPU $(awk -v a="$k0" -v b="$k1" 'BEGIN {printf "%.1f", b-a}') s;" \
        "active samples with a lookup running $lookup_pct %, an insert running $insert_pct %, neither $other_pct %;" \
        "store writes ${wsum:-NA} s over ${wcount:-NA} batches; rows written record_copies ${ur:-NA}, ledger_lines ${ll:-NA}"
    echo "  standing revisions by source: new ${src_new:-0}, in memory ${src_recent:-0}, looked up in the store ${src_store:-0}"
    echo "  lookup probe (20,000 ids, ledger_lines of $lines_rows rows): FINAL ${probe_final} s, without FINAL ${probe_plain} s"
    echo "  clickhouse-client JSONEachRow: record_copies $ur_rows rows in $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.1f", b-a}') s," \
        "ledger_lines in $(awk -v a="$c1" -v b="$c2" 'BEGIN {printf "%.1f", b-a}') s ($json_mib MiB of JSON): $cli_rate records/s; round trip identical: $same;" \
        "ratio aggregator ÷ clickhouse-client $ratio"
    echo "$n $steady $from_start $rss $cli_rate $ratio" >>"$WORK/results.txt"
}

: >"$WORK/results.txt"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); broker: $BROKER_MODE ($BROKERS); malformed share: $MALFORMED; aggregate flags: ${AGG_FLAGS[*]:-defaults}"
for n in "$@"; do
    data="$WORK/data-$n"
    if [ -n "${BENCH_DATA:-}" ]; then
        # A file too large for the simulator's memory: it serves the registry and the first
        # line; stream_producer.py puts every line on the topic after the collector.
        mkdir -p "$data"
        cp "$BENCH_DATA/entities.json" "$BENCH_DATA/centers.json" "$data/"
        head -n 1 "$BENCH_DATA/records.jsonl" >"$data/records.jsonl"
    else
        "$BIN" platform-sim --records "$n" --malformed-share "$MALFORMED" --write-files "$data" --write-only --force 2>/dev/null
    fi
    port=$(free_port)
    "$BIN" platform-sim --listen "127.0.0.1:$port" --data-dir "$data" 2>"$WORK/sim.log" &
    SIM_PID=$!
    for _ in $(seq 1500); do curl -sf -o /dev/null -H "Authorization: Bearer $SUBSIDY_PLATFORM_TOKEN" "http://127.0.0.1:$port/v1/compute-centers" && break; sleep 0.2; done
    prefix="bench-agg-$$-$n"
    start=$(date +%s.%N)
    out=$("$BIN" collect --platform-url "http://127.0.0.1:$port" --kafka-brokers "$BROKERS" --exit-when-caught-up \
        --metrics-addr 127.0.0.1:0 --topic-records "$prefix.records" --topic-entities "$prefix.entities" \
        --topic-centers "$prefix.centers" --topic-dead-letter "$prefix.dead-letter" \
        --topic-checkpoints "$prefix.checkpoints" 2>&1 | grep '^collect:')
    end=$(date +%s.%N)
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
    SIM_PID=""
    rm -rf "$data"
    if [ -n "${BENCH_DATA:-}" ]; then
        echo "  streamed onto $prefix.records: $("$PY" scripts/bench/stream_producer.py "$BROKERS" "$prefix.records" "$BENCH_DATA/records.jsonl")"
    fi
    echo "$n records: loaded into $prefix.records in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", b-a}') s ($out)"
    k0=$(cpu_s "$KAFKA_PID")
    read -r raw_n raw_rate raw_s <<<"$(raw_consume "$prefix.records")"
    RAW_N=$raw_n
    echo "  bare confluent-kafka consumer: $raw_n messages, $raw_rate messages/s between the first and the last, $raw_s s in all;" \
        "broker CPU $(awk -v a="$k0" -v b="$(cpu_s "$KAFKA_PID")" 'BEGIN {printf "%.1f", b-a}') s"
    for round in $(seq "$ROUNDS"); do
        run_round "$n" "$prefix" "$round"
    done
done

echo "summary (median over $ROUNDS round(s) per size):"
for n in "$@"; do
    awk -v n="$n" '$1==n' "$WORK/results.txt" >"$WORK/one.txt"
    echo "  $n records: steady $(cut -d' ' -f2 "$WORK/one.txt" | median) records/s," \
        "from start $(cut -d' ' -f3 "$WORK/one.txt" | median) records/s," \
        "peak RSS $(mib "$(cut -d' ' -f4 "$WORK/one.txt" | sort -g | tail -n 1)") MiB (largest)," \
        "clickhouse-client $(cut -d' ' -f5 "$WORK/one.txt" | median) records/s," \
        "ratio $(cut -d' ' -f6 "$WORK/one.txt" | median)"
done
