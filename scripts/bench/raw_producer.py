"""Minimal reference producer: the same payloads, the same key, the same
producer guarantees (idempotent, acks=all) as the collector, with nothing
else around it. Prints records/s as JSON.

usage: raw_producer.py BROKERS TOPIC RECORDS.jsonl [PARTITIONS]

The broker does not create topics on first use, so the topic is created
first with as many partitions as the collector's records topic.
"""
import json
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def producer(brokers):
    """A producer with the collector's guarantees (idempotent, acks=all, the same batching),
    its delivery callback, and the list that callback puts failed deliveries in."""
    p = Producer({
        "bootstrap.servers": brokers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 200000,
    })
    failed = []

    def on_delivery(err, _msg):
        if err is not None:
            failed.append(err)

    return p, on_delivery, failed


def send(p, topic, key, value, on_delivery):
    """Produces one message, waiting for room when the producer's queue is full."""
    while True:
        try:
            p.produce(topic, value=value, key=key, on_delivery=on_delivery)
            return
        except BufferError:
            p.poll(0.01)


def main():
    brokers, topic, path = sys.argv[1:4]
    partitions = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result()
    lines = []
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                key = json.loads(line)["user_credit_code"].encode()
            except Exception:
                continue
            lines.append((key, line))
    p, on_delivery, failed = producer(brokers)
    started = time.perf_counter()
    for key, value in lines:
        send(p, topic, key, value, on_delivery)
        p.poll(0)
    finish(p, failed, len(lines), started, 120)


def finish(p, failed, n, started, flush_secs):
    """Waits for every delivery; exits 1 on a failed one, else prints records and records/s as JSON."""
    p.flush(flush_secs)
    elapsed = time.perf_counter() - started
    if failed:
        print(f"{len(failed)} deliveries failed: {failed[0]}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"records": n, "seconds": elapsed, "records_per_s": n / elapsed}))


if __name__ == "__main__":
    main()
