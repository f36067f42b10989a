#!/usr/bin/env python3
"""Interop: kafka-python 2.0.2 (pure Python) against the broker at RN_BOOTSTRAP.

kafka-python 2.0.2 opens with ApiVersions v0 and guesses the broker's Kafka release from the
keys and max versions it sees, then picks request versions for that release; what it guessed
is printed as a diagnostic. Runs under /usr/bin/python3 (Debian's python3-kafka) and
.venv/bin/python (PyPI's kafka-python==2.0.2). Covers: KafkaAdminClient create topic,
KafkaProducer with a JSON value_serializer (and each compression codec whose Python module is
installed), KafkaConsumer without a group: assign() + seek_to_beginning() reading everything
back, partitions_for_topic, beginning_offsets / end_offsets, offsets_for_times.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_common import BOOTSTRAP, Tap, unique  # noqa: E402

import kafka  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402

T = Tap("kafka-python %s" % kafka.__version__)
PARTS = 2
PER_PART = 250
COMMON = {"bootstrap_servers": BOOTSTRAP, "request_timeout_ms": 15000,
          "api_version_auto_timeout_ms": 10000}


def codecs():
    """gzip always; the others only where kafka-python finds their module."""
    from kafka import codec
    have = [("gzip", True), ("snappy", codec.has_snappy()), ("lz4", codec.has_lz4()),
            ("zstd", getattr(codec, "has_zstd", lambda: False)())]
    return [c for c, ok in have if ok], [c for c, ok in have if not ok]


def main():
    topic = unique("rn-kp")
    admin = KafkaAdminClient(**COMMON)
    T.diag("kafka-python inferred broker api_version %s" % (admin.config["api_version"],))
    admin.create_topics([NewTopic(topic, num_partitions=PARTS, replication_factor=1)],
                        timeout_ms=10000)
    T.ok(True, "KafkaAdminClient.create_topics: %d partitions" % PARTS)
    T.ok(topic in admin.list_topics(), "KafkaAdminClient.list_topics includes it")

    have, missing = codecs()
    for c in missing:
        T.diag("codec %s: python module not installed, not tested" % c)
    sent = {p: [] for p in range(PARTS)}
    for codec in have:
        producer = KafkaProducer(value_serializer=lambda v: json.dumps(v).encode(),
                                 key_serializer=lambda k: k.encode(), compression_type=codec,
                                 linger_ms=5, acks="all", **COMMON)
        futures = []
        for p in range(PARTS):
            for i in range(PER_PART // len(have)):
                v = {"codec": codec, "p": p, "i": i, "pad": "x" * (i % 50)}
                futures.append((p, v, producer.send(topic, key="%s-%d" % (codec, i), value=v,
                                                    partition=p, headers=[("h", b"%d" % i)])))
        producer.flush(timeout=20)
        errs = []
        for p, v, f in futures:
            try:
                md = f.get(timeout=10)
                sent[p].append((md.offset, v))
            except Exception as e:  # noqa: BLE001
                errs.append(repr(e))
        producer.close(timeout=5)
        T.ok(not errs, "KafkaProducer %s: %d JSON messages acknowledged" % (codec, len(futures)),
             "\n".join(errs[:3]))

    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False,
                             value_deserializer=lambda b: json.loads(b.decode()),
                             consumer_timeout_ms=2000, **COMMON)
    T.eq(consumer.partitions_for_topic(topic), set(range(PARTS)),
         "partitions_for_topic = {0..%d}" % (PARTS - 1))
    tps = [TopicPartition(topic, p) for p in range(PARTS)]
    ends = consumer.end_offsets(tps)
    T.eq({tp.partition: off for tp, off in ends.items()},
         {p: len(sent[p]) for p in range(PARTS)}, "end_offsets = messages sent per partition")
    T.eq({tp.partition: off for tp, off in consumer.beginning_offsets(tps).items()},
         {p: 0 for p in range(PARTS)}, "beginning_offsets = 0")
    consumer.assign(tps)
    consumer.seek_to_beginning()
    got = {p: [] for p in range(PARTS)}
    deadline = time.monotonic() + 20
    want = sum(len(v) for v in sent.values())
    while sum(len(v) for v in got.values()) < want and time.monotonic() < deadline:
        for tp, recs in consumer.poll(timeout_ms=500).items():
            for r in recs:
                got[tp.partition].append((r.offset, r.value, r.headers))
    for p in range(PARTS):
        T.eq([(o, v) for o, v, _ in got[p]], sorted(sent[p], key=lambda x: x[0]),
             "partition %d: assign + seek_to_beginning read back every JSON value, in order" % p)
        hdr_ok = all(h == [("h", b"%d" % v["i"])] for _, v, h in got[p])
        T.ok(hdr_ok and got[p], "partition %d: headers intact" % p)

    now = int(time.time() * 1000)
    t = consumer.offsets_for_times({tps[0]: now - 3600 * 1000})
    T.ok(t[tps[0]] is not None and t[tps[0]].offset == 0,
         "offsets_for_times(an hour ago) = offset 0", repr(t))
    t = consumer.offsets_for_times({tps[0]: now + 3600 * 1000})
    T.ok(t[tps[0]] is None, "offsets_for_times(in an hour) = None (no such message)", repr(t))
    consumer.close()

    admin.delete_topics([topic], timeout_ms=10000)
    T.ok(True, "KafkaAdminClient.delete_topics")
    admin.close()


T.step("kafka-python", main)
T.done()
