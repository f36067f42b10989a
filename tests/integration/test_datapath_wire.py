"""Data-path answers checked on the wire (what client libraries hide): Produce errors and
duplicate acknowledgements, Fetch errors, limits and sessions, ListOffsets, DeleteRecords,
OffsetForLeaderEpoch, InitProducerId, long poll timing, both classic and flexible versions."""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import (Broker, Conn, Tap, W, delete_records, fetch,  # noqa: E402
                             init_producer_id, legacy_message_set, list_offsets, metadata_create,
                             offset_for_leader_epoch, parse_batches, produce, record_batch)

UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
OUT_OF_ORDER = 45
INVALID_PRODUCER_EPOCH = 47
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_RECORD = 87
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
UNSUPPORTED_VERSION = 35


def test_produce(t, conn):
    topic = "wire-produce"
    metadata_create(conn, topic)
    for v in (0, 1, 2, 3, 5, 7, 8, 9):
        r = produce(conn, topic, record_batch([b"a", b"b"]), version=v)
        t.ok(r and r[0] == 0, "Produce v%d appends (base offset %r)" % (v, r and r[1]))
        if v >= 5:
            t.eq(r[3], 0, "Produce v%d log_start_offset 0" % v)
        if v >= 2:
            t.eq(r[2], -1, "Produce v%d log_append_time -1 for CreateTime" % v)
    r = produce(conn, topic, record_batch([b"c"]))
    t.eq(r[1], 16, "offsets continue: base offset 16")
    r = produce(conn, topic, legacy_message_set([b"old"]), version=2)
    t.eq(r and r[0], UNSUPPORTED_FOR_MESSAGE_FORMAT,
         "magic 1 message set (v2) -> UNSUPPORTED_FOR_MESSAGE_FORMAT")
    r = produce(conn, topic, legacy_message_set([b"old"], magic=0), version=0)
    t.eq(r and r[0], UNSUPPORTED_FOR_MESSAGE_FORMAT,
         "magic 0 message set (v0) -> UNSUPPORTED_FOR_MESSAGE_FORMAT")
    r = produce(conn, topic, legacy_message_set([b"old"]), version=7)
    t.eq(r and r[0], INVALID_RECORD, "magic 1 message set in v7 -> INVALID_RECORD (as Kafka)")

    # Broken batches: built by the shared builder, then damaged (a flipped byte, a cut, a
    # record count that disagrees with the records); no codec would produce them, so they are
    # patched bytes, sent as the request's opaque Records field (the request itself is still
    # encoded from the definitions).
    bad = bytearray(record_batch([b"crc"]))
    bad[-1] ^= 0xFF
    r = produce(conn, topic, bytes(bad), version=7)
    t.eq(r and r[0], CORRUPT_MESSAGE, "bad CRC -> CORRUPT_MESSAGE")
    r = produce(conn, topic, bytes(bad)[:40], version=7)
    t.eq(r and (r[0], r[3]), (INVALID_RECORD, -1),
         "truncated batch: INVALID_RECORD, log start -1 (as Kafka: no whole batch)")
    counted = W.with_record_count(record_batch([b"p", b"q"]), 3)  # 3 announced, 2 follow
    r = produce(conn, topic, counted, version=8)
    t.eq(r and (r[0], r[3]), (INVALID_RECORD, 0),
         "record count mismatch: INVALID_RECORD with the log start offset (as Kafka)")
    two = record_batch([b"x"]) + record_batch([b"y"])
    r = produce(conn, topic, two, version=8)
    t.eq(r and r[0], INVALID_RECORD, "two batches in one partition (v3+) -> INVALID_RECORD")
    r = produce(conn, "wire-unknown-partition", record_batch([b"x"]), partition=7)
    t.eq(r and r[0], UNKNOWN_TOPIC_OR_PARTITION, "unknown partition -> UNKNOWN_TOPIC_OR_PARTITION")
    big = record_batch([b"z" * (1024 * 1024 + 100)])
    r = produce(conn, topic, big)
    t.eq(r and r[0], MESSAGE_TOO_LARGE, "batch over max.message.bytes -> MESSAGE_TOO_LARGE")
    txn = record_batch([b"t"], producer_id=1, epoch=0, base_seq=0, attributes=0x10)
    r = produce(conn, topic, txn, transactional_id="tx")
    t.eq(r and r[0], TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
         "transactional batch (transactions unsupported) -> 53")
    fetched = fetch(conn, topic, 0)
    t.eq(fetched["hw"], 17, "nothing of the refused batches was appended (hw 17)")

    # acks=0: no response; the next request's response comes back in order.
    produce(conn, topic, record_batch([b"fire and forget"]), acks=0)
    r = produce(conn, topic, record_batch([b"after acks 0"]))
    t.eq(r and r[1], 18, "acks=0 appended silently; next batch at 18")


