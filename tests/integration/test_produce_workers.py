#!/usr/bin/env python3
"""Produce with produce.worker.threads=2: batches of 64 KiB and more are checked whole on a
worker thread (CRC-32C, record rules, recompression; broker/data/rn_pdefer.h) and appended
on the loop in request order per partition.

- good batches are stored as sent, their maxTimestamp corrected as on the loop;
- batches that fail on the worker are checked again on the loop and answered with the
  loop's errors: CORRUPT_MESSAGE for a bad CRC, INVALID_RECORD for a bad record count and
  for a null key on a compacted topic (with its record error);
- recompression (compression.type) happens there too: stored in the topic's codec;
- order: an idempotent producer's big and small batches pipelined on one connection are all
  appended, in order (a reordering would answer OUT_OF_ORDER_SEQUENCE_NUMBER);
- a connection closed with batches queued, and a topic deleted with batches queued: the
  broker goes on serving and refuses what followed the deletion;
- runnel_produce_worker_jobs_total counts the batches checked on a worker (not the small
  ones, nor a compressed batch under 64 KiB stored as sent; but one to recompress);
- produce.worker.threads outside 0..64 is refused at start-up.
"""

import http.client
import os
import random
import re
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402

T = D.Tap("produce workers", timeout_s=300)
CORRUPT_MESSAGE, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER = 2, 3, 6
INVALID_RECORD = 87
MAX_TS_AT = 35  # byte offset of maxTimestamp in a batch


