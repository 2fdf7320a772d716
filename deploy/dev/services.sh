#!/usr/bin/env bash
# Dev/CI external services for the subsidy metering pipeline:
#   ClickHouse 18.16 (Debian package), tansu 0.6.0 (Kafka-compatible broker,
#   built with `cargo install`), Prometheus, ZooKeeper and docker-compose
#   (Debian packages), a Python venv with confluent-kafka (test/smoke
#   client), schemathesis, kubernetes-validate and chdb (a current ClickHouse,
#   in process), and Chromium + chromedriver.
#
# Usage: deploy/dev/services.sh COMMAND [SERVICE]
#   install [--no-chromium]     install whatever is missing (idempotent)
#   start   [SERVICE...]        start services not yet running (idempotent)
#   stop    [SERVICE...]        stop services (data is kept)
#   restart [SERVICE...]
#   kill    SERVICE             SIGKILL a running service, as a crash would
#                               (clickhouse or kafka; the fault suite uses it)
#   reset-kafka                 stop the broker and delete its sqlite storage
#                               (tansu's sqlite engine slows down as topics of
#                               earlier runs pile up; the tests start empty)
#   status                      one line per service; exit 1 if any is down
#   python                      print the venv python path
#   create-topic NAME PARTITIONS [compact]
#   logs SERVICE                tail the service log
#   env                         print shell exports with the endpoints
# SERVICE is one of: clickhouse kafka (alias: tansu) prometheus, and for the
# replicated ClickHouse cluster (deploy/dev/cluster.sh) zookeeper replica1
# replica2, or cluster for those three. No SERVICE means the first three.
#
# Environment (all optional):
#   SUBSIDY_STATE_DIR        state root (default: <repo>/.state). Holds
#                            clickhouse/ (config, data, logs), tansu/,
#                            prometheus/ and venv/.
#   SUBSIDY_CH_HTTP_PORT     ClickHouse HTTP port   (default 8123)
#   SUBSIDY_CH_TCP_PORT      ClickHouse native port (default 9000)
#   SUBSIDY_CH_MAX_MEMORY    per-query memory cap in bytes (default 4 GB)
#   SUBSIDY_KAFKA_PORT       tansu listener port    (default 9092)
#   SUBSIDY_KAFKA_STORAGE    tansu storage engine URL (default `sqlite`: stores
#                            into <state>/tansu/tansu.db, survives a broker
#                            restart; sqlite:///abs/file.db also works).
#                            memory://tansu/ is faster to reset but mishandles
#                            fetches from inside a batch (see below), which
#                            breaks consumers resuming from committed offsets.
#   SUBSIDY_PROM_PORT        Prometheus port        (default 9090)
#   SUBSIDY_NO_CHROMIUM=1    same as `install --no-chromium`
#   SUBSIDY_INSTALL_WAIT_S   how long to wait for a tansu build that another
#                            process already runs (default 2400)
#
# Everything listens on 127.0.0.1 only. Services run as plain background
# processes (no systemd); pid files and logs are in the state dir.
#
# What we learned about tansu 0.6.0 (probed with `smoke.py --probe` and small
# scripts, against both the memory:// and the sqlite engine):
#   * Topics are NOT auto-created. Producing to an unknown topic gets
#     UNKNOWN_TOPIC_OR_PART, which librdkafka retries until message.timeout.ms
#     and then reports as _MSG_TIMED_OUT. Create topics first:
#       deploy/dev/services.sh create-topic NAME PARTITIONS [compact]
#     (AdminClient CreateTopics), or
#       tansu topic create NAME --partitions N --broker tcp://127.0.0.1:9092
#     Creating an existing topic returns TOPIC_ALREADY_EXISTS (the helper
#     treats that as success).
#   * CreateTopics honours num_partitions; with num_partitions=-1 ("broker
#     default") a topic gets 3 partitions. Replication factor is 1.
#   * cleanup.policy=compact is accepted by CreateTopics and returned by
#     DescribeConfigs. Only the sqlite engine acts on it, in its periodic
#     maintenance (every 10 min: older records per key are deleted); the
#     memory engine never compacts or deletes. Tests must not rely on
#     compaction having happened.
#   * Idempotent producer (enable.idempotence=true, acks=all), consumer
#     groups, synchronous commits and committed() work on both engines.
#     1000 messages produce in ~0.5 s; a fresh group reads them in ~2 s
#     (mostly the group join).
#   * BUGS of the memory:// engine (the sqlite engine gets all of these right):
#     - ListOffsets(LATEST) answers "base offset of the last record batch + 1"
#       instead of the log end offset (e.g. 1 for a partition holding 330
#       records in one batch). Lag computation, seek-to-end and rdkafka's
#       fetch_watermarks see wrong numbers; Fetch responses carry the right
#       high watermark.
#     - Fetching from an offset inside a record batch skips the rest of that
#       batch and then delivers later records several times: a consumer
#       resuming from a committed offset in mid-batch LOSES records and sees
#       duplicates. auto.offset.reset=latest is broken the same way (one new
#       record was delivered 100 times).
#     Use SUBSIDY_KAFKA_STORAGE=sqlite for anything that resumes from
#     committed offsets, seeks, or measures lag.
#   * sqlite engine: topics, records and committed offsets survive a broker
#     restart (stop ~1.3 s, start ~0.1 s). memory:// loses everything.
#   * sqlite:// URL paths are odd; see kafka_storage_url below.
#   * tansu also reads LISTENER_URL, ADVERTISED_LISTENER_URL, STORAGE_ENGINE
#     and CLUSTER_ID from the environment; the flags passed here win.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="${SUBSIDY_STATE_DIR:-$REPO/.state}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"

