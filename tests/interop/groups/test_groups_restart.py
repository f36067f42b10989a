#!/usr/bin/env python3
"""Interop crash test (consumer groups): committed offsets and group metadata survive SIGKILL.

  test_groups_restart.py --broker runneld   start $RN_RUNNELD (or $RN_BUILD_DIR/broker/runneld)
  test_groups_restart.py --broker kafka     use scripts/kafka-ref.sh (to check this test itself)

It starts its own broker on a free port and a fresh data dir, writes 900 messages to a
3-partition topic, and runs a group of two confluent-kafka consumers in a child process that
commits every message synchronously and reports each acknowledged commit. Mid-stream the
broker is killed with SIGKILL (and then the child, as if the whole host had crashed). After a
restart on the same data dir: the group is still there (DescribeGroups shows its generation
and members, as Kafka reloads them), every acknowledged commit is there (a commit in flight at
the kill may or may not be), and a new consumer in the group resumes at the committed offsets
and reads the rest without a gap or a repeat.
"""

import argparse
import warnings
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import interop_common  # noqa: E402
from interop_common import Tap, unique  # noqa: E402
from test_restart import KafkaRef, Runneld, free_port  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer  # noqa: E402
from confluent_kafka import TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTS = 3
TOTAL = 900


def child(bootstrap, topic, group):
    """Two members consuming and committing each message synchronously; one JSON line per
    acknowledged commit on stdout: [partition, next offset]."""
    ms = []
    for i in range(2):
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
                      "client.id": "crash-%d" % i})
        c.subscribe([topic])
        ms.append(c)
    while True:
        for c in ms:
            m = c.poll(0.01)
            if m is None or m.error():
                continue
            time.sleep(0.002)  # a little work per message, so the kill lands mid-stream
            try:
                c.commit(message=m, asynchronous=False)
            except KafkaException:
                continue
            print(json.dumps([m.partition(), m.offset() + 1]), flush=True)


def main():
    warnings.simplefilter("ignore", DeprecationWarning)  # list_groups works on 1.7 and 2.x
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", choices=["runneld", "kafka"], default="runneld")
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    port = free_port()
    bootstrap = "127.0.0.1:%d" % port
    interop_common.BOOTSTRAP = bootstrap
    T = Tap("groups restart after SIGKILL (%s, confluent-kafka %s)"
            % (args.broker, ck.libversion()[0]), timeout_s=150)
    broker = Runneld(port) if args.broker == "runneld" else KafkaRef(port)
    if args.broker == "runneld" and not os.access(broker.bin, os.X_OK):
        T.ok(False, "runneld binary %s exists (build it, or set RN_RUNNELD)" % broker.bin)
        T.done()
    try:
        run(T, broker, bootstrap, args.broker)
    except Exception:  # noqa: BLE001
        import traceback
        T.ok(False, "groups restart test raised", traceback.format_exc())
    finally:
        broker.stop(T)
    T.done()


def run(T, broker, bootstrap, kind):
    if not T.ok(broker.start(), "broker started on %s" % bootstrap):
        return
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic, group = unique("rn-grp-crash"), unique("rn-grp-crash-g")
    admin.create_topics([NewTopic(topic, PARTS, 1)], operation_timeout=10)[topic].result(15)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(TOTAL):
        p.produce(topic, value=b"m%d" % i, partition=i % PARTS)
    T.eq(p.flush(15), 0, "produced %d messages" % TOTAL)

    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", bootstrap,
                             topic, group], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    acked = {}
    n = 0
    deadline = time.monotonic() + 40
    while n < TOTAL // 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        q, off = json.loads(line)
        acked[q] = max(acked.get(q, 0), off)
        n += 1
    os.kill(broker.pid(), 9)  # the broker first, with commits in flight
    broker.reap()
    # Commits acknowledged before the kill that the child printed after it still count.
    time.sleep(0.3)
    proc.kill()
    rest, _ = proc.communicate(timeout=10)
    for line in rest.splitlines():
        q, off = json.loads(line)
        acked[q] = max(acked.get(q, 0), off)
    T.ok(n >= TOTAL // 2, "the group committed %d messages one by one before the kill: %s"
         % (n, sorted(acked.items())))

    t0 = time.monotonic()
    restarted = broker.restart() if kind == "kafka" else broker.start()
    if not T.ok(restarted, "broker restarted on the same data dir in %.1f s"
                % (time.monotonic() - t0)):
        return
    admin = AdminClient({"bootstrap.servers": bootstrap})
    desc = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            desc = {g.id: g for g in admin.list_groups(group=group, timeout=10)}.get(group)  # noqa
            if desc is not None and desc.error is None:
                break
        except KafkaException:
            pass
        time.sleep(0.5)
    T.ok(desc is not None and desc.state in ("Stable", "PreparingRebalance",
                                             "CompletingRebalance")
         and len(desc.members) == 2 and desc.protocol == "range",
         "the group came back with its two members and protocol",
         desc and (desc.state, desc.protocol, len(desc.members)))

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
                  "enable.partition.eof": True})
    # A partition without any commit reads back as OFFSET_INVALID (-1001): it starts at 0.
    committed = {tp.partition: max(tp.offset, 0) for tp in
                 c.committed([TopicPartition(topic, q) for q in range(PARTS)], timeout=20)}
    per_part = TOTAL // PARTS
    T.ok(all(acked.get(q, 0) <= committed[q] <= per_part for q in range(PARTS)),
         "every acknowledged commit survived (committed %s, acknowledged %s)"
         % (sorted(committed.items()), sorted(acked.items())))
    T.ok(all(committed[q] <= acked.get(q, 0) + 2 for q in range(PARTS)),
         "and at most the commits in flight at the kill went further")

    c.subscribe([topic])
    got = {}
    eof = set()
    deadline = time.monotonic() + 45  # the dead members' 10 s sessions end first
    while time.monotonic() < deadline and len(eof) < PARTS:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
            continue
        got.setdefault(m.partition(), []).append(m.offset())
    c.close()
    T.ok(len(eof) == PARTS, "a new member of the group read every partition to its end")
    T.ok(all(got.get(q, []) == list(range(committed[q], per_part)) for q in range(PARTS)),
         "it resumed exactly at the committed offsets: no gap, no repeat",
         {q: (committed[q], got.get(q, [])[:3], len(got.get(q, []))) for q in range(PARTS)})


if __name__ == "__main__":
    main()
