"""Kafka's own command-line tools against runneld.

Runs the classes behind kafka-topics.sh, kafka-console-producer.sh, kafka-console-consumer.sh,
kafka-consumer-groups.sh, kafka-get-offsets.sh, kafka-configs.sh and kafka-dump-log.sh with
`java -cp "<libs>/*" <class>` (what the .sh scripts do) against one runneld, and checks what
they print. The jars come from scripts/deps.sh (~/.cache/runnel/kafka-tools/<version>/libs);
without them (or without java) the test skips.

kafka-dump-log reads runneld's own segment, offset index, time index and producer snapshot
files: runnel claims Kafka's on-disk format, and Kafka's own reader is the judge. Its output
is checked for the batches, offsets, counts, keys, values and headers that were produced,
rather than compared with a reference broker's dump in CI: a Kafka broker costs ~50 MB of
jars and ~8 s of JVM start on top of this test, and the fields that must differ (timestamps,
CRCs, producer ids) are most of a dump line. The comparison with Kafka 3.9.1's own files was
made by hand (README "Using runnel with Kafka's tools, Connect and Debezium").

Environment:
  RN_TOOLS_VERSIONS   tools versions to run, each against a runneld of its own (default
                      "3.9.1 4.1.1"; a version whose jars are absent is skipped)
  RN_TOOLS_BOOTSTRAP  run against this broker instead of starting runneld (to check the test
                      itself against Apache Kafka: scripts/kafka-ref.sh start PORT)
  RN_TOOLS_DATA_DIR   with RN_TOOLS_BOOTSTRAP: that broker's log.dirs, for kafka-dump-log on
                      the live segment (the index checks after a clean stop are runneld-only)
  RN_TOOLS_DUMP_OUT   write the normalised dump of the checked segment there (to diff two
                      brokers' dumps)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402

T = D.Tap("test_kafka_tools", timeout_s=800)

VERSIONS = os.environ.get("RN_TOOLS_VERSIONS", "3.9.1 4.1.1").split()
CACHE = os.environ.get("KAFKA_TOOLS_CACHE") or os.path.expanduser("~/.cache/runnel/kafka-tools")

# The class behind each script, by major version. 3.9 still kept the console producer,
# kafka-configs and kafka-dump-log in the broker's core jar (Scala); 4.0 moved the producer
# into kafka-tools. ConfigCommand and DumpLogSegments stay in core (kafka_2.13) in 4.1.
CLASSES_BY_MAJOR = {
    "3": {
        "topics": "org.apache.kafka.tools.TopicCommand",
        "producer": "kafka.tools.ConsoleProducer",
        "consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "offsets": "org.apache.kafka.tools.GetOffsetShell",
        "configs": "kafka.admin.ConfigCommand",
        "dump": "kafka.tools.DumpLogSegments",
    },
    "4": {
        "topics": "org.apache.kafka.tools.TopicCommand",
        "producer": "org.apache.kafka.tools.ConsoleProducer",
        "consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "offsets": "org.apache.kafka.tools.GetOffsetShell",
        "configs": "kafka.admin.ConfigCommand",
        "dump": "kafka.tools.DumpLogSegments",
    },
}

# The tools log through log4j 1 (reload4j) in 3.9; without a configuration every run prints
# "no appenders" warnings. This is the distribution's tools-log4j.properties, WARN to stderr.
LOG4J = """log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
"""

# Keys, values and headers for the console producer; "|" separates headers, key and value
# (the defaults are tabs, which would make the lines unreadable here). Every line carries a
# header: 3.9's LineMessageReader refuses an empty header list when parse.headers is on.
RECORDS = [
    ("k1", "v1", [("h1", "a"), ("h2", "b")]),
    ("k2", "hello world", [("h1", "c")]),
    ("k3", "v3", [("trace", "t-3")]),
    ("k1", "v4", [("h1", "d")]),
]
PRODUCER_PROPS = ["--property", "parse.key=true", "--property", "key.separator=|",
                  "--property", "parse.headers=true", "--property", "headers.delimiter=|",
                  "--property", "headers.separator=,", "--property", "headers.key.separator=:"]


def line(key, value, headers):
    return "%s|%s|%s" % (",".join("%s:%s" % h for h in headers), key, value)


class Tools:
    def __init__(self, workdir, bootstrap, version):
        self.bootstrap = bootstrap
        self.libs = os.path.join(CACHE, version, "libs")
        self.classes = CLASSES_BY_MAJOR[version.split(".")[0]]
        self.log4j = os.path.join(workdir, "tools-log4j.properties")
        with open(self.log4j, "w") as f:
            f.write(LOG4J)

    def run(self, tool, args, stdin=None, budget=60, bootstrap=True):
        """One tool run within its time budget: (exit status, stdout, stderr)."""
        cmd = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
               "-Dlog4j.configuration=file:" + self.log4j, "-cp", self.libs + "/*", self.classes[tool]]
        if bootstrap:
            cmd += ["--bootstrap-server", self.bootstrap]
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd + args, input=stdin, capture_output=True, text=True,
                               timeout=budget)
        except subprocess.TimeoutExpired as e:
            return (None, e.stdout or "", "timed out after %d s" % budget)
        T.diag("%s %s: %.1f s" % (tool, " ".join(args[:2]), time.monotonic() - t0))
        return (r.returncode, r.stdout, r.stderr)


def show(r):
    return "exit %r\nstdout:\n%s\nstderr:\n%s" % (r[0], r[1][-2500:], r[2][-2500:])


def check_topics(k, topic):
    r = k.run("topics", ["--create", "--topic", topic, "--partitions", "3",
                         "--replication-factor", "1"])
    T.ok(r[0] == 0 and "Created topic %s." % topic in r[1],
         "kafka-topics --create --partitions 3 --replication-factor 1", show(r))
    r = k.run("topics", ["--list"])
    T.ok(r[0] == 0 and topic in r[1].split(), "kafka-topics --list shows the topic", show(r))
    r = k.run("topics", ["--describe", "--topic", topic])
    parts = re.findall(r"Topic: %s\tPartition: (\d+)\tLeader: (\d+)\tReplicas: (\d+)\tIsr: (\d+)"
                       % re.escape(topic), r[1])
    T.ok(r[0] == 0 and "PartitionCount: 3\tReplicationFactor: 1" in r[1] and
         sorted(int(p[0]) for p in parts) == [0, 1, 2] and
         all(p[1] == p[2] == p[3] for p in parts),
         "kafka-topics --describe: 3 partitions, replication factor 1, leader in the ISR",
         show(r))
    r = k.run("topics", ["--alter", "--topic", topic, "--partitions", "5"])
    T.ok(r[0] == 0, "kafka-topics --alter --partitions 5", show(r))
    r = k.run("topics", ["--describe", "--topic", topic])
    T.ok(r[0] == 0 and "PartitionCount: 5" in r[1] and
         len(re.findall(r"\tPartition: \d+\t", r[1])) == 5,
         "kafka-topics --describe after --alter shows 5 partitions", show(r))


def check_produce_consume(k, topic, group):
    r = k.run("topics", ["--create", "--topic", topic, "--partitions", "2",
                         "--replication-factor", "1"])
    T.ok(r[0] == 0, "kafka-topics --create %s" % topic, show(r))
    text = "".join(line(*rec) + "\n" for rec in RECORDS)
    r = k.run("producer", ["--topic", topic] + PRODUCER_PROPS, stdin=text)
    T.ok(r[0] == 0 and "Exception" not in r[2],
         "kafka-console-producer with parse.key and parse.headers sends %d records"
         % len(RECORDS), show(r))
    r = k.run("consumer", ["--topic", topic, "--from-beginning", "--group", group,
                           "--max-messages", str(len(RECORDS)), "--timeout-ms", "20000",
                           "--property", "print.key=true", "--property", "print.headers=true",
                           "--property", "print.partition=true", "--property",
                           "key.separator=|"])
    got = []
    for ln in r[1].splitlines():
        m = re.match(r"Partition:(\d+)\|(.*)\|(.*)\|(.*)$", ln)
        if m:
            got.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
    want = sorted(line(*rec) for rec in RECORDS)
    T.ok(r[0] == 0 and sorted("%s|%s|%s" % g[1:] for g in got) == want and
         "Processed a total of %d messages" % len(RECORDS) in r[2],
         "kafka-console-consumer --from-beginning --group gets every key, value and header "
         "back", show(r) + "\nwant:\n" + "\n".join(want))
    # Records with one key go to one partition (the producer's murmur2 partitioner): runneld
    # kept their order.
    k1 = [g for g in got if g[2] == "k1"]
    T.ok(len(k1) == 2 and k1[0][0] == k1[1][0] and [g[3] for g in k1] == ["v1", "v4"],
         "records with one key arrive on one partition in order", repr(got))
    return got


def check_groups(k, topic, group, got):
    per_part = {}
    for g in got:
        per_part[g[0]] = per_part.get(g[0], 0) + 1
    r = k.run("groups", ["--describe", "--group", group])
    rows = re.findall(r"^%s\s+%s\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)" % (group, topic), r[1], re.M)
    table = {int(p): (c, e, lag) for p, c, e, lag in rows}
    want = {p: (str(per_part.get(p, 0)),) * 2 + ("0",) for p in (0, 1)}
    T.ok(r[0] == 0 and table == want,
         "kafka-consumer-groups --describe: committed offset at the log end, lag 0", show(r))
    r = k.run("groups", ["--reset-offsets", "--group", group, "--topic", topic,
                         "--to-earliest", "--execute"])
    # 3.9 prints the reset table's rows without line breaks between them: no anchors.
    rows = re.findall(r"%s\s+%s\s+(\d+)\s+(\d+)" % (group, topic), r[1])
    T.ok(r[0] == 0 and sorted(rows) == [("0", "0"), ("1", "0")],
         "kafka-consumer-groups --reset-offsets --to-earliest --execute", show(r))
    r = k.run("groups", ["--describe", "--group", group])
    rows = re.findall(r"^%s\s+%s\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)" % (group, topic), r[1], re.M)
    table = {int(p): (c, e, lag) for p, c, e, lag in rows}
    want = {p: ("0", str(per_part.get(p, 0)), str(per_part.get(p, 0))) for p in (0, 1)}
    T.ok(r[0] == 0 and table == want,
         "kafka-consumer-groups --describe after the reset: offset 0, lag = log end", show(r))
    r = k.run("groups", ["--list"])
    T.ok(r[0] == 0 and group in r[1].split(), "kafka-consumer-groups --list", show(r))
    return per_part


def check_offsets(k, topic, per_part):
    r = k.run("offsets", ["--topic", topic])
    T.ok(r[0] == 0 and sorted(r[1].split()) ==
         sorted("%s:%d:%d" % (topic, p, per_part.get(p, 0)) for p in (0, 1)),
         "kafka-get-offsets prints each partition's latest offset", show(r))
    r = k.run("offsets", ["--topic", topic, "--time", "-2"])
    T.ok(r[0] == 0 and sorted(r[1].split()) == ["%s:0:0" % topic, "%s:1:0" % topic],
         "kafka-get-offsets --time -2 prints the earliest offsets", show(r))


def check_configs(k, topic):
    r = k.run("configs", ["--entity-type", "topics", "--entity-name", topic, "--alter",
                          "--add-config", "retention.ms=3600000,max.message.bytes=200000"])
    T.ok(r[0] == 0 and "Completed updating config for topic %s." % topic in r[1],
         "kafka-configs --alter --add-config", show(r))
    r = k.run("configs", ["--entity-type", "topics", "--entity-name", topic, "--describe"])
    T.ok(r[0] == 0 and re.search(r"^\s*retention\.ms=3600000 sensitive=false synonyms=\{"
                                 r"DYNAMIC_TOPIC_CONFIG:retention\.ms=3600000", r[1], re.M) and
         re.search(r"^\s*max\.message\.bytes=200000 ", r[1], re.M),
         "kafka-configs --describe shows the altered configs as dynamic topic configs", show(r))
    r = k.run("configs", ["--entity-type", "topics", "--entity-name", topic, "--alter",
                          "--delete-config", "max.message.bytes"])
    T.ok(r[0] == 0, "kafka-configs --alter --delete-config", show(r))
    r = k.run("configs", ["--entity-type", "topics", "--entity-name", topic, "--describe"])
    T.ok(r[0] == 0 and "retention.ms=3600000" in r[1] and "max.message.bytes" not in r[1],
         "kafka-configs --describe after --delete-config", show(r))


# ---- kafka-dump-log ---------------------------------------------------------------------------

BATCH = re.compile(r"^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .*magic: 2 "
                   r"compresscodec: (\S+) crc: \d+ isvalid: true$")
RECORD = re.compile(r"^\| offset: (\d+) CreateTime: \d+ keySize: (\d+) valueSize: (\d+) "
                    r"sequence: -?\d+ headerKeys: \[(.*)\] key: (.*) payload: (.*)$")


def normalise_dump(text):
    """The dump without what two brokers must differ in: timestamps, CRCs, producer ids and
    epochs, file paths."""
    out = []
    for ln in text.splitlines():
        if ln.startswith("Dumping "):
            ln = "Dumping " + os.path.basename(ln[8:])
        ln = re.sub(r"(CreateTime|LogAppendTime|crc|producerId|producerEpoch): -?\d+",
                    r"\1: _", ln)
        out.append(ln)
    return "\n".join(out) + "\n"


def dump_batches(text):
    """[(base, last, count, codec, [(offset, key, value, header keys)])] of a dump."""
    batches = []
    for ln in text.splitlines():
        m = BATCH.match(ln)
        if m:
            batches.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), []))
            continue
        m = RECORD.match(ln)
        if m and batches:
            batches[-1][4].append((int(m.group(1)), m.group(5), m.group(6),
                                   m.group(4).split(", ") if m.group(4) else []))
    return batches


def check_dump(k, topic, data_dir, first, second):
    """Dump the single partition's live segment: two console-producer runs (first, second
    records, lines of key|value) are two or more batches whose offsets run on."""
    seg = os.path.join(data_dir, topic + "-0", "%020d.log" % 0)
    r = k.run("dump", ["--files", seg, "--print-data-log"], bootstrap=False)
    batches = dump_batches(r[1])
    recs = [rec for b in batches for rec in b[4]]
    T.ok(r[0] == 0 and "Log starting offset: 0" in r[1] and batches and
         [rec[0] for rec in recs] == list(range(len(first) + len(second))) and
         all(b[1] - b[0] + 1 == b[2] == len(b[4]) and [x[0] for x in b[4]] ==
             list(range(b[0], b[1] + 1)) for b in batches) and
         all(b[3] == "none" for b in batches),
         "kafka-dump-log on runnel's segment: valid batches, offsets contiguous, counts right",
         show(r))
    T.ok([(rec[1], rec[2], rec[3]) for rec in recs] ==
         [(key, value, ["h%d" % (i % 2)]) for i, (key, value) in enumerate(first + second)],
         "kafka-dump-log shows every record's key, value and header key", show(r))
    # The second producer run starts a batch of its own, at the offset after the first's.
    T.ok(any(b[0] == len(first) for b in batches),
         "kafka-dump-log shows a batch starting at offset %d" % len(first), show(r))
    out = os.environ.get("RN_TOOLS_DUMP_OUT")
    if out:
        with open(out, "w") as f:
            f.write(normalise_dump(r[1]))
    return seg


def check_dump_after_stop(k, broker, topic):
    """After a clean stop, runneld has trimmed the offset index and written the time index's
    last entry, as Kafka does when it closes a segment; kafka-dump-log reads both and the
    producer snapshot, and its consistency checks find nothing."""
    rc = broker.stop()
    T.ok(rc == 0, "runneld stops cleanly (exit %r)" % rc, broker.log_text())
    pdir = os.path.join(broker.data, topic + "-0")
    files = sorted(os.listdir(pdir))
    idx = [os.path.join(pdir, f) for f in files if f.endswith((".index", ".timeindex"))]
    snaps = [os.path.join(pdir, f) for f in files if f.endswith(".snapshot")]
    r = k.run("dump", ["--files", ",".join(idx)], bootstrap=False)
    entries = re.findall(r"^timestamp: (\d+) offset: (\d+)$", r[1], re.M)
    T.ok(r[0] == 0 and len(idx) == 2 and "mismatch" not in r[1] + r[2] and
         len(entries) == 1 and entries[0][1] == str(len(DUMP_FIRST) + len(DUMP_SECOND) - 1) and
         "Exception" not in r[2],
         "kafka-dump-log on runnel's offset and time index: consistent with the segment",
         show(r) + "\nfiles: %r" % files)
    r = k.run("dump", ["--files", ",".join(snaps)], bootstrap=False)
    T.ok(r[0] == 0 and snaps and re.search(r"producerId: \d+ producerEpoch: \d+", r[1]) and
         "Exception" not in r[2],
         "kafka-dump-log reads runnel's producer snapshot", show(r) + "\nfiles: %r" % files)


DUMP_FIRST = [("a%d" % i, "value-%d" % i) for i in range(5)]
DUMP_SECOND = [("b%d" % i, "more-%d" % i) for i in range(3)]


def produce_for_dump(k, topic):
    r = k.run("topics", ["--create", "--topic", topic, "--partitions", "1",
                         "--replication-factor", "1"])
    T.ok(r[0] == 0, "kafka-topics --create %s (1 partition)" % topic, show(r))
    n = 0
    for recs in (DUMP_FIRST, DUMP_SECOND):
        text = ""
        for key, value in recs:
            text += line(key, value, [("h%d" % (n % 2), "x")]) + "\n"
            n += 1
        r = k.run("producer", ["--topic", topic] + PRODUCER_PROPS, stdin=text)
        T.ok(r[0] == 0, "kafka-console-producer: %d records for kafka-dump-log" % len(recs),
             show(r))


def check_delete(k, topic):
    r = k.run("topics", ["--delete", "--topic", topic])
    T.ok(r[0] == 0, "kafka-topics --delete", show(r))
    # Deletion completes asynchronously in Kafka; give the list a few tries.
    for _ in range(10):
        r = k.run("topics", ["--list"])
        if r[0] == 0 and topic not in r[1].split():
            break
        time.sleep(0.5)
    T.ok(r[0] == 0 and topic not in r[1].split(), "kafka-topics --list no longer shows it",
         show(r))


def run_version(version):
    libs = os.path.join(CACHE, version, "libs")
    if not os.path.exists(os.path.join(libs, ".complete")) or not shutil.which("java"):
        T.ok(True, "Kafka %s tools # SKIP jars absent (scripts/deps.sh fetches them into %s)"
             % (version, libs))
        return
    workdir = tempfile.mkdtemp(prefix="rn-kafka-tools-")
    T.cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    ref = os.environ.get("RN_TOOLS_BOOTSTRAP")
    broker = None
    if ref:
        bootstrap, data_dir = ref, os.environ.get("RN_TOOLS_DATA_DIR")
    else:
        broker = D.Broker()
        T.cleanups.append(broker.cleanup)
        bootstrap, data_dir = broker.bootstrap, broker.data
    T.diag("Kafka %s tools against %s" % (version, bootstrap))
    k = Tools(workdir, bootstrap, version)
    # Against one reference broker the versions share it: names of their own.
    v = version.replace(".", "")
    topics, data, dump, group = ("tools-topics-" + v, "tools-data-" + v, "tools-dump-" + v,
                                 "tools-group-" + v)

    T.step("kafka-topics", check_topics, k, topics)
    got = T.step("console producer and consumer", check_produce_consume, k, data, group)
    if got:
        per_part = T.step("kafka-consumer-groups", check_groups, k, data, group, got)
        if per_part is not None:
            T.step("kafka-get-offsets", check_offsets, k, data, per_part)
    T.step("kafka-configs", check_configs, k, data)
    T.step("produce for kafka-dump-log", produce_for_dump, k, dump)
    if data_dir:
        T.step("kafka-dump-log", check_dump, k, dump, data_dir, DUMP_FIRST, DUMP_SECOND)
    T.step("kafka-topics --delete", check_delete, k, topics)
    if broker:
        alive = broker.proc is not None and broker.proc.poll() is None
        T.ok(alive, "runneld still running", None if alive else broker.log_text())
        T.step("kafka-dump-log after a clean stop", check_dump_after_stop, k, broker, dump)


def main():
    for version in VERSIONS:
        run_version(version)
    T.done()


main()
