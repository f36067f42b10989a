#!/usr/bin/env python3
"""TLS listeners with real clients. A CA, a node certificate and client certificates are made
with the openssl command (scripts/tls-certs.sh, and `openssl ca` for an expired one); runneld
serves PLAINTEXT on one port and SSL (ssl.client.auth=requested) on another.

  - kcat, confluent-kafka, kafkajs and Kafka's Java tools (client properties files) produce
    and consume over SSL; with a client certificate the connection's principal is the
    certificate's subject in Kafka's form, User:CN=alice,OU=eng,O=acme (runneld's
    debug line at the end of each handshake), without one User:ANONYMOUS;
  - an untrusted and an expired client certificate are refused in the handshake (the client
    reports the TLS alert);
  - a plaintext client on the SSL port is closed without harm to the others;
  - SIGHUP reloads the certificate: new connections get the new one, an open connection
    keeps working, and a broken file is logged and the old certificate kept;
  - start-up refuses TLS older than 1.2 naming the setting;
  - three nodes whose only listener is SSL with ssl.client.auth=required form a cluster and
    replicate a topic (their own connections are TLS with the node certificate).
"""

import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_common as C  # noqa: E402
import datapath_common as D  # noqa: E402
from rn_testlib import SRC  # noqa: E402

from confluent_kafka import Consumer, Producer  # noqa: E402

T = D.Tap("test_tls", timeout_s=600)
work = tempfile.mkdtemp(prefix="rn-tls-")
T.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
CERTS = os.path.join(work, "certs")
TLS_CERTS = os.path.join(SRC, "scripts", "tls-certs.sh")
ALICE = "User:CN=alice,OU=eng,O=acme"


def sh(*args):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def path(name):
    return os.path.join(CERTS, name)


def make_certs():
    sh("bash", TLS_CERTS, "ca", CERTS)
    sh("bash", TLS_CERTS, "server", CERTS, "node", "localhost", "127.0.0.1")
    sh("bash", TLS_CERTS, "client", CERTS, "alice", "/O=acme/OU=eng/CN=alice")
    # A second node certificate, for the reload.
    sh("bash", TLS_CERTS, "server", CERTS, "node2", "localhost", "127.0.0.1")
    # Untrusted: a self-signed certificate no CA of ours vouches for.
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
       "/CN=mallory", "-keyout", path("evil.key"), "-out", path("evil.crt"))
    # Expired: signed by our CA, valid only in 2020.
    with open(path("ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s\nnew_certs_dir = %s\nserial = %s\n"
                "default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n"
                % (path("index.txt"), CERTS, path("serial")))
    open(path("index.txt"), "w").close()
    with open(path("serial"), "w") as f:
        f.write("1000\n")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=old", "-keyout",
       path("old.key"), "-out", path("old.csr"))
    sh("openssl", "ca", "-batch", "-config", path("ca.cnf"), "-cert", path("ca.pem"), "-keyfile",
       path("ca.key"), "-in", path("old.csr"), "-out", path("old.crt"), "-notext",
       "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")


def ssl_ctx(cert=None):
    ctx = ssl.create_default_context(cafile=path("ca.pem"))
    if cert:
        ctx.load_cert_chain(path(cert))
    return ctx


def api_versions_frame(corr):
    client = b"tls-test"
    body = struct.pack(">hhih", 18, 0, corr, len(client)) + client
    return struct.pack(">i", len(body)) + body


def recv_frame(sock):
    buf = b""
    while len(buf) < 4:
        chunk = sock.recv(4 - len(buf))
        if not chunk:
            return None
        buf += chunk
    size = struct.unpack(">i", buf)[0]
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def tls_call(sock, corr):
    """ApiVersions v0 on an open socket: the correlation id echoed and error 0."""
    sock.sendall(api_versions_frame(corr))
    data = recv_frame(sock)
    return data is not None and struct.unpack(">ih", data[:6]) == (corr, 0)


