"""Data path against librdkafka (python3-confluent-kafka) and kcat: produce with every codec,
consume by assign, watermarks, offsets_for_times, long-poll wake-up on append."""

import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import (Broker, Conn, Tap, api_versions, fetch,  # noqa: E402
                             parse_batches, produce, record_batch, segment_batches)

from confluent_kafka import (TIMESTAMP_LOG_APPEND_TIME, Consumer, Producer,  # noqa: E402
                             TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def serves(broker, api_key, version):
    """True when the broker's ApiVersions (v0) lists api_key with version in range."""
    conn = Conn(broker.bootstrap)
    lo, hi = api_versions(conn).get(api_key, (0, -1))
    conn.close()
    return lo <= version <= hi


def consume_all(bootstrap, topic, count, timeout=20, extra=None):
    conf = {"bootstrap.servers": bootstrap, "group.id": "dp-" + topic,
            "enable.auto.commit": False, "enable.partition.eof": False}
    conf.update(extra or {})
    c = Consumer(conf)
    c.assign([TopicPartition(topic, 0, 0)])
    msgs = []
    deadline = time.monotonic() + timeout
    while len(msgs) < count and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise RuntimeError("consume error: %s" % m.error())
        msgs.append(m)
    c.close()
    return msgs


def produce_many(bootstrap, topic, n, codec="none", extra=None, timestamps=None):
    conf = {"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 5}
    conf.update(extra or {})
    p = Producer(conf)
    errors = []

    def cb(err, msg):
        if err:
            errors.append(err)

    for i in range(n):
        kw = {}
        if timestamps:
            kw["timestamp"] = timestamps[i]
        p.produce(topic, value=b"value-%d-" % i + b"x" * (i % 50), key=b"key-%d" % i,
                  headers=[("h", b"%d" % i)], on_delivery=cb, **kw)
        if i % 1000 == 999:
            p.poll(0)
    left = p.flush(30)
    return errors, left


def test_codecs(t, broker):
    for codec, cid in CODECS.items():
        topic = "codec-" + codec
        errors, left = produce_many(broker.bootstrap, topic, 300, codec)
        t.ok(not errors and left == 0, "%s: 300 messages acknowledged" % codec,
             "errors %r, %d unflushed" % (errors[:3], left))
        msgs = consume_all(broker.bootstrap, topic, 300)
        good = len(msgs) == 300 and all(
            m.offset() == i and m.value() == b"value-%d-" % i + b"x" * (i % 50)
            and m.key() == b"key-%d" % i and m.headers() == [("h", b"%d" % i)]
            for i, m in enumerate(msgs))
        t.ok(good, "%s: consumed 300 in order with keys and headers" % codec,
             "got %d messages" % len(msgs))
        batches = segment_batches(broker.data, topic)
        want = cid
        if codec == "lz4" and not serves(broker, 10, 0):
            # librdkafka <= 2.11.0 enables lz4 only when FindCoordinator v0 is served (its
            # "LZ4" feature probe); until the group coordinator serves it, lz4 is sent plain.
            t.diag("FindCoordinator v0 not served: librdkafka sends lz4 batches uncompressed")
            want = 0
        # librdkafka sends a batch uncompressed when compressing does not make it smaller
        # (a small trailing batch), so: the codec appears, and nothing but it or none.
        codecs = [b[6] & 7 for b in batches]
        t.ok(want in codecs and all(c in (want, 0) for c in codecs),
             "%s: batches stored with codec %d as produced" % (codec, want),
             "codecs %r" % codecs)


def test_watermarks_and_times(t, broker):
    topic = "times"
    base = 1_600_000_000_000
    stamps = [base + 1000 * i for i in range(100)]
    errors, left = produce_many(broker.bootstrap, topic, 100, timestamps=stamps,
                                extra={"linger.ms": 0, "batch.num.messages": 10})
    t.ok(not errors and left == 0, "100 timestamped messages acknowledged")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dp-times"})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    t.eq((lo, hi), (0, 100), "watermarks (0, 100)")
    cases = [(base - 5, 0), (base, 0), (base + 1, 1), (base + 42_500, 43), (base + 99_000, 99),
             (base + 99_001, -1)]
    for ts, want in cases:
        r = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
        t.eq(r[0].offset, want, "offsets_for_times(%d) -> %d" % (ts - base, want))
    c.close()


def test_kcat(t, broker):
    topic = "kcat-snappy"
    lines = "".join("line %d\n" % i for i in range(500))
    p = subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", topic, "-p", "0", "-z",
                        "snappy"], input=lines.encode(), capture_output=True, timeout=30)
    t.eq(p.returncode, 0, "kcat produced 500 lines with snappy")
    c = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o",
                        "beginning", "-e", "-q"], capture_output=True, timeout=30)
    t.eq(c.stdout.decode(), lines, "kcat consumed the same 500 lines")
    c = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o",
                        "-10", "-e", "-q", "-f", "%o:%s\n"], capture_output=True, timeout=30)
    want = "".join("%d:line %d\n" % (i, i) for i in range(490, 500))
    t.eq(c.stdout.decode(), want, "kcat -o -10 reads the last 10 with their offsets")