def test_idempotence(t, conn):
    topic = "wire-idem"
    metadata_create(conn, topic)
    err, pid, epoch = init_producer_id(conn)
    t.ok(err == 0 and pid >= 0 and epoch == 0, "InitProducerId v1: id %d epoch %d" % (pid, epoch))
    err2, pid2, _ = init_producer_id(conn, version=4)
    t.ok(err2 == 0 and pid2 > pid, "InitProducerId v4 (flexible): a new id %d" % pid2)
    r = init_producer_id(conn, transactional_id="my-txn", version=3)
    t.eq(r[0], TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
         "InitProducerId with a transactional id -> 53 (transactions unsupported)")
    seq = 0
    offs = []
    for i in range(6):
        r = produce(conn, topic, record_batch([b"%d" % i] * 3, pid, 0, seq))
        offs.append(r[1])
        seq += 3
    t.eq(offs, [0, 3, 6, 9, 12, 15], "six idempotent batches")
    r = produce(conn, topic, record_batch([b"5"] * 3, pid, 0, 15))
    t.ok(r[0] == 0 and r[1] == 15, "retry of the last batch: acknowledged at 15", repr(r))
    t.ok(r[2] > 0, "duplicate: log_append_time is the original batch's timestamp (as Kafka)",
         repr(r))
    r = produce(conn, topic, record_batch([b"1"] * 3, pid, 0, 3))
    t.ok(r[0] == 0 and r[1] == 3, "retry of an earlier batch in the window: at 3", repr(r))
    r = produce(conn, topic, record_batch([b"0"] * 3, pid, 0, 0))
    t.eq(r[0], OUT_OF_ORDER, "retry older than the 5-batch window: OUT_OF_ORDER_SEQUENCE_NUMBER")
    r = produce(conn, topic, record_batch([b"gap"], pid, 0, 30))
    t.eq((r[0], r[3]), (OUT_OF_ORDER, 0),
         "gap: OUT_OF_ORDER_SEQUENCE_NUMBER with the log start offset (as Kafka)")
    r = produce(conn, topic, record_batch([b"e1"], pid, 1, 5))
    t.eq(r[0], OUT_OF_ORDER, "new epoch not at sequence 0: OUT_OF_ORDER_SEQUENCE_NUMBER")
    r = produce(conn, topic, record_batch([b"e1"], pid, 1, 0))
    t.ok(r[0] == 0 and r[1] == 18, "new epoch at 0 appends at 18", repr(r))
    r = produce(conn, topic, record_batch([b"old"], pid, 0, 18))
    t.eq(r[0], INVALID_PRODUCER_EPOCH, "old epoch: INVALID_PRODUCER_EPOCH")
    r = produce(conn, topic, record_batch([b"fresh"], pid2, 0, 77), version=9)
    t.ok(r[0] == 0, "unknown producer state: any sequence accepted (KIP-360)", repr(r))
    hw = fetch(conn, topic, 0)["hw"]
    t.eq(hw, 20, "exactly 20 records appended, no duplicates")


