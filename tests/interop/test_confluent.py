#!/usr/bin/env python3
"""Interop: confluent-kafka-python (librdkafka) against the broker at RN_BOOTSTRAP.

Run it with both interpreters: /usr/bin/python3 (Debian's confluent-kafka 1.7.0 on librdkafka
2.0.2) and .venv/bin/python (PyPI's current confluent-kafka with its bundled librdkafka).
Covers: produce + consume back by assign() with gzip/snappy/lz4/zstd; the idempotent producer
(10,000 messages to one partition: in order, no duplicates, no gaps); AdminClient create topic
with configs, duplicate create, describe/alter configs, create partitions, delete topic;
offsets_for_times; get_watermark_offsets; list_topics; and, on clients that have them,
incremental_alter_configs, describe_cluster, list_offsets and delete_records.

Assertions marked [kafka] follow what Apache Kafka does where the protocol leaves room
(e.g. which config source a describe reports); the rest is what any broker must do.
"""

import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_common import BOOTSTRAP, Tap, unique  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions,  # noqa: E402
                                   NewTopic)

# version() is (str, int) in 1.x and a plain str in 2.x.
CK_VERSION = getattr(ck, "__version__", None) or ck.version()[0]
T = Tap("confluent-kafka %s (librdkafka %s)" % (CK_VERSION, ck.libversion()[0]))
ADMIN = AdminClient({"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 10000})
FUT_TIMEOUT = 15
CODECS = ["gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 300
IDEM_COUNT = 10000


def create(name, partitions, config=None):
    fs = ADMIN.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                       config=config or {})], operation_timeout=10)
    fs[name].result(FUT_TIMEOUT)
    wait_partitions(name, partitions)


def wait_partitions(name, partitions, timeout=10):
    """Metadata can trail a create by a moment; wait until every partition has a leader."""
    deadline = time.monotonic() + timeout
    md = None
    while time.monotonic() < deadline:
        md = ADMIN.list_topics(topic=name, timeout=5).topics.get(name)
        if (md is not None and md.error is None and len(md.partitions) == partitions
                and all(p.leader >= 0 for p in md.partitions.values())):
            return md
        time.sleep(0.1)
    return md


def consumer():
    # group.id is mandatory for librdkafka consumers even with assign(); nothing is committed.
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": unique("cg-assign"),
                     "enable.auto.commit": False, "enable.partition.eof": True,
                     "auto.offset.reset": "error", "socket.timeout.ms": 10000})