def test_long_poll(t, broker):
    topic = "longpoll"
    errors, _ = produce_many(broker.bootstrap, topic, 1)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dp-lp",
                  "fetch.wait.max.ms": 5000, "fetch.min.bytes": 1, "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 1)])
    # Let the consumer connect and park its fetch at the log end.
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        c.poll(0.2)
    sent = {}

    def later():
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
        p.produce(topic, value=b"wake up")
        sent["at"] = time.monotonic()
        p.flush(10)
        sent["acked"] = time.monotonic()

    th = threading.Thread(target=later)
    th.start()
    got = None
    deadline = time.monotonic() + 10
    while got is None and time.monotonic() < deadline:
        m = c.poll(0.05)
        if m is not None and not m.error():
            got = time.monotonic()
    th.join()
    c.close()
    if t.ok(got is not None and "at" in sent, "parked consumer got the message"):
        lat = got - sent["at"]
        t.ok(lat < 1.5, "woken %.3f s after the produce (fetch.wait.max.ms 5000)" % lat)


def create_topic(broker, name, config):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic(name, 1, 1, config=config)], operation_timeout=10)
    fs[name].result(15)


def test_topic_configs(t, broker):
    """Per-topic settings the data path honours: LogAppendTime, min.insync.replicas,
    compaction's keys, max.message.bytes."""
    create_topic(broker, "lat", {"message.timestamp.type": "LogAppendTime"})
    conn = Conn(broker.bootstrap)
    before = int(time.time() * 1000)
    r = produce(conn, "lat", record_batch([b"x"], timestamp=1000))
    after = int(time.time() * 1000)
    t.ok(r and r[0] == 0 and before - 5 <= r[2] <= after + 5,
         "LogAppendTime topic: produce answers the append time", repr(r))
    msgs = consume_all(broker.bootstrap, "lat", 1)
    ts_type, ts = msgs[0].timestamp() if msgs else (None, None)
    t.ok(ts_type == TIMESTAMP_LOG_APPEND_TIME and ts == r[2],
         "consumer sees LogAppendTime %r" % (ts,), repr((ts_type, ts)))

    # Switching an existing topic to LogAppendTime takes effect at the next append.
    create_topic(broker, "lat-later", {})
    r = produce(conn, "lat-later", record_batch([b"x"], timestamp=1000))
    t.eq(r and r[2], -1, "CreateTime topic: log_append_time -1")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource("topic", "lat-later",
                         set_config={"message.timestamp.type": "LogAppendTime"})
    admin.alter_configs([res])[res].result(15)
    r = produce(conn, "lat-later", record_batch([b"x"], timestamp=1000))
    t.ok(r and r[0] == 0 and r[2] > 1000, "after AlterConfigs: LogAppendTime %r" % (r and r[2],))

    create_topic(broker, "minisr", {"min.insync.replicas": "2"})
    r = produce(conn, "minisr", record_batch([b"x"]), acks=-1)
    t.eq(r and r[0], 19, "min.insync.replicas=2 on one node, acks=all -> NOT_ENOUGH_REPLICAS")
    r = produce(conn, "minisr", record_batch([b"x"]), acks=1)
    t.eq(r and r[0], 0, "acks=1 is not held to min.insync.replicas")
    # Settings of a partition already serving produce follow AlterConfigs at once.
    res = ConfigResource("topic", "minisr", set_config={"min.insync.replicas": "1"})
    admin.alter_configs([res])[res].result(15)
    r = produce(conn, "minisr", record_batch([b"x"]), acks=-1)
    t.eq(r and r[0], 0, "after AlterConfigs min.insync.replicas=1: acks=all accepted")
    res = ConfigResource("topic", "minisr", set_config={"max.message.bytes": "100"})
    admin.alter_configs([res])[res].result(15)
    r = produce(conn, "minisr", record_batch([b"y" * 200]))
    t.eq(r and r[0], 10, "after AlterConfigs max.message.bytes=100: MESSAGE_TOO_LARGE")

    create_topic(broker, "compacted", {"cleanup.policy": "compact"})
    r = produce(conn, "compacted", record_batch([b"a", b"b"], keys=[b"k", None]), version=8)
    t.ok(r and r[0] == 87 and r[4] and r[4][0][0] == 1,
         "compacted topic refuses a null key: INVALID_RECORD, record_errors at index 1", repr(r))
    r = produce(conn, "compacted", record_batch([b"a"], keys=[b"k"]))
    t.eq(r and r[0], 0, "compacted topic takes keyed records")

    create_topic(broker, "small", {"max.message.bytes": "2000"})
    r = produce(conn, "small", record_batch([b"y" * 3000]), version=8)
    t.ok(r and r[0] == 10 and r[5] and "max.message.bytes" in r[5],
         "max.message.bytes of the topic -> MESSAGE_TOO_LARGE with a message", repr(r))
    r = produce(conn, "small", record_batch([b"y" * 1000]))
    t.eq(r and r[0], 0, "a batch under the topic's limit is taken")

    f = fetch(conn, "lat", 0, isolation=1)
    t.ok(f["perror"] == 0 and f["lso"] == 1 and f["aborted"] == 0 and
         len(parse_batches(f["records"])) == 1,
         "read_committed fetch: up to the LSO, empty aborted list", repr(f))
    conn.close()


def main():
    t = Tap("datapath-clients")
    broker = Broker()
    t.cleanups.append(broker.cleanup)
    t.step("codecs", test_codecs, t, broker)
    t.step("watermarks and offsets_for_times", test_watermarks_and_times, t, broker)
    t.step("kcat", test_kcat, t, broker)
    t.step("long poll", test_long_poll, t, broker)
    t.step("topic configs", test_topic_configs, t, broker)
    broker.finish(t)
    t.done()


if __name__ == "__main__":
    main()
