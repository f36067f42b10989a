#!/usr/bin/env python3
"""SASL over TLS: runneld's SASL_SSL listeners with real clients (issue 15, "Done means").

One runneld with a PLAINTEXT loopback listener (the bootstrap path for `runnel user add`,
`runnel acl add`) and a SASL_SSL listener: TLS with a node certificate for 127.0.0.1 and
localhost made by scripts/tls-certs.sh, then SASL with PLAIN, SCRAM-SHA-512 and SCRAM-SHA-256.
alice has a SCRAM-SHA-512 credential, bob a SCRAM-SHA-256 one; PLAIN checks either. Then:

  - the wire over TLS (Python's ssl and diffwire): nothing but ApiVersions and the SASL
    requests before a login, the enabled mechanisms, Kafka's SASL_AUTHENTICATION_FAILED
    messages for a wrong password and an unknown user (the same as over SASL_PLAINTEXT,
    test_sasl.py), and Metadata after a login naming the SASL_SSL listener;
  - librdkafka through confluent-kafka, Debian's (librdkafka 2.0) and the .venv's (2.1x),
    producing and consuming with SCRAM-SHA-512 and with PLAIN; a wrong password and an unknown
    user refused with the broker's message;
  - kcat -L, -P and -C the same way, and refused the same way; kcat speaking SASL_PLAINTEXT or
    SSL without SASL to the SASL_SSL port fails; a raw plaintext client is closed;
  - kafkajs producing and consuming with SCRAM-SHA-512 and PLAIN, refused for a wrong password
    and an unknown user;
  - Kafka's Java console producer and consumer and kafka-topics with a client properties file
    (security.protocol=SASL_SSL, ssl.truststore.type=PEM); a wrong password and an unknown user
    refused with the broker's message;
  - the principal: runneld's debug line names User:alice after a login over TLS, and ACLs see
    it: bob, denied Write on a topic alice may write, gets TOPIC_AUTHORIZATION_FAILED;
  - no password in runneld's log; runneld stops cleanly.

Clients that are not installed (the venv, node modules, Java jars, kcat) are skipped with a
note.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from sasl_common import JavaTools, plain_login, scram_login  # noqa: E402
from rn_testlib import BUILD, SRC, free_port  # noqa: E402

T = D.Tap("test_sasl_ssl", timeout_s=300)
RUNNEL = os.path.join(BUILD, "tools", "runnel")
NODE_MODULES = os.path.join(SRC, "tests", "interop", "node_modules")
TLS_CERTS = os.path.join(SRC, "scripts", "tls-certs.sh")
STD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

WORK = tempfile.mkdtemp(prefix="rn-saslssl-")
T.cleanups.append(lambda: shutil.rmtree(WORK, ignore_errors=True))
CERTS = os.path.join(WORK, "certs")
CA = os.path.join(CERTS, "ca.pem")

PASSWORDS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2"}
# Kafka's messages (the same as test_sasl.py expects over SASL_PLAINTEXT).
SCRAM_FAILED = ("Authentication failed during authentication due to invalid credentials with "
                "SASL mechanism %s")
PLAIN_FAILED = "Authentication failed: Invalid username or password"
# (mechanism, user, password, what, message) for every client's refusals.
SCRAM512_FAILED = SCRAM_FAILED % "SCRAM-SHA-512"
REFUSALS = [("SCRAM-SHA-512", "alice", "wrong-pw", "wrong password", SCRAM512_FAILED),
            ("SCRAM-SHA-512", "nobody", "x-pw", "unknown user", SCRAM512_FAILED),
            ("PLAIN", "alice", "wrong-pw", "wrong password", PLAIN_FAILED),
            ("PLAIN", "nobody", "x-pw", "unknown user", PLAIN_FAILED)]


def sh(*args):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def runnel(*args, stdin=None):
    r = subprocess.run([RUNNEL] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout, r.stderr


class Broker(D.Broker):
    """D.Broker (PLAINTEXT on self.port) with a SASL_SSL listener on self.sasl_ssl."""

    def start(self):
        if not hasattr(self, "sasl_ssl"):
            self.sasl_ssl = free_port()
            self.extra = self.extra + [
                "--listeners", "PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d"
                % (self.port, self.sasl_ssl)]
        super().start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.sasl_ssl), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)

    @property
    def boot(self):
        return "127.0.0.1:%d" % self.sasl_ssl

    def full_log(self):
        with open(os.path.join(self.dir, "runneld.log"), errors="replace") as f:
            return f.read()


B = None


# ---- the wire over TLS ----

class TlsConn(D.Conn):
    """A diffwire connection over TLS, the server checked against our CA."""

    def _connect(self):
        if self.s is None:
            ctx = ssl.create_default_context(cafile=CA)
            raw = socket.create_connection(self.addr, timeout=self.timeout)
            self.s = ctx.wrap_socket(raw, server_hostname=self.addr[0])


def tconn():
    return TlsConn(B.boot, timeout=10)


def closed(fn):
    try:
        fn()
        return False
    except (D.W.BrokerClosed, ssl.SSLError, ConnectionError):
        return True


def step_wire():
    c = tconn()
    T.ok(c.call("ApiVersions", 3, {"ClientSoftwareName": "t", "ClientSoftwareVersion": "1"})
         ["ErrorCode"] == 0, "TLS handshake with the node certificate; ApiVersions answered "
                             "before a login")
    T.ok(closed(lambda: c.call("Metadata", 1, {"Topics": None})),
         "Metadata over TLS before a SASL login closes the connection")
    c = tconn()
    r = c.call("SaslHandshake", 1, {"Mechanism": "GSSAPI"})
    T.eq((r["ErrorCode"], r["Mechanisms"]), (33, ["PLAIN", "SCRAM-SHA-512", "SCRAM-SHA-256"]),
         "SaslHandshake GSSAPI over TLS: UNSUPPORTED_SASL_MECHANISM with the enabled "
         "mechanisms in sasl.enabled.mechanisms' order (as Kafka)")
    for mech, user, pw, what, want in REFUSALS:
        c = tconn()
        r = (plain_login(c, user, pw) if mech == "PLAIN" else scram_login(c, user, pw, mech))
        T.eq((r["ErrorCode"], r["ErrorMessage"]), (58, want),
             "%s over TLS, %s: SASL_AUTHENTICATION_FAILED with Kafka's message" % (mech, what))
        T.ok(closed(lambda: c.call("ApiVersions", 0, {})), "... and the connection closes")
    c = tconn()
    r = scram_login(c, "alice", PASSWORDS["alice"])
    T.ok(r["ErrorCode"] == 0 and r.get("server_proved"),
         "SCRAM-SHA-512 login over TLS; the server's signature checks", r)
    md = c.call("Metadata", 1, {"Topics": None})
    T.eq([(b["Host"], b["Port"]) for b in md["Brokers"]], [("127.0.0.1", B.sasl_ssl)],
         "Metadata after the login names the SASL_SSL listener")
    c = tconn()
    r = scram_login(c, "bob", PASSWORDS["bob"], "SCRAM-SHA-256")
    T.eq(r["ErrorCode"], 0, "SCRAM-SHA-256 login over TLS")
    r = plain_login(tconn(), "bob", PASSWORDS["bob"])
    T.eq(r["ErrorCode"], 0, "PLAIN over TLS checks bob's password against his SCRAM-SHA-256 "
                            "credential")

    # A plaintext Kafka client on the SASL_SSL port: closed; a TLS connection meanwhile works.
    kept = tconn()
    scram_login(kept, "alice", PASSWORDS["alice"])
    plain = socket.create_connection(("127.0.0.1", B.sasl_ssl), 10)
    plain.settimeout(10)
    c = D.W.Conn("127.0.0.1", B.sasl_ssl, timeout=10)
    c.s = plain
    T.ok(closed(lambda: c.call("SaslHandshake", 1, {"Mechanism": "PLAIN"})),
         "a plaintext SaslHandshake on the SASL_SSL port: the connection is closed")
    T.ok(kept.call("Metadata", 1, {"Topics": None})["Brokers"],
         "a logged-in TLS connection open meanwhile is still served")


# ---- librdkafka: confluent-kafka (Debian's and the .venv's) ----

RDKAFKA = r"""
import json, sys, time
from confluent_kafka import Consumer, Producer, TopicPartition, libversion
boot, ca, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {"libversion": libversion()[0], "results": []}
for case in cases:
    errors = []
    conf = {"bootstrap.servers": boot, "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
            "sasl.mechanism": case["mech"], "sasl.username": case["user"],
            "sasl.password": case["pw"], "error_cb": lambda e: errors.append(str(e))}
    res = {"errors": errors}
    if case.get("refused"):
        p = Producer(conf)
        p.produce("rk-refused", b"x")
        deadline = time.monotonic() + 10
        while not any("uthentication" in e for e in errors) and time.monotonic() < deadline:
            p.poll(0.2)
        p.purge()
        p.flush(0)
    else:
        acked = []
        p = Producer(conf)
        for i in range(10):
            p.produce(case["topic"], b"m%d" % i,
                      on_delivery=lambda e, m: acked.append(None if e is None else str(e)))
        p.flush(20)
        res["acked"] = acked
        c = Consumer(dict(conf, **{"group.id": "g-" + case["topic"],
                                   "auto.offset.reset": "earliest"}))
        c.assign([TopicPartition(case["topic"], 0, 0)])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 10 and time.monotonic() < deadline:
            m = c.poll(0.3)
            if m is not None and not m.error():
                got.append(m.value().decode())
        c.close()
        res["got"] = got
    res["errors"] = errors[:4]
    out["results"].append(res)
