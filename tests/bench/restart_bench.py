#!/usr/bin/env python3
"""Restart time of one runneld with many partitions (issue 17, part 3).

Creates one topic of N partitions (default 1,000) on a single runneld, writes a few records to
some of them, then measures three restarts of the same data dir:

  clean     after a clean stop (SIGTERM)
  kill      after SIGKILL of a broker that had not been restarted since the partitions were
            created
  kill-cr   after SIGKILL of a broker that had been through a clean restart before the kill

Each figure is the time from exec to the port accepting a connection ("listen"), and to the
first Metadata answer and the first acknowledged Produce ("produce"). The broker's own
start-up log lines for the partitions are counted too.

Usage: restart_bench.py [--partitions N] [--rounds R] [--port P] [--keep]
Environment: RN_BUILD_DIR (default <repo>/build), RN_BENCH_DIR (data dir parent, default
$RN_BUILD_DIR/restart-bench: on the repository's file system, never tmpfs).
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("RN_BUILD_DIR") or os.path.join(SRC, "build")
RUNNELD = os.path.join(BUILD, "broker", "runneld")

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "restart-bench"


class Broker:
    def __init__(self, root, port):
        self.root = root
        self.data = os.path.join(root, "data")
        self.port = port
        self.proc = None
        self.nlog = 0

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self, produce=True):
        """Start runneld; return (seconds to listen, seconds to a Metadata answer and an
        acknowledged Produce; None when produce is False)."""
        log = open(os.path.join(self.root, "runneld.log"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [RUNNELD, "--node-id", "1", "--listen", self.bootstrap, "--data-dir", self.data],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("runneld exited with %d" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.002)
        t_listen = time.monotonic() - t0
        if not produce:
            return t_listen, None
        produce_one(self.bootstrap, TOPIC)
        t_produce = time.monotonic() - t0
        return t_listen, t_produce

    def stop(self, kill):
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.proc = None

    def log_lines_since(self, mark):
        with open(os.path.join(self.root, "runneld.log"), "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace").splitlines()

    def log_size(self):
        try:
            return os.path.getsize(os.path.join(self.root, "runneld.log"))
        except OSError:
            return 0


def produce_one(bootstrap, topic, partition=0, count=1, value=b"x" * 100):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "socket.connection.setup.timeout.ms": 30000, "message.timeout.ms": 60000,
                  "log_level": 0})
    errors = []
    for i in range(count):
        p.produce(topic, value, partition=partition,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
    left = p.flush(60)
    if left or errors:
        raise RuntimeError("produce to %s-%d failed: %d unsent, %r" % (topic, partition, left,
                                                                       errors[:3]))


def create(broker, partitions):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fut = admin.create_topics([NewTopic(TOPIC, partitions, 1)], operation_timeout=120)
    fut[TOPIC].result(timeout=180)
    # A little data in every tenth partition, the rest stay empty.
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5,
                  "log_level": 0})
    for part in range(0, partitions, 10):
        for i in range(20):
            p.produce(TOPIC, b"v" * 200, partition=part)
    if p.flush(120):
        raise RuntimeError("setup produce did not finish")


def measure(broker, kill, label, results):
    mark = broker.log_size()
    broker.stop(kill=kill)
    t_listen, t_produce = broker.start()
    lines = broker.log_lines_since(mark)
    per_part = sum(1 for ln in lines if TOPIC + "-" in ln)
    results.setdefault(label, []).append((t_listen, t_produce, per_part))
    print("  %-8s listen %6.3f s   produce %6.3f s   log lines naming a partition: %d"
          % (label, t_listen, t_produce, per_part), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--partitions", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--port", type=int, default=int(os.environ.get("RN_BENCH_PORT", "19800")))
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    args = ap.parse_args()
    parent = os.environ.get("RN_BENCH_DIR") or os.path.join(BUILD, "restart-bench")
    root = os.path.join(parent, "run-%d" % os.getpid())
    os.makedirs(root)
    broker = Broker(root, args.port)
    results = {}
    try:
        print("# runneld %s, %d partitions, data in %s" % (RUNNELD, args.partitions, root))
        broker.start(produce=False)
        create(broker, args.partitions)
        for r in range(args.rounds):
            print("round %d" % (r + 1), flush=True)
            # A kill of a broker that has run since the partitions were written...
            measure(broker, True, "kill", results)
            # ...then a clean stop and start, and a kill after that clean restart.
            measure(broker, False, "clean", results)
            measure(broker, True, "kill-cr", results)
        broker.stop(kill=False)
    finally:
        if broker.proc is not None:
            broker.proc.kill()
            broker.proc.wait()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("# median over %d round(s), %d partitions" % (args.rounds, args.partitions))
    for label in ("clean", "kill", "kill-cr"):
        rows = results.get(label, [])
        if rows:
            print("%-8s listen %6.3f s  produce %6.3f s" % (
                label, statistics.median(r[0] for r in rows),
                statistics.median(r[1] for r in rows)))


if __name__ == "__main__":
    main()
