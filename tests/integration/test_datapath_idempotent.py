"""Idempotent producer (librdkafka) end to end, and crash safety: 10,000 messages in order with
no duplicates; SIGKILL + restart keeps every acknowledged message; producer ids handed out after
the restart are new; the restored sequence state still recognises a retried batch."""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import (Broker, Conn, Tap, init_producer_id,  # noqa: E402
                             metadata_create, produce, record_batch, segment_batches)

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

N = 10_000


def consume(bootstrap, topic, count, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "dp-idem",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        for m in c.consume(1000, 0.5):
            if m.error():
                raise RuntimeError(str(m.error()))
            out.append((m.offset(), m.value()))
    c.close()
    return out


def idempotent_produce(bootstrap, topic, values):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 2,
                  "batch.num.messages": 200})
    errors = []
    acked = []

    def cb(err, msg):
        if err:
            errors.append(err)
        else:
            acked.append(msg.offset())

    for i, v in enumerate(values):
        p.produce(topic, value=v, on_delivery=cb)
        if i % 500 == 0:
            p.poll(0)
    left = p.flush(60)
    return errors, acked, left


def main():
    t = Tap("datapath-idempotent")
    broker = Broker()
    t.cleanups.append(broker.cleanup)
    topic = "idem"
    values = [b"m%05d" % i for i in range(N)]

    errors, acked, left = idempotent_produce(broker.bootstrap, topic, values)
    t.ok(not errors and left == 0 and len(acked) == N, "%d idempotent messages acknowledged" % N,
         "errors %r, left %d, acked %d" % (errors[:3], left, len(acked)))
    got = consume(broker.bootstrap, topic, N)
    t.eq(len(got), N, "consumed %d" % N)
    t.ok([v for _, v in got] == values, "in order, no duplicates, none missing")
    t.ok([o for o, _ in got] == list(range(N)), "offsets 0..%d" % (N - 1))
    batches = segment_batches(broker.data, topic)
    pids = {b[2] for b in batches}
    t.ok(len(pids) == 1 and min(pids) >= 0, "every batch carries one producer id", repr(pids))
    seq_ok = all(batches[i + 1][4] == batches[i][4] + batches[i][1] + 1
                 for i in range(len(batches) - 1)) and batches[0][4] == 0
    t.ok(seq_ok, "sequences are contiguous from 0 across %d batches" % len(batches))
    first_pid = min(pids)

    # Raw idempotent batches from our own producer id, then a crash.
    conn = Conn(broker.bootstrap)
    metadata_create(conn, "idem-raw")
    init = t.step("InitProducerId", init_producer_id, conn)
    t.ok(init is not None and init[0] == 0 and init[1] > first_pid,
         "InitProducerId hands out a new id", repr(init))
    pid = init[1] if init else 4242
    offs = []
    for i in range(3):
        r = produce(conn, "idem-raw", record_batch([b"r%d-%d" % (i, j) for j in range(5)], pid, 0,
                                                   i * 5))
        offs.append(r[1] if r and r[0] == 0 else None)
    t.eq(offs, [0, 5, 10], "three raw idempotent batches at 0, 5, 10")
    conn.close()

    broker.restart(kill=True)
    t.ok(True, "runneld SIGKILLed and restarted")

    got = consume(broker.bootstrap, topic, N)
    t.ok([v for _, v in got] == values, "all %d acknowledged messages survive SIGKILL" % N,
         "got %d" % len(got))

    conn = Conn(broker.bootstrap)
    metadata_create(conn, "idem-raw")
    r = produce(conn, "idem-raw", record_batch([b"r2-%d" % j for j in range(5)], pid, 0, 10))
    t.ok(r and r[0] == 0 and r[1] == 10, "retry of the last batch after restart: duplicate, "
         "acknowledged with its original offset 10", repr(r))
    r = produce(conn, "idem-raw", record_batch([b"gap"], pid, 0, 20))
    t.ok(r and r[0] == 45, "sequence gap after restart: OUT_OF_ORDER_SEQUENCE_NUMBER", repr(r))
    r = produce(conn, "idem-raw", record_batch([b"next"], pid, 0, 15))
    t.ok(r and r[0] == 0 and r[1] == 15, "next sequence after restart appends at 15", repr(r))
    init2 = init_producer_id(conn)
    t.ok(init2[0] == 0 and init2[1] > pid, "producer ids continue after restart (%d > %d)"
         % (init2[1], pid))
    conn.close()

    errors, acked, left = idempotent_produce(broker.bootstrap, topic, [b"after"] * 10)
    t.ok(not errors and left == 0, "idempotent producer works after restart")
    batches = segment_batches(broker.data, topic)
    new_pids = {b[2] for b in batches} - pids
    t.ok(new_pids and min(new_pids) > pid, "its producer id is new", repr(new_pids))

    # Clean restart: the snapshot path.
    conn = Conn(broker.bootstrap)
    metadata_create(conn, "idem-empty")
    conn.close()
    broker.restart(kill=False)
    conn = Conn(broker.bootstrap)
    metadata_create(conn, "idem-raw")
    r = produce(conn, "idem-raw", record_batch([b"next"], pid, 0, 15))
    t.ok(r and r[0] == 0 and r[1] == 15, "after a clean restart the last batch is still a "
         "duplicate", repr(r))
    snaps = [n for n in os.listdir(os.path.join(broker.data, "idem-raw-0"))
             if n.endswith(".snapshot")]
    t.eq(snaps, ["%020d.snapshot" % 16], "clean shutdown wrote one producer snapshot at the log end")
    empty_dir = os.path.join(broker.data, "idem-empty-0")
    t.eq([n for n in os.listdir(empty_dir) if n.endswith(".snapshot")], [],
         "an empty partition with no producers gets no snapshot")
    t.ok(not os.path.exists(os.path.join(empty_dir, "leader-epoch-checkpoint")),
         "nor a leader-epoch cache until its first append (no fsyncs for idle new partitions)")
    # A clean stop with nothing appended since rewrites neither the snapshot nor the
    # leader-epoch cache (thousands of idle partitions must not cost an fsync each).
    snap = os.path.join(broker.data, "idem-raw-0", snaps[0])
    epochs = os.path.join(broker.data, "idem-raw-0", "leader-epoch-checkpoint")
    before = [(os.stat(f).st_ino, os.stat(f).st_mtime_ns) for f in (snap, epochs)]
    conn.close()
    broker.restart(kill=False)
    after = [(os.stat(f).st_ino, os.stat(f).st_mtime_ns) for f in (snap, epochs)]
    t.eq(after, before, "a clean stop of an idle partition leaves its snapshot and epochs as "
         "they were")
    conn = Conn(broker.bootstrap)
    metadata_create(conn, "idem-raw")

    # Snapshot + tail: append after the clean restart, crash, and the tail is replayed on top
    # of the snapshot.
    r = produce(conn, "idem-raw", record_batch([b"tail1", b"tail2"], pid, 0, 16))
    t.ok(r and r[0] == 0 and r[1] == 16, "append after the clean restart at 16", repr(r))
    conn.close()
    broker.restart(kill=True)
    conn = Conn(broker.bootstrap)
    metadata_create(conn, "idem-raw")
    r = produce(conn, "idem-raw", record_batch([b"tail1", b"tail2"], pid, 0, 16))
    t.ok(r and r[0] == 0 and r[1] == 16, "after snapshot + crash, the tail batch is a duplicate",
         repr(r))
    r = produce(conn, "idem-raw", record_batch([b"next"], pid, 0, 15))
    t.ok(r and r[0] == 0 and r[1] == 15, "and so is the snapshot's batch (window kept)", repr(r))
    r = produce(conn, "idem-raw", record_batch([b"after"], pid, 0, 18))
    t.ok(r and r[0] == 0 and r[1] == 18, "the sequence continues at 18", repr(r))
    conn.close()
    broker.finish(t)
    t.done()


if __name__ == "__main__":
    main()