print(json.dumps(out))
"""


def rdkafka_pythons():
    out = []
    for name, py in (("Debian's confluent-kafka", "/usr/bin/python3"),
                     ("the .venv's confluent-kafka", os.path.join(SRC, ".venv", "bin", "python"))):
        if not os.path.exists(py):
            T.diag("%s: no %s, skipped" % (name, py))
            continue
        r = subprocess.run([py, "-c", "import confluent_kafka"], capture_output=True)
        if r.returncode != 0:
            T.diag("%s: not installed, skipped" % name)
            continue
        out.append((name, py))
    return out


def step_confluent():
    script = os.path.join(WORK, "rdkafka_sasl_ssl.py")
    with open(script, "w") as f:
        f.write(RDKAFKA)
    cases = [{"mech": "SCRAM-SHA-512", "user": "alice", "pw": PASSWORDS["alice"]},
             {"mech": "PLAIN", "user": "alice", "pw": PASSWORDS["alice"]}]
    cases += [{"mech": m, "user": u, "pw": p, "refused": True} for m, u, p, _, _ in REFUSALS]
    for name, py in rdkafka_pythons():
        tag = "deb" if py.startswith("/usr") else "venv"
        for case in cases[:2]:
            case["topic"] = "rk-%s-%s" % (tag, case["mech"].lower())
        r = subprocess.run([py, script, B.boot, CA, json.dumps(cases)], capture_output=True,
                           text=True, timeout=150)
        try:
            out = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            T.ok(False, "%s ran" % name, r.stdout[-500:] + r.stderr[-1500:])
            continue
        name = "%s (librdkafka %s)" % (name, out["libversion"])
        for case, res in zip(cases[:2], out["results"]):
            T.ok(res["acked"] == [None] * 10, "%s produces 10 records over SASL_SSL with %s"
                 % (name, case["mech"]), res)
            T.eq(res["got"], ["m%d" % i for i in range(10)],
                 "%s consumes them back with %s" % (name, case["mech"]))
        for (mech, user, pw, what, want), res in zip(REFUSALS, out["results"][2:]):
            T.ok(any(want in e for e in res["errors"]),
                 "%s, %s %s: refused with \"%s\"" % (name, mech, what, want), res["errors"])


# ---- kcat ----

def kcat(args, mech=None, user=None, pw=None, proto="SASL_SSL", stdin=None):
    sec = ["-X", "security.protocol=" + proto]
    if proto.endswith("SSL"):
        sec += ["-X", "ssl.ca.location=" + CA]
    if mech:
        sec += ["-X", "sasl.mechanisms=" + mech, "-X", "sasl.username=" + user,
                "-X", "sasl.password=" + pw]
    return subprocess.run(["kcat", "-b", B.boot] + sec + args, input=stdin, capture_output=True,
                          text=True, timeout=30)


def step_kcat():
    if shutil.which("kcat") is None:
        T.diag("kcat not installed: skipped")
        return
    alice = ("SCRAM-SHA-512", "alice", PASSWORDS["alice"])
    r = kcat(["-L", "-J"], *alice)
    brokers = json.loads(r.stdout)["brokers"] if r.returncode == 0 else r.stderr
    T.eq([b["name"] for b in brokers] if isinstance(brokers, list) else brokers, [B.boot],
         "kcat -L over SASL_SSL (SCRAM-SHA-512) lists the SASL_SSL listener")
    r = kcat(["-P", "-t", "kc"], *alice, stdin="one\ntwo\nthree\n")
    T.eq((r.returncode, r.stderr[-300:]), (0, ""), "kcat -P over SASL_SSL with SCRAM-SHA-512")
    r = kcat(["-C", "-t", "kc", "-o", "beginning", "-e", "-q"], "PLAIN", "bob", PASSWORDS["bob"])
    T.eq(r.stdout.split(), ["one", "two", "three"], "kcat -C reads them with PLAIN as bob")
    for mech, user, pw, what, want in REFUSALS:
        r = kcat(["-L", "-m", "5"], mech, user, pw)
        T.ok(r.returncode != 0 and want in r.stderr,
             "kcat %s, %s: fails with \"%s\"" % (mech, what, want), r.stderr[-600:])
    r = kcat(["-L", "-m", "5"], *alice, proto="SASL_PLAINTEXT")
    T.ok(r.returncode != 0, "kcat speaking SASL_PLAINTEXT to the SASL_SSL port fails",
         r.stdout[-300:] + r.stderr[-600:])
    r = kcat(["-L", "-m", "5"], proto="SSL")
    T.ok(r.returncode != 0, "kcat over SSL without SASL on the SASL_SSL port fails (no login)",
         r.stdout[-300:] + r.stderr[-600:])


# ---- kafkajs ----

KAFKAJS = r"""
const fs = require('fs')
const path = require('path')
const { Kafka, logLevel } = require(path.join(process.env.NODE_MODULES, 'kafkajs'))
const [bs, ca, mech, user, pw, topic] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'sasl-ssl', brokers: [bs], logLevel: logLevel.NOTHING,
  ssl: { ca: [fs.readFileSync(ca)] }, sasl: { mechanism: mech, username: user, password: pw },
  retry: { retries: 1 } })