def consume_all(topic, partitions, expect, timeout=20):
    """Read every partition from the beginning until EOF everywhere and `expect` messages."""
    c = consumer()
    c.assign([TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
    out = {p: [] for p in range(partitions)}
    eof = set()
    errors = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in c.consume(num_messages=1000, timeout=0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                else:
                    errors.append(str(m.error()))
                continue
            out[m.partition()].append(m)
            eof.discard(m.partition())
        if len(eof) == partitions and sum(len(v) for v in out.values()) >= expect:
            break
    c.close()
    return out, errors


def produce_batch(topic, conf, items):
    """Produce (partition, key, value, headers, timestamp) items; return delivery reports."""
    p = Producer(dict({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5,
                       "message.timeout.ms": 20000}, **conf))
    reports = []
    # The topic's leader known first, so the records queue into one batch rather than the
    # first few leaving alone while metadata is fetched.
    p.list_topics(topic, timeout=10)

    def dr(err, msg):
        reports.append((err, msg.partition(), msg.offset(), msg.value()))

    for part, key, value, headers, ts in items:
        kwargs = {"partition": part, "key": key, "value": value, "on_delivery": dr}
        if headers:
            kwargs["headers"] = headers
        if ts:
            kwargs["timestamp"] = ts
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(25)
    return reports, left



def test_compression():
    topic = unique("rn-cf-codec")
    create(topic, len(CODECS))
    for i, codec in enumerate(CODECS):
        items = []
        for n in range(PER_CODEC):
            value = ("%s message %05d " % (codec, n)).encode() * (1 + n % 7)
            items.append((i, b"k%d" % n, value, [("codec", codec.encode()), ("n", b"%d" % n)],
                          None))
        reports, left = produce_batch(topic, {"compression.type": codec}, items)
        errs = [r for r in reports if r[0] is not None]
        T.ok(left == 0 and not errs and len(reports) == PER_CODEC,
             "%s: %d messages acknowledged" % (codec, PER_CODEC),
             "left=%d errors=%s" % (left, errs[:3]))
        T.eq(sorted(r[2] for r in reports), list(range(PER_CODEC)),
             "%s: delivery offsets are 0..%d" % (codec, PER_CODEC - 1))
    out, errors = consume_all(topic, len(CODECS), len(CODECS) * PER_CODEC)
    T.eq(errors, [], "compression: consumer saw no errors")
    for i, codec in enumerate(CODECS):
        msgs = out[i]
        good = len(msgs) == PER_CODEC
        bad = None
        for n, m in enumerate(msgs):
            want = ("%s message %05d " % (codec, n)).encode() * (1 + n % 7)
            hdrs = m.headers() or []
            if (m.offset() != n or m.key() != b"k%d" % n or m.value() != want
                    or hdrs != [("codec", codec.encode()), ("n", b"%d" % n)]):
                good, bad = False, (n, m.offset(), m.key(), m.value()[:40], hdrs)
                break
        T.ok(good, "%s: consumed %d/%d, every key/value/header/offset matches"
             % (codec, len(msgs), PER_CODEC), "first mismatch: %r" % (bad,))


def test_record_errors():
    """KIP-467: of 100 records in one batch to a compacted topic, the 10 without a key fail
    with INVALID_RECORD; librdkafka (1.9+) reports the other 90 as failed because of another
    record of their batch. A topic's compression.type recompresses what it stores."""
    topic = unique("rn-cf-recerr")
    create(topic, 1, {"cleanup.policy": "compact"})
    items = [(0, None if n % 10 == 3 else b"k%d" % n, b"v%d" % n, None, None)
             for n in range(100)]
    reports, left = produce_batch(topic, {"linger.ms": 500, "batch.num.messages": 1000,
                                          "enable.idempotence": False, "retries": 0}, items)
    failed = {int(r[3][1:]): r[0] for r in reports if r[0] is not None}
    null_keys = [n for n in range(100) if n % 10 == 3]
    T.eq(len(failed), 100, "the whole batch fails (left=%d)" % left)
    other = getattr(KafkaError, "_INVALID_DIFFERENT_RECORD", None)
    invalid = sorted(n for n, e in failed.items() if e.code() == KafkaError.INVALID_RECORD)
    if other is None:  # librdkafka before 2.x's KIP-467 support fails all alike (as on Kafka)
        T.eq(invalid, list(range(100)), "all 100 records fail with INVALID_RECORD")
    else:
        T.eq(invalid, null_keys, "the 10 records without a key fail with INVALID_RECORD")
        T.ok(all(e.code() == other for n, e in failed.items() if n not in null_keys),
             "the other 90 fail because of a different record of their batch",
             repr(set(e.name() for e in failed.values())))
    keyed = [(0, b"k%d" % n, b"v%d" % n, None, None) for n in range(100)]
    reports, left = produce_batch(topic, {"linger.ms": 500}, keyed)
    T.ok(left == 0 and all(r[0] is None for r in reports), "the same records with keys pass")

    old = unique("rn-cf-window")
    create(old, 1, {"message.timestamp.before.max.ms": "3600000"})
    ts = int(time.time() * 1000) - 7200 * 1000
    reports, left = produce_batch(old, {"retries": 0}, [(0, b"k", b"old", None, ts)])
    T.ok(reports and reports[0][0] is not None
         and reports[0][0].code() == KafkaError.INVALID_TIMESTAMP,
         "a record older than message.timestamp.before.max.ms: INVALID_TIMESTAMP",
         repr(reports))

    z = unique("rn-cf-zstd")
    create(z, 1, {"compression.type": "zstd"})
    items = [(0, b"k%d" % n, b"zstd topic %05d " % n * 20, None, None) for n in range(200)]
    reports, left = produce_batch(z, {"compression.type": "none"}, items)
    T.ok(left == 0 and all(r[0] is None for r in reports), "uncompressed batches to a zstd topic")
    out, errors = consume_all(z, 1, 200)
    T.ok(not errors and [m.value() for m in out[0]] == [i[2] for i in items],
         "consumed as produced from the zstd topic", repr(errors[:3]))


def test_idempotent():
    topic = unique("rn-cf-idem")
    create(topic, 1)
    items = [(0, None, b"%d" % n, None, None) for n in range(IDEM_COUNT)]
    t0 = time.monotonic()
    reports, left = produce_batch(topic, {"enable.idempotence": True, "acks": "all",
                                   "batch.num.messages": 1000}, items)
    errs = [r for r in reports if r[0] is not None]
    T.ok(left == 0 and not errs and len(reports) == IDEM_COUNT,
         "idempotent: %d messages acknowledged in %.1f s" % (IDEM_COUNT, time.monotonic() - t0),
         "left=%d reports=%d errors=%s" % (left, len(reports), errs[:3]))
    by_value = {int(r[3]): r[2] for r in reports if r[0] is None}
    T.ok(all(by_value.get(n) == n for n in range(IDEM_COUNT)),
         "idempotent: message n was acknowledged at offset n")
    out, errors = consume_all(topic, 1, IDEM_COUNT, timeout=25)
    msgs = out[0]
    T.eq(errors, [], "idempotent: consumer saw no errors")
    T.eq(len(msgs), IDEM_COUNT, "idempotent: consumed every message exactly once")
    values = [int(m.value()) for m in msgs]
    offsets = [m.offset() for m in msgs]
    T.ok(values == list(range(IDEM_COUNT)), "idempotent: values in order, no duplicates, no gaps")
    T.ok(offsets == list(range(IDEM_COUNT)), "idempotent: offsets contiguous from 0")
    lo, hi = consumer_watermarks(topic, 0)
    T.eq((lo, hi), (0, IDEM_COUNT), "idempotent: watermarks (0, %d)" % IDEM_COUNT)


def consumer_watermarks(topic, partition):
    c = consumer()
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def describe(topic):
    res = ConfigResource("topic", topic)
    fs = ADMIN.describe_configs([res], request_timeout=10)
    return list(fs.values())[0].result(FUT_TIMEOUT)


def test_admin():
    topic = unique("rn-cf-admin")
    cfg = {"retention.ms": "3600000", "cleanup.policy": "delete", "max.message.bytes": "2000000"}
    fs = ADMIN.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                       config=cfg)], operation_timeout=10)
    try:
        fs[topic].result(FUT_TIMEOUT)
        T.ok(True, "admin: create topic with 2 partitions, rf 1, 3 configs")
    except Exception as e:  # noqa: BLE001
        T.ok(False, "admin: create topic with 2 partitions, rf 1, 3 configs", repr(e))
        return
    md = wait_partitions(topic, 2)
    T.ok(md is not None and len(md.partitions) == 2, "admin: metadata shows 2 partitions")
    T.ok(md is not None and all(len(p.replicas) == 1 and p.isrs == p.replicas
                                for p in md.partitions.values()),
         "admin: each partition has 1 replica, in sync")

    fs = ADMIN.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)],
                             operation_timeout=10)
    try:
        fs[topic].result(FUT_TIMEOUT)
        T.ok(False, "admin: creating it again fails with TOPIC_ALREADY_EXISTS", "it succeeded")
    except ck.KafkaException as e:
        T.eq(e.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS,
             "admin: creating it again fails with TOPIC_ALREADY_EXISTS")

    entries = describe(topic)
    for k, v in cfg.items():
        T.ok(k in entries and entries[k].value == v, "describe_configs: %s = %s" % (k, v),
             "got %r" % (entries.get(k),))
    T.ok("retention.ms" in entries
         and entries["retention.ms"].source == ck.admin.CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG,
         "describe_configs: retention.ms source is DYNAMIC_TOPIC_CONFIG [kafka]")
    T.ok("segment.bytes" in entries,
         "describe_configs: unset keys (segment.bytes) are listed too [kafka]")

    # AlterConfigs (key 33) is deprecated in 2.x clients but still what 1.7 has; test both.
    warnings.simplefilter("ignore", DeprecationWarning)
    # AlterConfigs (key 33) replaces the topic's whole dynamic config with the set given.
    res = ConfigResource("topic", topic, set_config={"retention.ms": "7200000",
                                                     "max.message.bytes": "2000000"})
    try:
        list(ADMIN.alter_configs([res], request_timeout=10).values())[0].result(FUT_TIMEOUT)
        T.ok(True, "alter_configs: retention.ms -> 7200000")
    except Exception as e:  # noqa: BLE001
        T.ok(False, "alter_configs: retention.ms -> 7200000", repr(e))
    entries = describe(topic)
    T.eq(entries["retention.ms"].value, "7200000", "describe after alter: retention.ms = 7200000")
    T.eq(entries["max.message.bytes"].value, "2000000",
         "describe after alter: max.message.bytes kept (it was in the set)")
    T.ok(entries["cleanup.policy"].value == "delete",
         "describe after alter: cleanup.policy back to its default 'delete'")

    if hasattr(ADMIN, "incremental_alter_configs"):
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ResourceType
        res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
            ConfigEntry("retention.ms", "10800000",
                        incremental_operation=AlterConfigOpType.SET)])
        try:
            list(ADMIN.incremental_alter_configs([res]).values())[0].result(FUT_TIMEOUT)
            entries = describe(topic)
            T.eq(entries["retention.ms"].value, "10800000",
                 "incremental_alter_configs: retention.ms -> 10800000")
            T.eq(entries["max.message.bytes"].value, "2000000",
                 "incremental_alter_configs: other keys untouched")
        except Exception as e:  # noqa: BLE001
            T.ok(False, "incremental_alter_configs", repr(e))

    try:
        ADMIN.create_partitions([NewPartitions(topic, 4)],
                                operation_timeout=10)[topic].result(FUT_TIMEOUT)
        T.ok(True, "create_partitions: 2 -> 4")
    except Exception as e:  # noqa: BLE001
        T.ok(False, "create_partitions: 2 -> 4", repr(e))
    md = wait_partitions(topic, 4)
    T.ok(md is not None and len(md.partitions) == 4, "create_partitions: metadata shows 4")

    # The new partitions take writes.
    reports, left = produce_batch(topic, {}, [(3, b"k", b"in partition 3", None, None)])
    T.ok(left == 0 and reports and reports[0][0] is None and reports[0][2] == 0,
         "produce to new partition 3 at offset 0", repr(reports))

    try:
        ADMIN.delete_topics([topic], operation_timeout=10)[topic].result(FUT_TIMEOUT)
        T.ok(True, "delete_topics")
    except Exception as e:  # noqa: BLE001
        T.ok(False, "delete_topics", repr(e))
    deadline = time.monotonic() + 10
    gone = False
    while time.monotonic() < deadline and not gone:
        gone = topic not in ADMIN.list_topics(timeout=5).topics
        time.sleep(0.1)
    T.ok(gone, "delete_topics: topic no longer listed")


