#!/usr/bin/env python3
"""Interop (consumer groups): confluent-kafka consumers sharing a group; static membership.

Part 1: three consumers subscribe to a 6-partition topic in one group; the assignment splits
the partitions among all three without overlap; 600 messages are read exactly once; when one
leaves, the other two take over all six partitions.
Part 2 (KIP-345 static membership): a member with group.instance.id closes and comes back
with the same id within session.timeout.ms; it gets its old partitions back and the other
member's assignment is not revoked meanwhile [kafka: static members skip the rebalance].
Run with /usr/bin/python3 (1.7.0) and .venv/bin/python (PyPI).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interop_common import BOOTSTRAP, Tap, unique  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CK_VERSION = getattr(ck, "__version__", None) or ck.version()[0]
T = Tap("groups: confluent-kafka %s (librdkafka %s)" % (CK_VERSION, ck.libversion()[0]))
PARTS = 6
TOTAL = 600


class Member:
    def __init__(self, name, group, topic, extra=None):
        self.name = name
        self.assigned = set()
        self.revoked = 0
        self.got = []
        conf = {"bootstrap.servers": BOOTSTRAP, "group.id": group,
                "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 500, "enable.auto.commit": True,
                "auto.commit.interval.ms": 500}
        conf.update(extra or {})
        self.c = Consumer(conf)
        self.c.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, c, parts):
        self.assigned = {p.partition for p in parts}

    def _on_revoke(self, c, parts):
        self.revoked += 1
        self.assigned = set()

    def poll(self):
        m = self.c.poll(0.05)
        if m is not None and not m.error():
            self.got.append((m.partition(), m.offset(), m.value()))

    def close(self):
        self.c.close()


def pump(members, until, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in members:
            m.poll()
        if until():
            return True
    return False


def create(topic, parts):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics([NewTopic(topic, parts, 1)], operation_timeout=10)[topic].result(15)


def part1():
    topic = unique("rn-grp-cf")
    create(topic, PARTS)
    group = unique("rn-grp-cf-g")
    ms = [Member("c%d" % i, group, topic) for i in range(3)]
    split = pump(ms, lambda: (sum(len(m.assigned) for m in ms) == PARTS
                              and all(m.assigned for m in ms)), 30)
    T.ok(split, "3 members share the %d partitions: %s"
         % (PARTS, [sorted(m.assigned) for m in ms]))
    allp = [p for m in ms for p in m.assigned]
    T.eq(sorted(allp), list(range(PARTS)), "assignment covers every partition exactly once")

    p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5})
    for i in range(TOTAL):
        p.produce(topic, value=b"m%d" % i, partition=i % PARTS)
    T.eq(p.flush(15), 0, "produced %d messages" % TOTAL)
    pump(ms, lambda: sum(len(m.got) for m in ms) >= TOTAL, 20)
    got = [x for m in ms for x in m.got]
    T.eq(len(got), TOTAL, "the group read %d messages" % len(got))
    T.eq(len(set((a, b) for a, b, _ in got)), TOTAL, "each exactly once")
    T.ok(all(m.got for m in ms), "every member read some: %s" % [len(m.got) for m in ms])

    ms[2].close()
    rest = ms[:2]
    ok = pump(rest, lambda: sorted(p for m in rest for p in m.assigned) == list(range(PARTS)), 30)
    T.ok(ok, "after one member leaves, the other two own all partitions: %s"
         % [sorted(m.assigned) for m in rest])
    for m in rest:
        m.close()


def part2():
    topic = unique("rn-grp-static")
    create(topic, 4)
    group = unique("rn-grp-static-g")
    static = {"group.instance.id": "static-1"}
    s = Member("static", group, topic, static)
    d = Member("dynamic", group, topic)
    ok = pump([s, d], lambda: len(s.assigned) + len(d.assigned) == 4 and s.assigned and d.assigned,
              30)
    T.ok(ok, "static + dynamic member share 4 partitions: %s %s"
         % (sorted(s.assigned), sorted(d.assigned)))
    before_s, before_d, revoked_d = set(s.assigned), set(d.assigned), d.revoked
    s.close()  # a static member leaves without LeaveGroup: its slot is kept for the session
    pump([d], lambda: False, 1.5)
    s2 = Member("static-again", group, topic, static)
    ok = pump([s2, d], lambda: bool(s2.assigned), 20)
    T.ok(ok and s2.assigned == before_s, "static member rejoins with its old partitions %s"
         % sorted(before_s), "got %s" % sorted(s2.assigned))
    T.ok(d.revoked == revoked_d and d.assigned == before_d,
         "the dynamic member was not rebalanced meanwhile [kafka]",
         "revocations %d -> %d, assignment %s -> %s" % (revoked_d, d.revoked, sorted(before_d),
                                                       sorted(d.assigned)))
    s2.close()
    d.close()


T.diag("-- three members")
T.step("three members", part1)
T.diag("-- static membership")
T.step("static membership", part2)
T.done()
