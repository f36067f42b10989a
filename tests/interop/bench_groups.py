#!/usr/bin/env python3
"""Benchmark of the group coordinator: offset-commit throughput and 10-member rebalance time.

    RN_BOOTSTRAP=127.0.0.1:9092 .venv/bin/python tests/interop/bench_groups.py [--members 10]
        [--seconds 5] [--procs 4]

Commits (confluent-kafka, each an OffsetCommit of one or ten partitions by a simple consumer):
  sync      one client, commit(asynchronous=False) in a loop: round-trip bound
  async     one client, 20,000 commit(asynchronous=True) then wait for all: pipelined
  sync xN   N processes committing synchronously at once (--procs)
Rebalance (confluent-kafka consumers with heartbeat.interval.ms=100 so clients notice a
rebalance at once; the broker's group.initial.rebalance.delay.ms is part of "form"):
  form      10 members subscribe at once until all have an assignment covering the topic
  join      an 11th member subscribes until the 11 own every partition in a new generation
  leave     one member closes until the remaining 10 own every partition again
Times are wall clock on the machine running both the broker and the clients; every figure
is the median of --runs runs. Prints a table; exits non-zero if a phase did not finish.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_common import BOOTSTRAP, unique  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTS = 20


def create_topic(topic, parts):
    a = AdminClient({"bootstrap.servers": BOOTSTRAP})
    a.create_topics([NewTopic(topic, parts, 1)], operation_timeout=10)[topic].result(15)
    # Wait for metadata to show leaders (Kafka needs a moment after CreateTopics).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        md = a.list_topics(topic=topic, timeout=5).topics.get(topic)
        if md and md.error is None and len(md.partitions) == parts and all(
                p.leader >= 0 for p in md.partitions.values()):
            return
        time.sleep(0.1)


def simple_consumer(group):
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group,
                     "enable.auto.commit": False})


def commit_sync(topic, nparts, seconds, out=None):
    c = simple_consumer(unique("bench-sync"))
    tps = [TopicPartition(topic, q, 0) for q in range(nparts)]
    c.commit(offsets=tps, asynchronous=False)  # coordinator lookup out of the timing
    n, i = 0, 1
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        c.commit(offsets=[TopicPartition(topic, q, i) for q in range(nparts)],
                 asynchronous=False)
        n += 1
        i += 1
    rate = n / (time.monotonic() - t0)
    c.close()
    if out is not None:
        out.put(rate)
    return rate


def commit_async(topic, nparts, count):
    done = [0]
    errors = [0]

    def cb(err, parts):
        done[0] += 1
        if err is not None:
            errors[0] += 1

    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": unique("bench-async"),
                  "enable.auto.commit": False, "on_commit": cb})
    c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    done[0] = 0
    t0 = time.monotonic()
    for i in range(count):
        c.commit(offsets=[TopicPartition(topic, q, i + 1) for q in range(nparts)],
                 asynchronous=True)
        if i % 500 == 0:
            c.poll(0)
    while done[0] < count and time.monotonic() - t0 < 60:
        c.poll(0.01)
    rate = done[0] / (time.monotonic() - t0)
    c.close()
    return rate, errors[0]


def commit_parallel(topic, nparts, seconds, procs):
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=commit_sync, args=(topic, nparts, seconds, q))
          for _ in range(procs)]
    for p in ps:
        p.start()
    rates = [q.get(timeout=seconds + 60) for _ in ps]
    for p in ps:
        p.join()
    return sum(rates)


class Member:
    def __init__(self, group, topic):
        self.assigned = set()
        self.c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group,
                           "session.timeout.ms": 10000, "heartbeat.interval.ms": 100,
                           "enable.auto.commit": False, "auto.offset.reset": "latest"})
        self.c.subscribe([topic], on_assign=self._assign, on_revoke=self._revoke)

    def _assign(self, c, parts):
        self.assigned = {p.partition for p in parts}

    def _revoke(self, c, parts):
        self.assigned = set()


def pump(members, cond, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for m in members:
            m.c.poll(0)
        if cond():
            return time.monotonic() - t0
        time.sleep(0.001)
    return None


def covered(members, parts):
    owned = [p for m in members for p in m.assigned]
    return sorted(owned) == list(range(parts)) and all(m.assigned for m in members)


def rebalance_once(nmembers):
    topic, group = unique("bench-rb"), unique("bench-rb-g")
    create_topic(topic, PARTS)
    t0 = time.monotonic()
    ms = [Member(group, topic) for _ in range(nmembers)]
    form = pump(ms, lambda: covered(ms, PARTS), 60)
    form = None if form is None else time.monotonic() - t0
    extra = Member(group, topic)
    allm = ms + [extra]
    join = pump(allm, lambda: covered(allm, PARTS) and extra.assigned, 60)
    gone = allm.pop(0)
    t1 = time.monotonic()
    gone.c.close()
    leave = pump(allm, lambda: covered(allm, PARTS), 60)
    if leave is not None:
        leave = time.monotonic() - t1
    for m in allm:
        m.c.close()
    return form, join, leave


def fmt(v, unit):
    return "did not finish" if v is None else ("%.0f %s" % (v, unit) if unit == "commits/s"
                                               else "%.2f %s" % (v, unit))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--async-count", type=int, default=20000)
    args = ap.parse_args()
    topic = unique("bench-commit")
    create_topic(topic, 10)
    print("# bench_groups against %s" % BOOTSTRAP, flush=True)

    class Rows(list):
        def append(self, row):
            super().append(row)
            name, v, unit = row
            print("%-45s %s" % (name, fmt(v, unit) if unit != "errors" else "%d" % v),
                  flush=True)

    rows = Rows()
    for nparts in (1, 10):
        rows.append(("commit sync, %d partition(s)" % nparts,
                     statistics.median(commit_sync(topic, nparts, args.seconds)
                                       for _ in range(args.runs)), "commits/s"))
        rates = [commit_async(topic, nparts, args.async_count) for _ in range(args.runs)]
        rows.append(("commit async (pipelined), %d partition(s)" % nparts,
                     statistics.median(r for r, _ in rates), "commits/s"))
        if any(e for _, e in rates):
            rows.append(("  async commit errors", sum(e for _, e in rates), "errors"))
    rows.append(("commit sync x%d processes, 1 partition" % args.procs,
                 commit_parallel(topic, 1, args.seconds, args.procs), "commits/s"))
    rb = [rebalance_once(args.members) for _ in range(args.runs)]
    ok = all(v is not None for r in rb for v in r)
    for i, name in enumerate(("form a %d-member group" % args.members,
                              "rebalance: member %d joins" % (args.members + 1),
                              "rebalance: 1 of %d leaves" % (args.members + 1))):
        vals = [r[i] for r in rb]
        rows.append((name, None if None in vals else statistics.median(vals), "s"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
