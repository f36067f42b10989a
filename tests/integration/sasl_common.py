"""SASL for the tests (test_sasl.py, test_sasl_cluster.py, test_acl_sasl.py): a SCRAM and a
PLAIN login over a diffwire connection, the salted password an AlterUserScramCredentials
upsertion carries, and Runneld, one runneld with a PLAINTEXT and a SASL_PLAINTEXT listener.
Not a test itself."""

import base64
import hashlib
import hmac
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import datapath_common as D

MECH_IDS = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}


def _hash(mech):
    return hashlib.sha512 if mech.endswith("512") else hashlib.sha256


def scram_login(c, user, password, mech="SCRAM-SHA-512", version=2, salted_cache=None):
    """Handshake and the two SCRAM rounds on c: the last SaslAuthenticate answer (or the first
    one with an error). salted_cache keeps Hi() per (password, salt) to time the server."""
    h = _hash(mech)
    r = c.call("SaslHandshake", 1, {"Mechanism": mech})
    if r["ErrorCode"]:
        return r
    cnonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=%s,r=%s" % (user, cnonce)
    r = c.call("SaslAuthenticate", version, {"AuthBytes": ("n,," + bare).encode()})
    if r["ErrorCode"]:
        return r
    first = r["AuthBytes"].decode()
    attrs = dict(kv.split("=", 1) for kv in first.split(","))
    key = (password, attrs["s"], attrs["i"])
    salted = salted_cache.get(key) if salted_cache is not None else None
    if salted is None:
        salted = hashlib.pbkdf2_hmac(h().name, password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        if salted_cache is not None:
            salted_cache[key] = salted
    client_key = hmac.new(salted, b"Client Key", h).digest()
    stored = h(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join([bare, first, without_proof]).encode()
    proof = bytes(a ^ b for a, b in zip(client_key, hmac.new(stored, auth_msg, h).digest()))
    r = c.call("SaslAuthenticate", version,
               {"AuthBytes": (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()})
    if r["ErrorCode"] == 0:
        server_key = hmac.new(salted, b"Server Key", h).digest()
        want = "v=" + base64.b64encode(hmac.new(server_key, auth_msg, h).digest()).decode()
        r["server_proved"] = r["AuthBytes"].decode() == want
    return r


def plain_login(c, user, password, version=2):
    c.call("SaslHandshake", 1, {"Mechanism": "PLAIN"})
    return c.call("SaslAuthenticate", version,
                  {"AuthBytes": b"\0" + user.encode() + b"\0" + password.encode()})


def upsertion(user, password, mech="SCRAM-SHA-512", iterations=4096):
    """An AlterUserScramCredentials upsertion for user, salted here as a client does."""
    salt = os.urandom(32)
    salted = hashlib.pbkdf2_hmac(_hash(mech)().name, password.encode(), salt, iterations)
    return {"Name": user, "Mechanism": MECH_IDS[mech], "Iterations": iterations, "Salt": salt,
            "SaltedPassword": salted}


class Runneld:
    """runneld with a PLAINTEXT and a SASL_PLAINTEXT listener and /metrics, started with the
    extra arguments and stopped by the Tap's cleanups. controller=True adds a dedicated
    CONTROLLER listener (ctl_bs), which the authorizer treats as the nodes' own traffic: the
    way in before any user or ACL exists."""

    def __init__(self, tap, extra, controller=False):
        self.dir = tempfile.mkdtemp(prefix="rn-sasl-")
        self.plain, self.sasl, self.metrics = D.free_port(), D.free_port(), D.free_port()
        listeners = "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (self.plain,
                                                                                self.sasl)
        self.ctl = None
        if controller:
            self.ctl = D.free_port()
            listeners += ",CONTROLLER://127.0.0.1:%d" % self.ctl
            extra = ["--controller.listener.names", "CONTROLLER"] + extra
        self.logpath = os.path.join(self.dir, "runneld.log")
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [D.RUNNELD, "--node-id", "1", "--data-dir", os.path.join(self.dir, "data"),
             "--listeners", listeners, "--metrics.listen", "127.0.0.1:%d" % self.metrics] + extra,
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=D._die_with_parent)
        tap.cleanups.append(self.stop)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("runneld exited: %s" % self.log_text())
            try:
                D.Conn("127.0.0.1:%d" % self.plain, timeout=2).call("ApiVersions", 0, {})
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        raise RuntimeError("runneld did not start: %s" % self.log_text())

    @property
    def plain_bs(self):
        return "127.0.0.1:%d" % self.plain

    @property
    def sasl_bs(self):
        return "127.0.0.1:%d" % self.sasl

    @property
    def ctl_bs(self):
        return "127.0.0.1:%d" % self.ctl

    def stop(self):
        """SIGTERM (SIGKILL after 30 s) and remove the data dir: runneld's exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode

    def log_text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def metric(self, mech, result):
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics,
                                      timeout=5).read().decode()
        key = 'runnel_sasl_authentications_total{mechanism="%s",result="%s"} ' % (mech, result)
        for line in body.splitlines():
            if line.startswith(key):
                return int(float(line[len(key):]))
        return None


# ---- Kafka's Java tools with a SASL client properties file ----

TOOLS_CACHE = (os.environ.get("KAFKA_TOOLS_CACHE")
               or os.path.expanduser("~/.cache/runnel/kafka-tools"))
LOGIN_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                 "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                 "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}


class JavaTools:
    """Kafka's command-line tools (scripts/deps.sh fetches their jars) run as java classes,
    logging errors only; props() writes a client properties file for a SASL login over the
    given security lines ("security.protocol=SASL_PLAINTEXT\\n", or SASL_SSL with a trust
    store). JavaTools.find returns None when java or the jars are missing."""

    def __init__(self, workdir, version, libs, security):
        self.workdir, self.version, self.libs, self.security = workdir, version, libs, security
        self.producer = ("kafka.tools.ConsoleProducer" if version.startswith("3.")
                         else "org.apache.kafka.tools.ConsoleProducer")
        self.log4j = os.path.join(workdir, "log4j.properties")
        with open(self.log4j, "w") as f:
            f.write("log4j.rootLogger=ERROR, stderr\nlog4j.appender.stderr="
                    "org.apache.log4j.ConsoleAppender\nlog4j.appender.stderr.layout="
                    "org.apache.log4j.PatternLayout\nlog4j.appender.stderr.Target=System.err\n")

    @classmethod
    def find(cls, workdir, security):
        if shutil.which("java") is None:
            return None
        for version in ("3.9.1", "4.1.1"):
            libs = os.path.join(TOOLS_CACHE, version, "libs")
            if os.path.exists(os.path.join(libs, ".complete")):
                return cls(workdir, version, libs, security)
        return None

    def props(self, mech, user, pw):
        path = os.path.join(self.workdir, "client-%s-%s.properties" % (mech, user))
        with open(path, "w") as f:
            f.write("%ssasl.mechanism=%s\n"
                    "sasl.jaas.config=%s required username=\"%s\" password=\"%s\";\n"
                    % (self.security, mech, LOGIN_MODULES[mech], user, pw))
        return path

    def run(self, cls, args, stdin=None):
        """(exit status or None on a timeout, stdout, stderr) of one tool."""
        cmd = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
               "-Dlog4j.configuration=file:" + self.log4j, "-cp", self.libs + "/*", cls] + args
        try:
            r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=90)
            return r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired:
            return None, "", "timed out"
