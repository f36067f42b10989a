#!/usr/bin/env python3
"""Latency of small produces while another producer fills a gzip topic.

    gzip_latency.py BOOTSTRAP [SECONDS]

A confluent-kafka producer sends ~1 MB uncompressed batches (1 KB text-like records,
linger.ms 50) to a topic created with compression.type=gzip, which the broker recompresses;
another sends small acks=1 messages at 1,000 per second (linger.ms 0) to a one-partition
topic with default settings. Printed: the small messages' delivery latency (produce() to
delivery report) p50/p99/max, and the big producer's throughput while the small one ran
(until its last delivery). Both topics are created
afresh (names carry the time)."""

import random
import sys
import threading
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def text_values(n, seed):
    rnd = random.Random(seed)
    words = [("w%d" % rnd.randrange(5000)).encode() for _ in range(2000)]
    return [b" ".join(rnd.choice(words) for _ in range(180))[:1000] for _ in range(n)]


def main():
    bootstrap = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    stamp = int(time.time())
    big, small = "gzlat-big-%d" % stamp, "gzlat-small-%d" % stamp
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(big, 1, 1, config={"compression.type": "gzip"}),
                                  NewTopic(small, 1, 1)]).values():
        f.result()
    time.sleep(1)
    stop = threading.Event()
    window = [None, None]  # monotonic start and end of the small producer's run
    big_bytes = [0]

    def big_loop():
        p = Producer({"bootstrap.servers": bootstrap, "compression.type": "none", "acks": 1,
                      "linger.ms": 50, "batch.size": 1000000, "batch.num.messages": 100000,
                      "queue.buffering.max.kbytes": 8192})
        vals = text_values(1000, 1)
        i = 0

        def done(err, msg):
            now = time.monotonic()
            if err is None and window[0] is not None and now >= window[0] and (
                    window[1] is None or now <= window[1]):
                big_bytes[0] += len(msg.value())
        while not stop.is_set():
            try:
                p.produce(big, vals[i % 1000], on_delivery=done)
                i += 1
            except BufferError:
                p.poll(0.01)
            p.poll(0)
        p.flush(30)

    th = threading.Thread(target=big_loop)
    th.start()
    time.sleep(1)  # the big producer is under way
    lat = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": 1, "linger.ms": 0})

    def report(err, msg, t0):
        if err is None:
            lat.append(time.monotonic() - t0)

    t_end = time.monotonic() + secs
    n = 0
    start = window[0] = time.monotonic()
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        p.produce(small, b"small", on_delivery=lambda e, m, t0=t0: report(e, m, t0))
        n += 1
        p.poll(0)
        nxt = start + n / 1000.0
        while time.monotonic() < nxt:
            p.poll(max(0.0, nxt - time.monotonic()))
    p.flush(60)
    window[1] = time.monotonic()
    stop.set()
    th.join()
    ms = sorted(x * 1000 for x in lat)
    pct = lambda q: ms[min(len(ms) - 1, int(len(ms) * q))]  # noqa: E731
    print("small: %d sent, %d delivered; latency p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, "
          "max %.1f ms" % (n, len(ms), pct(0.5), pct(0.99), pct(0.999), ms[-1]))
    print("big: %.1f MB/s delivered to the gzip topic over the %.1f s the small producer ran"
          % (big_bytes[0] / 1e6 / (window[1] - window[0]), window[1] - window[0]))


main()