class TlsBroker(D.Broker):
    """D.Broker (PLAINTEXT on self.port) with an SSL listener on self.tls too."""

    def start(self):
        if not hasattr(self, "tls"):
            self.tls = D.free_port()
            self.extra = self.extra + [
                "--listeners",
                "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (self.port, self.tls)]
        super().start()


class Single:
    def __init__(self):
        self.b = TlsBroker([
            "--ssl.keystore.location", path("node.pem"),
            "--ssl.truststore.location", path("ca.pem"),
            "--ssl.client.auth", "requested", "--log.level", "debug"])
        T.cleanups.insert(0, self.b.cleanup)
        self.tls = self.b.tls
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.tls), 0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        self.boot = "127.0.0.1:%d" % self.tls

    def log(self):
        with open(os.path.join(self.b.dir, "runneld.log"), errors="replace") as f:
            return f.read()


S = None


def kcat(args, cert=True, cert_file="alice.pem", key_file=None, stdin=None):
    sec = ["-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + path("ca.pem")]
    if cert:
        sec += ["-X", "ssl.certificate.location=" + path(cert_file),
                "-X", "ssl.key.location=" + path(key_file or cert_file)]
    return subprocess.run(["kcat", "-b", S.boot] + sec + args, input=stdin, capture_output=True,
                          text=True, timeout=60)


def step_kcat():
    global S
    S = Single()
    topic = "tls-kcat"
    r = kcat(["-t", topic, "-P"], stdin="one\ntwo\nthree\n")
    T.ok(r.returncode == 0, "kcat produces over SSL with a client certificate", r.stderr)
    r = kcat(["-t", topic, "-C", "-e", "-o", "beginning", "-q"], cert=False)
    T.eq(r.stdout.split(), ["one", "two", "three"], "kcat consumes them without one")
    text = S.log()
    T.ok("principal %s" % ALICE in text, "alice's principal is her certificate's subject",
         text[-1500:])
    T.ok("principal User:ANONYMOUS" in text, "no certificate: User:ANONYMOUS")
    r = kcat(["-L", "-J"], cert=False)
    brokers = json.loads(r.stdout)["brokers"] if r.returncode == 0 else r.stderr
    T.eq([b["name"] for b in brokers] if isinstance(brokers, list) else brokers, [S.boot],
         "Metadata over SSL names the SSL listener")


def step_refusals():
    for name, cert, key, alert in (("untrusted", "evil.crt", "evil.key", "unknown ca"),
                                   ("expired", "old.crt", "old.key", "expired")):
        r = kcat(["-L", "-m", "5"], cert_file=cert, key_file=key)
        T.ok(r.returncode != 0 and "SSL" in r.stderr and alert in r.stderr,
             "an %s client certificate is refused in the handshake (%s)" % (name, alert),
             r.stderr[-800:])
    # A plaintext Kafka client on the SSL port: closed, nothing else harmed.
    ok_sock = ssl_ctx("alice.pem").wrap_socket(
        socket.create_connection(("127.0.0.1", S.tls), 10), server_hostname="127.0.0.1")
    plain = socket.create_connection(("127.0.0.1", S.tls), 10)
    plain.settimeout(10)
    plain.sendall(api_versions_frame(7))
    got = b""
    try:
        while True:
            chunk = plain.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    plain.close()
    T.ok(len(got) < 10, "a plaintext client on the SSL port is closed (%d bytes back)" % len(got))
    T.ok(tls_call(ok_sock, 8), "a TLS connection open meanwhile still answers")
    ok_sock.close()
    T.ok("TLS handshake failed" in S.log(), "the failed handshakes are logged")


def step_confluent():
    topic = "tls-confluent"
    conf = {"bootstrap.servers": S.boot, "security.protocol": "SSL",
            "ssl.ca.location": path("ca.pem"), "ssl.certificate.location": path("alice.pem"),
            "ssl.key.location": path("alice.pem")}
    p = Producer(dict(conf, acks="all"))
    for i in range(50):
        p.produce(topic, value=b"v%d" % i)
    T.eq(p.flush(30), 0, "confluent-kafka produces 50 records over SSL")
    c = Consumer(dict(conf, **{"group.id": "g-tls", "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got, deadline = [], time.monotonic() + 60
    while len(got) < 50 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    T.eq(got, [b"v%d" % i for i in range(50)], "a group consumes them over SSL")


KAFKAJS = r"""
const fs = require('fs');
const { Kafka, logLevel } = require(process.argv[2]);
const [, , , broker, ca, cert] = process.argv;
const kafka = new Kafka({ clientId: 'tls-kafkajs', brokers: [broker], logLevel: logLevel.ERROR,
  ssl: { ca: [fs.readFileSync(ca)], cert: fs.readFileSync(cert), key: fs.readFileSync(cert) } });
(async () => {
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: 'tls-kafkajs', messages: [{ value: 'a' }, { value: 'b' }] });
  await p.disconnect();
  const c = kafka.consumer({ groupId: 'g-tls-kafkajs' });
  await c.connect();
  await c.subscribe({ topic: 'tls-kafkajs', fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error('timeout: ' + got)), 30000);
    c.run({ eachMessage: async ({ message }) => {
      got.push(message.value.toString()); if (got.length === 2) resolve(); } });
  });
  await c.disconnect();
  console.log(JSON.stringify(got));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def step_kafkajs():
    kjs = os.path.join(SRC, "tests", "interop", "node_modules", "kafkajs")
    if not os.path.isdir(kjs) or not shutil.which("node"):
        T.diag("no kafkajs in tests/interop/node_modules or no node: kafkajs skipped")
        return
    script = os.path.join(work, "kafkajs_tls.js")
    with open(script, "w") as f:
        f.write(KAFKAJS)
    r = subprocess.run(["node", script, kjs, S.boot, path("ca.pem"), path("alice.pem")],
                       capture_output=True, text=True, timeout=90)
    T.eq(r.stdout.strip(), '["a","b"]', "kafkajs produces and consumes over SSL " + r.stderr[-500:])


def step_java():
    libs = None
    cache = os.environ.get("KAFKA_TOOLS_CACHE") or os.path.expanduser("~/.cache/runnel/kafka-tools")
    for v in ("4.1.1", "3.9.1"):
        if os.path.exists(os.path.join(cache, v, "libs", ".complete")):
            libs = os.path.join(cache, v, "libs")
            break
    if libs is None or not shutil.which("java"):
        T.diag("no Kafka tools jars (scripts/deps.sh) or no java: Java tools skipped")
        return
    props = os.path.join(work, "client-ssl.properties")
    with open(props, "w") as f:
        f.write("security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=%s\n"
                "ssl.keystore.type=PEM\nssl.keystore.location=%s\n"
                % (path("ca.pem"), path("alice.pem")))
    log4j = os.path.join(work, "log4j.properties")
    with open(log4j, "w") as f:
        f.write("log4j.rootLogger=WARN, e\nlog4j.appender.e=org.apache.log4j.ConsoleAppender\n"
                "log4j.appender.e.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.e.Target=System.err\n")

    def java(cls, args, stdin=None):
        cmd = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
               "-Dlog4j.configuration=file:" + log4j, "-cp", libs + "/*", cls,
               "--bootstrap-server", S.boot] + args
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)

    topic = "tls-java"
    r = java("org.apache.kafka.tools.TopicCommand",
             ["--command-config", props, "--create", "--topic", topic, "--partitions", "2"])
    T.ok(r.returncode == 0 and "Created topic" in r.stdout,
         "kafka-topics --create with a client properties file", r.stdout + r.stderr[-1500:])
    producer = ("org.apache.kafka.tools.ConsoleProducer" if "4.1.1" in libs
                else "kafka.tools.ConsoleProducer")
    r = java(producer, ["--producer.config", props, "--topic", topic], stdin="j1\nj2\n")
    T.ok(r.returncode == 0, "kafka-console-producer over SSL", r.stderr[-1500:])
    r = java("org.apache.kafka.tools.consumer.ConsoleConsumer",
             ["--consumer.config", props, "--topic", topic, "--from-beginning",
              "--max-messages", "2", "--timeout-ms", "30000"])
    T.eq(sorted(r.stdout.split()), ["j1", "j2"], "kafka-console-consumer over SSL " + r.stderr[-800:])


def step_reload():
    node_pem = path("node.pem")
    kept = ssl_ctx().wrap_socket(socket.create_connection(("127.0.0.1", S.tls), 10),
                                 server_hostname="127.0.0.1")
    before = kept.getpeercert()["serialNumber"]
    T.ok(tls_call(kept, 1), "a connection before the reload")
    shutil.copy(path("node2.pem"), node_pem)
    os.kill(S.b.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    after = before
    while after == before and time.monotonic() < deadline:
        time.sleep(0.1)
        s = ssl_ctx().wrap_socket(socket.create_connection(("127.0.0.1", S.tls), 10),
                                  server_hostname="127.0.0.1")
        after = s.getpeercert()["serialNumber"]
        s.close()
    T.ok(after != before, "after SIGHUP new connections get the new certificate")
    T.ok(tls_call(kept, 2), "the connection opened before it keeps working")
    with open(node_pem, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    os.kill(S.b.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "keeps its certificate" not in S.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    T.ok("keeps its certificate" in S.log(), "a broken file on SIGHUP is logged")
    s = ssl_ctx().wrap_socket(socket.create_connection(("127.0.0.1", S.tls), 10),
                              server_hostname="127.0.0.1")
    T.ok(s.getpeercert()["serialNumber"] == after and tls_call(s, 3),
         "and the certificate loaded before is kept")
    s.close()
    kept.close()
    shutil.copy(path("node2.pem"), node_pem)
    S.b.finish(T)


def step_start_errors():
    port = D.free_port()
    for flags, want in ((["--ssl.enabled.protocols", "TLSv1.1,TLSv1.2"], "ssl.enabled.protocols"),
                        (["--ssl.protocol", "TLSv1"], "ssl.protocol"),
                        ([], "ssl.keystore.location")):
        keystore = [] if want == "ssl.keystore.location" else [
            "--ssl.keystore.location", path("node.pem")]
        r = subprocess.run([D.RUNNELD, "--listeners", "SSL://127.0.0.1:%d" % port, "--data-dir",
                            os.path.join(work, "refused")] + keystore + flags,
                           capture_output=True, text=True, timeout=30)
        T.ok(r.returncode != 0 and want in r.stdout + r.stderr,
             "start-up refused naming %s" % want, r.stdout[-600:] + r.stderr[-600:])


def step_cluster():
    ports = []
    while len(ports) < 3:
        p = D.free_port()
        if p not in ports:
            ports.append(p)
    voters = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    tls = ["--ssl.keystore.location", path("node.pem"), "--ssl.truststore.location",
           path("ca.pem"), "--ssl.client.auth", "required"]
    nodes = []
    for i, p in enumerate(ports):
        n = C.Node(i + 1, p, voters, extra=["--listeners", "SSL://127.0.0.1:%d" % p] + tls,
                   wait=False)
        T.cleanups.insert(0, n.cleanup)
        nodes.append(n)
    for n in nodes:
        n.listening()
    boot = ",".join(n.bootstrap for n in nodes)
    conf = {"bootstrap.servers": boot, "security.protocol": "SSL",
            "ssl.ca.location": path("ca.pem"), "ssl.certificate.location": path("alice.pem"),
            "ssl.key.location": path("alice.pem")}
    topic = "tls-cluster"
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient(conf)
    deadline, created = time.monotonic() + 60, False
    while not created and time.monotonic() < deadline:
        try:
            admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(10)
            created = True
        except Exception as e:  # the quorum may still be electing
            created = "TOPIC_ALREADY_EXISTS" in str(e)  # an earlier try got through
            if not created:
                T.diag("create_topics: %s" % e)
                time.sleep(1)
    T.ok(created, "three SSL-only nodes form a cluster and create a 3-replica topic")
    p = Producer(dict(conf, acks="all"))
    for i in range(30):
        p.produce(topic, value=b"c%d" % i)
    T.eq(p.flush(60), 0, "acks=all produce: the followers fetched over TLS")
    c = Consumer(dict(conf, **{"group.id": "g-tls-cluster", "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got, deadline = [], time.monotonic() + 60
    while len(got) < 30 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    T.eq(got, [b"c%d" % i for i in range(30)], "and the records read back")
    isr, deadline = [], time.monotonic() + 40
    while len(isr) < 3 and time.monotonic() < deadline:
        isr = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].isrs
        time.sleep(0.5)
    T.eq(sorted(isr), [1, 2, 3], "all three replicas in sync: the followers fetch over TLS")
    for n in nodes:
        T.ok(n.alive(), "node %d still runs" % n.node_id, n.log_text())


make_certs()
T.step("kcat and principals", step_kcat)
T.step("refused certificates and a plaintext client", step_refusals)
T.step("confluent-kafka", step_confluent)
T.step("kafkajs", step_kafkajs)
T.step("Kafka's Java tools", step_java)
T.step("SIGHUP reload", step_reload)
T.step("start-up errors", step_start_errors)
T.step("three nodes over SSL", step_cluster)
T.done()
