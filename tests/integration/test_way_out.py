#!/usr/bin/env python3
"""A way out to Apache Kafka, and back: partition directories moved between runneld and a
stopped Apache Kafka 3.9 broker load and serve the same records at the same offsets.

runneld -> Kafka: records with keys (and null keys), headers, a tombstone, explicit
timestamps, in several batches of each compression codec, plain and idempotent, go to a
runneld topic of three partitions with small segments (several a partition); DeleteRecords
moves one partition's log start. runneld stops cleanly. A Kafka 3.9 broker
(scripts/kafka-ref.sh, KRaft) creates a topic of the same name and partition count, so that
its metadata knows it, and stops cleanly. Each Kafka partition directory keeps its own
partition.metadata (the topic id in Kafka's metadata) and gets runneld's segments, indexes,
time indexes, producer snapshots and leader-epoch-checkpoint; the topic's lines in Kafka's
recovery-point, log-start and replication (high watermark) checkpoints take runneld's
values. Kafka starts again and a confluent-kafka consumer must read every record at the
same offset with the same timestamp, key, value and headers; the watermarks (log start
too), a timestamp lookup (the time index) and a new record's offset must continue the log;
and Kafka must have loaded the segments as written (no recovery, no index rebuilt: its log
says so).

Kafka -> runneld: the same the other way, into a runneld topic made and stopped first.

README "Moving data between runnel and Apache Kafka" gives the same steps by hand.

With --broker kafka (RN_WAYOUT_BROKER=kafka) runneld's side is a second Kafka 3.9: the steps
themselves are checked between two Kafkas. The Kafka jars are scripts/kafka-ref.sh's
(KAFKA_REF_VERSION 3.9.1, fetched by scripts/deps.sh); without them or java the test skips.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from rn_testlib import SRC, free_port  # noqa: E402

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

KAFKA_VERSION = os.environ.get("RN_WAYOUT_KAFKA_VERSION", "3.9.1")
KAFKA_REF = os.path.join(SRC, "scripts", "kafka-ref.sh")
KAFKA_LIBS = os.path.join(os.environ.get("KAFKA_REF_CACHE") or
                          os.path.expanduser("~/.cache/runnel/kafka-ref"), KAFKA_VERSION, "libs")
PARTITIONS = 3
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_BATCH = 7  # records per partition in each batch
SEGMENT_BYTES = 2048  # the source topic's segment.bytes: several segments a partition
DELETED = 5  # partition 1's log start after DeleteRecords on the source
BASE_TS = 1767225600000  # 2026-01-01T00:00:00Z; record i of a run is BASE_TS + 1000 * i
CHECKPOINTS = ("recovery-point-offset-checkpoint", "log-start-offset-checkpoint",
               "replication-offset-checkpoint")

T = None


# ---- the two kinds of broker --------------------------------------------------------------------

def free_pair():
    """A port P with P+1 free too (Kafka's controller listens there)."""
    for _ in range(50):
        p = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 1))
                return p
            except OSError:
                continue
    raise RuntimeError("no two adjacent free ports")


class Runneld:
    kind = "runneld"

    def __init__(self):
        self.b = D.Broker()
        T.cleanups.append(self.b.cleanup)
        self.data = self.b.data
        self.bootstrap = self.b.bootstrap

    def stop(self):
        rc = self.b.stop()
        T.ok(rc == 0, "runneld stops cleanly (exit %r)" % rc, None if rc == 0 else
             self.b.log_text())

    def resume(self):
        self.b.start()
        T.ok(True, "runneld starts again on its data dir")

    def loaded_as_written(self, topic):
        """The start's summary line: a clean shutdown, nothing recovered, nothing offline;
        and no warning or error about the topic."""
        with open(os.path.join(self.b.dir, "runneld.log"), errors="replace") as f:
            log = f.read()
        opened = [ln for ln in log.splitlines() if "partition log(s) after a" in ln]
        bad = [ln for ln in log.splitlines() if topic in ln and re.search(r"WARN|ERROR", ln)]
        ok = (opened and "after a clean shutdown" in opened[-1] and
              " 0 partition(s) recovered" in opened[-1] and opened[-1].endswith(" 0 offline"))
        return ok and not bad, "\n".join(opened[-1:] + bad)

    def log_text(self):
        return self.b.log_text()