def test_offsets():
    topic = unique("rn-cf-ts")
    create(topic, 1)
    base = int(time.time() * 1000) - 60000
    items = [(0, None, b"m%d" % i, None, base + 1000 * i) for i in range(3)]
    reports, left = produce_batch(topic, {"linger.ms": 0}, items)
    T.ok(left == 0 and all(r[0] is None for r in reports), "offsets: 3 timestamped messages")

    c = consumer()
    try:
        got = c.offsets_for_times([TopicPartition(topic, 0, base - 1),
                                   ], timeout=10)
        T.eq(got[0].offset, 0, "offsets_for_times(before first) = 0")
        got = c.offsets_for_times([TopicPartition(topic, 0, base + 500)], timeout=10)
        T.eq(got[0].offset, 1, "offsets_for_times(between 1st and 2nd) = 1")
        got = c.offsets_for_times([TopicPartition(topic, 0, base + 2000)], timeout=10)
        T.eq(got[0].offset, 2, "offsets_for_times(exactly 3rd) = 2")
        got = c.offsets_for_times([TopicPartition(topic, 0, base + 99000)], timeout=10)
        T.eq(got[0].offset, -1, "offsets_for_times(after last) = -1 (end)")
        T.eq(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False), (0, 3),
             "get_watermark_offsets = (0, 3)")

        # Timestamps come back as produced (CreateTime).
        c.assign([TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
        msgs = []
        deadline = time.monotonic() + 10
        while len(msgs) < 3 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                msgs.append(m)
        T.eq([m.timestamp() for m in msgs],
             [(ck.TIMESTAMP_CREATE_TIME, base + 1000 * i) for i in range(3)],
             "consumed timestamps are the producer's CreateTime")
    finally:
        c.close()

    if hasattr(ADMIN, "list_offsets"):
        from confluent_kafka.admin import OffsetSpec
        fs = ADMIN.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()})
        r = list(fs.values())[0].result(FUT_TIMEOUT)
        T.eq(r.offset, 0, "admin list_offsets earliest = 0")
        fs = ADMIN.list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()})
        T.eq(list(fs.values())[0].result(FUT_TIMEOUT).offset, 3, "admin list_offsets latest = 3")
        fs = ADMIN.list_offsets({TopicPartition(topic, 0): OffsetSpec.for_timestamp(base + 500)})
        T.eq(list(fs.values())[0].result(FUT_TIMEOUT).offset, 1,
             "admin list_offsets for_timestamp = 1")
    if hasattr(ADMIN, "delete_records"):
        fs = ADMIN.delete_records([TopicPartition(topic, 0, 1)], request_timeout=10)
        try:
            r = list(fs.values())[0].result(FUT_TIMEOUT)
            T.eq(r.low_watermark, 1, "delete_records before offset 1: low watermark 1")
        except Exception as e:  # noqa: BLE001
            T.ok(False, "delete_records before offset 1", repr(e))
        T.eq(consumer_watermarks(topic, 0), (1, 3), "watermarks after delete_records = (1, 3)")