def values(n, size=1000, tag=b"v"):
    return [(tag + b"%06d " % i) * (size // 8) for i in range(n)]


def text_values(n, seed):
    """Text-like values of ~600 bytes that gzip to about half."""
    rnd = random.Random(seed)
    return [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz     ") for _ in range(600))
            for _ in range(n)]


def create_topic(conn, name, configs=None):
    r = conn.call("CreateTopics", 7, {"Topics": [{
        "Name": name, "NumPartitions": 1, "ReplicationFactor": 1, "Assignments": [],
        "Configs": [{"Name": k, "Value": v} for k, v in (configs or {}).items()]}],
        "timeoutMs": 5000})
    T.eq(r["Topics"][0]["ErrorCode"], 0, "topic %s created" % name)
    D.metadata_create(conn, name)


def worker_jobs(b):
    """runnel_produce_worker_jobs_total from /metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", b.metrics_port, timeout=10)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    m = re.search(r"^runnel_produce_worker_jobs_total (\d+)$", body, re.M)
    return int(m.group(1)) if m else None


def with_max_ts(data, max_ts):
    out = bytearray(data)
    struct.pack_into(">q", out, MAX_TS_AT, max_ts)
    struct.pack_into(">I", out, 17, D.W.crc32c(bytes(out[21:])))
    return bytes(out)


def stored(conn, topic):
    f = D.fetch(conn, topic, 0, max_bytes=8 << 20, part_max=8 << 20)
    return f["records"] or b""


def test_good(b, conn):
    create_topic(conn, "w-plain")
    now = int(time.time() * 1000)
    big = D.record_batch(values(100), timestamp=now)
    T.ok(len(big) >= 64 * 1024, "the batch is above the worker threshold (%d bytes)" % len(big))
    jobs = worker_jobs(b)
    T.eq(D.produce(conn, "w-plain", big, version=8, acks=-1)[:2], (0, 0), "appended")
    T.eq(worker_jobs(b), jobs + 1, "checked on a worker")
    # A maxTimestamp below the records' own: corrected, as on the loop.
    wrong = with_max_ts(D.W.batch(values(100), ts=now, ts_step=1), now - 5000)
    T.eq(D.produce(conn, "w-plain", wrong, version=8, acks=1)[:2], (0, 100), "appended next")
    small = D.record_batch(values(10))
    T.eq(D.produce(conn, "w-plain", small, version=8, acks=1)[:2], (0, 200), "a small one too")
    T.eq(worker_jobs(b), jobs + 2, "on the loop, below the threshold")
    data = stored(conn, "w-plain")
    hdrs = D.W.batch_headers(data)
    T.eq(len(hdrs), 3, "three batches stored")
    second = data[len(big):len(big) + len(wrong)]
    T.eq(struct.unpack_from(">q", second, MAX_TS_AT)[0], now + 99,
         "the worker corrected maxTimestamp")
    T.eq(struct.unpack_from(">I", second, 17)[0], D.W.crc32c(second[21:]),
         "and sealed the batch with a good CRC")
    T.eq(data[:len(big)][21:], big[21:], "the first stored as sent")


def test_errors(conn):
    big = bytearray(D.record_batch(values(100)))
    big[-10] ^= 0xFF
    T.eq(D.produce(conn, "w-plain", bytes(big), version=8, acks=1)[0], CORRUPT_MESSAGE,
         "a bad CRC: CORRUPT_MESSAGE")
    counted = D.W.with_record_count(D.record_batch(values(100)), 99)
    T.eq(D.produce(conn, "w-plain", counted, version=8, acks=1)[0], INVALID_RECORD,
         "a record count that does not match: INVALID_RECORD")
    create_topic(conn, "w-compact", {"cleanup.policy": "compact"})
    keys = [b"k%d" % i for i in range(100)]
    keys[42] = None
    nokey = D.record_batch(values(100), keys=keys)
    r = D.produce(conn, "w-compact", nokey, version=8, acks=1)
    T.ok(r[0] == INVALID_RECORD and [i for i, _ in r[4]] == [42],
         "a null key on a compacted topic: INVALID_RECORD naming record 42", repr(r[:5]))
    keyed = D.record_batch(values(100), keys=[b"k%d" % i for i in range(100)])
    T.eq(D.produce(conn, "w-compact", keyed, version=8, acks=1)[:2], (0, 0),
         "keyed records are taken")


def test_recompress(b, conn):
    # A compressed batch under 64 KiB whose records must be read goes to a worker from 4 KiB;
    # stored as sent, it stays on the loop.
    zipped = D.W.batch(text_values(50, 5), ts=int(time.time() * 1000), gzipped=True)
    T.ok(4096 <= len(zipped) < 65536, "a gzip batch of %d bytes" % len(zipped))
    create_topic(conn, "w-asis")
    jobs = worker_jobs(b)
    T.eq(D.produce(conn, "w-asis", zipped, version=8, acks=1)[:2], (0, 0), "stored as sent")
    T.eq(worker_jobs(b), jobs, "on the loop")
    create_topic(conn, "w-lz4", {"compression.type": "lz4"})
    T.eq(D.produce(conn, "w-lz4", zipped, version=8, acks=1)[:2], (0, 0), "recompressed")
    T.eq(worker_jobs(b), jobs + 1, "on a worker")
    for name, codec, attr in (("w-zstd", "zstd", 4), ("w-gzip", "gzip", 1)):
        create_topic(conn, name, {"compression.type": codec})
        T.eq(D.produce(conn, name, D.record_batch(values(100)), version=8, acks=1)[:2], (0, 0),
             "appended to the %s topic" % codec)
        zipped = D.W.batch(values(100), ts=int(time.time() * 1000), gzipped=True)
        T.eq(D.produce(conn, name, zipped, version=8, acks=1)[:2], (0, 100),
             "a gzip batch too")
        hdrs = D.parse_batches(stored(conn, name))
        T.ok(len(hdrs) == 2 and all(h[6] & 7 == attr for h in hdrs),
             "both stored in %s" % codec, repr(hdrs))


def test_order(b, conn):
    create_topic(conn, "w-order")
    err, pid, epoch = D.init_producer_id(conn)
    T.eq(err, 0, "producer id")
    c = D.Conn(b.bootstrap, timeout=60)
    seq, corrs, sizes = 0, [], []
    for i in range(12):
        n = 100 if i % 3 != 2 else 2  # two big batches, then a small one behind them
        batch = D.record_batch(values(n, tag=b"o%d" % i), producer_id=pid, epoch=epoch,
                               base_seq=seq)
        req = {"Acks": -1, "TimeoutMs": 10000, "TransactionalId": None,
               "TopicData": [{"Name": "w-order", "PartitionData": [{"Index": 0,
                                                                    "Records": batch}]}]}
        corrs.append(c.send("Produce", 8, req))
        sizes.append(n)
        seq += n
    got = []
    for corr in corrs:
        p = c.recv("Produce", 8, corr)["Responses"][0]["PartitionResponses"][0]
        got.append((p["ErrorCode"], p["BaseOffset"]))
    c.close()
    want, off = [], 0
    for n in sizes:
        want.append((0, off))
        off += n
    T.eq(got, want, "pipelined big and small batches appended in request order")


def test_cancel_and_delete(b, conn):
    batch = D.record_batch(values(200))
    c = D.Conn(b.bootstrap)
    for _ in range(6):
        c.send("Produce", 8, {"Acks": -1, "TimeoutMs": 10000, "TransactionalId": None,
                              "TopicData": [{"Name": "w-plain", "PartitionData": [
                                  {"Index": 0, "Records": batch}]}]})
    c.close()
    time.sleep(0.2)
    T.eq(D.produce(conn, "w-plain", batch, version=8, acks=1)[0], 0,
         "the partition takes produces after a client left with batches queued")

    create_topic(conn, "w-deleted")
    p = D.Conn(b.bootstrap, timeout=60)
    req = {"Acks": 1, "TimeoutMs": 10000, "TransactionalId": None,
           "TopicData": [{"Name": "w-deleted", "PartitionData": [{"Index": 0,
                                                                 "Records": batch}]}]}
    corrs = [p.send("Produce", 8, req) for _ in range(8)]
    r = conn.call("DeleteTopics", 4, {"TopicNames": ["w-deleted"], "TimeoutMs": 5000})
    T.eq(r["Responses"][0]["ErrorCode"], 0, "topic deleted with batches queued")
    errs = [p.recv("Produce", 8, corr)["Responses"][0]["PartitionResponses"][0]["ErrorCode"]
            for corr in corrs]
    p.close()
    T.ok(all(e in (0, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER) for e in errs),
         "every queued batch answered, none with another error", repr(errs))
    create_topic(conn, "w-deleted")
    T.eq(D.produce(conn, "w-deleted", D.record_batch([b"x"]), version=8, acks=1)[:2], (0, 0),
         "a topic recreated under the name starts empty")


def test_refused():
    for bad in ("-1", "65"):
        r = subprocess.run([D.RUNNELD, "--listen", "127.0.0.1:%d" % D.free_port(),
                            "--data-dir", "/nonexistent-rn-workers", "--produce.worker.threads",
                            bad], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        T.ok(r.returncode != 0 and b"produce.worker.threads" in r.stdout,
             "produce.worker.threads=%s refused at start-up" % bad, r.stdout[-300:])


def main():
    mport = D.free_port()
    b = D.Broker(["--produce.worker.threads", "2", "--metrics.listen", "127.0.0.1:%d" % mport])
    b.metrics_port = mport
    T.cleanups.append(b.cleanup)
    conn = D.Conn(b.bootstrap, timeout=60)
    T.step("good batches", test_good, b, conn)
    T.step("errors named by the loop", test_errors, conn)
    T.step("recompression", test_recompress, b, conn)
    T.step("order", test_order, b, conn)
    T.step("cancel and delete", test_cancel_and_delete, b, conn)
    T.step("refused settings", test_refused)
    conn.close()
    b.finish(T)
    T.done()


main()
