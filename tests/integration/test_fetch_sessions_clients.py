"""Fetch sessions (KIP-227) with real consumers of many partitions.

One runneld with 200-partition topics and its metrics endpoint:
  - Kafka's Java consumer (kafka-console-consumer of the tools jars from scripts/deps.sh,
    each version present) opens a fetch session and then fetches incrementally: it reads
    every record, including records produced while it is polling (incremental long polls
    woken by appends), and the metrics show a session created and incremental fetches served;
  - librdkafka (confluent-kafka) sends full fetches without a session (epoch -1: it does not
    implement KIP-227) and reads every record all the same.
Without java or the jars the Java part skips.
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

from datapath_common import Broker, Tap, free_port
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

NPART = 200
PER_PART = 5
LATE = 300  # records produced while the Java consumer polls
CACHE = os.environ.get("KAFKA_TOOLS_CACHE") or os.path.expanduser("~/.cache/runnel/kafka-tools")
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
LOG4J = "log4j.rootLogger=WARN, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\n" \
        "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n" \
        "log4j.appender.stderr.Target=System.err\n"


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(runnel_fetch_\w+) (\S+)$", text, re.M)}


def produce(bootstrap, topic, start, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(start, start + n):
        p.produce(topic, value=b"v%d" % i, partition=i % NPART)
    p.flush(30)


def create_topic(t, bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})
    f = a.create_topics([NewTopic(topic, NPART, 1)])[topic]
    f.result(30)


def check_java(t, broker, mport, version, workdir):
    libs = os.path.join(CACHE, version, "libs")
    if not os.path.exists(os.path.join(libs, ".complete")) or not shutil.which("java"):
        t.ok(True, "Java consumer %s # SKIP jars or java absent (scripts/deps.sh)" % version)
        return
    topic = "sess-java-" + version.replace(".", "")
    create_topic(t, broker.bootstrap, topic)
    produce(broker.bootstrap, topic, 0, NPART * PER_PART)
    before = scrape(mport)
    log4j = os.path.join(workdir, "log4j.properties")
    with open(log4j, "w") as f:
        f.write(LOG4J)
    total = NPART * PER_PART + LATE
    cmd = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Dlog4j.configuration=file:" + log4j,
           "-cp", libs + "/*", CONSOLE_CONSUMER, "--bootstrap-server", broker.bootstrap,
           "--topic", topic, "--from-beginning", "--group", "g-" + topic,
           "--max-messages", str(total), "--timeout-ms", "60000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def late():
        # Once the consumer holds its session and idles in incremental long polls.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = scrape(mport)
            if m.get("runnel_fetch_incremental_total", 0) - \
                    before.get("runnel_fetch_incremental_total", 0) >= 5:
                break
            time.sleep(0.2)
        for i in range(LATE // 10):
            produce(broker.bootstrap, topic, NPART * PER_PART + i * 10, 10)
            time.sleep(0.05)
    th = threading.Thread(target=late)
    th.start()
    try:
        out, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    th.join()
    got = sorted(ln for ln in out.splitlines() if ln.startswith("v"))
    want = sorted("v%d" % i for i in range(total))
    t.ok(proc.returncode == 0 and got == want,
         "Kafka %s consumer reads all %d records of %d partitions, %d of them produced while it "
         "polls" % (version, total, NPART, LATE),
         "exit %r, %d records, %d distinct\n%s" % (proc.returncode, len(got), len(set(got)),
                                                   err[-3000:]))
    after = scrape(mport)
    created = after["runnel_fetch_sessions_created_total"] - \
        before.get("runnel_fetch_sessions_created_total", 0)
    incr = after["runnel_fetch_incremental_total"] - \
        before.get("runnel_fetch_incremental_total", 0)
    t.ok(created >= 1 and incr >= 10,
         "Kafka %s consumer fetched in a session: %d created, %d incremental fetches"
         % (version, created, incr))


def check_librdkafka(t, broker, mport):
    topic = "sess-rdkafka"
    create_topic(t, broker.bootstrap, topic)
    n = NPART * PER_PART
    produce(broker.bootstrap, topic, 0, n)
    before = scrape(mport)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-rdkafka",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = set()
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        for m in c.consume(500, 1.0):
            if m.error() is None:
                got.add(m.value())
    c.close()
    t.eq(len(got), n, "librdkafka reads all %d records of %d partitions" % (n, NPART))
    after = scrape(mport)
    t.eq(after["runnel_fetch_sessions_created_total"],
         before.get("runnel_fetch_sessions_created_total", 0),
         "librdkafka asks for no session (session epoch -1): none created")


def main():
    t = Tap("fetch-sessions-clients", timeout_s=600)
    mport = free_port()
    broker = Broker(["--metrics.listen", "127.0.0.1:%d" % mport])
    t.cleanups.append(broker.cleanup)
    workdir = tempfile.mkdtemp(prefix="rn-fetchsess-")
    t.cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    t.step("librdkafka", check_librdkafka, t, broker, mport)
    for version in os.environ.get("RN_TOOLS_VERSIONS", "3.9.1 4.1.1").split():
        t.step("Java consumer " + version, check_java, t, broker, mport, version, workdir)
    broker.finish(t)
    t.done()


if __name__ == "__main__":
    main()
