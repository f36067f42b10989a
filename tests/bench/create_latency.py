#!/usr/bin/env python3
"""Topic creation latency of one runneld: confluent-kafka's AdminClient creates --topics topics
of --partitions partitions one after another (median seconds until create_topics' future
resolves), then, for --fresh topics each, a producer writes --messages messages over every
partition of a topic created just before (seconds from the creation request until every
message is delivered) and a consumer checks that every one reads back.

  python3 tests/bench/create_latency.py [--runneld build/broker/runneld] [--port 39250]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def wait_listen(port, secs=30):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("runneld did not listen on %d" % port)


def create(admin, name, parts):
    t0 = time.monotonic()
    admin.create_topics([NewTopic(name, parts, 1)], operation_timeout=120)[name].result(180)
    return time.monotonic() - t0


def fresh(bootstrap, admin, name, parts, count):
    t0 = time.monotonic()
    created = create(admin, name, parts)
    bad = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        p.produce(name, b"%d" % i, partition=i % parts,
                  on_delivery=lambda err, msg: bad.append(err) if err else None)
        p.poll(0)
    left = p.flush(120)
    delivered = time.monotonic() - t0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "x", "enable.auto.commit": False})
    c.assign([TopicPartition(name, i, 0) for i in range(parts)])
    got, deadline = set(), time.monotonic() + 60
    while len(got) < count and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.add(int(m.value()))
    c.close()
    return created, delivered, left == 0 and not bad and got == set(range(count))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runneld", default=os.path.join(SRC, "build", "broker", "runneld"))
    ap.add_argument("--port", type=int, default=39250)
    ap.add_argument("--topics", type=int, default=5)
    ap.add_argument("--partitions", type=int, default=1000)
    ap.add_argument("--fresh", type=int, default=3)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--dir", default=os.path.join(SRC, "build", "bench"))
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="create.", dir=a.dir)
    log = open(os.path.join(work, "runneld.log"), "wb")
    proc = subprocess.Popen([a.runneld, "--node-id", "1", "--listen", "127.0.0.1:%d" % a.port,
                             "--data-dir", os.path.join(work, "data")], stdout=log,
                            stderr=subprocess.STDOUT)
    ok = True
    try:
        wait_listen(a.port)
        bootstrap = "127.0.0.1:%d" % a.port
        admin = AdminClient({"bootstrap.servers": bootstrap})
        took = [create(admin, "c%d" % i, a.partitions) for i in range(a.topics)]
        print("create %d x %d partitions: median %.3f s (%s)" % (
            a.topics, a.partitions, statistics.median(took), " ".join("%.3f" % t for t in took)))
        for i in range(a.fresh):
            created, delivered, good = fresh(bootstrap, admin, "f%d" % i, a.partitions,
                                             a.messages)
            ok = ok and good
            print("fresh topic %d: created in %.3f s, %d messages delivered %.3f s after the "
                  "request, all read back: %s" % (i, created, a.messages, delivered, good))
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
