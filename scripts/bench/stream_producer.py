"""Loads a records file too large for the simulator's memory straight onto an
existing records topic, as the collector would have produced it: each line
keyed by its record id, idempotent, acks=all. Streams the file; prints the
records produced and records/s as JSON.

usage: stream_producer.py BROKERS TOPIC RECORDS.jsonl
"""
import re
import sys
import time

from raw_producer import finish, producer, send

RECORD_ID = re.compile(rb'"record_id":"([^"]*)"')


def main():
    brokers, topic, path = sys.argv[1:4]
    p, on_delivery, failed = producer(brokers)
    n = 0
    started = time.perf_counter()
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            m = RECORD_ID.search(line)
            if not m:
                continue
            send(p, topic, m.group(1), line, on_delivery)
            n += 1
            if n % 1000 == 0:
                p.poll(0)
    finish(p, failed, n, started, 600)


if __name__ == "__main__":
    main()
