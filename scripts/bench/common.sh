# Shared by the bench scripts (sourced, not run).

# Installs GNU time (Debian package `time`) when /usr/bin/time is missing.
ensure_gnu_time() {
    [ -x /usr/bin/time ] && return
    echo "installing GNU time (Debian package \`time\`)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq time >/dev/null
}

# The median of the numbers on standard input, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# A free TCP port on 127.0.0.1.
free_port() { local p; for _ in $(seq 50); do p=$((20000 + RANDOM % 20000)); (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; return 1; }

# deploy/dev/services.sh for a throwaway tansu, state in $WORK/state, port
# $BROKER_PORT, on the engine BROKER_ENGINE (default memory://tansu/, which
# loses records when a fetch starts inside a produced batch: only for a topic
# written whole before it is read; `sqlite` for one read while it is written).
# A throwaway broker measures the run, not what earlier runs left on the
# shared one.
private_broker() { SUBSIDY_STATE_DIR="$WORK/state" SUBSIDY_KAFKA_PORT="$BROKER_PORT" SUBSIDY_KAFKA_STORAGE="${BROKER_ENGINE:-memory://tansu/}" bash deploy/dev/services.sh "$@"; }

# Starts a throwaway broker, serves the data set in $WORK/data with the
# simulator and collects it into topics PREFIX.records, .entities, .centers
# (dead letters and checkpoints beside them). Sets BROKER_PORT and BROKERS
# and the array `topics` (the three --topic-… flags). Needs BIN, WORK and
# SUBSIDY_PLATFORM_TOKEN.
load_into_private_broker() { # prefix
    local prefix="$1" port sim
    BROKER_PORT=$(free_port)
    private_broker start kafka >/dev/null
    BROKERS="127.0.0.1:$BROKER_PORT"
    port=$(free_port)
    "$BIN" platform-sim --listen "127.0.0.1:$port" --data-dir "$WORK/data" 2>"$WORK/sim.log" &
    sim=$!
    for _ in $(seq 150); do
        curl -sf -o /dev/null -H "Authorization: Bearer $SUBSIDY_PLATFORM_TOKEN" "http://127.0.0.1:$port/v1/compute-centers" && break
        sleep 0.2
    done
    topics=(--topic-records "$prefix.records" --topic-entities "$prefix.entities" --topic-centers "$prefix.centers")
    "$BIN" collect --platform-url "http://127.0.0.1:$port" --kafka-brokers "$BROKERS" --exit-when-caught-up --metrics-addr 127.0.0.1:0 \
        "${topics[@]}" --topic-dead-letter "$prefix.dead-letter" --topic-checkpoints "$prefix.checkpoints" 2>&1 | grep '^collect:'
    kill "$sim"
    wait "$sim" 2>/dev/null || true
}

# row WHAT MEASURE FIGURE REFERENCE RATIO: appends one row of the summary table to $ROWS
# (tab-separated) and prints it.
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; echo "  $1 | $2 | $3 | $4 | $5"; }
# ratio A B: A / B to two places.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
# mib KIB: kibibytes as whole mebibytes, with the unit.
mib() { awk -v k="$1" 'BEGIN {printf "%.0f MiB", k/1024}'; }

# bench_table ROWS TABLE: the tab-separated rows (what, measure, figure, reference, ratio)
# as a Markdown table in TABLE, printed too.
bench_table() {
    {
        echo "| what | measure | figure | reference (same run) | ratio |"
        echo "|---|---|---:|---|---:|"
        awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$1"
    } >"$2"
    echo
    cat "$2"
}

# write_bench_section MARK TABLE COMMAND SECONDS: replaces what lies between
# <!-- MARK:begin --> and <!-- MARK:end --> in docs/BENCHMARKS.md with the
# table, headed by the command, commit, date, machine and the run's length.
write_bench_section() {
    python3 - "$1" "$2" "$3" "$(git rev-parse --short HEAD)" "$(uname -sm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" "$4" <<'PY'
import re, sys, datetime
mark, table, command, commit, machine, took = sys.argv[1:7]
path = "docs/BENCHMARKS.md"
text = open(path, encoding="utf-8").read()
body = (f"<!-- {mark}:begin -->\nCommand: `{command}`. Commit {commit}, "
        f"{datetime.date.today()}, {machine}; {took} s in all. One run: every figure beside its reference from the same run.\n\n"
        + open(table, encoding="utf-8").read() + f"<!-- {mark}:end -->")
text = re.sub(f"<!-- {mark}:begin -->.*<!-- {mark}:end -->", lambda _: body, text, flags=re.S)
open(path, "w", encoding="utf-8").write(text)
PY
    echo "docs/BENCHMARKS.md updated ($1)"
}
