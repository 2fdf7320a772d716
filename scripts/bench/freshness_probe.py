"""Freshness probe: how long after a record appears on the platform its line
is visible through the API.

The simulator releases record line i of records.jsonl at T0 + i / RATE (it
prints T0, Unix ms, when it starts). From WARMUP seconds on, the probe takes
SAMPLES record lines a second at even steps of the file. For each it waits
for the line's release, then asks `GET /v1/records/{record_id}` every POLL
seconds until the standing line has at least the sampled line's revision,
polling less often as the wait grows (every 1/40 of the time waited, at most
every 0.5 s) so that a pipeline falling behind is not slowed further by the
probe's own lookups; a figure is late by at most 2.5 % of itself or POLL.
The freshness of the sample is that moment minus the release instant.

Prints one JSON object: samples, visible, missing (never visible within
--give-up seconds), p50, p90, p99 and max in seconds. Exits 1 when a sample is
missing, so a lost record cannot pass for a fast one.

    python3 freshness_probe.py --records FILE --rate R --t0-ms T --api URL --token TOKEN
                               [--duration S] [--warmup S] [--samples-per-sec N] [--poll S]
"""

import argparse
import concurrent.futures
import http.client
import json
import sys
import threading
import time
import urllib.parse


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--records", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--t0-ms", type=int, required=True)
    p.add_argument("--api", required=True, help="http://host:port")
    p.add_argument("--token", required=True)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of releases sampled after the warm-up")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--samples-per-sec", type=float, default=10.0)
    p.add_argument("--poll", type=float, default=0.05)
    p.add_argument("--give-up", type=float, default=60.0)
    return p.parse_args()


def sampled_lines(path, rate, warmup, duration, per_sec):
    """(index, record_id, revision) of the sampled lines, in release order."""
    first, last = int(warmup * rate), int((warmup + duration) * rate)
    step = max(1, int(rate / per_sec))
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= last:
                break
            if i < first or (i - first) % step:
                continue
            try:
                rec = json.loads(line)
                out.append((i, rec["record_id"], int(rec["revision"])))
            except (ValueError, KeyError, TypeError):
                continue  # a malformed line has no line to wait for
    return out


class Api:
    """One keep-alive connection per thread."""

    def __init__(self, base, token):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.local = threading.local()

    def standing_revision(self, record_id):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/v1/records/" + urllib.parse.quote(record_id, safe=""), headers=self.headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            return None
        if resp.status != 200:
            return None
        standing = json.loads(body).get("standing")
        return None if standing is None else standing["revision"]


def watch(api, sample, appears_at, poll, give_up):
    """Seconds from the sample's release to its line being visible; None if never."""
    _, record_id, revision = sample
    wait = appears_at - time.time()
    if wait > 0:
        time.sleep(wait)
    while (waited := time.time() - appears_at) < give_up:
        seen = api.standing_revision(record_id)
        if seen is not None and seen >= revision:
            return time.time() - appears_at
        time.sleep(min(0.5, max(poll, waited / 40)))
    return None


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))
    return round(sorted_values[k], 3)


def main():
    a = parse_args()
    samples = sampled_lines(a.records, a.rate, a.warmup, a.duration, a.samples_per_sec)
    if not samples:
        print(json.dumps({"error": "no record lines in the sampled range"}))
        return 1
    api = Api(a.api, a.token)
    t0 = a.t0_ms / 1000.0
    # Enough threads for every sample in flight while the lag stays under give_up.
    workers = min(len(samples), int(a.samples_per_sec * 12) + 8)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(watch, api, s, t0 + s[0] / a.rate, a.poll, a.give_up) for s in samples]
        lags = [f.result() for f in futures]
    visible = sorted(x for x in lags if x is not None)
    missing = [s[1] for s, x in zip(samples, lags) if x is None]
    print(json.dumps({
        "samples": len(samples), "visible": len(visible), "missing": len(missing), "missing_ids": missing[:10],
        "p50": quantile(visible, 0.50), "p90": quantile(visible, 0.90), "p99": quantile(visible, 0.99),
        "max": round(visible[-1], 3) if visible else None,
    }))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