;(async () => {
  try {
    const p = kafka.producer()
    await p.connect()
    await p.send({ topic, messages: [{ value: 'js1' }, { value: 'js2' }] })
    await p.disconnect()
    const c = kafka.consumer({ groupId: 'g-' + topic })
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
    const got = []
    await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error('timeout: ' + got)), 30000)
      c.run({ eachMessage: async ({ message }) => {
        got.push(message.value.toString()); if (got.length === 2) resolve() } })
    })
    await c.disconnect()
    console.log(JSON.stringify({ ok: true, got }))
  } catch (e) {
    console.log(JSON.stringify({ ok: false, name: e.name, message: e.message }))
  }
  process.exit(0)
})()
"""


def step_kafkajs():
    if shutil.which("node") is None or not os.path.isdir(os.path.join(NODE_MODULES, "kafkajs")):
        T.diag("node or kafkajs not installed: skipped")
        return
    script = os.path.join(WORK, "sasl_ssl_kafkajs.js")
    with open(script, "w") as f:
        f.write(KAFKAJS)

    def run(mech, user, pw, topic):
        r = subprocess.run(["node", script, B.boot, CA, mech.lower(), user, pw, topic],
                           capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, NODE_MODULES=NODE_MODULES))
        try:
            return json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"ok": False, "stdout": r.stdout, "stderr": r.stderr[-500:]}

    for mech in ("SCRAM-SHA-512", "PLAIN"):
        r = run(mech, "alice", PASSWORDS["alice"], "js-" + mech.lower())
        T.ok(r.get("ok") and r.get("got") == ["js1", "js2"],
             "kafkajs produces and consumes (a group) over SASL_SSL with %s" % mech, r)
    for mech, user, pw, what, want in REFUSALS:
        r = run(mech, user, pw, "js-refused")
        T.ok(not r.get("ok") and r.get("name") == "KafkaJSSASLAuthenticationError"
             and want in r.get("message", ""),
             "kafkajs %s, %s: %s with \"%s\"" % (mech, what, r.get("name"), want), r)


# ---- Kafka's Java tools ----

def step_java():
    tools = JavaTools.find(WORK, "security.protocol=SASL_SSL\nssl.truststore.type=PEM\n"
                                 "ssl.truststore.location=%s\n" % CA)
    if tools is None:
        T.diag("java or the Kafka tools jars (scripts/deps.sh) missing: skipped")
        return
    version, props, producer = tools.version, tools.props, tools.producer

    def run(cls, args, stdin=None):
        return tools.run(cls, ["--bootstrap-server", B.boot] + args, stdin)

    topic = "java-sasl-ssl"
    r = run("org.apache.kafka.tools.TopicCommand",
            ["--command-config", props("SCRAM-SHA-512", "alice", PASSWORDS["alice"]),
             "--create", "--topic", topic, "--partitions", "1"])
    T.ok(r[0] == 0 and "Created topic" in r[1], "kafka-topics %s --create over SASL_SSL with "
         "SCRAM-SHA-512 and a client properties file" % version, "\n".join(r[1:])[-1500:])
    r = run(producer, ["--topic", topic, "--producer.config",
                       props("SCRAM-SHA-512", "alice", PASSWORDS["alice"])], stdin="j1\nj2\nj3\n")
    T.eq((r[0], r[2][-800:]), (0, ""), "Java console producer over SASL_SSL with SCRAM-SHA-512 "
                                       "(ssl.truststore.type=PEM)")
    r = run("org.apache.kafka.tools.consumer.ConsoleConsumer",
            ["--topic", topic, "--from-beginning", "--max-messages", "3", "--timeout-ms",
             "20000", "--consumer.config", props("PLAIN", "alice", PASSWORDS["alice"])])
    T.eq(r[1].split(), ["j1", "j2", "j3"], "Java console consumer reads them over SASL_SSL with "
                                           "PLAIN")
    for mech, user, pw, what, want in (REFUSALS[0], REFUSALS[3]):
        r = run("org.apache.kafka.tools.TopicCommand",
                ["--command-config", props(mech, user, pw), "--list"])
        T.ok(r[0] not in (0, None) and want in r[1] + r[2],
             "kafka-topics %s, %s: exits %s with \"%s\"" % (mech, what, r[0], want),
             (r[1] + r[2])[-800:])


# ---- the principal ----

def step_principal():
    log = B.full_log()
    T.ok("SCRAM-SHA-512 logged in as User:alice" in log and "PLAIN logged in as User:bob" in log,
         "runneld's log names the SASL principals of the logins over TLS (User:alice, User:bob)",
         "\n".join(ln for ln in log.splitlines() if "logged in" in ln)[-1500:])
    from confluent_kafka import KafkaError, Producer

    def produce(user, mech):
        errors, acked = [], []
        p = Producer({"bootstrap.servers": B.boot, "security.protocol": "SASL_SSL",
                      "ssl.ca.location": CA, "sasl.mechanism": mech, "sasl.username": user,
                      "sasl.password": PASSWORDS[user], "message.timeout.ms": 10000, "log_level": 3,
                      "error_cb": lambda e: errors.append(str(e))})
        p.produce("secret", b"from " + user.encode(), on_delivery=lambda e, m: acked.append(e))
        p.flush(20)
        return acked, errors

    acked, errors = produce("alice", "SCRAM-SHA-512")
    T.ok(acked == [None], "alice may write topic secret (ALLOW User:alice All)", (acked, errors))
    for grant in (["--allow-principal", "User:bob", "--operation", "Describe"],
                  ["--deny-principal", "User:bob", "--operation", "Write"]):
        r = runnel("-b", B.bootstrap, "acl", "add", *grant, "--topic", "secret")
        T.eq(r[0], 0, "runnel acl add %s" % " ".join(grant))
    acked, errors = produce("bob", "PLAIN")
    code = acked[0].code() if acked and acked[0] is not None else acked
    T.eq(code, KafkaError.TOPIC_AUTHORIZATION_FAILED,
         "bob logged in with PLAIN over TLS is denied Write: TOPIC_AUTHORIZATION_FAILED")


def make_certs():
    sh("bash", TLS_CERTS, "ca", CERTS)
    sh("bash", TLS_CERTS, "server", CERTS, "node", "localhost", "127.0.0.1")


def main():
    global B
    make_certs()
    B = Broker(["--ssl.keystore.location", os.path.join(CERTS, "node.pem"),
                "--sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512,SCRAM-SHA-256",
                "--authorizer.class.name", STD, "--allow.everyone.if.no.acl.found", "true",
                "--log.level", "debug"])
    T.cleanups.insert(0, B.cleanup)
    r = runnel("-b", B.bootstrap, "user", "add", "alice", "--mechanism", "SCRAM-SHA-512",
               stdin=PASSWORDS["alice"] + "\n")
    T.ok(r[0] == 0 and "SCRAM-SHA-512" in r[1], "runnel user add alice over PLAINTEXT", r)
    r = runnel("-b", B.bootstrap, "user", "add", "bob", "--mechanism", "SCRAM-SHA-256",
               stdin=PASSWORDS["bob"] + "\n")
    T.eq(r[0], 0, "runnel user add bob --mechanism SCRAM-SHA-256")
    r = runnel("-b", B.bootstrap, "acl", "add", "--allow-principal", "User:alice", "--operation",
               "All", "--topic", "secret")
    T.eq(r[0], 0, "runnel acl add --allow-principal User:alice --operation All --topic secret")
    T.step("the wire over TLS", step_wire)
    T.step("confluent-kafka", step_confluent)
    T.step("kcat", step_kcat)
    T.step("kafkajs", step_kafkajs)
    T.step("Kafka's Java tools", step_java)
    T.step("the principal", step_principal)
    log = B.full_log()
    leaked = [pw for pw in PASSWORDS.values() if pw in log]
    T.eq(leaked, [], "no password appears in runneld's log")
    B.finish(T)
    T.done()


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        import traceback
        T.ok(False, "test_sasl_ssl raised", traceback.format_exc())
        T.done()