CH_HTTP_PORT="${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_TCP_PORT="${SUBSIDY_CH_TCP_PORT:-9000}"
CH_MAX_MEMORY="${SUBSIDY_CH_MAX_MEMORY:-4000000000}"
KAFKA_PORT="${SUBSIDY_KAFKA_PORT:-9092}"
KAFKA_STORAGE="${SUBSIDY_KAFKA_STORAGE:-sqlite}"
PROM_PORT="${SUBSIDY_PROM_PORT:-9090}"

TANSU_VERSION="0.6.0"
TANSU_FEATURES="dynostore,libsql"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
CONFLUENT_KAFKA_VERSION="2.16.1"
SCHEMATHESIS_VERSION="4.32.5"
KUBERNETES_VALIDATE_VERSION="1.37.0"
CHDB_VERSION="4.4.0"

CH_DIR="$STATE/clickhouse"
TANSU_DIR="$STATE/tansu"
PROM_DIR="$STATE/prometheus"
VENV="$STATE/venv"
PROM_CONFIG="$REPO/deploy/prometheus/prometheus.yml"

log() { echo "services: $*" >&2; }
die() { echo "services: ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- helpers
port_open() { # port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() { # pidfile
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(cat "$1")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Start a command detached from this shell (own session, no stdin, output to
# a log file) and record its pid.
spawn() { # pidfile logfile cmd...
    local pidfile="$1" logfile="$2"
    shift 2
    setsid "$@" >>"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

stop_pid() { # name pidfile
    local name="$1" pidfile="$2" pid i
    if ! pid_alive "$pidfile"; then
        rm -f "$pidfile"
        return 0
    fi
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do # 30 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
}

fail_with_log() { # message logfile...
    local msg="$1" f
    shift
    echo "services: ERROR: $msg" >&2
    for f in "$@"; do
        if [[ -s "$f" ]]; then
            echo "----- last 40 lines of $f -----" >&2
            tail -n 40 "$f" >&2
        fi
    done
    exit 1
}

# ---------------------------------------------------------------- install
APT_UPDATED=0
apt_install() { # packages...
    [[ $# -gt 0 ]] || return 0
    local t0 created_policy=0
    t0="$(now)"
    export DEBIAN_FRONTEND=noninteractive
    # Keep package maintainer scripts from starting services (prometheus,
    # clickhouse-server); we run them ourselves under the state dir.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    local aptlog="$STATE/apt.log"
    if [[ $APT_UPDATED -eq 0 ]]; then
        apt-get update -q >"$aptlog" 2>&1 || fail_with_log "apt-get update failed" "$aptlog"
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    if ! apt-get install -y -q --no-install-recommends "$@" >>"$aptlog" 2>&1; then
        [[ $created_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
        fail_with_log "apt-get install $* failed" "$aptlog"
    fi
    [[ $created_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
    log "apt-get install done in $(since "$t0") s"
}

deb_installed() { # package
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

tansu_bin() {
    if [[ -x "$CARGO_BIN/tansu" ]]; then
        echo "$CARGO_BIN/tansu"
    else
        command -v tansu 2>/dev/null || true
    fi
}

tansu_installed_version() {
    local bin
    bin="$(tansu_bin)"
    [[ -n "$bin" ]] || return 0
    # `tansu --version` prints "tansu 0.6.0"
    "$bin" --version 2>/dev/null | awk '{ print $NF; exit }'
}

other_tansu_build_pid() {
    pgrep -f "cargo install tansu" 2>/dev/null | grep -vx "$$" | head -n 1 || true
}

# Starts `cargo install tansu` in the background if needed; sets TANSU_JOB.
TANSU_JOB=""
TANSU_T0=""
tansu_install_begin() {
    [[ "$(tansu_installed_version)" == "$TANSU_VERSION" ]] && return 0
    TANSU_T0="$(now)"
    local other
    other="$(other_tansu_build_pid)"
    if [[ -n "$other" ]]; then
        log "another process (pid $other) is already running 'cargo install tansu'; will wait for it"
        TANSU_JOB="wait:$other"
        return 0
    fi
    command -v cargo >/dev/null || die "cargo not found; install Rust first"
    mkdir -p "$TANSU_DIR"
    log "building tansu $TANSU_VERSION with cargo install (about 10-15 min), log: $TANSU_DIR/cargo-install.log"
    cargo install tansu --version "$TANSU_VERSION" --locked --features "$TANSU_FEATURES" \
        >"$TANSU_DIR/cargo-install.log" 2>&1 </dev/null &
    TANSU_JOB="$!"
}

tansu_install_end() {
    [[ -n "$TANSU_JOB" ]] || return 0
    local i limit="${SUBSIDY_INSTALL_WAIT_S:-2400}"
    if [[ "$TANSU_JOB" == wait:* ]]; then
        local other="${TANSU_JOB#wait:}"
        for ((i = 0; i < limit; i += 5)); do
            kill -0 "$other" 2>/dev/null || break
            sleep 5
        done
        kill -0 "$other" 2>/dev/null && die "the other tansu build (pid $other) did not finish within $limit s"
        TANSU_JOB=""
        if [[ "$(tansu_installed_version)" != "$TANSU_VERSION" ]]; then
            log "the other tansu build did not produce tansu $TANSU_VERSION; building it here"
            tansu_install_begin
            tansu_install_end
        fi
        return 0
    fi
    if ! wait "$TANSU_JOB"; then
        TANSU_JOB=""
        fail_with_log "cargo install tansu $TANSU_VERSION failed" "$TANSU_DIR/cargo-install.log"
    fi
    TANSU_JOB=""
    [[ "$(tansu_installed_version)" == "$TANSU_VERSION" ]] ||
        die "tansu $TANSU_VERSION still not found after cargo install (found: '$(tansu_installed_version)')"
    log "tansu $TANSU_VERSION built and installed in $(since "$TANSU_T0") s"
}

venv_ok() {
    [[ -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" -c "import confluent_kafka, sys; sys.exit(0 if confluent_kafka.__version__ == '$CONFLUENT_KAFKA_VERSION' else 1)" 2>/dev/null &&
        [[ "$("$VENV/bin/python" -m pip show schemathesis 2>/dev/null | sed -n 's/^Version: //p')" == "$SCHEMATHESIS_VERSION" ]] &&
        [[ "$("$VENV/bin/python" -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p')" == "$KUBERNETES_VALIDATE_VERSION" ]] &&
        [[ "$("$VENV/bin/python" -m pip show chdb 2>/dev/null | sed -n 's/^Version: //p')" == "$CHDB_VERSION" ]]
}

install_venv() {
    venv_ok && return 0
    local t0
    t0="$(now)"
    log "creating python venv at $VENV with confluent-kafka==$CONFLUENT_KAFKA_VERSION, schemathesis==$SCHEMATHESIS_VERSION, kubernetes-validate==$KUBERNETES_VALIDATE_VERSION and chdb==$CHDB_VERSION"
    [[ -x "$VENV/bin/python" ]] || /usr/bin/python3 -m venv "$VENV" >"$STATE/venv.log" 2>&1 ||
        fail_with_log "python3 -m venv failed" "$STATE/venv.log"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "confluent-kafka==$CONFLUENT_KAFKA_VERSION" "schemathesis==$SCHEMATHESIS_VERSION" \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "chdb==$CHDB_VERSION" >>"$STATE/venv.log" 2>&1 ||
        fail_with_log "pip install into the venv failed" "$STATE/venv.log"
    venv_ok || die "confluent_kafka $CONFLUENT_KAFKA_VERSION, schemathesis $SCHEMATHESIS_VERSION, kubernetes-validate $KUBERNETES_VALIDATE_VERSION or chdb $CHDB_VERSION missing from $VENV"
    log "venv ready in $(since "$t0") s"
}

cmd_install() {
    local chromium=1 arg
    [[ "${SUBSIDY_NO_CHROMIUM:-0}" == 1 ]] && chromium=0
    for arg in "$@"; do
        case "$arg" in
            --no-chromium) chromium=0 ;;
            *) die "install: unknown option $arg" ;;
        esac
    done
    local t0
    t0="$(now)"
    # tansu's build is the slow part: start it first, in the background,
    # and do the apt/pip work meanwhile (and don't leave it behind if that
    # work fails).
    trap 'if [[ "$TANSU_JOB" =~ ^[0-9]+$ ]]; then kill "$TANSU_JOB" 2>/dev/null || true; fi' EXIT
    tansu_install_begin

    local want=(curl ca-certificates python3 python3-venv clickhouse-server clickhouse-client prometheus zookeeper docker-compose)
    # The portal is labelled in Chinese: its screenshots need a CJK font.
    [[ $chromium -eq 1 ]] && want+=(chromium chromium-driver fonts-noto-cjk)
    local missing=() p
    for p in "${want[@]}"; do
        deb_installed "$p" || missing+=("$p")
    done
    apt_install "${missing[@]}"
    # Debian's packages would start their own daemons under a real init; make
    # sure nothing of theirs holds our ports.
    check_no_foreign_listener prometheus "$PROM_PORT" "$PROM_DIR/prometheus.pid"
    check_no_foreign_listener clickhouse "$CH_HTTP_PORT" "$CH_DIR/clickhouse.pid"

    local busy=0
    [[ ${#missing[@]} -gt 0 || -n "$TANSU_JOB" ]] && busy=1
    venv_ok || busy=1
    install_venv
    tansu_install_end
    [[ $busy -eq 0 ]] || log "install complete in $(since "$t0") s"
}

check_no_foreign_listener() { # name port pidfile
    if port_open "$2" && ! pid_alive "$3"; then
        log "WARNING: something not started by this script listens on 127.0.0.1:$2 (expected for $1 only):"
        (command -v ss >/dev/null && ss -ltnp "sport = :$2" >&2) || true
    fi
}

# ---------------------------------------------------------------- clickhouse
ch_ping() {
    [[ "$(curl -s --max-time 2 "http://127.0.0.1:$CH_HTTP_PORT/ping" 2>/dev/null)" == "Ok." ]]
}

# A ClickHouse server's config.xml and users.xml in DIR, on the given ports;
# EXTRA is spliced into config.xml (the cluster's replicas add ZooKeeper,
# remote_servers and macros there).
ch_write_config() { # dir http_port tcp_port [extra_xml]
    local dir="$1" http="$2" tcp="$3" extra="${4:-}"
    mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
    cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by deploy/dev/services.sh; regenerated on every start. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
$extra
</yandex>
EOF
    cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by deploy/dev/services.sh; regenerated on every start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>$CH_MAX_MEMORY</max_memory_usage>
            <max_memory_usage_for_all_queries>$((CH_MAX_MEMORY * 3 / 2))</max_memory_usage_for_all_queries>
            <max_threads>2</max_threads>
            <background_pool_size>4</background_pool_size>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start_clickhouse() {
    local pidfile="$CH_DIR/clickhouse.pid" t0 i
    if pid_alive "$pidfile" && ch_ping; then
        return 0
    fi
    if ch_ping; then
        log "clickhouse: something already answers on 127.0.0.1:$CH_HTTP_PORT (not started by this script); using it"
        return 0
    fi
    command -v clickhouse-server >/dev/null || die "clickhouse-server not installed; run: deploy/dev/services.sh install"
    stop_pid clickhouse "$pidfile" # stale process that does not answer
    ch_write_config "$CH_DIR" "$CH_HTTP_PORT" "$CH_TCP_PORT"
    t0="$(now)"
    # Runs as the invoking user (root in CI); the data dir belongs to it.
    spawn "$pidfile" "$CH_DIR/log/stdout.log" \
        clickhouse-server --config-file="$CH_DIR/config.xml"
    for ((i = 0; i < 600; i++)); do # 60 s
        ch_ping && break
        if ! pid_alive "$pidfile"; then
            fail_with_log "clickhouse-server exited during startup" \
                "$CH_DIR/log/stdout.log" "$CH_DIR/log/clickhouse-server.err.log"
        fi
        sleep 0.1
    done
    ch_ping || fail_with_log "clickhouse did not answer /ping within 60 s" \
        "$CH_DIR/log/stdout.log" "$CH_DIR/log/clickhouse-server.err.log" "$CH_DIR/log/clickhouse-server.log"
    log "clickhouse up on 127.0.0.1:$CH_HTTP_PORT (http) / :$CH_TCP_PORT (native) in $(since "$t0") s"
}

stop_clickhouse() { stop_pid clickhouse "$CH_DIR/clickhouse.pid"; }

# ---------------------------------------------------------------- tansu
# tansu 0.6.0 drops one leading '/' from a sqlite:// path and opens the rest
# relative to its working directory: sqlite:///tmp/x.db opens ./tmp/x.db and
# an absolute file needs four slashes (sqlite:////tmp/x.db). Normalise:
#   sqlite                -> <state>/tansu/tansu.db
#   sqlite:///abs/x.db    -> the absolute file /abs/x.db
#   sqlite://rel/x.db     -> <repo>/rel/x.db
kafka_storage_url() {
    local s="$KAFKA_STORAGE" path
    case "$s" in
        sqlite) path="$TANSU_DIR/tansu.db" ;;
        sqlite:///*)
            path="/${s#sqlite:///}"
            while [[ "$path" == //* ]]; do path="${path#/}"; done
            ;;
        sqlite://*) path="$REPO/${s#sqlite://}" ;;
        *) echo "$s"; return ;;
    esac
    echo "sqlite:///$path" # path starts with '/': four slashes in total
}

# tansu's sqlite engine reads the headers of every record it fetches with a
# query that scans the whole header table (header_fetch.sql; the table has no
# index on (topition, offset_id)). Only dead letters carry headers, but with
# ten thousand of them on the broker every consumer of every topic crawls: a
# million-line run stalled. This index turns the scan into a lookup; tansu
# creates its tables before it listens, and neither needs nor notices it.
index_kafka_headers() {
    local db="$1" i
    for ((i = 0; i < 50; i++)); do # 5 s
        /usr/bin/python3 - "$db" <<'PY' && return 0
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'header'").fetchone():
    sys.exit(1)
db.execute("CREATE INDEX IF NOT EXISTS header_topition_offset ON header (topition, offset_id)")
db.commit()
PY
        sleep 0.1
    done
    die "kafka: tansu's header table did not appear in $db within 5 s"
}

start_kafka() {
    local pidfile="$TANSU_DIR/tansu.pid" bin t0 i
    if pid_alive "$pidfile" && port_open "$KAFKA_PORT"; then
        return 0
    fi
    if port_open "$KAFKA_PORT" && ! pid_alive "$pidfile"; then
        log "kafka: something already listens on 127.0.0.1:$KAFKA_PORT (not started by this script); using it"
        return 0
    fi
    bin="$(tansu_bin)"
    [[ -n "$bin" ]] || die "tansu not installed; run: deploy/dev/services.sh install"
    stop_pid tansu "$pidfile"
    mkdir -p "$TANSU_DIR"
    local storage
    storage="$(kafka_storage_url)"
    if [[ "$storage" == sqlite://* ]]; then
        mkdir -p "$(dirname "${storage#sqlite:///}")"
    fi
    t0="$(now)"
    echo "=== $(date -u +%FT%TZ) start: storage $storage port $KAFKA_PORT" >>"$TANSU_DIR/tansu.log"
    spawn "$pidfile" "$TANSU_DIR/tansu.log" env RUST_LOG="${RUST_LOG:-warn}" \
        "$bin" broker \
        --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine "$storage"
    for ((i = 0; i < 300; i++)); do # 30 s
        port_open "$KAFKA_PORT" && break
        pid_alive "$pidfile" || fail_with_log "tansu exited during startup" "$TANSU_DIR/tansu.log"
        sleep 0.1
    done
    port_open "$KAFKA_PORT" || fail_with_log "tansu did not listen on 127.0.0.1:$KAFKA_PORT within 30 s" "$TANSU_DIR/tansu.log"
    if [[ "$storage" == sqlite://* ]]; then index_kafka_headers "${storage#sqlite:///}"; fi
    log "kafka (tansu) up on 127.0.0.1:$KAFKA_PORT, storage $storage, in $(since "$t0") s"
}

stop_kafka() { stop_pid tansu "$TANSU_DIR/tansu.pid"; }

# ---------------------------------------------------------------- prometheus
prom_ready() {
    curl -sf --max-time 2 "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1
}

start_prometheus() {
    local pidfile="$PROM_DIR/prometheus.pid" t0 i
    if pid_alive "$pidfile" && prom_ready; then
        return 0
    fi
    if port_open "$PROM_PORT" && ! pid_alive "$pidfile"; then
        log "prometheus: something already listens on 127.0.0.1:$PROM_PORT (not started by this script); using it"
        return 0
    fi
    command -v prometheus >/dev/null || die "prometheus not installed; run: deploy/dev/services.sh install"
    stop_pid prometheus "$pidfile"
    mkdir -p "$PROM_DIR/data"
    promtool check config "$PROM_CONFIG" >"$PROM_DIR/promtool.log" 2>&1 ||
        fail_with_log "promtool rejected $PROM_CONFIG" "$PROM_DIR/promtool.log"
    t0="$(now)"
    spawn "$pidfile" "$PROM_DIR/prometheus.log" prometheus \
        --config.file="$PROM_CONFIG" \
        --storage.tsdb.path="$PROM_DIR/data" \
        --storage.tsdb.retention.time=7d \
        --web.listen-address="127.0.0.1:$PROM_PORT" \
        --web.enable-lifecycle \
        --log.level=warn
    for ((i = 0; i < 300; i++)); do # 30 s
        prom_ready && break
        pid_alive "$pidfile" || fail_with_log "prometheus exited during startup" "$PROM_DIR/prometheus.log"
        sleep 0.1
    done
    prom_ready || fail_with_log "prometheus not ready on 127.0.0.1:$PROM_PORT within 30 s" "$PROM_DIR/prometheus.log"
    log "prometheus up on 127.0.0.1:$PROM_PORT in $(since "$t0") s"
}

stop_prometheus() { stop_pid prometheus "$PROM_DIR/prometheus.pid"; }

# ---------------------------------------------------------------- cluster
# shellcheck source=deploy/dev/cluster.sh
source "$SCRIPT_DIR/cluster.sh"

# ---------------------------------------------------------------- commands
services_of() { # args -> canonical names
    if [[ $# -eq 0 ]]; then
        echo clickhouse kafka prometheus
        return
    fi
    local s
    for s in "$@"; do
        case "$s" in
            clickhouse | ch) echo clickhouse ;;
            kafka | tansu) echo kafka ;;
            prometheus | prom) echo prometheus ;;
            zookeeper | zk) echo zookeeper ;;
            replica1 | replica2) echo "$s" ;;
            cluster) echo zookeeper replica1 replica2 ;;
            *) die "unknown service '$s' (clickhouse, kafka, prometheus, zookeeper, replica1, replica2, cluster)" ;;
        esac
    done
}

cmd_start() {
    local s
    for s in $(services_of "$@"); do "start_$s"; done
}

cmd_stop() {
    local s services
    # Replicas before ZooKeeper: a replica losing ZooKeeper first logs errors while it stops.
    services="$(services_of "$@" | tr ' ' '\n' | tac)"
    for s in $services; do "stop_$s"; done
}

cmd_kill() { # service
    local pidfile
    case "$(services_of "${1:-}")" in
        clickhouse) pidfile="$CH_DIR/clickhouse.pid" ;;
        kafka) pidfile="$TANSU_DIR/tansu.pid" ;;
        *) die "kill: clickhouse or kafka" ;;
    esac
    pid_alive "$pidfile" || die "kill: ${1} is not running (no live pid in $pidfile)"
    local pid
    pid="$(cat "$pidfile")"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$pidfile"
    log "${1}: killed (pid $pid)"
}

cmd_status() {
    local down=0
    if ch_ping; then
        echo "clickhouse  up    http://127.0.0.1:$CH_HTTP_PORT  native 127.0.0.1:$CH_TCP_PORT  pid $(cat "$CH_DIR/clickhouse.pid" 2>/dev/null || echo '?')"
    else
        echo "clickhouse  down"; down=1
    fi
    if port_open "$KAFKA_PORT"; then
        echo "kafka       up    127.0.0.1:$KAFKA_PORT (tansu)  pid $(cat "$TANSU_DIR/tansu.pid" 2>/dev/null || echo '?')"
    else
        echo "kafka       down"; down=1
    fi
    if prom_ready; then
        echo "prometheus  up    http://127.0.0.1:$PROM_PORT  pid $(cat "$PROM_DIR/prometheus.pid" 2>/dev/null || echo '?')"
    else
        echo "prometheus  down"; down=1
    fi
    if [[ -d "$CLUSTER_DIR" ]]; then cluster_status || true; fi
    return $down
}

cmd_create_topic() { # name partitions [compact]
    [[ $# -ge 2 ]] || die "usage: create-topic NAME PARTITIONS [compact]"
    venv_ok || die "python venv missing; run: deploy/dev/services.sh install"
    "$VENV/bin/python" - "127.0.0.1:$KAFKA_PORT" "$@" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka import KafkaError, KafkaException

brokers, name, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
compact = len(sys.argv) > 4 and sys.argv[4] == "compact"
config = {"cleanup.policy": "compact"} if compact else {}
admin = AdminClient({"bootstrap.servers": brokers})
futures = admin.create_topics(
    [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)],
    operation_timeout=10, request_timeout=15)
try:
    futures[name].result()
    print(f"created topic {name} partitions={partitions} compact={compact}")
except KafkaException as e:
    if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
        print(f"topic {name} already exists")
    else:
        raise
PY
}

cmd_logs() {
    case "$(services_of "${1:-}")" in
        clickhouse) tail -n 100 "$CH_DIR/log/clickhouse-server.log" ;;
        kafka) tail -n 100 "$TANSU_DIR/tansu.log" ;;
        prometheus) tail -n 100 "$PROM_DIR/prometheus.log" ;;
    esac
}

cmd_env() {
    cat <<EOF
export SUBSIDY_CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT
export SUBSIDY_CLICKHOUSE_NATIVE=127.0.0.1:$CH_TCP_PORT
export SUBSIDY_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export SUBSIDY_PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT
export SUBSIDY_PYTHON=$VENV/bin/python
EOF
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        install) cmd_install "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        restart) cmd_stop "$@"; cmd_start "$@" ;;
        kill) cmd_kill "$@" ;;
        reset-kafka) stop_kafka; rm -f "$TANSU_DIR"/tansu.db "$TANSU_DIR"/tansu.db-shm "$TANSU_DIR"/tansu.db-wal ;;
        status) cmd_status ;;
        python) echo "$VENV/bin/python" ;;
        create-topic) cmd_create_topic "$@" ;;
        logs) cmd_logs "$@" ;;
        env) cmd_env ;;
        *)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
            [[ -z "$cmd" || "$cmd" == help || "$cmd" == -h || "$cmd" == --help ]] || exit 2
            ;;
    esac
}

main "$@"
