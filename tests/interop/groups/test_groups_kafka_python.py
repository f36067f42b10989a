#!/usr/bin/env python3
"""Interop (consumer groups): kafka-python 2.0.2 group consumer with auto-commit, and resume.

Consumer A joins group G, reads part of a 3-partition topic and closes (close() commits the
position with enable_auto_commit). Consumer B joins G and must continue where A stopped:
together they see every message exactly once, and the committed offsets end at the log end.
Needs FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interop_common import BOOTSTRAP, Tap, unique  # noqa: E402

import kafka  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402

T = Tap("groups: kafka-python %s auto-commit resume" % kafka.__version__)
COMMON = {"bootstrap_servers": BOOTSTRAP, "request_timeout_ms": 15000,
          "api_version_auto_timeout_ms": 10000}
TOTAL = 300


def consume(group, limit, timeout):
    c = KafkaConsumer(topic_name, group_id=group, enable_auto_commit=True,
                      auto_commit_interval_ms=500, auto_offset_reset="earliest",
                      session_timeout_ms=10000, heartbeat_interval_ms=1000,
                      max_poll_records=40, **COMMON)
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < limit and time.monotonic() < deadline:
        for tp, recs in c.poll(timeout_ms=300).items():
            got += [(tp.partition, r.offset, r.value) for r in recs]
    c.close()  # commits what poll() returned
    return got


def main():
    global topic_name
    topic_name = unique("rn-grp-kp")
    admin = KafkaAdminClient(**COMMON)
    admin.create_topics([NewTopic(topic_name, 3, 1)], timeout_ms=10000)
    p = KafkaProducer(**COMMON)
    for i in range(TOTAL):
        p.send(topic_name, value=b"m%d" % i, partition=i % 3)
    p.flush(15)
    p.close()
    group = unique("rn-grp-kp-g")
    a = consume(group, 120, 25)
    T.ok(len(a) >= 120, "consumer A (group %s) read %d messages then closed" % (group, len(a)))
    b = consume(group, TOTAL - len(a), 25)
    T.eq(len(b), TOTAL - len(a), "consumer B resumed and read the remaining %d" % (TOTAL - len(a)))
    keys = [(p_, o) for p_, o, _ in a + b]
    T.eq(len(set(keys)), len(keys), "no message read twice across A and B")
    T.eq(sorted(v for _, _, v in a + b), sorted(b"m%d" % i for i in range(TOTAL)),
         "A and B together read every message")
    c = KafkaConsumer(group_id=group, enable_auto_commit=False, **COMMON)
    committed = [c.committed(TopicPartition(topic_name, q)) for q in range(3)]
    c.close()
    T.eq(committed, [TOTAL // 3] * 3, "committed offsets are at the log end")
    admin.close()


T.step("groups kafka-python", main)
T.done()