class Kafka:
    kind = "kafka"

    def __init__(self, workdir):
        self.port = free_pair()
        self.env = dict(os.environ, KAFKA_REF_VERSION=KAFKA_VERSION, TMPDIR=workdir,
                        KAFKA_REF_HEAP="512m")
        self.state = os.path.join(workdir, "runnel-kafka-ref-%d" % self.port)
        self.data = os.path.join(self.state, "data")
        self.bootstrap = "127.0.0.1:%d" % self.port
        T.cleanups.append(self.cleanup)
        self._run("start", "Kafka %s starts on %s" % (KAFKA_VERSION, self.bootstrap))

    def _run(self, action, desc, keep=False):
        env = dict(self.env, KAFKA_REF_KEEP="1" if keep else "0")
        t0 = time.monotonic()
        r = subprocess.run(["bash", KAFKA_REF, action, str(self.port)], env=env,
                           capture_output=True, text=True, timeout=180)
        T.ok(r.returncode == 0, "%s (%.1f s)" % (desc, time.monotonic() - t0),
             r.stdout + r.stderr)
        if r.returncode != 0:
            raise RuntimeError("kafka-ref.sh %s failed" % action)

    def stop(self):
        self._run("stop", "Kafka stops cleanly, keeping its log dir", keep=True)
        T.ok(os.path.exists(os.path.join(self.data, ".kafka_cleanshutdown")),
             "Kafka left its clean-shutdown marker")

    def resume(self):
        self._run("resume", "Kafka starts again on its log dir")

    def log_text(self):
        try:
            with open(os.path.join(self.state, "logs", "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def loaded_as_written(self, topic):
        """Kafka logs 'Recovering unflushed segment' or 'Found a corrupted index file' when it
        does not take a segment or index as it finds it."""
        log = self.log_text()
        mine = [ln for ln in log.splitlines() if "%s-" % topic in ln]
        bad = [ln for ln in mine if re.search(r"Recovering|corrupt|Truncat|ERROR|WARN", ln, re.I)]
        loaded = [ln for ln in mine if "Completed load of Log" in ln]
        return not bad and len(loaded) == PARTITIONS, "\n".join(bad or mine[-20:])

    def cleanup(self):
        subprocess.run(["bash", KAFKA_REF, "stop", str(self.port)], env=self.env,
                       capture_output=True, timeout=60)


# ---- records ------------------------------------------------------------------------------------

def create_topic(bootstrap, topic, config=None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS,
                                        replication_factor=1, config=config or {})])[topic]
    fut.result(30)
    # Metadata reaches every listener a little later in Kafka: wait until it shows.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        md = admin.list_topics(topic, timeout=10).topics.get(topic)
        if md and md.error is None and len(md.partitions) == PARTITIONS and \
                all(p.leader >= 0 for p in md.partitions.values()):
            return True
        time.sleep(0.2)
    return False


def produce_all(bootstrap, topic, tag):
    """Several batches per codec on every partition; returns {partition: [record]} where a
    record is (offset, timestamp, key, value, headers) as the delivery reports gave them."""
    want = {p: [] for p in range(PARTITIONS)}
    errors = []
    n = 0
    for codec in CODECS:
        for rnd in range(2):
            prod = Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                             "linger.ms": 200, "enable.idempotence": rnd == 1, "acks": "all"})

            # The delivery report has the offset; the headers are the ones sent (older
            # librdkafka leaves them out of the report).
            def report(err, msg, headers):
                if err is not None:
                    errors.append(str(err))
                    return
                ts_type, ts = msg.timestamp()
                want[msg.partition()].append((msg.offset(), ts_type, ts, msg.key(), msg.value(),
                                              headers))

            for p in range(PARTITIONS):
                for i in range(PER_BATCH):
                    key = None if i == 3 else ("%s-key-%d" % (tag, n % 5)).encode()
                    text = "%s %s value %d %s" % (tag, codec, n, "x" * (n % 40))
                    value = None if i == 5 else text.encode()
                    headers = [("codec", codec.encode()), ("n", str(n).encode())]
                    if i % 2:
                        headers.append(("trace", b"\x00\x01bin\xff"))
                    prod.produce(topic, value=value, key=key, partition=p, headers=headers,
                                 timestamp=BASE_TS + 1000 * n,
                                 on_delivery=lambda err, msg, h=headers: report(err, msg, h))
                    n += 1
            left = prod.flush(30)
            if left:
                errors.append("%d records undelivered" % left)
    for recs in want.values():
        recs.sort()
    return want, n, errors


