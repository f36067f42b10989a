#!/usr/bin/env python3
"""Kafka Connect and Debezium end to end: a MariaDB database captured into runneld and read
by a kafka-python consumer group, with the FileStream connectors beside it.

- a Kafka Connect distributed worker (connect-runtime, tests/interop/connect/pom.xml; jars
  from scripts/deps.sh in ~/.cache/runnel/connect/libs) keeps its config, offset and status
  topics on the broker, and they must be compacted;
- the FileStream source connector sends the lines of a file to a topic and the FileStream
  sink connector writes that topic to another file;
- Debezium's MariaDB connector (3.5.0.Final) captures a private mariadbd (Debian's
  mariadb-server 10.11, run by this test in a temporary datadir as the current user, binlog
  in ROW format): the rows already in an `orders` table (snapshot), then inserts, updates and
  deletes (binlog);
- a kafka-python consumer group (group_id 'my-group') reads the change events and commits;
- the worker is stopped while the database changes and lines are added, and started again:
  the events and lines of the gap arrive, and nothing is lost or captured twice (the topics
  hold each event exactly once; the group reads only the new ones).

--broker runneld (default): one runneld. --broker kafka: Apache Kafka 3.9 (scripts/kafka-ref.sh,
KAFKA_REF_VERSION 3.9.1) in its place, to check the test itself. --broker cluster: three
runneld nodes (replication factor 3 everywhere, min.insync.replicas 2), and while rows are
inserted one by one, the node leading the change topic is killed (SIGKILL): every row's event
must still reach the consumer group, and the killed node rejoins.

Skipped when java, the Connect jars or mariadbd are missing.
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_common as CC  # noqa: E402
import datapath_common as D  # noqa: E402
from rn_testlib import SRC, free_port  # noqa: E402

from confluent_kafka.admin import AdminClient, ConfigResource  # noqa: E402

CONNECT_LIBS = os.path.join(os.environ.get("CONNECT_CACHE") or
                            os.path.expanduser("~/.cache/runnel/connect"), "libs")
KAFKA_VERSION = "3.9.1"
KAFKA_REF = os.path.join(SRC, "scripts", "kafka-ref.sh")
KAFKA_LIBS = os.path.join(os.environ.get("KAFKA_REF_CACHE") or
                          os.path.expanduser("~/.cache/runnel/kafka-ref"), KAFKA_VERSION, "libs")
MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))
INSTALL_DB = shutil.which("mariadb-install-db")
MARIADB = shutil.which("mariadb")

CHANGES = "shop.shop.orders"  # Debezium's topic: <topic.prefix>.<database>.<table>
LINES = "rn-file-lines"
INTERNAL = ("rn-connect-configs", "rn-connect-offsets", "rn-connect-status")
GROUP = "my-group"

T = None


def now():
    return time.monotonic()


def wait_for(pred, secs, step=0.3):
    deadline = now() + secs
    while True:
        v = pred()
        if v or now() >= deadline:
            return v
        time.sleep(step)


# ---- brokers ------------------------------------------------------------------------------------

class OneRunneld:
    rf = 1

    def __init__(self, workdir):
        self.b = D.Broker()
        T.cleanups.append(self.b.cleanup)
        self.bootstrap = self.b.bootstrap

    def finish(self):
        self.b.finish(T)


class OneKafka:
    rf = 1

    def __init__(self, workdir):
        ports = CC.free_ports(1)
        self.port = ports[0]
        self.env = dict(os.environ, KAFKA_REF_VERSION=KAFKA_VERSION, TMPDIR=workdir,
                        KAFKA_REF_HEAP="512m")
        self.bootstrap = "127.0.0.1:%d" % self.port
        T.cleanups.append(self.stop)
        r = subprocess.run(["bash", KAFKA_REF, "start", str(self.port)], env=self.env,
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError("Kafka did not start: " + r.stderr[-2000:])

    def stop(self):
        subprocess.run(["bash", KAFKA_REF, "stop", str(self.port)], env=self.env,
                       capture_output=True, timeout=60)

    def finish(self):
        pass


class ThreeRunneld:
    rf = 3

    def __init__(self, workdir):
        ports = CC.free_ports(3, stride=2)
        spec = ",".join("%d@127.0.0.1:%d" % (i + 1, ports[i]) for i in range(3))
        flags = ["--broker.session.timeout.ms", "6000", "--default.replication.factor", "3",
                 "--min.insync.replicas", "2"]
        self.nodes = [CC.Node(i + 1, ports[i], spec, extra=flags, wait=False) for i in range(3)]
        for n in self.nodes:
            T.cleanups.append(n.cleanup)
        for n in self.nodes:
            n.listening()
        self.bootstrap = ",".join(n.bootstrap for n in self.nodes)

    def finish(self):
        for n in self.nodes:
            if n.proc is not None:
                rc = n.stop()
                T.ok(rc == 0, "node %d stops cleanly" % n.node_id,
                     None if rc == 0 else n.log_text())


# ---- MariaDB ------------------------------------------------------------------------------------

class MariaDB:
    """A private mariadbd: its own datadir, socket and loopback port, run as this user."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "mariadb")
        self.datadir = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mariadbd.sock")
        self.port = free_port()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        os.makedirs(self.dir)
        r = subprocess.run([INSTALL_DB, "--no-defaults", "--datadir=" + self.datadir,
                            "--user=" + self.user, "--auth-root-authentication-method=normal",
                            "--skip-test-db"], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db: " + r.stdout[-1500:] + r.stderr[-1500:])
        self.log = open(os.path.join(self.dir, "mariadbd.log"), "ab")
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", "--datadir=" + self.datadir, "--socket=" + self.sock,
             "--port=%d" % self.port, "--bind-address=127.0.0.1", "--user=" + self.user,
             "--pid-file=" + os.path.join(self.dir, "mariadbd.pid"), "--skip-name-resolve",
             "--log-bin=" + os.path.join(self.dir, "binlog"), "--binlog-format=ROW",
             "--binlog-row-image=FULL", "--server-id=1", "--innodb-buffer-pool-size=32M",
             "--log-error=" + os.path.join(self.dir, "error.log")],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=D._die_with_parent)
        T.cleanups.insert(0, self.stop)  # before the broker's
        if not wait_for(lambda: self.proc.poll() is not None or self.ping(), 60):
            raise RuntimeError("mariadbd did not start: " + self.error_log())
        if self.proc.poll() is not None:
            raise RuntimeError("mariadbd exited: " + self.error_log())

    def ping(self):
        try:
            self.sql("SELECT 1")
            return True
        except RuntimeError:
            return False

    def sql(self, stmt):
        r = subprocess.run([MARIADB, "--no-defaults", "-S", self.sock, "-u", "root", "-N", "-B",
                            "-e", stmt], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (stmt, r.stderr.strip()))
        return r.stdout

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- the Connect worker -------------------------------------------------------------------------

LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


class Worker:
    def __init__(self, workdir, bootstrap, rf):
        self.dir = os.path.join(workdir, "connect")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.logfile = os.path.join(self.dir, "connect.log")
        with open(os.path.join(self.dir, "log4j2.properties"), "w") as f:
            f.write(LOG4J2.format(log=self.logfile))
        props = {
            "bootstrap.servers": bootstrap,
            "group.id": "rn-connect",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "config.storage.topic": INTERNAL[0],
            "offset.storage.topic": INTERNAL[1],
            "status.storage.topic": INTERNAL[2],
            "config.storage.replication.factor": str(rf),
            "offset.storage.replication.factor": str(rf),
            "status.storage.replication.factor": str(rf),
            "offset.storage.partitions": "5",
            "status.storage.partitions": "3",
            "offset.flush.interval.ms": "1000",
            "listeners": self.url,
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            # Every plugin here has ServiceLoader manifests: no classpath scan at start.
            "plugin.discovery": "service_load",
        }
        self.props = os.path.join(self.dir, "worker.properties")
        with open(self.props, "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in props.items()))
        self.proc = None
        T.cleanups.insert(0, self.stop)  # first of all

    def start(self):
        t0 = now()
        self.log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(
            ["java", "-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
             "-Djava.awt.headless=true",
             "-Dlog4j2.configurationFile=" + os.path.join(self.dir, "log4j2.properties"),
             "-cp", CONNECT_LIBS + "/*", "org.apache.kafka.connect.cli.ConnectDistributed",
             self.props], stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=D._die_with_parent)
        ok = wait_for(lambda: self.proc.poll() is not None or self.get("/connectors") is not None,
                      120, 0.5)
        ready = ok and self.proc.poll() is None
        T.ok(ready, "Connect worker up, its REST API answering (%.1f s)" % (now() - t0),
             None if ready else self.log_tail())
        return ready

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        return rc

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def get(self, path):
        try:
            code, body = self.request("GET", path)
        except OSError:
            return None
        return body if code == 200 else None

    def put_connector(self, name, config):
        code, body = self.request("PUT", "/connectors/%s/config" % name, config)
        return T.ok(code in (200, 201), "connector %s configured (HTTP %d)" % (name, code),
                    str(body)[-2000:])

    def running(self, name):
        st = self.get("/connectors/%s/status" % name)
        return bool(st and st["connector"]["state"] == "RUNNING" and st["tasks"] and
                    all(t["state"] == "RUNNING" for t in st["tasks"]))

    def wait_running(self, names, secs=90):
        t0 = now()
        ok = wait_for(lambda: all(self.running(n) for n in names), secs, 0.5)
        states = {n: self.get("/connectors/%s/status" % n) for n in names}
        return T.ok(ok, "connectors %s and their tasks RUNNING (%.1f s)"
                    % (", ".join(names), now() - t0), json.dumps(states)[-3000:] + "\n" +
                    self.log_tail())

    def log_tail(self):
        try:
            with open(self.logfile, errors="replace") as f:
                lines = f.read().splitlines()
            errs = [ln for ln in lines if " ERROR " in ln or " WARN " in ln]
            return "\n".join(errs[-15:] + ["..."] + lines[-15:])
        except OSError:
            return ""

    def log_text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


# ---- connectors and events ----------------------------------------------------------------------

def file_source(path, rf):
    return {"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "tasks.max": "1", "file": path, "topic": LINES,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "topic.creation.default.replication.factor": str(rf),
            "topic.creation.default.partitions": "1"}


def file_sink(path):
    return {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "tasks.max": "1", "file": path, "topics": LINES,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter"}


def debezium(db, bootstrap, rf):
    return {"connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
            "tasks.max": "1",
            "database.hostname": "127.0.0.1", "database.port": str(db.port),
            "database.user": "dbz", "database.password": "dbz-secret",
            "database.server.id": "5401", "database.ssl.mode": "disable",
            "topic.prefix": "shop", "database.include.list": "shop",
            "table.include.list": "shop.orders",
            "schema.history.internal.kafka.bootstrap.servers": bootstrap,
            "schema.history.internal.kafka.topic": "schema-history.shop",
            "topic.creation.default.replication.factor": str(rf),
            "topic.creation.default.partitions": "1"}


def setup_database(db):
    db.sql("CREATE DATABASE shop; "
           "CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(64) NOT NULL, "
           "qty INT NOT NULL); "
           "CREATE USER 'dbz'@'%' IDENTIFIED BY 'dbz-secret'; "
           "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, "
           "LOCK TABLES ON *.* TO 'dbz'@'%'; FLUSH PRIVILEGES")


def event_of(msg):
    """A change event as (op, id before, row after) or ('tombstone', id)."""
    key = json.loads(msg.key) if msg.key else None
    if msg.value is None:
        return ("tombstone", key and key.get("id"))
    v = json.loads(msg.value)
    before, after = v.get("before"), v.get("after")
    return (v["op"], before and before["id"],
            after and (after["id"], after["item"], after["qty"]))


def read_group(bootstrap, want_n, secs, quiet=3.0):
    """kafka-python, group 'my-group': read change events until want_n arrived and nothing
    more came for `quiet` seconds (or secs passed), committing as it goes."""
    import kafka  # kafka-python (Debian's python3-kafka)
    c = kafka.KafkaConsumer(CHANGES, bootstrap_servers=bootstrap.split(","), group_id=GROUP,
                            auto_offset_reset="earliest", enable_auto_commit=False,
                            consumer_timeout_ms=1000)
    got = []
    deadline = now() + secs
    last = now()
    while now() < deadline:
        batch = c.poll(timeout_ms=500)
        n = 0
        for recs in batch.values():
            for m in recs:
                got.append(event_of(m))
                n += 1
        if n:
            c.commit()
            last = now()
        elif len(got) >= want_n and now() - last >= quiet:
            break
    c.close()
    return got


def read_topic(bootstrap, topic, secs=20):
    """Every record of partition 0 of topic from offset 0 (a plain consumer, no group)."""
    import kafka
    c = kafka.KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False,
                            group_id=None, consumer_timeout_ms=1000)
    tp = kafka.TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    end = c.end_offsets([tp])[tp]
    got = []
    deadline = now() + secs
    while now() < deadline and c.position(tp) < end:
        for recs in c.poll(timeout_ms=500).values():
            got.extend(recs)
    c.close()
    return got


def compacted(bootstrap, topics):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    out = {}
    for res, fut in admin.describe_configs([ConfigResource("topic", t) for t in topics]).items():
        out[res.name] = fut.result(15)["cleanup.policy"].value
    return out


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


# ---- the pipeline -------------------------------------------------------------------------------

def pipeline(kind, workdir):
    t_start = now()
    broker = {"runneld": OneRunneld, "kafka": OneKafka, "cluster": ThreeRunneld}[kind](workdir)
    bootstrap, rf = broker.bootstrap, broker.rf
    T.diag("broker: %s at %s" % (kind, bootstrap))
    db = MariaDB(workdir)
    T.ok(True, "mariadbd %s up on 127.0.0.1:%d (binlog ROW)"
         % (db.sql("SELECT VERSION()").strip(), db.port))
    setup_database(db)
    db.sql("INSERT INTO shop.orders VALUES (1, 'apple', 3), (2, 'pear', 5)")
    src, sink = os.path.join(workdir, "lines-in.txt"), os.path.join(workdir, "lines-out.txt")
    with open(src, "w") as f:
        f.write("".join("line %d\n" % i for i in range(1, 6)))

    w = Worker(workdir, bootstrap, rf)
    if not w.start():
        return
    pol = T.step("describe configs", compacted, bootstrap, INTERNAL)
    T.ok(pol == {t: "compact" for t in INTERNAL},
         "Connect's config, offset and status topics are compacted", repr(pol))
    w.put_connector("file-source", file_source(src, rf))
    w.put_connector("file-sink", file_sink(sink))
    w.put_connector("orders-cdc", debezium(db, bootstrap, rf))
    if not w.wait_running(["file-source", "file-sink", "orders-cdc"]):
        return
    lines = wait_for(lambda: read_lines(sink) if len(read_lines(sink)) >= 5 else None, 60)
    T.ok(lines == ["line %d" % i for i in range(1, 6)],
         "FileStream source -> topic -> FileStream sink: the 5 lines", repr(read_lines(sink)))

    # The snapshot first (Debezium reports RUNNING before it reads the table), then the
    # binlog: my-group commits, closes and comes back in between.
    snap = [("r", None, (1, "apple", 3)), ("r", None, (2, "pear", 5))]
    t0 = now()
    got0 = read_group(bootstrap, len(snap), 90, quiet=1.0)
    T.ok(got0 == snap, "my-group reads the snapshot of the 2 rows already there (%.1f s)"
         % (now() - t0), "got %r\nwant %r\n%s" % (got0, snap, w.log_tail()))
    db.sql("INSERT INTO shop.orders VALUES (3, 'plum', 1); "
           "INSERT INTO shop.orders VALUES (4, 'fig', 2); "
           "UPDATE shop.orders SET qty = 30 WHERE id = 1; "
           "DELETE FROM shop.orders WHERE id = 2")
    want1 = [("c", None, (3, "plum", 1)), ("c", None, (4, "fig", 2)),
             ("u", 1, (1, "apple", 30)), ("d", 2, None), ("tombstone", 2)]
    t0 = now()
    got1 = read_group(bootstrap, len(want1), 90)
    T.ok(got1 == want1, "my-group reads the insert, update and delete events "
         "(%d events, %.1f s)" % (len(got1), now() - t0), "got %r\nwant %r\n%s"
         % (got1, want1, w.log_tail()))
    want1 = snap + want1

    # The worker stops; the database and the file change meanwhile.
    t0 = now()
    rc = w.stop()
    T.ok(rc in (0, 143), "Connect worker stops on SIGTERM (exit %r, %.1f s)" % (rc, now() - t0))
    db.sql("INSERT INTO shop.orders VALUES (5, 'kiwi', 7); "
           "UPDATE shop.orders SET item = 'plums', qty = 2 WHERE id = 3; "
           "DELETE FROM shop.orders WHERE id = 4")
    with open(src, "a") as f:
        f.write("".join("line %d\n" % i for i in range(6, 9)))
    if not w.start() or not w.wait_running(["file-source", "file-sink", "orders-cdc"]):
        return
    want2 = [("c", None, (5, "kiwi", 7)), ("u", 3, (3, "plums", 2)), ("d", 4, None),
             ("tombstone", 4)]
    t0 = now()
    got2 = read_group(bootstrap, len(want2), 90, quiet=5.0)
    T.ok(got2 == want2, "after the worker's restart my-group reads just the changes made while "
         "it was down (%d events, %.1f s)" % (len(got2), now() - t0),
         "got %r\nwant %r\n%s" % (got2, want2, w.log_tail()))
    lines = wait_for(lambda: read_lines(sink) if len(read_lines(sink)) >= 8 else None, 60)
    time.sleep(2)
    T.ok(read_lines(sink) == ["line %d" % i for i in range(1, 9)],
         "the FileStream pair copied the 3 lines added meanwhile, none twice",
         repr(read_lines(sink)))
    all_events = [event_of(m) for m in T.step("read the change topic", read_topic, bootstrap,
                                                 CHANGES) or []]
    T.ok(all_events == want1 + want2, "the change topic holds every event exactly once "
         "(%d)" % len(all_events), repr(all_events))
    if kind == "cluster":
        rfs = {t: [len(p[1]) for p in (CC.partitions(broker.nodes[0], t) or {}).values()]
               for t in INTERNAL + (CHANGES, LINES, "schema-history.shop")}
        T.ok(all(v and set(v) == {3} for v in rfs.values()),
             "Connect's, Debezium's and the data topics have 3 replicas", repr(rfs))
        T.step("a node killed mid-stream", kill_mid_stream, broker, db, bootstrap, w)
    rc = w.stop()
    T.ok(rc in (0, 143), "Connect worker stops (exit %r)" % rc)
    T.diag("%s pipeline: %.1f s" % (kind, now() - t_start))
    broker.finish()


def kill_mid_stream(broker, db, bootstrap, w):
    """Rows inserted one by one while the node leading the change topic is SIGKILLed: every
    row's event reaches my-group."""
    n, first = 150, 100
    leader = CC.wait_for(lambda: (CC.partitions(broker.nodes[0], CHANGES) or [None])[0], 10)
    T.diag("%s partition 0: leader, replicas = %r" % (CHANGES, leader))
    victim = [x for x in broker.nodes if x.node_id == leader[0]][0]
    done = []

    def insert():
        for i in range(first, first + n):
            for _ in range(50):
                try:
                    db.sql("INSERT INTO shop.orders VALUES (%d, 'row-%d', %d)" % (i, i, i))
                    break
                except RuntimeError:
                    time.sleep(0.1)
            time.sleep(0.04)
        done.append(now())

    # my-group reads all along, through the kill.
    read = []
    reader = threading.Thread(target=lambda: read.append(read_group(bootstrap, n, 180, 8.0)))
    reader.start()
    th = threading.Thread(target=insert)
    t0 = now()
    th.start()
    time.sleep(2.0)
    victim.kill()
    t_kill = now()
    T.diag("killed node %d (SIGKILL) %.1f s into the stream" % (victim.node_id, t_kill - t0))
    th.join(120)
    T.diag("all %d inserts made %.1f s after the kill" % (n, done[0] - t_kill if done else -1))
    want = [("c", None, (i, "row-%d" % i, i)) for i in range(first, first + n)]
    reader.join(200)
    got = read[0] if read else []
    ids = [e[2][0] for e in got if e[0] == "c"]
    lost = sorted(set(range(first, first + n)) - set(ids))
    dup = len(ids) - len(set(ids))
    T.diag("my-group got %d events after the kill (%d distinct rows, %d duplicates, %d lost), "
           "last %.1f s after the kill" % (len(got), len(set(ids)), dup, len(lost),
                                           now() - t_kill))
    T.ok(not lost, "node %d killed mid-stream: every one of the %d rows reached my-group"
         % (victim.node_id, n), "lost %r\n%s" % (lost[:20], w.log_tail()))
    T.ok(sorted(set(ids)) == [i for i in range(first, first + n)] and
         all(e in want for e in got), "the events are the rows inserted", repr(got[:10]))
    T.ok(dup == 0, "no event twice in my-group (%d duplicates)" % dup)
    all_ids = [event_of(m) for m in read_topic(bootstrap, CHANGES)]
    tdup = len([e for e in all_ids if e[0] == "c"]) - len(set(e for e in all_ids if e[0] == "c"))
    T.ok(tdup == 0, "the change topic holds each row's event once (%d duplicates)" % tdup)
    victim.start()
    T.ok(CC.wait_for(lambda: len((CC.partitions(victim, CHANGES) or [[0, [], []]])[0][2]) == 3
                     if CC.partitions(victim, CHANGES) else False, 40),
         "node %d restarted rejoins the change topic's ISR" % victim.node_id,
         repr(CC.partitions(victim, CHANGES)))


def main():
    global T
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", choices=("runneld", "kafka", "cluster"),
                    default=os.environ.get("RN_CONNECT_BROKER", "runneld"))
    args = ap.parse_args()
    T = D.Tap("test_connect (%s)" % args.broker, timeout_s=420)
    missing = [what for what, ok in (
        ("java", shutil.which("java")),
        ("Connect jars (scripts/deps.sh: %s)" % CONNECT_LIBS,
         os.path.exists(os.path.join(CONNECT_LIBS, ".complete"))),
        ("mariadbd, mariadb-install-db, mariadb (Debian's mariadb-server)",
         MARIADBD and INSTALL_DB and MARIADB),
        ("Kafka %s jars" % KAFKA_VERSION, args.broker != "kafka" or
         os.path.exists(os.path.join(KAFKA_LIBS, ".complete")))) if not ok]
    if args.broker == "runneld" or args.broker == "cluster":
        if not os.path.exists(D.RUNNELD):
            missing.append("runneld at " + D.RUNNELD)
    if missing:
        T.ok(True, "# SKIP missing: " + "; ".join(missing))
        T.done()
    signal.signal(signal.SIGTERM, lambda s, f: (T.ok(False, "terminated"), T.done()))
    workdir = tempfile.mkdtemp(prefix="rn-connect-")
    keep = os.environ.get("RN_CONNECT_KEEP") == "1"
    T.cleanups.append(lambda: keep or shutil.rmtree(workdir, ignore_errors=True))
    T.diag("work dir %s" % workdir)
    T.step("pipeline", pipeline, args.broker, workdir)
    T.done()


main()