def test_fetch(t, conn):
    topic = "wire-fetch"
    metadata_create(conn, topic)
    for i in range(10):
        produce(conn, topic, record_batch([b"v%d-%d" % (i, j) + b"." * 100 for j in range(10)]))
    for v in (4, 7, 11, 12):
        f = fetch(conn, topic, 0, version=v)
        batches = parse_batches(f["records"] or b"")
        t.ok(f["perror"] == 0 and f["hw"] == 100 and len(batches) == 10,
             "Fetch v%d: all 10 batches, hw 100" % v, repr({k: f[k] for k in f if k != "records"}))
        if v >= 5:
            t.eq(f["log_start"], 0, "Fetch v%d log start 0" % v)
        t.eq(f["lso"], 100, "Fetch v%d last stable offset 100" % v)
        t.eq(f["aborted"], None, "Fetch v%d aborted transactions null" % v)
        if v >= 11:
            t.eq(f["preferred"], -1, "Fetch v%d preferred read replica -1" % v)
        if v >= 7:
            t.eq((f["error"], f["session"]), (0, 0), "Fetch v%d sessionless (session id 0)" % v)
    f = fetch(conn, topic, 35)
    batches = parse_batches(f["records"])
    t.ok(batches and batches[0][0] == 30, "fetch at 35 starts with the batch holding it (30)")
    f = fetch(conn, topic, 0, part_max=100)
    batches = parse_batches(f["records"])
    t.eq(len(batches), 1, "partition_max_bytes 100: still one whole batch (KIP-74)")
    size = 12 + W.batch_headers(f["records"])[0]["len"]
    f = fetch(conn, topic, 0, part_max=size * 3 + 10)
    t.eq(len(parse_batches(f["records"])), 3, "partition_max_bytes of 3 batches: 3 batches")
    f = fetch(conn, topic, 0, max_bytes=size * 2 + 10)
    t.eq(len(parse_batches(f["records"])), 2, "max_bytes of 2 batches: 2 batches")
    f = fetch(conn, topic, 100)
    t.ok(f["perror"] == 0 and not f["records"], "fetch at the log end: empty, no error")
    f = fetch(conn, topic, 101)
    t.eq((f["perror"], f["hw"], f["lso"], f["log_start"]), (OFFSET_OUT_OF_RANGE, -1, -1, -1),
         "fetch past the end: OFFSET_OUT_OF_RANGE, offsets -1 (as Kafka)")
    f = fetch(conn, "wire-no-such-topic-fetch", 0)
    t.eq(f["perror"], UNKNOWN_TOPIC_OR_PARTITION, "unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
    f = fetch(conn, topic, 0, session_id=12345, session_epoch=3)
    t.eq(f["error"], FETCH_SESSION_ID_NOT_FOUND, "incremental fetch: FETCH_SESSION_ID_NOT_FOUND")
    f = fetch(conn, topic, 0, version=13, topic_id=b"\x01" * 16)
    t.eq(f.get("perror"), 100, "v13 unknown topic id: UNKNOWN_TOPIC_ID")

    # Long poll: min_bytes not there -> waits max_wait; data arriving wakes it early.
    t0 = time.monotonic()
    f = fetch(conn, topic, 100, max_wait=300, min_bytes=1)
    dt = time.monotonic() - t0
    t.ok(f["perror"] == 0 and 0.25 < dt < 2.0, "empty long poll answered after max_wait (%.2f s)"
         % dt)
    t0 = time.monotonic()
    f = fetch(conn, topic, 0, max_wait=3000, min_bytes=10**6)
    dt = time.monotonic() - t0
    t.ok(2.9 < dt < 5 and len(parse_batches(f["records"])) == 10,
         "min_bytes not reached: waits max_wait, then answers what there is (%.2f s)" % dt)
    other = Conn(conn_bootstrap)

    def later():
        time.sleep(0.5)
        produce(other, topic, record_batch([b"wake"]))

    th = threading.Thread(target=later)
    th.start()
    t0 = time.monotonic()
    f = fetch(conn, topic, 100, max_wait=5000, min_bytes=1)
    dt = time.monotonic() - t0
    th.join()
    t.ok(len(parse_batches(f["records"] or b"")) == 1 and dt < 2.0,
         "parked fetch woken by a produce after %.2f s (max_wait 5 s)" % dt)
    other.close()


def test_offsets(t, conn):
    topic = "wire-offsets"
    metadata_create(conn, topic)
    base = 1_700_000_000_000
    for i in range(10):
        produce(conn, topic, record_batch([b"%d" % i], timestamp=base + i * 10))
    for v in (1, 2, 3, 4, 5, 6, 7):
        r = list_offsets(conn, topic, -1, version=v)
        t.eq(r and (r[0], r[2]), (0, 10), "ListOffsets v%d latest -> 10" % v)
    t.eq(list_offsets(conn, topic, -2)[2], 0, "earliest -> 0")
    t.eq(list_offsets(conn, topic, base + 15)[2], 2, "timestamp +15 -> offset 2")
    r = list_offsets(conn, topic, base + 50)
    t.eq((r[1], r[2]), (base + 50, 5), "timestamp +50 -> offset 5 with its timestamp")
    t.eq(list_offsets(conn, topic, base + 1000)[2], -1, "timestamp after the last -> -1")
    r = list_offsets(conn, topic, -3, version=7)
    t.eq((r[0], r[1], r[2]), (0, base + 90, 9), "v7 max timestamp -> offset 9, ts +90")
    r = list_offsets(conn, "wire-no-such-topic-lo", -1)
    t.eq(r and r[0], UNKNOWN_TOPIC_OR_PARTITION, "unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
    for ts, v in ((-3, 6), (-4, 7), (-7, 7), (-7, 1)):
        r = list_offsets(conn, topic, ts, version=v)
        t.eq(r and r[:3], (UNSUPPORTED_VERSION, -1, -1),
             "ListOffsets v%d timestamp %d: UNSUPPORTED_VERSION (as Kafka)" % (v, ts))
    r = list_offsets(conn, "wire-no-such-topic-lo", -5)
    t.eq(r and r[0], UNSUPPORTED_VERSION, "timestamp checked before the topic (as Kafka)")

    for v in (0, 1, 2):
        r = delete_records(conn, topic, 3 + v, version=v)
        t.eq(r, (0, 3 + v), "DeleteRecords v%d to %d" % (v, 3 + v))
    t.eq(list_offsets(conn, topic, -2)[2], 5, "earliest after DeleteRecords -> 5")
    f = fetch(conn, topic, 0)
    t.eq(f["perror"], OFFSET_OUT_OF_RANGE, "fetch below the log start: OFFSET_OUT_OF_RANGE")
    f = fetch(conn, topic, 5)
    t.ok(f["log_start"] == 5 and parse_batches(f["records"])[0][0] == 5,
         "fetch at the new log start works and reports it")
    r = delete_records(conn, topic, 11)
    t.eq(r and r[0], OFFSET_OUT_OF_RANGE, "DeleteRecords past the end: OFFSET_OUT_OF_RANGE")
    r = delete_records(conn, topic, -1)
    t.eq(r, (0, 10), "DeleteRecords -1 (high watermark) -> 10")
    produce(conn, topic, record_batch([b"after"]))
    t.eq(list_offsets(conn, topic, -1)[2], 11, "appends continue after deleting everything")

    for v in (2, 3, 4):
        r = offset_for_leader_epoch(conn, topic, 0, version=v)
        t.eq(r and (r[0], r[2]), (0, 11), "OffsetForLeaderEpoch v%d epoch 0 -> end 11" % v)
    r = offset_for_leader_epoch(conn, topic, 0, current_epoch=99)
    t.eq(r and r[0], 75, "current leader epoch from the future: UNKNOWN_LEADER_EPOCH")
    r = offset_for_leader_epoch(conn, "wire-no-such-topic-ofle", 0)
    t.eq(r and r[0], UNKNOWN_TOPIC_OR_PARTITION, "unknown topic: UNKNOWN_TOPIC_OR_PARTITION")


def test_shutdown_parked(t, broker, conn):
    """SIGTERM while a long poll is parked: it is answered and runneld stops promptly."""
    end = list_offsets(conn, "wire-fetch", -1)[2]
    res = {}

    def parked():
        lp = Conn(broker.bootstrap)
        try:
            res["f"] = fetch(lp, "wire-fetch", end, max_wait=20000, min_bytes=1)
        except Exception as e:  # noqa: BLE001
            res["error"] = repr(e)
        lp.close()

    th = threading.Thread(target=parked)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    broker.finish(t)
    dt = time.monotonic() - t0
    th.join(10)
    t.ok(dt < 5, "runneld stopped %.2f s after SIGTERM with a 20 s long poll parked" % dt)
    t.ok(res.get("f", {}).get("perror") == 0, "the parked fetch was answered", repr(res))


conn_bootstrap = None


def main():
    global conn_bootstrap
    t = Tap("datapath-wire")
    broker = Broker()
    t.cleanups.append(broker.cleanup)
    conn_bootstrap = broker.bootstrap
    conn = Conn(broker.bootstrap)
    t.step("produce", test_produce, t, conn)
    t.step("idempotence", test_idempotence, t, conn)
    t.step("fetch", test_fetch, t, conn)
    t.step("offsets", test_offsets, t, conn)
    t.step("shutdown with a parked fetch", test_shutdown_parked, t, broker, conn)
    conn.close()
    if broker.proc is not None:
        broker.finish(t)
    t.done()


if __name__ == "__main__":
    main()