def consume_all(bootstrap, topic, ends, starts=None):
    """Every record of every partition from starts[p] (default 0) up to ends[p]:
    {p: [record]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "way-out-reader",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, (starts or {}).get(p, 0)) for p in range(PARTITIONS)])
    got = {p: [] for p in range(PARTITIONS)}
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and \
            any((got[p][-1][0] + 1 if got[p] else 0) < ends[p] for p in got):
        for msg in c.consume(200, 1.0):
            if msg.error():
                raise KafkaException(msg.error())
            ts_type, ts = msg.timestamp()
            got[msg.partition()].append((msg.offset(), ts_type, ts, msg.key(), msg.value(),
                                         msg.headers() or []))
    c.close()
    return got


def watermarks(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "way-out-marks"})
    out = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=15)
           for p in range(PARTITIONS)}
    c.close()
    return out


def offsets_for_times(bootstrap, topic, ts):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "way-out-times"})
    res = c.offsets_for_times([TopicPartition(topic, p, ts) for p in range(PARTITIONS)], 15)
    c.close()
    return {tp.partition: tp.offset for tp in res}


def first_at_or_after(want, ts):
    return {p: next((r[0] for r in recs if r[2] >= ts), -1) for p, recs in want.items()}


def produce_one_more(bootstrap, topic):
    out = {}
    prod = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for p in range(PARTITIONS):
        prod.produce(topic, value=b"after the move", key=b"after", partition=p,
                     on_delivery=lambda err, msg: out.__setitem__(
                         msg.partition(), None if err else msg.offset()))
    prod.flush(30)
    return out


# ---- the move -----------------------------------------------------------------------------------

def read_checkpoint(path):
    """{(topic, partition): offset} of one of Kafka's offset checkpoint files."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines:
        return {}
    assert lines[0] == "0", "%s: version %r" % (path, lines[0])
    out = {}
    for ln in lines[2:2 + int(lines[1])]:
        topic, part, off = ln.rsplit(" ", 2)
        out[(topic, int(part))] = int(off)
    return out


def write_checkpoint(path, entries):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("0\n%d\n" % len(entries))
        for (topic, part), off in sorted(entries.items()):
            f.write("%s %d %d\n" % (topic, part, off))
    os.replace(tmp, path)


def move_topic(src_data, dst_data, topic):
    """Both brokers stopped cleanly. Every partition directory of topic in dst_data keeps its
    partition.metadata and takes every other file from src_data's; dst's checkpoints take
    src's lines for the topic. Returns the files moved, for the report."""
    moved = []
    for p in range(PARTITIONS):
        src = os.path.join(src_data, "%s-%d" % (topic, p))
        dst = os.path.join(dst_data, "%s-%d" % (topic, p))
        assert os.path.exists(os.path.join(dst, "partition.metadata")), dst
        for name in os.listdir(dst):
            if name != "partition.metadata":
                os.unlink(os.path.join(dst, name))
        for name in sorted(os.listdir(src)):
            if name != "partition.metadata":
                shutil.copy2(os.path.join(src, name), os.path.join(dst, name))
                moved.append("%s-%d/%s" % (topic, p, name))
    for cp in CHECKPOINTS:
        s = read_checkpoint(os.path.join(src_data, cp))
        d = read_checkpoint(os.path.join(dst_data, cp))
        for p in range(PARTITIONS):
            d.pop((topic, p), None)
            if (topic, p) in s:
                d[(topic, p)] = s[(topic, p)]
        write_checkpoint(os.path.join(dst_data, cp), d)
    return moved


