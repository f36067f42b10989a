#!/usr/bin/env python3
"""Interop (consumer groups): no message lost or read twice across a member leaving, with
synchronous commits (confluent-kafka).

Three consumers share a 6-partition topic in one group with enable.auto.commit off. Each
processes a message and commits its offset synchronously before taking the next; on a
revocation it has nothing uncommitted. A producer keeps writing while they run. Midway one
member commits and closes (LeaveGroup); the other two take over its partitions and continue
from its committed offsets. At the end every produced message was processed exactly once and
the group's committed offsets are at the log end. Run with /usr/bin/python3 (1.7.0) and
.venv/bin/python (PyPI).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interop_common import BOOTSTRAP, Tap, unique  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CK_VERSION = getattr(ck, "__version__", None) or ck.version()[0]
T = Tap("groups: confluent-kafka %s synchronous commits across a leave" % CK_VERSION,
        timeout_s=100)
PARTS = 6
TOTAL = 1800


class Member:
    def __init__(self, name, group, topic):
        self.name = name
        self.got = []
        self.commit_errors = []
        self.assigned = set()
        self.c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group,
                           "auto.offset.reset": "earliest", "enable.auto.commit": False,
                           "session.timeout.ms": 10000, "heartbeat.interval.ms": 500})
        self.c.subscribe([topic], on_assign=self._assign, on_revoke=self._revoke)

    def _assign(self, c, parts):
        self.assigned = {p.partition for p in parts}

    def _revoke(self, c, parts):
        self.assigned = set()

    def step(self):
        m = self.c.poll(0.02)
        if m is None or m.error():
            return
        self.got.append((m.partition(), m.offset(), m.value()))
        try:
            self.c.commit(message=m, asynchronous=False)
        except KafkaException as e:
            self.commit_errors.append(str(e))

    def close(self):
        self.c.close()


def main():
    topic = unique("rn-grp-sync")
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics([NewTopic(topic, PARTS, 1)], operation_timeout=10)[topic].result(15)
    group = unique("rn-grp-sync-g")
    ms = [Member("c%d" % i, group, topic) for i in range(3)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (all(m.assigned for m in ms)
                                               and sum(len(m.assigned) for m in ms) == PARTS):
        for m in ms:
            m.step()
    T.ok(all(m.assigned for m in ms), "three members share the partitions: %s"
         % [sorted(m.assigned) for m in ms])

    p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 2, "acks": "all"})
    produced = 0
    left = None
    live = list(ms)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if produced < TOTAL:
            for _ in range(30):
                p.produce(topic, value=b"m%d" % produced, partition=produced % PARTS)
                produced += 1
            p.poll(0)
        for m in live:
            m.step()
        if left is None and sum(len(m.got) for m in ms) >= TOTAL // 3:
            left = live.pop(2)  # its last message was committed synchronously
            left.close()
        if produced >= TOTAL and sum(len(m.got) for m in ms) >= TOTAL:
            break
    T.eq(p.flush(15), 0, "produced %d messages while the group consumed" % produced)
    end = time.monotonic() + 15
    while time.monotonic() < end and sum(len(m.got) for m in ms) < TOTAL:
        for m in live:
            m.step()
    T.ok(sorted(p_ for m in live for p_ in m.assigned) == list(range(PARTS)),
         "after the leave the two members own all %d partitions: %s"
         % (PARTS, [sorted(m.assigned) for m in live]))
    got = [x for m in ms for x in m.got]
    keys = [(a, b) for a, b, _ in got]
    T.eq(sorted(v for _, _, v in got), sorted(b"m%d" % i for i in range(TOTAL)),
         "every message processed (%d), none lost" % len(got))
    T.eq(len(set(keys)), len(keys), "none processed twice")
    T.ok(left is not None and left.got, "the leaving member had processed %d"
         % (len(left.got) if left else 0))
    T.eq([e for m in ms for e in m.commit_errors], [], "every synchronous commit succeeded")
    committed = live[0].c.committed([TopicPartition(topic, q) for q in range(PARTS)], timeout=10)
    T.eq(sum(tp.offset for tp in committed), TOTAL, "committed offsets are at the log end")
    for m in live:
        m.close()


T.step("sync commits across a leave", main)
T.done()