def test_metadata():
    md = ADMIN.list_topics(timeout=10)
    T.ok(len(md.brokers) >= 1, "list_topics: %d broker(s)" % len(md.brokers))
    T.ok(all(b.host and b.port > 0 for b in md.brokers.values()),
         "list_topics: every broker has host and port")
    T.ok(md.controller_id in md.brokers, "list_topics: controller is a listed broker")
    topic = unique("rn-cf-md")
    create(topic, 3)
    md = ADMIN.list_topics(timeout=10)
    T.ok(topic in md.topics and len(md.topics[topic].partitions) == 3,
         "list_topics (all): new topic with 3 partitions")
    one = ADMIN.list_topics(topic=topic, timeout=10)
    t = one.topics.get(topic)
    T.ok(t is not None and t.error is None
         and all(p.leader in one.brokers for p in t.partitions.values()),
         "list_topics(topic): every partition led by a listed broker")
    if hasattr(ADMIN, "describe_cluster"):
        d = ADMIN.describe_cluster(request_timeout=10).result(FUT_TIMEOUT)
        T.ok(d.cluster_id and len(d.nodes) >= 1 and d.controller is not None,
             "describe_cluster: cluster id, nodes, controller", repr(d))
    if hasattr(ADMIN, "describe_topics"):
        from confluent_kafka import TopicCollection
        fs = ADMIN.describe_topics(TopicCollection([topic]), request_timeout=10)
        d = fs[topic].result(FUT_TIMEOUT)
        T.ok(d.name == topic and len(d.partitions) == 3 and d.topic_id is not None,
             "describe_topics: 3 partitions and a topic id", repr(d))


for name, fn in [("compression", test_compression), ("record errors", test_record_errors),
                 ("idempotent producer", test_idempotent),
                 ("admin", test_admin), ("offsets", test_offsets), ("metadata", test_metadata)]:
    T.diag("-- " + name)
    T.step(name, fn)
T.done()
