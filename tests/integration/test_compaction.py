"""Log compaction in runneld, read back with a real client (python3-confluent-kafka).

A topic with cleanup.policy=compact, small segments, min.cleanable.dirty.ratio 0.01 and
delete.retention.ms 2 s gets many updates to a few keys (lz4, as librdkafka batches them),
then tombstones for some keys, then filler records with unique keys so every update lies in
a sealed segment. The cleaner (log.cleaner.backoff.ms 200) must leave exactly the latest
value of every key at the offset it was produced at, and drop the tombstones once their
delete horizon has passed; the result survives a clean restart and a kill -9."""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import Broker, Tap  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "compacted"
KEYS = 12
UPDATES = 150
DELETED = {0, 1, 2}
RETENTION_MS = 2000


def create_topic(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    cfg = {"cleanup.policy": "compact", "segment.bytes": "4096",
           "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": str(RETENTION_MS)}
    futures = admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1,
                                            config=cfg)])
    futures[TOPIC].result(15)


def produce(bootstrap):
    """Returns {key: (offset, value)} of the last record per key, the filler records, and
    delivery errors."""
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": "lz4", "linger.ms": 2,
                  "batch.size": 1500, "enable.idempotence": True})
    latest, filler, errors = {}, {}, []

    def cb(err, msg):
        if err:
            errors.append(err)
            return
        key = msg.key().decode()
        value = None if msg.value() is None else msg.value().decode()
        if key.startswith("filler-"):
            filler[key] = (msg.offset(), value)
        else:
            prev = latest.get(key)
            if prev is None or prev[0] < msg.offset():
                latest[key] = (msg.offset(), value)

    for i in range(UPDATES):
        for k in range(KEYS):
            noise = os.urandom(12).hex().encode()  # keeps lz4 from shrinking it all away
            p.produce(TOPIC, key=b"key-%d" % k, value=b"value-%d-%d-" % (k, i) + noise,
                      on_delivery=cb)
        p.poll(0)
    p.flush(30)
    for k in DELETED:
        p.produce(TOPIC, key=b"key-%d" % k, value=None, on_delivery=cb)
    p.flush(30)
    # Unique keys after everything: the updates and tombstones all end up sealed.
    for i in range(120):
        p.produce(TOPIC, key=b"filler-%d" % i, value=b"f" * 60, on_delivery=cb)
        if i % 10 == 9:
            p.flush(30)
    left = p.flush(30)
    if left:
        errors.append("%d unflushed" % left)
    return latest, filler, errors


def read_all(bootstrap):
    """Every record from offset 0 to the high watermark: [(offset, key, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compaction-check",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    _, high = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    c.assign([TopicPartition(TOPIC, 0, 0)])
    out = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                if not out or out[-1][0] >= high - 1:
                    break
                continue
            raise RuntimeError("consume error: %s" % m.error())
        out.append((m.offset(), m.key().decode() if m.key() else None,
                    None if m.value() is None else m.value().decode()))
        if m.offset() >= high - 1:
            break
    c.close()
    return out, high


def expected(latest, filler, tombstones_gone):
    want = []
    for key, (offset, value) in latest.items():
        if value is None and tombstones_gone:
            continue
        want.append((offset, key, value))
    for key, (offset, value) in filler.items():
        want.append((offset, key, value))
    return sorted(want)


def wait_for(bootstrap, want, timeout):
    """Read until the log holds exactly want (or timeout); returns the last read."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got, _ = read_all(bootstrap)
        if got == want:
            return got
        time.sleep(0.5)
    return got


def describe(got, want):
    missing = [r for r in want if r not in got][:5]
    extra = [r for r in got if r not in want][:5]
    return "got %d records, want %d; missing %r; unexpected %r" % (len(got or []), len(want),
                                                                   missing, extra)


def leftovers(broker):
    d = os.path.join(broker.data, TOPIC + "-0")
    return [f for f in os.listdir(d) if f.endswith((".cleaned", ".swap", ".deleted"))]


def main():
    t = Tap("test_compaction")
    broker = Broker(["--log.cleaner.backoff.ms", "200"])
    t.cleanups.append(broker.cleanup)
    t.step("create the compacted topic", create_topic, broker.bootstrap)
    res = t.step("produce", produce, broker.bootstrap)
    if res is None:
        t.done()
    latest, filler, errors = res
    t.ok(not errors and len(latest) == KEYS and len(filler) == 120,
         "%d updates, %d tombstones and 120 filler records acknowledged" % (
             KEYS * UPDATES, len(DELETED)), repr(errors[:3]))
    segs = [f for f in os.listdir(os.path.join(broker.data, TOPIC + "-0")) if f.endswith(".log")]
    t.diag("%d segments right after producing (the cleaner may already have merged some)"
           % len(segs))

    # First the tombstones stay (they get a delete horizon); then they go.
    with_tombstones = expected(latest, filler, False)
    final = expected(latest, filler, True)
    got = wait_for(broker.bootstrap, with_tombstones, 20)
    if got != final:  # the horizon may already have passed on a slow machine
        t.ok(got == with_tombstones, "cleaned: exactly the latest value per key, tombstones "
             "kept, original offsets", describe(got, with_tombstones))
    got = wait_for(broker.bootstrap, final, 30)
    t.ok(got == final, "after delete.retention.ms the tombstones are gone too",
         describe(got, final))
    segs_after = [f for f in os.listdir(os.path.join(broker.data, TOPIC + "-0"))
                  if f.endswith(".log")]
    # Uncompacted, the records fill 15-35 segments of 4 KiB; cleaned, a handful.
    t.ok(len(segs_after) <= 6, "segments merged: %d left" % len(segs_after))
    t.ok(not leftovers(broker), "no .cleaned/.swap/.deleted file left", repr(leftovers(broker)))
    cp_path = os.path.join(broker.data, "cleaner-offset-checkpoint")
    cp = open(cp_path).read().split("\n") if os.path.exists(cp_path) else []
    t.ok(len(cp) >= 3 and cp[2].startswith(TOPIC + " 0 "),
         "cleaner-offset-checkpoint has the partition", repr(cp))

    for kill in (False, True):
        broker.restart(kill=kill)
        got, _ = read_all(broker.bootstrap)
        t.ok(got == final, "same content after %s" % ("kill -9" if kill else "a clean restart"),
             describe(got, final))
    # Appends continue and are compacted in their turn.
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce(TOPIC, key=b"key-5", value=b"after-restart")
    t.ok(p.flush(15) == 0, "produce after the restarts")
    broker.finish(t)
    t.done()


if __name__ == "__main__":
    main()
