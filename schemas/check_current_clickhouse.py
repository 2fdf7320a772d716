"""Applies the ClickHouse migrations to a current ClickHouse (chDB, in process).

The store's DDL is written for ClickHouse 18.16 (Debian's package, on which
every test runs) and must also run on current releases. This script takes
the statements from `subsidy-meter migrate --print-ddl` and:

  * single-server form: applies every statement to a fresh chDB database and
    reads every table back;
  * cluster form (`--cluster subsidy`): has current ClickHouse's parser read
    every statement (`EXPLAIN AST`), then applies every CREATE — replicated
    local tables, Distributed tables, the materialized view — with its
    ON CLUSTER clause removed, in a chDB configured with the cluster, its
    macros and the dev ZooKeeper. (chDB runs no distributed-DDL worker, and
    its replicated tables stay read-only, so the ON CLUSTER fan-out and the
    ALTER of a replicated table are applied for real only on the 18.16
    cluster, by crates/cli/tests/cluster.rs.)

Usage: python check_current_clickhouse.py SUBSIDY_METER_BINARY single
       python check_current_clickhouse.py SUBSIDY_METER_BINARY cluster ZOOKEEPER_PORT
(one form per process: chDB is one engine per process, configured once)
"""
import re
import subprocess
import sys
import tempfile
import os

import chdb

CLUSTER_CONFIG = """<clickhouse>
    <remote_servers><subsidy><shard><internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>9000</port></replica>
    </shard></subsidy></remote_servers>
    <macros><shard>01</shard><replica>chdb</replica></macros>
    <zookeeper><node><host>127.0.0.1</host><port>{zk}</port></node></zookeeper>
</clickhouse>
"""


# Connections kept open to the end: chDB can hang closing one with a ZooKeeper session.
OPEN = []


def ddl(binary, database, *extra):
    out = subprocess.run([binary, "migrate", "--print-ddl", "--clickhouse-database", database, *extra],
                         check=True, capture_output=True, text=True).stdout
    return [s.strip() for s in out.split(";\n") if s.strip()]


def run(cursor, sql):
    cursor.execute(sql)
    return cursor.fetchall() if re.match(r"\s*(SELECT|EXPLAIN)", sql) else None


def single(binary):
    database = "subsidy_current_single"
    conn = chdb.connect(":memory:")
    cur = conn.cursor()
    statements = ddl(binary, database)
    # The single-server statements name tables without a database, as `migrate` runs
    # them on a connection to the ledger's database.
    run(cur, statements[0])
    run(cur, f"USE {database}")
    for s in statements[1:]:
        run(cur, s)
    tables = [t for (t,) in run(cur, f"SELECT name FROM system.tables WHERE database = '{database}' ORDER BY name")]
    for t in tables:
        run(cur, f"SELECT count() FROM {database}.`{t}`")
    version = run(cur, "SELECT version()")[0][0]
    expected = {"ledger_lines", "record_copies", "rejections", "resettle_marks", "period_closures", "statements",
                "registry_entities", "registry_centers", "registry_entity_entries", "registry_center_entries", "ledger_lines_by_user", "schema_migrations"}
    missing = expected - set(tables)
    if missing:
        raise SystemExit(f"single-server form: tables missing on current ClickHouse: {sorted(missing)}")
    print(f"single-server form: {len(statements)} statements applied on ClickHouse {version}, {len(tables)} tables read")


def cluster(binary, zk_port):
    database = f"subsidy_current_cluster_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.xml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(CLUSTER_CONFIG.format(zk=zk_port))
        conn = chdb.connect(f":memory:?config-file={config}")
        OPEN.append(conn)  # never closed: see main()
        cur = conn.cursor()
        statements = ddl(binary, database, "--cluster", "subsidy")
        for s in statements:
            run(cur, f"EXPLAIN AST {s}")
        creates = [re.sub(r" ON CLUSTER subsidy\b", "", s) for s in statements if s.startswith("CREATE")]
        # chDB keeps replicated tables read-only, so the added columns (ALTER) are parsed only,
        # and a view over such a column can be parsed but not created here.
        parsed_only = []
        for s in creates:
            if any(f" AS {local} " in s for local in parsed_only):
                continue  # the Distributed table over a view created only in parse
            try:
                run(cur, s)
            except Exception as e:  # chDB raises its own class, not chdb.ChdbError
                if not (s.startswith("CREATE MATERIALIZED VIEW") and "UNKNOWN_IDENTIFIER" in str(e)):
                    raise
                parsed_only.append(s.split()[6])
        engines = dict(run(cur, f"SELECT name, engine FROM system.tables WHERE database = '{database}'"))
        version = run(cur, "SELECT version()")[0][0]
    replicated = [n for n, e in engines.items() if e.startswith("Replicated")]
    distributed = [n for n, e in engines.items() if e == "Distributed"]
    if len(distributed) < 10 or len(replicated) < 9:
        raise SystemExit(f"cluster form: expected replicated and distributed tables, got {engines}")
    print(f"cluster form: {len(statements)} statements parsed and {len(creates) - 2 * len(parsed_only)} CREATEs applied on ClickHouse "
          f"{version} ({len(replicated)} replicated, {len(distributed)} distributed tables; views over added columns "
          f"parsed only: {', '.join(parsed_only) or 'none'})")


def main():
    binary, form = sys.argv[1], sys.argv[2]
    if form == "single":
        single(binary)
    else:
        cluster(binary, sys.argv[3])
    sys.stdout.flush()
    # chDB's engine can abort while tearing down its ZooKeeper session at exit; the
    # checks are done, so leave without the teardown.
    os._exit(0)


if __name__ == "__main__":
    main()