def move(src_kind, dst_kind, workdir, tag):
    """Records written to a broker of src_kind, moved into a stopped one of dst_kind."""
    topic = "way-out-%s" % tag
    T.diag("==== %s -> %s (topic %s) ====" % (src_kind, dst_kind, topic))
    src = Runneld() if src_kind == "runneld" else Kafka(workdir)
    # Small segments on the source: each partition moves as several segments, each with
    # its indexes and producer snapshot.
    T.ok(create_topic(src.bootstrap, topic, {"segment.bytes": str(SEGMENT_BYTES)}),
         "%s: topic of %d partitions created (segment.bytes %d)" % (src_kind, PARTITIONS,
                                                                     SEGMENT_BYTES))
    want, n, errors = produce_all(src.bootstrap, topic, tag)
    T.ok(not errors and sum(len(r) for r in want.values()) == n,
         "%s: %d records produced in %d codecs, keys, headers, tombstones" % (src_kind, n,
                                                                               len(CODECS)),
         "; ".join(errors[:5]))
    ends = {p: len(want[p]) for p in want}
    T.ok(all(want[p] and [r[0] for r in want[p]] == list(range(ends[p])) for p in want),
         "%s: offsets 0..n-1 on every partition" % src_kind, repr({p: [r[0] for r in want[p]]
                                                                  for p in want}))
    got = consume_all(src.bootstrap, topic, ends)
    T.ok(got == want, "%s: a consumer reads back what was produced" % src_kind,
         first_difference(got, want))
    # DeleteRecords moves partition 1's log start: the destination must keep it.
    conn = D.Conn(src.bootstrap)
    err, low = D.delete_records(conn, topic, DELETED, partition=1)
    conn.close()
    T.ok(err == 0 and low == DELETED, "%s: DeleteRecords before offset %d on partition 1"
         % (src_kind, DELETED), "error %r, low watermark %r" % (err, low))
    want[1] = [r for r in want[1] if r[0] >= DELETED]
    starts = {p: DELETED if p == 1 else 0 for p in want}
    src.stop()
    segs = {p: len([f for f in os.listdir(os.path.join(src.data, "%s-%d" % (topic, p)))
                    if f.endswith(".log")]) for p in range(PARTITIONS)}
    T.ok(all(n > 1 for n in segs.values()), "%s: every partition has several segments %r"
         % (src_kind, segs))

    dst = Runneld() if dst_kind == "runneld" else Kafka(workdir)
    T.ok(create_topic(dst.bootstrap, topic), "%s: the same topic created (%d partitions)"
         % (dst_kind, PARTITIONS))
    dst.stop()
    moved = move_topic(src.data, dst.data, topic)
    T.diag("moved: " + " ".join(m for m in moved if m.startswith(topic + "-0/")))
    t0 = time.monotonic()
    dst.resume()
    got = T.step("consume after the move", consume_all, dst.bootstrap, topic, ends, starts)
    T.ok(got == want, "%s serves %s's records: same offsets, timestamps, keys, values, headers"
         " (%d records, read in %.1f s)" % (dst_kind, src_kind, n, time.monotonic() - t0),
         first_difference(got, want) if got else dst.log_text()[-3000:])
    marks = T.step("watermarks", watermarks, dst.bootstrap, topic)
    T.ok(marks == {p: (starts[p], ends[p]) for p in ends}, "%s: log start and log end as on %s"
         % (dst_kind, src_kind), repr(marks))
    mid = BASE_TS + 1000 * (n // 2) + 1
    ft = T.step("offsets_for_times", offsets_for_times, dst.bootstrap, topic, mid)
    T.ok(ft == first_at_or_after(want, mid), "%s: a timestamp lookup finds the same offsets "
         "(time index)" % dst_kind, "got %r want %r" % (ft, first_at_or_after(want, mid)))
    ok, detail = dst.loaded_as_written(topic)
    T.ok(ok, "%s loaded %s's segments and indexes as written (no recovery)" % (dst_kind,
                                                                              src_kind), detail)
    more = T.step("produce after the move", produce_one_more, dst.bootstrap, topic)
    T.ok(more == ends, "%s: a new record continues each log at its end" % dst_kind,
         "got %r want %r" % (more, ends))
    dst.stop()
    # And once more after the destination wrote its own files: still every record.
    dst.resume()
    got = T.step("consume after a restart", consume_all, dst.bootstrap, topic,
                 {p: ends[p] + 1 for p in ends}, starts)
    T.ok(got is not None and {p: got[p][:-1] for p in got} == want and
         all(got[p] and got[p][-1][0] == ends[p] for p in got),
         "%s after a restart: the moved records and the new one" % dst_kind,
         first_difference({p: got[p][:-1] for p in got}, want) if got else "")


def first_difference(got, want):
    for p in sorted(set(got) | set(want)):
        g, w = got.get(p, []), want.get(p, [])
        for i in range(max(len(g), len(w))):
            if i >= len(g) or i >= len(w) or g[i] != w[i]:
                return "partition %d record %d: got %r want %r (%d vs %d records)" % (
                    p, i, g[i] if i < len(g) else None, w[i] if i < len(w) else None,
                    len(g), len(w))
    return "equal"


def main():
    global T
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", choices=("runneld", "kafka"),
                    default=os.environ.get("RN_WAYOUT_BROKER", "runneld"))
    args = ap.parse_args()
    T = D.Tap("test_way_out", timeout_s=400)
    if not os.path.exists(os.path.join(KAFKA_LIBS, ".complete")) or not shutil.which("java"):
        T.ok(True, "# SKIP Kafka %s jars absent (scripts/deps.sh fetches them into %s)"
             % (KAFKA_VERSION, KAFKA_LIBS))
        T.done()
    workdir = tempfile.mkdtemp(prefix="rn-way-out-")
    T.cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    T.step("to Kafka", move, args.broker, "kafka", workdir, "out")
    T.step("from Kafka", move, "kafka", args.broker, workdir, "in")
    T.done()


main()
