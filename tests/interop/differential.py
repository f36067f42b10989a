#!/usr/bin/env python3
"""Differential test: the same Kafka requests to Apache Kafka and to runneld, answers compared
field by field ("when in doubt, send the same request to Kafka and to runnel").

  differential.py --kafka HOST:PORT [--runnel HOST:PORT]    live: both brokers, compare
  differential.py --start-kafka [...]                       live, Kafka via scripts/kafka-ref.sh
  differential.py --kafka HOST:PORT --record FILE           record Kafka's normalized answers
  differential.py --expected FILE [--runnel HOST:PORT]      runneld against recorded answers (CI)
  differential.py --kafka-only/--runnel-only [...]          print one broker's raw answers
  --only REGEX picks scenarios; --list lists them.

Without --runnel the script starts $RN_BUILD_DIR/broker/runneld (default build/) on a free port
with a fresh data dir and the settings scripts/kafka-ref.sh gives Kafka. Requests are encoded
and answers decoded by diffwire.py from runnel's client/defs. Every scenario uses topic names
with a per-run suffix, so a long-running Kafka can be reused.

Each answer is normalized before comparison; what legitimately differs between two brokers
(cluster ids, topic ids, producer ids, the broker's address, throttle time, the wording of
error messages, Kafka-only feature flags) is masked in normalize() and the per-step
normalizers, each with the reason. Output is TAP: one line per request ("scenario/step"),
and on a mismatch one diagnostic line per differing field with both values. Differences that
are documented runnel choices still being worked on are TODO lines (KNOWN below).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diffwire as W  # noqa: E402

ROOT = W.ROOT
BUILD = os.environ.get("RN_BUILD_DIR", os.path.join(ROOT, "build"))
KAFKA_VERSION = os.environ.get("KAFKA_REF_VERSION", "4.1.1")
DEFAULT_EXPECTED = os.path.join(ROOT, "tests", "interop",
                                "differential-kafka-%s.json" % KAFKA_VERSION)
# The settings scripts/kafka-ref.sh writes into the reference broker's server.properties
# (keep in step with its write_config), given to runneld too, so that values and their
# sources (STATIC_BROKER_CONFIG vs DEFAULT_CONFIG) compare equal.
RUNNELD_ARGS = ["--num.partitions", "1", "--default.replication.factor", "1",
                "--auto.create.topics.enable", "true", "--log.segment.bytes", "67108864",
                "--offsets.topic.replication.factor", "1", "--offsets.topic.num.partitions", "10",
                "--transaction.state.log.replication.factor", "1",
                "--transaction.state.log.min.isr", "1", "--group.initial.rebalance.delay.ms", "0"]

UNKNOWN_TOPIC_OR_PARTITION = 3  # Kafka's error code

# Step keys (regex) whose difference is a known, documented runnel choice still open; a
# mismatch there is reported as "not ok ... # TODO reason" and does not fail the run.
KNOWN = [
    (r"^describe-configs/topic config names$",
     "runnel lacks the topic configs Kafka added in 3.7-4.0 (compression.*.level, "
     "local.retention.*, remote.*)"),
    (r"^describe-configs/min.cleanable.dirty.ratio synonyms$",
     "runnel has no broker setting log.cleaner.min.cleanable.ratio (the topic default 0.5 is "
     "fixed), so no broker synonym is listed"),
    (r"^init-producer-id/transactional id",
     "no transactions yet: a transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED "
     "(broker/data/handle_initpid.c)"),
    (r"^kafka3-versions/offset (commit|fetch) v0$",
     "Kafka 3.x kept v0 offsets in ZooKeeper and in KRaft mode answers UNSUPPORTED_VERSION per "
     "partition; runnel serves v0 from the group coordinator like v1 (client/defs/offset_*.def)"),
    (r"^kafka3-versions/describe configs v0$",
     "Kafka 3.x brokers never set v0's IsDefault (always false); runnel says which are defaults"),
    (r"^kafka3-versions/fetch v3$",
     "Fetch v0-3 carry message formats v0/v1, which runnel does not convert to "
     "(client/defs/fetch.def): runneld closes the connection as Kafka 4 does"),
    (r"^produce/transactional batch",
     "no transactions yet: a transactional batch gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED "
     "(broker/data/handle_produce.c)"),
]


# ---- normalization ---------------------------------------------------------------------------

TEXT_FIELDS = {"ErrorMessage", "BatchIndexErrorMessage", "Documentation"}

# Lists whose order carries no meaning (clients match entries by name or index), sorted by
# that field before comparing: Kafka answers some of them in hash order.
SORT_BY = {"Partitions": "PartitionIndex", "Topics": "Name", "Responses": "Name",
           "Results": "Name"}

# Topic configs Kafka 4.x has and runnel does not (yet): listed apart, in the single step
# "describe-configs/topic config names" (a known difference), rather than in every answer.
KAFKA4_ONLY_TOPIC_CONFIGS = {
    "compression.gzip.level", "compression.lz4.level", "compression.zstd.level",
    "local.retention.bytes", "local.retention.ms", "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms", "remote.log.copy.disable",
    "remote.log.delete.on.disable", "remote.storage.enable"}
# Kafka 3.x topic configs (removed in 4.0) that runnel keeps accepting and listing, so that
# tools and clients of the 3.x era that set it keep working.
RUNNEL_EXTRA_TOPIC_CONFIGS = {"message.downconversion.enable", "message.format.version"}
# Broker synonyms of topic configs that runnel does not have as settings: dropped from the
# synonym lists and compared apart in "describe-configs/min.cleanable.dirty.ratio synonyms".
RUNNEL_MISSING_SYNONYMS = {"log.cleaner.min.cleanable.ratio"}


def normalize(val, ctx, key=None):
    """Mask what legitimately differs between two brokers, recursively."""
    if isinstance(val, dict):
        out = {}
        for k, v in val.items():
            if k == "ThrottleTimeMs":
                continue  # quota throttling: 0 on both unless throttled; not a behaviour
            out[k] = normalize(v, ctx, k)
        # A broker entry naming the broker we talk to: its address differs by construction.
        if "Host" in out and "Port" in out and (out["Host"], out["Port"]) == ctx.addr:
            out["Host"] = out["Port"] = "<self>"
        # The text of an error is free and optional (clients fall back to the code's own
        # message); with no error, null vs "" vs text is compared as is.
        if out.get("ErrorCode") and "ErrorMessage" in out:
            out["ErrorMessage"] = "<error text>"
        if out.get("Name") == "min.insync.replicas":
            kraft_min_isr(out)
        return out
    if isinstance(val, list):
        items = [normalize(v, ctx, key) for v in val]
        if key == "Configs":
            items = [c for c in items if not (isinstance(c, dict) and c.get("Name") in (
                KAFKA4_ONLY_TOPIC_CONFIGS | RUNNEL_EXTRA_TOPIC_CONFIGS))]
        if key == "Synonyms":
            items = [x for x in items if x.get("Name") not in RUNNEL_MISSING_SYNONYMS]
        field = SORT_BY.get(key)
        if field and all(isinstance(e, dict) and field in e for e in items):
            items.sort(key=lambda e: str(e[field]))
        return items
    if key == "AbortedTransactions" and val is None:
        return []  # null and empty both mean "none" (Kafka itself sends either)
    if key == "ClusterId" and val is not None:
        return "<cluster-id>"  # random per cluster
    if key == "TopicId" and isinstance(val, str):
        return "<zero>" if val == "0" * 32 else "<uuid>"  # random per topic
    if key in TEXT_FIELDS and val:
        return "<text>"  # wording is free; present vs null/empty is compared
    if key == "ProducerId" and isinstance(val, int) and val >= 0:
        return "<pid>"  # allocated by each broker's own counter
    if key in ("LogAppendTimeMs", "max_ts", "Timestamp") and isinstance(val, int) and \
            abs(val - time.time() * 1000) < 864e5:
        return "<now>"  # the broker's clock (a batch's own timestamps are compared as they are)
    if key == "Records":
        # A trailing partial batch is allowed (clients drop it): Kafka cuts the log at the
        # byte limit, runnel sends whole batches only (handle_fetch.c). Compared: the whole
        # batches.
        batches = W.summarize_records(val)
        if batches is None:
            return None
        return [{k: normalize(v, ctx, k) for k, v in b.items()} for b in batches if "base" in b]
    if isinstance(val, str) and ctx.run_id:
        return val.replace("-" + ctx.run_id, "").replace("_" + ctx.run_id, "")
    if isinstance(val, bytes):
        return val.hex()
    return val


def kraft_min_isr(entry):
    """Kafka 4.x formats a KRaft cluster with min.insync.replicas as a cluster-wide dynamic
    default (for eligible leader replicas, KIP-966), so its source is
    DYNAMIC_DEFAULT_BROKER_CONFIG (3) with the same value as the static default. runnel has no
    dynamic broker configs; the value is what matters."""
    if entry.get("ConfigSource") == 3:
        entry["ConfigSource"] = 5
    if isinstance(entry.get("Synonyms"), list):
        entry["Synonyms"] = [x for x in entry["Synonyms"] if x.get("Source") != 3]


def jsonable(val):
    """Raw decoded answers as JSON (bytes as hex)."""
    if isinstance(val, dict):
        return {k: jsonable(v) for k, v in val.items()}
    if isinstance(val, list):
        return [jsonable(v) for v in val]
    if isinstance(val, bytes):
        return val.hex()
    return val


def keyed(lst):
    """Lists of named entries whose order carries no meaning compare as maps by name."""
    if not isinstance(lst, list) or not all(isinstance(e, dict) and "Name" in e for e in lst):
        return None
    names = [e["Name"] for e in lst]
    return None if len(set(names)) != len(names) else {e["Name"]: e for e in lst}


UNORDERED = {"Configs"}  # DescribeConfigs/CreateTopics entries: a set of named configs


def differences(a, b, path="", key=None, out=None):
    """[(path, kafka value, runnel value)] where a and b differ."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            p = "%s.%s" % (path, k) if path else k
            if k not in a or k not in b:
                out.append((p, a.get(k, "<absent>"), b.get(k, "<absent>")))
            else:
                differences(a[k], b[k], p, k, out)
    elif isinstance(a, list) and isinstance(b, list):
        ka, kb = (keyed(a), keyed(b)) if key in UNORDERED else (None, None)
        if ka is not None and kb is not None:
            for name in list(ka) + [n for n in kb if n not in ka]:
                p = "%s[%s]" % (path, name)
                if name not in ka or name not in kb:
                    out.append((p, "<absent>" if name not in ka else "present",
                                "<absent>" if name not in kb else "present"))
                else:
                    differences(ka[name], kb[name], p, None, out)
        else:
            if len(a) != len(b):
                out.append(("%s.length" % path, len(a), len(b)))
            for i, (x, y) in enumerate(zip(a, b)):
                differences(x, y, "%s[%d]" % (path, i), key, out)
    elif a != b:
        out.append((path, a, b))
    return out


# ---- custom comparisons (a relation rather than equality) ----------------------------------

# The metadata quorum's RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch, DescribeQuorum,
# FetchSnapshot) and the controller's AlterPartition, BrokerRegistration, BrokerHeartbeat and
# AllocateProducerIds: Kafka serves them on its controller listener, runnel on its one
# listener (combined mode, design decision 5), so a Kafka broker listener's ApiVersions
# lacks them.
QUORUM_KEYS = {52, 53, 54, 55, 56, 59, 62, 63, 67}

# Kafka 3.9 served every api key runnel serves from v0; runnel keeps those floors where Kafka
# 4.0 raised them (KIP-896; README, "Kafka APIs served"), so its ranges may start lower.
KAFKA3_FLOOR = 0


def cmp_api_ranges(kafka, runnel):
    """ApiVersions: the same error and layout; every range runnel advertises lies within
    Kafka's, or starts at Kafka 3.9's floor (runnel serves a subset of the keys and versions;
    which subset is its choice)."""
    out = []
    if kafka.get("ErrorCode") != runnel.get("ErrorCode"):
        out.append(("ErrorCode", kafka.get("ErrorCode"), runnel.get("ErrorCode")))
    theirs = {k["ApiKey"]: (k["MinVersion"], k["MaxVersion"]) for k in kafka.get("ApiKeys") or []}
    for k in runnel.get("ApiKeys") or []:
        if k["ApiKey"] in QUORUM_KEYS and k["ApiKey"] not in theirs:
            continue
        t = theirs.get(k["ApiKey"])
        mine = (k["MinVersion"], k["MaxVersion"])
        if t is None or mine[0] < min(t[0], KAFKA3_FLOOR) or mine[1] > t[1]:
            out.append(("ApiKeys[%d]" % k["ApiKey"], t, mine))
    return out


# runneld settings with no Kafka 4.x broker config of that name: its own (log.level,
# metrics.listen, the limits Kafka has no name for: socket.request.read.timeout.ms,
# connections.max.queued.response.bytes, metrics.connection.timeout.ms,
# fetch.max.wait.ms.cap, max.partitions.per.request, max.partitions.per.topic,
# max.partitions, auto.create.topics.rate), cluster.id (Kafka takes it from `kafka-storage
# format`, runnel from its config on first start) and zookeeper.connect (a Kafka 3.x key
# accepted and ignored so that old configuration files load), and controlled.shutdown.timeout.ms
# (how long a stopping node waits for the controller to move its leaderships; Kafka retries
# controlled.shutdown.max.retries times instead), the web console's switches (console.*), and
# super.users and allow.everyone.if.no.acl.found, which Kafka reads as its authorizer's
# settings rather than broker configs, so its DescribeConfigs does not list them, and
# produce.worker.threads (the per-byte produce workers; Kafka's num.io.threads sizes whole
# request handlers instead).
RUNNEL_BROKER_KEYS = {"console.enable", "console.allow.remote", "console.write.enable",
                      "super.users", "allow.everyone.if.no.acl.found",
                      "log.level", "metrics.listen", "cluster.id", "zookeeper.connect",
                      "socket.request.read.timeout.ms", "connections.max.queued.response.bytes",
                      "metrics.connection.timeout.ms", "fetch.max.wait.ms.cap",
                      "max.partitions.per.request", "max.partitions.per.topic", "max.partitions",
                      "auto.create.topics.rate", "controlled.shutdown.timeout.ms",
                      "produce.worker.threads"}


def cmp_names_subset(kafka, runnel):
    """Broker DescribeConfigs without names: Kafka lists ~200 broker settings, runnel the ones
    it has; every other name runnel lists must be one of Kafka's (no invented names)."""
    out = []
    for rk, rr in zip(kafka.get("Results", []), runnel.get("Results", [])):
        if rk["ErrorCode"] != rr["ErrorCode"]:
            out.append(("ErrorCode", rk["ErrorCode"], rr["ErrorCode"]))
        theirs = {c["Name"] for c in rk["Configs"]}
        for c in rr["Configs"]:
            if c["Name"] not in theirs and c["Name"] not in RUNNEL_BROKER_KEYS:
                out.append(("Configs[%s]" % c["Name"], "<absent>", "present"))
    return out


CUSTOM = {
    r"^apiversions/": cmp_api_ranges,
    r"^describe-configs/broker all": cmp_names_subset,
}


def compare(step, kafka, runnel):
    if isinstance(kafka, dict) and "error" in kafka:
        # No reference answer (decoding failed or timed out): nothing to compare with.
        return [("answer", kafka, runnel)]
    for pat, fn in CUSTOM.items():
        if re.search(pat, step):
            if kafka is None or runnel is None or "error" in kafka or "error" in runnel:
                break
            return fn(kafka, runnel)
    return differences(kafka, runnel)


# ---- per-step normalizers -------------------------------------------------------------------

def only(*names):
    """Keep only these top-level fields."""
    return lambda r: {k: r[k] for k in names if k in r}


def drop_features(r):
    # Feature flags (metadata.version, kraft.version, group.version, ...) are KRaft internals
    # runnel does not have; clients use them only for APIs runnel does not serve.
    for k in ("SupportedFeatures", "FinalizedFeaturesEpoch", "FinalizedFeatures",
              "ZkMigrationReady"):
        r.pop(k, None)
    return r


def names_only(resp):
    """Broker configs reduced to their names (see cmp_names_subset)."""
    return {"Results": [{"ErrorCode": res["ErrorCode"],
                         "Configs": [{"Name": n} for n in sorted(
                             c["Name"] for c in res.get("Configs") or [])]}
                        for res in resp.get("Results", [])]}


def broker_configs(resp):
    """Broker-resource DescribeConfigs: runneld's broker settings are static (config file and
    flags), so it marks each read-only, where Kafka marks the dynamically updatable ones
    writable. Two of runnel's defaults differ by design and their DEFAULT synonyms with them:
    default.replication.factor -1 = min(3, nodes) (docs/design.md), node.id 1 (runneld with no
    arguments is a single node 1; Kafka has no default)."""
    for res in resp.get("Results", []):
        for c in res.get("Configs") or []:
            c.pop("ReadOnly", None)
            if isinstance(c.get("Synonyms"), list):
                c["Synonyms"] = [x for x in c["Synonyms"] if not (
                    x["Source"] == 5 and x["Name"] in ("default.replication.factor", "node.id"))]
    return resp


def no_dynamic_defaults(resp):
    """The cluster-default broker resource ("") lists dynamic cluster defaults: in Kafka 4.x
    only the min.insync.replicas its KRaft format writes (see kraft_min_isr); runnel has none."""
    for res in resp.get("Results", []):
        res["Configs"] = [c for c in res.get("Configs") or [] if c["Name"] != "min.insync.replicas"]
    return resp


def accepted_or_refused(resp):
    # See sc_alter_configs: a broker AlterConfigs Kafka accepts and runnel refuses by design.
    for res in resp.get("Responses", []):
        res["ErrorCode"] = res["ErrorMessage"] = "<accepted or refused>"
    return resp


def refused(resp):
    for res in resp.get("Responses", []):
        if res["ErrorCode"] != 0:
            res["ErrorCode"] = "<refused>"
    return resp


def answered(resp):
    # DescribeCluster for controller endpoints (type 2) on the client listener: Kafka answers
    # MISMATCHED_ENDPOINT_TYPE; runnel's one listener serves both (combined mode; see
    # rn_handle_describe_cluster) and lists its nodes. Compared: that an answer came.
    return {"answered": True}


def mask_topic_ids(resp):
    # CreateTopics validate_only: Kafka's controller draws a topic id for a topic it then does
    # not create; runnel answers the zero id. Clients ignore ids of validate-only results.
    for t in resp.get("Topics", []):
        t["TopicId"] = "<any>"
    return resp


def auto_created(resp):
    """The Metadata request that auto-creates a topic: Kafka's controller creates it
    asynchronously, so the first answer has no partitions yet (UNKNOWN_TOPIC_OR_PARTITION or
    LEADER_NOT_AVAILABLE, both retriable); runnel creates it before answering. Compared: the
    name and that the answer is one of those; the next steps compare the created topic."""
    return {"Topics": [{"Name": t["Name"], "created or pending": t["ErrorCode"] in (0, 3, 5)}
                       for t in resp.get("Topics", [])]}


def fetch_session(r):
    # KIP-227: session ids are random; compared is whether there is one (0 means "none").
    if isinstance(r.get("SessionId"), int) and r["SessionId"] != 0:
        r["SessionId"] = "<session>"
    return r


# ---- targets and runs ------------------------------------------------------------------------

def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Runneld:
    """A runneld process of our own on a free port with a temporary data dir."""

    def __init__(self):
        exe = os.path.join(BUILD, "broker", "runneld")
        if not os.access(exe, os.X_OK):
            sys.exit("differential: %s is not built (scripts/build.sh)" % exe)
        self.dir = tempfile.mkdtemp(prefix="rn-differential-")
        self.port = free_port()
        self.logf = open(os.path.join(self.dir, "runneld.log"), "wb")
        self.proc = subprocess.Popen(
            [exe, "--node-id", "1", "--listen", "127.0.0.1:%d" % self.port, "--data-dir",
             os.path.join(self.dir, "data")] + RUNNELD_ARGS,
            stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                sys.exit("differential: runneld exited with %d:\n%s" % (self.proc.returncode,
                                                                        self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    sys.exit("differential: runneld did not listen within 30 s")
                time.sleep(0.05)

    def log_tail(self):
        with open(os.path.join(self.dir, "runneld.log"), "rb") as f:
            return f.read()[-3000:].decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM and wait; the exit status (0 = clean, sanitizers quiet)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Run:
    """The scenarios against one broker: sends requests, keeps normalized answers by step."""

    def __init__(self, label, addr, run_id, verbose=False):
        self.label = label
        self.addr = addr
        self.run_id = run_id
        self.verbose = verbose
        self.conn = W.Conn(*addr)
        self.answers = {}  # "scenario/step" -> normalized answer, in request order
        self.raw = {}
        self.scenario = ""

    def t(self, name):
        """A topic name unique to this run (the suffix is masked in answers)."""
        return "diff-%s-%s" % (name, self.run_id)

    def call(self, step, api, v, req, norm=None, answer=True, resp_version=None, waited=None):
        """Send one request; record its normalized answer under scenario/step (step None:
        setup, not recorded). Returns the decoded answer, or None if there was none."""
        t0 = time.monotonic()
        try:
            resp = self.conn.call(api, v, req, answer, resp_version)
            out = resp
        except W.BrokerClosed:
            resp, out = None, {"closed_connection": True}
        except (W.DecodeError, OSError) as e:
            self.conn.close()
            resp, out = None, {"error": "%s: %s" % (type(e).__name__, e)}
        elapsed = time.monotonic() - t0
        if step is None:
            return resp
        key = "%s/%s" % (self.scenario, step)
        if key in self.answers:
            raise RuntimeError("duplicate step %s" % key)
        self.raw[key] = out
        n = normalize(out, self) if out is not None else None
        if norm and n and "error" not in n and "closed_connection" not in n:
            n = norm(n)
        if waited is not None and n is not None:
            # Long poll: did the broker hold the request (at least ~80% of max_wait_ms)?
            n["_held"] = elapsed >= waited * 0.8 / 1000.0
        self.answers[key] = n
        if self.verbose:
            print("## %s %s" % (self.label, key))
            print(json.dumps(jsonable(out), indent=1))
        return resp

    def raw_call(self, step, api_key, v, body):
        """A request with no definition (an api key nobody serves): what happens to it."""
        try:
            corr = self.conn.send_raw(api_key, v, body, False)
            data = self.conn.recv_raw(corr, False)
            out = {"answer_bytes": len(data)}
        except W.BrokerClosed:
            out = {"closed_connection": True}
        except OSError as e:
            self.conn.close()
            out = {"error": "%s: %s" % (type(e).__name__, e)}
        self.answers["%s/%s" % (self.scenario, step)] = out

    def note(self, step, value):
        """Record a derived observation (not a single answer) as a step."""
        self.answers["%s/%s" % (self.scenario, step)] = value

    # -- helpers used by several scenarios

    def create(self, step, name, partitions=1, configs=None, v=7, rf=1):
        r = self.call(step, "CreateTopics", v, {"Topics": [{
            "Name": name, "NumPartitions": partitions, "ReplicationFactor": rf,
            "Configs": [{"Name": k, "Value": val} for k, val in (configs or {}).items()]}],
            "timeoutMs": 30000})
        self.wait_ready(name, partitions)
        return r

    def wait_ready(self, name, partitions, timeout=20):
        """Until every partition has a leader that answers ListOffsets (Kafka applies new
        topics asynchronously after CreateTopics returns)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            md = self.call(None, "Metadata", 12, {"Topics": [{"Name": name}],
                                                  "AllowAutoTopicCreation": False})
            ok = False
            if md and md["Topics"] and md["Topics"][0]["ErrorCode"] == 0:
                parts = md["Topics"][0]["Partitions"]
                ok = len(parts) == partitions and all(
                    p["ErrorCode"] == 0 and p["LeaderId"] >= 0 for p in parts)
            if ok:
                lo = self.list_offsets(None, name, -1, partitions=range(partitions))
                if lo and all(p["ErrorCode"] == 0 for p in lo["Topics"][0]["Partitions"]):
                    return
            time.sleep(0.1)
        raise RuntimeError("%s: topic %s has no leaders after %d s" % (self.label, name, timeout))

    def wait_producer_ids(self, timeout=30):
        """Until InitProducerId hands out ids: a fresh Kafka answers COORDINATOR_LOAD_IN_PROGRESS
        (or COORDINATOR_NOT_AVAILABLE) until its producer id manager is ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.call(None, "InitProducerId", 4, {"TransactionalId": None,
                                                         "TransactionTimeoutMs": 60000})
            if resp is not None and resp["ErrorCode"] not in (14, 15):
                return
            time.sleep(0.5)
        raise RuntimeError("%s: InitProducerId not ready after %d s" % (self.label, timeout))

    def wait_gone(self, name, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            md = self.call(None, "Metadata", 12, {"Topics": [{"Name": name}],
                                                  "AllowAutoTopicCreation": False})
            if md and md["Topics"][0]["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION:
                return
            time.sleep(0.1)
        raise RuntimeError("%s: topic %s still listed after %d s" % (self.label, name, timeout))

    def produce(self, step, topic, records, v=9, acks=-1, partition=0, txn=None, norm=None):
        return self.call(step, "Produce", v, {
            "TransactionalId": txn, "Acks": acks, "TimeoutMs": 10000,
            "TopicData": [{"Name": topic, "PartitionData": [
                {"Index": partition, "Records": records}]}]}, norm=norm, answer=acks != 0)

    def fetch(self, step, topic, offset, v=12, partition=0, max_wait=0, min_bytes=1,
              max_bytes=1 << 20, part_max=1 << 20, topic_id=None, isolation=0,
              session=(0, -1), leader_epoch=-1, norm=None):
        tp = {"Partitions": [{"Partition": partition, "FetchOffset": offset,
                              "PartitionMaxBytes": part_max,
                              "CurrentLeaderEpoch": leader_epoch}]}
        if v >= 13:
            tp["TopicId"] = topic_id
        else:
            tp["Topic"] = topic
        req = {"MaxWaitMs": max_wait, "MinBytes": min_bytes, "MaxBytes": max_bytes,
               "IsolationLevel": isolation, "Topics": [tp]}
        if v >= 7:
            req.update(SessionId=session[0], SessionEpoch=session[1], ForgottenTopicsData=[])
        return self.call(step, "Fetch", v, req, norm=norm or fetch_session,
                         waited=max_wait if max_wait >= 200 else None)

    def list_offsets(self, step, topic, ts, v=7, partitions=(0,), isolation=0, leader_epoch=-1):
        return self.call(step, "ListOffsets", v, {
            "ReplicaId": -1, "IsolationLevel": isolation, "Topics": [{
                "Name": topic, "Partitions": [
                    {"PartitionIndex": p, "Timestamp": ts, "CurrentLeaderEpoch": leader_epoch}
                    for p in partitions]}]})

    def metadata(self, step, names, v=12, auto=False, norm=None):
        topics = None if names is None else [{"Name": n} for n in names]
        req = {"Topics": topics}
        if v >= 4:
            req["AllowAutoTopicCreation"] = auto
        return self.call(step, "Metadata", v, req, norm=norm)

    def describe_configs(self, step, rtype, name, keys=None, v=4, synonyms=True, docs=False,
                         norm=None):
        req = {"Resources": [{"ResourceType": rtype, "ResourceName": name,
                              "ConfigurationKeys": keys}], "IncludeSynonyms": synonyms}
        if v >= 3:
            req["IncludeDocumentation"] = docs
        return self.call(step, "DescribeConfigs", v, req, norm=norm)


# ---- scenarios --------------------------------------------------------------------------------

SCENARIOS = []


def scenario(fn):
    SCENARIOS.append((fn.__name__[3:].replace("_", "-"), fn))
    return fn


@scenario
def sc_apiversions(r):
    r.call("v0", "ApiVersions", 0, {}, norm=drop_features)
    r.call("v3", "ApiVersions", 3, {"ClientSoftwareName": "differential",
                                     "ClientSoftwareVersion": "1.0"}, norm=drop_features)
    # A version neither broker serves: the answer comes in the v0 layout with error 35
    # UNSUPPORTED_VERSION and the broker's key list, so the client can retry.
    v3body = W.encode("ApiVersions", "request", 3, {"ClientSoftwareName": "differential",
                                                    "ClientSoftwareVersion": "1.0"})
    for v in (5, 127):
        r.call("v%d unsupported" % v, "ApiVersions", v, v3body, resp_version=0)
    # KIP-511: the software name and version must match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
    for label, name, version in (("bad name", "bad name!", "1.0"), ("empty version", "x", "")):
        r.call("v3 %s" % label, "ApiVersions", 3, {"ClientSoftwareName": name,
                                                   "ClientSoftwareVersion": version},
               norm=drop_features)
    r.raw_call("unknown api key 99", 99, 0, b"")


def topic_only(resp):
    """Metadata reduced to the topics (brokers/controller are checked in 'metadata/brokers')."""
    return {"Topics": resp.get("Topics")}


@scenario
def sc_metadata(r):
    r.metadata("brokers v12 no topics", [], v=12)
    r.metadata("brokers v1 no topics", [], v=1)
    unknown = r.t("meta-unknown")
    for v in (4, 9, 12):
        r.metadata("unknown topic v%d no auto-create" % v, [unknown], v=v, auto=False,
                   norm=topic_only)
    # Metadata v12 by an unknown topic id.
    r.call("unknown topic id v12", "Metadata", 12, {"Topics": [
        {"TopicId": "0123456789abcdef0123456789abcdef", "Name": None}],
        "AllowAutoTopicCreation": False}, norm=topic_only)
    # Auto-creation: the first answer, then the topic once it has a leader.
    auto = r.t("meta-auto")
    r.metadata("auto-create v4", [auto], v=4, auto=True, norm=auto_created)
    r.wait_ready(auto, 1)
    r.metadata("auto-created topic v4", [auto], v=4, norm=topic_only)
    md = r.metadata("auto-created topic v12", [auto], v=12, norm=topic_only)
    auto1 = r.t("meta-auto-v1")
    r.metadata("auto-create v1 (always allowed)", [auto1], v=1, norm=auto_created)
    r.wait_ready(auto1, 1)
    if md and md["Topics"][0]["TopicId"]:
        r.call("known topic id v12", "Metadata", 12, {"Topics": [
            {"TopicId": md["Topics"][0]["TopicId"], "Name": None}],
            "AllowAutoTopicCreation": False}, norm=topic_only)
    if md:
        for v in (8, 10):
            r.call("authorized operations v%d" % v, "Metadata", v, {
                "Topics": [{"Name": auto}], "AllowAutoTopicCreation": False,
                "IncludeClusterAuthorizedOperations": True,
                "IncludeTopicAuthorizedOperations": True})
    for label, name in ((".", "."), ("..", ".."), ("space", "a b"), ("250 chars", "x" * 250),
                        ("slash", "a/b")):
        for auto_create in (False, True):
            r.metadata("invalid name %s auto=%s" % (label, auto_create), [name], v=12,
                       auto=auto_create, norm=topic_only)


def create_req(name, parts=1, rf=1, configs=None, assignments=None):
    return {"Name": name, "NumPartitions": parts, "ReplicationFactor": rf,
            "Assignments": assignments or [],
            "Configs": [{"Name": k, "Value": v} for k, v in (configs or {}).items()]}


@scenario
def sc_create_topics(r):
    def ct(step, topics, v=7, validate=False):
        req = {"Topics": topics, "timeoutMs": 30000}
        if v >= 1:
            req["validateOnly"] = validate
        return r.call(step, "CreateTopics", v, req, norm=mask_topic_ids if validate else None)

    a = r.t("ct-a")
    ct("create v7 3 partitions with config", [create_req(a, 3, 1, {"retention.ms": "3600000"})])
    r.wait_ready(a, 3)
    ct("exists v7", [create_req(a, 3)])
    ct("exists v4", [create_req(a, 3)], v=4)
    ct("exists v2", [create_req(a, 3)], v=2)
    b = r.t("ct-b")
    ct("create v2", [create_req(b, 2)], v=2)
    r.wait_ready(b, 2)
    c = r.t("ct-defaults")
    ct("partitions -1 rf -1 use broker defaults", [create_req(c, -1, -1)])
    r.wait_ready(c, 1)
    ct("partitions 0", [create_req(r.t("ct-zero"), 0)])
    ct("partitions -2", [create_req(r.t("ct-minus2"), -2)])
    ct("partitions -1 v3 (defaults need v4)", [create_req(r.t("ct-v3-default"), -1)], v=3)
    ct("replication factor 3 on one node", [create_req(r.t("ct-rf3"), 1, 3)])
    ct("replication factor 0", [create_req(r.t("ct-rf0"), 1, 0)])
    ct("replication factor -2", [create_req(r.t("ct-rfm2"), 1, -2)])
    ct("unknown config name", [create_req(r.t("ct-badname"), 1, 1, {"no.such.config": "1"})])
    ct("bad config value", [create_req(r.t("ct-badval"), 1, 1, {"retention.ms": "soon"})])
    ct("bad enum value", [create_req(r.t("ct-badenum"), 1, 1, {"cleanup.policy": "bogus"})])
    ct("null config value", [create_req(r.t("ct-nullval"), 1, 1, {"retention.ms": None})])
    ct("broker-only config name", [create_req(r.t("ct-brokerkey"), 1, 1,
                                              {"log.retention.hours": "1"})])
    v = r.t("ct-validate")
    ct("validate only v7", [create_req(v, 2, 1, {"cleanup.policy": "compact"})], validate=True)
    r.metadata("validate only created nothing", [v], norm=topic_only)
    ct("validate only existing", [create_req(a, 3)], validate=True)
    ct("validate only bad partitions", [create_req(v, 0)], validate=True)
    for label, name in ((".", "."), ("..", ".."), ("space", "a b"), ("250 chars", "x" * 250),
                        ("empty", ""), ("colliding", a.replace("-", "_"))):
        ct("invalid name %s" % label, [create_req(name)])
    d = r.t("ct-dup")
    ct("same name twice in one request", [create_req(d), create_req(d)])
    ct("assignment to node 1", [create_req(r.t("ct-assign"), -1, -1,
                                           assignments=[{"PartitionIndex": 0, "BrokerIds": [1]}])])
    ct("assignment to missing node", [create_req(r.t("ct-assign-bad"), -1, -1, assignments=[
        {"PartitionIndex": 0, "BrokerIds": [2]}])])
    ct("assignment with partition count", [create_req(r.t("ct-assign-count"), 1, -1, assignments=[
        {"PartitionIndex": 0, "BrokerIds": [1]}])])
    ct("two topics one bad", [create_req(r.t("ct-good2")), create_req(r.t("ct-bad2"), 0)])
    r.wait_ready(r.t("ct-good2"), 1)


@scenario
def sc_delete_topics(r):
    def dt(step, names, v):
        if v >= 6:
            req = {"Topics": [{"Name": n, "TopicId": "0" * 32} for n in names]}
        else:
            req = {"TopicNames": names}
        req["TimeoutMs"] = 30000
        return r.call(step, "DeleteTopics", v, req)

    dt("unknown v1", [r.t("dt-unknown")], 1)
    dt("unknown v5", [r.t("dt-unknown")], 5)
    dt("unknown v6", [r.t("dt-unknown")], 6)
    r.call("unknown topic id v6", "DeleteTopics", 6, {"Topics": [
        {"Name": None, "TopicId": "0123456789abcdef0123456789abcdef"}], "TimeoutMs": 30000})
    a = r.t("dt-a")
    r.create("create", a)
    dt("existing v6", [a], 6)
    r.wait_gone(a)
    r.metadata("deleted topic is unknown", [a], norm=topic_only)
    b = r.t("dt-b")
    r.create("create b", b)
    dt("existing v4 and unknown", [b, r.t("dt-unknown2")], 4)
    r.wait_gone(b)
    dt("invalid name", ["a b"], 5)
    dt("same unknown name twice", [r.t("dt-twice"), r.t("dt-twice")], 5)


@scenario
def sc_create_partitions(r):
    def cp(step, name, count, v=3, validate=False, assignments=None):
        return r.call(step, "CreatePartitions", v, {"Topics": [
            {"Name": name, "Count": count, "Assignments": assignments}],
            "TimeoutMs": 30000, "ValidateOnly": validate})

    a = r.t("cp")
    r.create("create 2 partitions", a, 2)
    cp("decrease to 1", a, 1)
    cp("same count 2", a, 2)
    cp("validate only increase to 5", a, 5, validate=True)
    r.metadata("validate only kept 2", [a], norm=topic_only)
    cp("increase to 4 v0", a, 4, v=0)
    r.wait_ready(a, 4)
    r.metadata("now 4 partitions", [a], norm=topic_only)
    cp("increase to 5 with assignment", a, 5, assignments=[{"BrokerIds": [1]}])
    r.wait_ready(a, 5)
    cp("assignment count mismatch", a, 7, assignments=[{"BrokerIds": [1]}])
    cp("assignment to missing node", a, 6, assignments=[{"BrokerIds": [2]}])
    cp("unknown topic", r.t("cp-unknown"), 3)
    r.call("same topic twice", "CreatePartitions", 3, {"Topics": [
        {"Name": a, "Count": 8, "Assignments": None}, {"Name": a, "Count": 9, "Assignments": None}],
        "TimeoutMs": 30000, "ValidateOnly": True})
    cp("zero", a, 0)


TOPIC, BROKER = 2, 4


def configs_only(resp):
    return {"Results": resp.get("Results")}


@scenario
def sc_describe_configs(r):
    a = r.t("dc")
    r.create("create", a, 1, {"retention.ms": "86400000", "cleanup.policy": "compact"})
    r.describe_configs("topic all v4 synonyms", TOPIC, a, None, v=4, synonyms=True)
    every = r.describe_configs(None, TOPIC, a, None, v=4, synonyms=True)
    if every:
        r.note("topic config names", {
            c["Name"]: "listed" for c in every["Results"][0]["Configs"]
            if c["Name"] not in RUNNEL_EXTRA_TOPIC_CONFIGS})
        r.note("min.cleanable.dirty.ratio synonyms", [
            [x["Name"], x["Value"], x["Source"]] for c in every["Results"][0]["Configs"]
            if c["Name"] == "min.cleanable.dirty.ratio" for x in c["Synonyms"]])
    r.describe_configs("topic all v1 synonyms", TOPIC, a, None, v=1, synonyms=True)
    r.describe_configs("topic all v3 documentation", TOPIC, a, None, v=3, synonyms=False,
                       docs=True)
    r.describe_configs("topic some keys v2", TOPIC, a,
                       ["retention.ms", "cleanup.policy", "no.such.key"], v=2)
    r.describe_configs("topic empty key list", TOPIC, a, [], v=4)
    r.describe_configs("unknown topic", TOPIC, r.t("dc-unknown"), None, v=4)
    r.describe_configs("invalid topic name", TOPIC, "a b", None, v=4)
    keys = ["num.partitions", "default.replication.factor", "log.segment.bytes",
            "log.retention.hours", "log.retention.ms", "message.max.bytes",
            "auto.create.topics.enable", "log.cleanup.policy", "log.retention.bytes",
            "min.insync.replicas", "compression.type", "delete.topic.enable",
            "log.roll.hours", "log.index.interval.bytes", "node.id", "no.such.key"]
    r.describe_configs("broker some keys v4", BROKER, "1", keys, v=4, norm=broker_configs)
    r.describe_configs("broker some keys v1 no synonyms", BROKER, "1", keys, v=1, synonyms=False,
                       norm=broker_configs)
    r.describe_configs("broker all names", BROKER, "1", None, v=4, synonyms=False,
                       norm=names_only)
    r.describe_configs("broker other node", BROKER, "2", ["num.partitions"], v=4)
    r.describe_configs("broker default resource", BROKER, "", None, v=4,
                       norm=no_dynamic_defaults)
    r.describe_configs("broker bad id", BROKER, "one", None, v=4)
    r.describe_configs("unknown resource type", 99, "x", None, v=4)


def describe_values(r, step, topic, keys):
    """DescribeConfigs of a few topic keys, reduced to name -> (value, source). Kafka applies
    a config change asynchronously (the controller commits it, then the broker's metadata
    catches up), so the answer is taken once two reads 150 ms apart agree."""
    prev = None
    for _ in range(20):
        cur = r.describe_configs(None, TOPIC, topic, keys, v=4, synonyms=False)
        if cur is not None and cur == prev:
            break
        prev = cur
        time.sleep(0.15)

    def norm(resp):
        res = resp["Results"][0]
        return {"ErrorCode": res["ErrorCode"], "Configs": {
            c["Name"]: [c["Value"], c["ConfigSource"]] for c in res["Configs"]}}
    return r.describe_configs(step, TOPIC, topic, keys, v=4, synonyms=False, norm=norm)


@scenario
def sc_alter_configs(r):
    a = r.t("ac")
    keys = ["retention.ms", "segment.bytes", "cleanup.policy", "max.message.bytes"]
    r.create("create", a, 1, {"max.message.bytes": "200000"})

    def alter(step, configs, v=2, name=a, rtype=TOPIC, validate=False, norm=None):
        return r.call(step, "AlterConfigs", v, {"Resources": [{
            "ResourceType": rtype, "ResourceName": name,
            "Configs": [{"Name": k, "Value": val} for k, val in configs.items()]}],
            "ValidateOnly": validate}, norm=norm)

    alter("set two v2", {"retention.ms": "1000", "segment.bytes": "1048576"})
    describe_values(r, "after set two", a, keys)
    alter("replace with one v0", {"cleanup.policy": "compact"}, v=0)
    describe_values(r, "after replace (others reset)", a, keys)
    alter("validate only", {"retention.ms": "5"}, validate=True)
    describe_values(r, "validate only changed nothing", a, keys)
    alter("unknown name", {"no.such.config": "1"})
    alter("bad value", {"retention.ms": "x"})
    alter("null value", {"retention.ms": None})
    alter("unknown topic", {"retention.ms": "1"}, name=r.t("ac-unknown"))
    describe_values(r, "refused changes changed nothing", a, keys)
    # runneld's broker settings are static (config file and flags; handle_configs.c): it
    # refuses every broker AlterConfigs, where Kafka 4.1 even stores an unknown broker key.
    alter("broker unknown name", {"no.such.config": "1"}, rtype=BROKER, name="1",
          norm=accepted_or_refused)
    alter("broker read-only", {"log.dirs": "/tmp/x"}, rtype=BROKER, name="1")

    def inc(step, ops, v=1, name=a, validate=False, norm=None):
        return r.call(step, "IncrementalAlterConfigs", v, {"Resources": [{
            "ResourceType": TOPIC, "ResourceName": name,
            "Configs": [{"Name": k, "ConfigOperation": op, "Value": val} for k, op, val in ops]}],
            "ValidateOnly": validate}, norm=norm)

    SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
    b = r.t("iac")
    r.create("create b", b)
    inc("incremental set v1", [("retention.ms", SET, "7200000")], name=b)
    inc("incremental set v0", [("segment.bytes", SET, "2097152")], v=0, name=b)
    describe_values(r, "incremental after set", b, keys)
    inc("incremental delete", [("retention.ms", DELETE, None)], name=b)
    inc("incremental delete unset", [("max.message.bytes", DELETE, None)], name=b)
    describe_values(r, "incremental after delete", b, keys)
    inc("incremental append to list", [("cleanup.policy", APPEND, "compact")], name=b)
    describe_values(r, "incremental after append", b, keys)
    inc("incremental append present value", [("cleanup.policy", APPEND, "compact")], name=b)
    inc("incremental subtract from list", [("cleanup.policy", SUBTRACT, "delete")], name=b)
    describe_values(r, "incremental after subtract", b, keys)
    inc("incremental append to non-list", [("retention.ms", APPEND, "5")], name=b)
    inc("incremental subtract from non-list", [("retention.ms", SUBTRACT, "5")], name=b)
    inc("incremental unknown name", [("no.such.config", SET, "1")], name=b)
    inc("incremental bad value", [("segment.bytes", SET, "big")], name=b)
    # Kafka 4.1.1 fails on an operation code it does not know with UNKNOWN_SERVER_ERROR (-1),
    # an internal error rather than a contract; runnel answers INVALID_REQUEST. Compared:
    # that the change is refused.
    inc("incremental unknown operation", [("retention.ms", 7, "1")], name=b, norm=refused)
    inc("incremental same key twice", [("retention.ms", SET, "1"), ("retention.ms", SET, "2")],
        name=b)
    inc("incremental set null value", [("retention.ms", SET, None)], name=b)
    inc("incremental validate only", [("retention.ms", SET, "99")], name=b, validate=True)
    inc("incremental unknown topic", [("retention.ms", SET, "1")], name=r.t("iac-unknown"))
    describe_values(r, "incremental refused changes changed nothing", b, keys)


PRODUCE_TS = 1700000000000


@scenario
def sc_produce(r):
    a = r.t("pr")
    r.create("create", a, 1)
    r.produce("acks -1 v9", a, W.batch([b"a", b"b", b"c"]))
    r.produce("acks 1 v3", a, W.batch([b"d"]), v=3, acks=1)
    r.produce("acks 1 v7", a, W.batch([b"e"]), v=7, acks=1)
    r.produce("acks 0 v8", a, W.batch([b"f"]), v=8, acks=0)
    r.produce("acks 2 (invalid)", a, W.batch([b"g"]), acks=2)
    r.produce("unknown topic", r.t("pr-unknown"), W.batch([b"x"]))
    r.produce("unknown partition", a, W.batch([b"x"]), partition=5)
    r.produce("negative partition", a, W.batch([b"x"]), partition=-1)
    bad = bytearray(W.batch([b"crc"]))
    bad[-1] ^= 0xFF
    r.produce("bad crc v9", a, bytes(bad))
    r.produce("bad crc v3", a, bytes(bad), v=3)
    r.produce("truncated batch", a, W.batch([b"truncated"])[:40])
    r.produce("two batches in one partition", a, W.batch([b"x"]) + W.batch([b"y"]))
    count_bad = W.with_record_count(W.batch([b"p", b"q"]), 3)  # 3 announced, 2 follow
    r.produce("record count mismatch", a, count_bad)
    r.produce("magic 1 message set v3", a, W.message_set([b"old"]), v=3)
    r.produce("magic 1 message set v9", a, W.message_set([b"old"]))
    r.produce("magic 0 message set v3", a, W.message_set([b"old"], magic=0), v=3)
    r.produce("empty records", a, b"")
    # acks=0 and a failed partition: no answer, the connection is closed instead (the client
    # notices and refreshes its metadata).
    r.produce(None, r.t("pr-unknown"), W.batch([b"x"]), acks=0)
    r.call("request after a failed acks=0 produce", "ApiVersions", 0, {}, norm=only("ErrorCode"))
    # Null records are not tried: Kafka 4.1.1 never answers such a request (the connection
    # stays open, the client times out), so there is no reference answer to compare.
    small = r.t("pr-small")
    r.create("create max.message.bytes 1024", small, 1, {"max.message.bytes": "1024"})
    r.produce("batch over max.message.bytes", small, W.batch([b"z" * 2000]))
    r.produce("batch at limit passes", small, W.batch([b"z" * 900]))
    r.produce("batch over message.max.bytes (broker)", a, W.batch([b"z" * (1024 * 1024 + 100)]))
    comp = r.t("pr-compact")
    r.create("create compacted", comp, 1, {"cleanup.policy": "compact"})
    r.produce("compacted topic, record without key", comp, W.batch([b"no key"]))
    r.produce("compacted topic, record without key v7", comp, W.batch([b"no key"]), v=7)
    r.fetch("nothing refused was appended", a, 0, norm=lambda x: {
        "hw": x["Responses"][0]["Partitions"][0]["HighWatermark"]})

    # Idempotence.
    r.wait_producer_ids()
    init = r.call("init producer id", "InitProducerId", 4, {
        "TransactionalId": None, "TransactionTimeoutMs": 60000})
    pid, epoch = init["ProducerId"], init["ProducerEpoch"]
    b = r.t("pr-idem")
    r.create("create idem", b, 1)
    first = W.batch([b"i0", b"i1"], producer_id=pid, epoch=epoch, base_seq=0)
    r.produce("idempotent seq 0", b, first)
    r.produce("duplicate of seq 0", b, first)
    r.produce("next seq 2", b, W.batch([b"i2"], producer_id=pid, epoch=epoch, base_seq=2))
    r.produce("duplicate of seq 0 after seq 2", b, first)
    r.produce("gap seq 5", b, W.batch([b"i5"], producer_id=pid, epoch=epoch, base_seq=5))
    r.produce("seq 3 continues", b, W.batch([b"i3"], producer_id=pid, epoch=epoch, base_seq=3))
    # A producer bumps its own epoch (KIP-360) by starting the new epoch at sequence 0.
    r.produce("higher epoch seq 3 (not 0)", b, W.batch([b"e"], producer_id=pid, epoch=epoch + 1,
                                                       base_seq=3))
    r.produce("higher epoch seq 0", b, W.batch([b"e"], producer_id=pid, epoch=epoch + 1,
                                               base_seq=0))
    r.produce("stale epoch", b, W.batch([b"s"], producer_id=pid, epoch=epoch, base_seq=4))
    r.produce("higher epoch seq 1", b, W.batch([b"e"], producer_id=pid, epoch=epoch + 1,
                                               base_seq=1))
    r.produce("unknown producer id seq 0", b, W.batch([b"u"], producer_id=pid + 1000,
                                                      epoch=0, base_seq=0))
    r.produce("unknown producer id seq 7", b, W.batch([b"u"], producer_id=pid + 2000,
                                                      epoch=0, base_seq=7))
    again = r.call("init producer id with its id and epoch (v4)", "InitProducerId", 4, {
        "TransactionalId": None, "TransactionTimeoutMs": 60000, "ProducerId": pid,
        "ProducerEpoch": epoch})
    if again and again["ErrorCode"] == 0:
        r.note("init producer id again: [same id, epoch change]",
               [again["ProducerId"] == pid, again["ProducerEpoch"] - epoch])
    r.produce("sequence without producer id", b, W.batch([b"q"], base_seq=3))
    txn = W.batch([b"t"], producer_id=pid, epoch=epoch, base_seq=0, attributes=0x10)
    r.produce("transactional batch without transaction", b, txn, txn="diff-txn")


def part0(resp):
    """A Fetch answer reduced to its one partition (and the top error / session)."""
    out = {k: resp[k] for k in ("ErrorCode", "SessionId") if k in resp}
    if isinstance(out.get("SessionId"), int) and out["SessionId"] != 0:
        out["SessionId"] = "<session>"  # see fetch_session()
    topics = resp.get("Responses") or []
    out["topics"] = len(topics)
    if topics:
        t = topics[0]
        out["topic"] = t.get("Topic", t.get("TopicId"))
        out["partition"] = t["Partitions"][0] if t["Partitions"] else None
    if "_held" in resp:
        out["_held"] = resp["_held"]
    return out


@scenario
def sc_fetch(r):
    a = r.t("fe")
    r.create("create", a, 1)
    r.produce(None, a, W.batch([b"a0", b"a1"], ts=PRODUCE_TS))
    r.produce(None, a, W.batch([b"b2", b"b3", b"b4"], ts=PRODUCE_TS + 10))
    r.produce(None, a, W.batch([b"c" * 3000], ts=PRODUCE_TS + 20))
    for v in (4, 11, 12):
        r.fetch("offset 0 v%d" % v, a, 0, v=v, norm=part0)
    r.fetch("offset 3 (inside a batch)", a, 3, norm=part0)
    r.fetch("offset at end", a, 6, norm=part0)
    r.fetch("offset past end", a, 16, norm=part0)
    r.fetch("offset -1", a, -1, norm=part0)
    r.fetch("partition_max_bytes 10", a, 0, part_max=10, norm=part0)
    r.fetch("partition_max_bytes 10 at the big batch", a, 5, part_max=10, norm=part0)
    r.fetch("partition_max_bytes 100 (a batch and a part)", a, 0, part_max=100, norm=part0)
    r.fetch("max_bytes 10", a, 0, max_bytes=10, norm=part0)
    r.fetch("read committed", a, 0, isolation=1, norm=part0)
    r.fetch("max_wait 500 at end", a, 6, max_wait=500, norm=part0)
    r.fetch("max_wait 500 with data", a, 0, max_wait=500, norm=part0)
    r.fetch("min_bytes 1 MB max_wait 300", a, 0, max_wait=300, min_bytes=1 << 20, norm=part0)
    r.fetch("unknown topic v12", r.t("fe-unknown"), 0, norm=part0)
    r.fetch("unknown partition", a, 0, partition=9, norm=part0)
    r.fetch("current leader epoch 5 (future)", a, 0, leader_epoch=5, norm=part0)
    r.fetch("current leader epoch 0", a, 0, leader_epoch=0, norm=part0)
    md = r.metadata(None, [a])
    tid = md["Topics"][0]["TopicId"] if md else "0" * 32
    r.fetch("by topic id v13", None, 0, v=13, topic_id=tid, norm=part0)
    r.fetch("unknown topic id v13", None, 0, v=13, topic_id="0123456789abcdef0123456789abcdef",
            norm=part0)
    r.fetch("zero topic id v13", None, 0, v=13, topic_id="0" * 32, norm=part0)
    r.fetch("unknown session id", a, 0, session=(12345, 1), norm=part0)
    # A session's life (broker/data/handle_fetch.c): open, incremental, wrong epoch, close.
    s = r.fetch("new session (epoch 0)", a, 0, session=(0, 0), norm=part0)
    sid = s["SessionId"] if s else 0
    hw = s["Responses"][0]["Partitions"][0]["HighWatermark"] if s and s["Responses"] else 0
    r.fetch("incremental, same offset", a, 0, session=(sid, 1), norm=part0)
    r.fetch("incremental, at the high watermark (nothing new)", a, hw, session=(sid, 2),
            norm=part0)
    r.fetch("incremental, past the end", a, 1 << 20, session=(sid, 3), norm=part0)
    r.fetch("incremental, repeated epoch", a, 0, session=(sid, 3), norm=part0)
    r.fetch("incremental, next epoch", a, 1 << 20, session=(sid, 4), norm=part0)
    r.fetch("close (epoch -1)", a, 0, session=(sid, -1), norm=part0)
    r.fetch("closed session", a, 0, session=(sid, 5), norm=part0)


@scenario
def sc_topic_settings(r):
    """Topic configs that change what is stored: LogAppendTime and compression.type."""
    lat = r.t("ts-lat")
    r.create("create LogAppendTime", lat, 1, {"message.timestamp.type": "LogAppendTime"})
    r.produce("produce LogAppendTime", lat, W.batch([b"a", b"b"]))
    r.fetch("fetch LogAppendTime", lat, 0, norm=part0)
    r.list_offsets("max timestamp LogAppendTime", lat, -3)
    r.list_offsets("by old CreateTime LogAppendTime", lat, PRODUCE_TS)
    prod = r.t("ts-producer-codec")
    r.create("create compression producer", prod, 1)
    r.produce("produce gzip batch", prod, W.batch([b"z1", b"z2"], gzipped=True))
    r.fetch("fetch gzip batch as produced", prod, 0, norm=part0)
    gz = r.t("ts-gzip")
    r.create("create compression gzip", gz, 1, {"compression.type": "gzip"})
    r.produce("produce uncompressed to gzip topic", gz, W.batch([b"u1", b"u2"]))
    r.fetch("fetch from gzip topic", gz, 0, norm=part0)
    un = r.t("ts-uncompressed")
    r.create("create compression uncompressed", un, 1, {"compression.type": "uncompressed"})
    r.produce("produce gzip to uncompressed topic", un, W.batch([b"g1", b"g2"], gzipped=True))
    r.fetch("fetch from uncompressed topic", un, 0, norm=part0)


@scenario
def sc_produce_records(r):
    """Record-level refusals (KIP-467): every failing record is listed in RecordErrors and
    the whole batch fails; the wording is free but the indexes and codes are compared."""
    comp = r.t("prr-compact")
    r.create("create compacted", comp, 1, {"cleanup.policy": "compact"})
    keys = [None if i % 10 == 3 else b"k%d" % i for i in range(100)]
    values = [b"v%d" % i for i in range(100)]
    r.produce("10 of 100 records without key", comp, W.batch(values, keys=keys))
    r.produce("10 of 100 records without key v7", comp, W.batch(values, keys=keys), v=7)
    r.produce("all keyed passes", comp, W.batch([b"a", b"b"], keys=[b"ka", b"kb"]))
    gz = W.batch(values[:20], keys=keys[:20], gzipped=True)
    r.produce("gzip batch, 2 of 20 without key", comp, gz)
    old = r.t("prr-before")
    r.create("create before.max.ms 1h", old, 1, {"message.timestamp.before.max.ms": "3600000"})
    r.produce("records older than the window", old, W.batch([b"o1", b"o2", b"o3"]))
    r.produce("gzip records older than the window", old, W.batch([b"o1"], gzipped=True))
    r.produce("records older than the window v7", old, W.batch([b"o1"]), v=7)
    now = int(time.time() * 1000)
    r.produce("records inside the window", old, W.batch([b"n1", b"n2"], ts=now))
    new = r.t("prr-after")
    r.create("create after.max.ms 1h", new, 1, {"message.timestamp.after.max.ms": "3600000"})
    r.produce("first record now, second 2 h ahead", new,
              W.batch([b"n", b"f"], ts=now, ts_step=7200000))
    lat = r.t("prr-lat")
    r.create("create LogAppendTime before.max.ms 1h", lat, 1, {
        "message.timestamp.type": "LogAppendTime", "message.timestamp.before.max.ms": "3600000"})
    r.produce("old records under LogAppendTime pass", lat, W.batch([b"l"]))
    both = r.t("prr-both")
    r.create("create compacted before.max.ms 1h", both, 1, {
        "cleanup.policy": "compact", "message.timestamp.before.max.ms": "3600000"})
    r.produce("null key and old timestamp", both, W.batch([b"x", b"y"], keys=[None, b"k"]))


@scenario
def sc_list_offsets(r):
    a = r.t("lo")
    r.create("create", a, 1)
    r.list_offsets("empty latest", a, -1)
    r.list_offsets("empty earliest", a, -2)
    r.list_offsets("empty max timestamp v7", a, -3)
    r.list_offsets("empty by time", a, PRODUCE_TS)
    r.produce(None, a, W.batch([b"0", b"1", b"2"], ts=PRODUCE_TS + 1000))
    r.produce(None, a, W.batch([b"3", b"4"], ts=PRODUCE_TS + 2000, ts_step=5))
    r.produce(None, a, W.batch([b"5"], ts=PRODUCE_TS + 1500))  # an older timestamp, later
    for v in (1, 5, 7):
        r.list_offsets("latest v%d" % v, a, -1, v=v)
        r.list_offsets("earliest v%d" % v, a, -2, v=v)
    r.list_offsets("max timestamp v7", a, -3)
    r.list_offsets("max timestamp in v6", a, -3, v=6)
    r.list_offsets("time before everything", a, 0)
    r.list_offsets("time inside first batch", a, PRODUCE_TS + 1001)
    r.list_offsets("time between batches", a, PRODUCE_TS + 1200)
    r.list_offsets("time inside second batch", a, PRODUCE_TS + 2003)
    r.list_offsets("time after everything", a, PRODUCE_TS + 9000)
    r.list_offsets("time between, v1", a, PRODUCE_TS + 1200, v=1)
    r.list_offsets("read committed latest", a, -1, isolation=1)
    r.list_offsets("unknown partition", a, -1, partitions=(3,))
    r.list_offsets("unknown topic", r.t("lo-unknown"), -1)
    r.list_offsets("future leader epoch", a, -1, leader_epoch=7)
    r.list_offsets("current leader epoch 0", a, -1, leader_epoch=0)
    r.list_offsets("timestamp -4 in v7", a, -4)
    r.list_offsets("timestamp -7", a, -7)


@scenario
def sc_delete_records(r):
    a = r.t("dr")
    r.create("create", a, 1)
    r.produce(None, a, W.batch([b"0", b"1", b"2", b"3", b"4"]))

    def dr(step, offset, v=2, topic=a, partition=0):
        return r.call(step, "DeleteRecords", v, {"Topics": [{"Name": topic, "Partitions": [
            {"PartitionIndex": partition, "Offset": offset}]}], "TimeoutMs": 10000})

    dr("beyond high watermark", 10)
    r.list_offsets("earliest unchanged", a, -2)
    dr("to offset 2 v0", 2, v=0)
    r.list_offsets("earliest after 2", a, -2)
    dr("below log start", 1)
    dr("-1 means high watermark v1", -1, v=1)
    r.list_offsets("earliest after -1", a, -2)
    r.list_offsets("latest after -1", a, -1)
    r.fetch("fetch below log start", a, 0, norm=part0)
    dr("-2 (invalid)", -2)
    dr("unknown partition", 1, partition=4)
    dr("unknown topic", 1, topic=r.t("dr-unknown"))
    r.produce("produce after delete", a, W.batch([b"5"]))


@scenario
def sc_offset_for_leader_epoch(r):
    a = r.t("ofle")
    r.create("create", a, 1)

    def ofle(step, epoch, v=4, current=-1, topic=a, partition=0, replica=-1):
        req = {"Topics": [{"Topic": topic, "Partitions": [
            {"Partition": partition, "CurrentLeaderEpoch": current, "LeaderEpoch": epoch}]}]}
        if v >= 3:
            req["ReplicaId"] = replica
        return r.call(step, "OffsetForLeaderEpoch", v, req)

    ofle("empty partition epoch 0", 0)
    r.produce(None, a, W.batch([b"0", b"1", b"2"]))
    for v in (2, 3, 4):
        ofle("epoch 0 v%d" % v, 0, v=v)
    ofle("unknown future epoch 5", 5)
    ofle("epoch -1", -1)
    ofle("current epoch 0 given", 0, current=0)
    ofle("current epoch 3 (future)", 0, current=3)
    ofle("replica id -2 (debug)", 0, replica=-2)
    ofle("unknown partition", 0, partition=3)
    ofle("unknown topic", 0, topic=r.t("ofle-unknown"))


@scenario
def sc_kafka3_versions(r):
    """The versions Kafka 3.9 served and 4.0 dropped (KIP-896), which runnel serves; only when
    comparing with Kafka 3.x (KAFKA_REF_VERSION=3.9.1), as Kafka 4 closes the connection."""
    if not KAFKA_VERSION.startswith("3."):
        return
    a = r.t("k3")
    r.create(None, a, 1)  # not compared: Kafka 3.x lists topic configs 4.0 removed
    r.produce(None, a, W.batch([b"0", b"1", b"2"]))
    r.produce(None, a, W.batch([b"3", b"4"]))

    def lo0(step, ts, n, topic=a, replica=-1):
        r.call(step, "ListOffsets", 0, {"ReplicaId": replica, "Topics": [{"Name": topic,
               "Partitions": [{"PartitionIndex": 0, "Timestamp": ts, "MaxNumOffsets": n}]}]})

    lo0("list offsets v0 latest", -1, 10)
    lo0("list offsets v0 latest, one", -1, 1)
    lo0("list offsets v0 earliest", -2, 10)
    lo0("list offsets v0 none wanted", -1, 0)
    lo0("list offsets v0 after every write", int(time.time() * 1000) + 3600 * 1000, 10)
    lo0("list offsets v0 before every segment", 1000, 10)
    lo0("list offsets v0 timestamp -3", -3, 10)
    lo0("list offsets v0 debugging replica", -1, 10, replica=-2)
    lo0("list offsets v0 unknown topic", -1, 1, topic=r.t("k3-unknown"))
    for v in (0, 1):
        r.call("offset for leader epoch v%d" % v, "OffsetForLeaderEpoch", v, {"Topics": [
            {"Topic": a, "Partitions": [{"Partition": 0, "LeaderEpoch": 0}]}]})
    group = r.t("k3-group")
    fetch_req = {"GroupId": group, "Topics": [{"Name": a, "PartitionIndexes": [0]}]}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the group's coordinator has loaded
        r.call(None, "FindCoordinator", 0, {"Key": group})  # creates __consumer_offsets
        f = r.call(None, "OffsetFetch", 1, fetch_req)
        if f and f["Topics"][0]["Partitions"][0]["ErrorCode"] == 0:
            break
        time.sleep(0.3)

    def commit(step, v, offset, metadata, ts=-1):
        r.call(step, "OffsetCommit", v, {"GroupId": group, "GenerationIdOrMemberEpoch": -1,
               "MemberId": "", "Topics": [{"Name": a, "Partitions": [
                   {"PartitionIndex": 0, "CommittedOffset": offset,
                    "CommittedMetadata": metadata, "CommitTimestamp": ts}]}]})

    commit("offset commit v1", 1, 4, "v1", ts=1234567890123)
    r.call("offset fetch v1", "OffsetFetch", 1, fetch_req)
    commit("offset commit v0", 0, 3, "v0")
    r.call("offset fetch v0", "OffsetFetch", 0, fetch_req)
    b = r.t("k3-ct")
    r.call("create topics v0", "CreateTopics", 0, {"Topics": [
        {"Name": b, "NumPartitions": 2, "ReplicationFactor": 1, "Assignments": [],
         "Configs": [{"Name": "retention.ms", "Value": "60000"}]}], "timeoutMs": 10000})
    r.wait_ready(b, 2)
    r.call("create topics v1 validate only", "CreateTopics", 1, {"Topics": [
        {"Name": r.t("k3-vo"), "NumPartitions": 1, "ReplicationFactor": 1, "Assignments": [],
         "Configs": []}], "timeoutMs": 10000, "validateOnly": True})
    r.call("create topics v1 existing", "CreateTopics", 1, {"Topics": [
        {"Name": b, "NumPartitions": 1, "ReplicationFactor": 1, "Assignments": [],
         "Configs": []}], "timeoutMs": 10000, "validateOnly": False}, norm=only("Topics"))
    r.call("describe configs v0", "DescribeConfigs", 0, {"Resources": [
        {"ResourceType": 2, "ResourceName": b,
         "ConfigurationKeys": ["retention.ms", "cleanup.policy"]}]})
    r.call("delete topics v0", "DeleteTopics", 0, {"TopicNames": [b, r.t("k3-never")],
                                                    "TimeoutMs": 10000})
    r.call("fetch v3", "Fetch", 3, {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 1,
                                    "MaxBytes": 1 << 20, "Topics": [{"Topic": a, "Partitions": [
                                        {"Partition": 0, "FetchOffset": 0,
                                         "PartitionMaxBytes": 1 << 20}]}]},
           norm=lambda resp: {"answered": True})


@scenario
def sc_init_producer_id(r):
    r.wait_producer_ids()
    for v in (0, 2, 4):
        r.call("no transactional id v%d" % v, "InitProducerId", v, {
            "TransactionalId": None, "TransactionTimeoutMs": 60000})
    r.call("empty transactional id", "InitProducerId", 4, {
        "TransactionalId": "", "TransactionTimeoutMs": 60000})
    r.call("unknown producer id and epoch", "InitProducerId", 4, {
        "TransactionalId": None, "TransactionTimeoutMs": 60000, "ProducerId": 987654321,
        "ProducerEpoch": 3})
    r.call("transactional id", "InitProducerId", 4, {
        "TransactionalId": r.t("txn"), "TransactionTimeoutMs": 60000})
    r.call("transactional id with huge timeout", "InitProducerId", 4, {
        "TransactionalId": r.t("txn2"), "TransactionTimeoutMs": 1 << 30})


@scenario
def sc_describe_cluster(r):
    r.call("v0", "DescribeCluster", 0, {"IncludeClusterAuthorizedOperations": False})
    r.call("v1", "DescribeCluster", 1, {"IncludeClusterAuthorizedOperations": True,
                                        "EndpointType": 1})
    r.call("v1 controllers endpoint", "DescribeCluster", 1, {
        "IncludeClusterAuthorizedOperations": False, "EndpointType": 2}, norm=answered)


# ---- driver ----------------------------------------------------------------------------------

def run_all(label, addr, run_id, pattern, verbose=False):
    r = Run(label, addr, run_id, verbose)
    for name, fn in SCENARIOS:
        if pattern and not re.search(pattern, name):
            continue
        r.scenario = name
        try:
            fn(r)
        except Exception as e:  # noqa: BLE001 - reported as a step of its own
            r.answers["%s/aborted" % name] = "%s: %s" % (type(e).__name__, e)
            sys.stderr.write("%s: scenario %s aborted:\n%s" % (label, name,
                                                               traceback.format_exc()))
            r.conn.close()
    r.conn.close()
    return r


class Tap:
    def __init__(self):
        self.n = self.failed = self.todo = 0

    def line(self, ok, desc, diag=(), todo=None):
        self.n += 1
        suffix = " # TODO %s" % todo if todo else ""
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, desc, suffix), flush=True)
        for d in diag:
            print("#   " + d, flush=True)
        if not ok:
            if todo:
                self.todo += 1
            else:
                self.failed += 1


def short(v):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= 300 else s[:300] + "..."


def report(tap, kafka, runnel, who="kafka"):
    """One TAP line per step of either side."""
    steps = list(kafka) + [k for k in runnel if k not in kafka]
    for step in steps:
        todo = next((why for pat, why in KNOWN if re.search(pat, step)), None)
        if step not in kafka:
            tap.line(False, step, ["no %s answer recorded (re-record with --record)" % who], todo)
            continue
        if step not in runnel:
            tap.line(False, step, ["runnel: step not reached; %s: %s" % (who, short(kafka[step]))],
                     todo)
            continue
        diffs = compare(step, kafka[step], runnel[step])
        diag = ["%s: %s=%s runnel=%s" % (p or "answer", who, short(a), short(b))
                for p, a, b in diffs[:40]]
        if len(diffs) > 40:
            diag.append("... %d more differences" % (len(diffs) - 40))
        tap.line(not diffs, step, diag, todo)


def write_recording(path, answers):
    """The recorded answers as JSON, one step per line (so that a re-recording diffs by step)."""
    with open(path, "w") as f:
        f.write('{"kafka_version": %s,\n' % json.dumps(KAFKA_VERSION))
        f.write(' "about": %s,\n' % json.dumps(
            "Apache Kafka's normalized answers to tests/interop/differential.py; re-record with "
            "differential.py --kafka HOST:PORT --record (or --start-kafka --record)"))
        f.write(' "answers": {\n')
        steps = list(answers)
        for i, step in enumerate(steps):
            f.write("  %s: %s%s\n" % (json.dumps(step), json.dumps(answers[step], sort_keys=True),
                                      "," if i + 1 < len(steps) else ""))
        f.write(" }\n}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kafka", help="HOST:PORT of an Apache Kafka broker")
    ap.add_argument("--start-kafka", action="store_true",
                    help="start Kafka with scripts/kafka-ref.sh on a free port (and stop it)")
    ap.add_argument("--runnel", help="HOST:PORT of a running runneld (default: start one)")
    ap.add_argument("--record", metavar="FILE", nargs="?", const=DEFAULT_EXPECTED,
                    help="write Kafka's normalized answers to FILE")
    ap.add_argument("--expected", metavar="FILE", nargs="?", const=DEFAULT_EXPECTED,
                    help="compare runneld with answers recorded in FILE (no Kafka needed)")
    ap.add_argument("--kafka-only", action="store_true", help="print Kafka's raw answers")
    ap.add_argument("--runnel-only", action="store_true", help="print runneld's raw answers")
    ap.add_argument("--only", metavar="REGEX", help="run the scenarios matching REGEX")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    args = ap.parse_args()
    if args.list:
        for name, _ in SCENARIOS:
            print(name)
        return 0
    signal.signal(signal.SIGALRM, lambda *a: (print("Bail out! watchdog: 600 s"),
                                              sys.stdout.flush(), os._exit(1)))
    signal.alarm(600)

    run_id = "%x" % (int(time.time() * 1000) % (1 << 32))
    need_kafka = not args.expected and not args.runnel_only
    need_runnel = not args.record and not args.kafka_only
    started_kafka = None
    runneld = None
    try:
        kafka_addr = None
        if need_kafka:
            if args.start_kafka:
                port = free_port()
                subprocess.run([os.path.join(ROOT, "scripts", "kafka-ref.sh"), "start",
                                str(port)], check=True)
                started_kafka = port
                kafka_addr = ("127.0.0.1", port)
            elif args.kafka:
                kafka_addr = parse_addr(args.kafka)
            else:
                sys.exit("differential: give --kafka HOST:PORT, --start-kafka or --expected")
        runnel_addr = None
        if need_runnel:
            if args.runnel:
                runnel_addr = parse_addr(args.runnel)
            else:
                runneld = Runneld()
                runnel_addr = ("127.0.0.1", runneld.port)

        if args.kafka_only or args.runnel_only:
            label, addr = ("kafka", kafka_addr) if args.kafka_only else ("runnel", runnel_addr)
            run_all(label, addr, run_id, args.only, verbose=True)
            return 0
        if args.record:
            k = run_all("kafka", kafka_addr, run_id, args.only)
            write_recording(args.record, k.answers)
            print("# recorded %d answers from Kafka %s at %s:%d into %s" % (
                len(k.answers), KAFKA_VERSION, kafka_addr[0], kafka_addr[1], args.record))
            return 0

        tap = Tap()
        if args.expected:
            with open(args.expected) as f:
                doc = json.load(f)
            kafka_answers = doc["answers"]
            if args.only:
                kafka_answers = {s: a for s, a in kafka_answers.items()
                                 if re.search(args.only, s.split("/")[0])}
            print("# runneld at %s:%d against Kafka %s answers in %s" % (
                runnel_addr + (doc["kafka_version"], os.path.relpath(args.expected, ROOT))))
            who = "kafka(recorded)"
        else:
            print("# Kafka at %s:%d, runneld at %s:%d" % (kafka_addr + runnel_addr))
            kafka_answers = run_all("kafka", kafka_addr, run_id, args.only).answers
            who = "kafka"
        rn = run_all("runnel", runnel_addr, run_id, args.only)
        report(tap, kafka_answers, rn.answers, who)
        if runneld is not None:
            alive = runneld.alive()
            rc = runneld.stop()
            tap.line(alive and rc == 0, "runneld still running and stops cleanly (exit %r)" % rc,
                     [] if alive and rc == 0 else runneld.log_tail().splitlines()[-20:])
        print("1..%d" % tap.n)
        print("# %d compared, %d differ, %d known differences (TODO)" % (
            tap.n, tap.failed, tap.todo))
        return 1 if tap.failed else 0
    finally:
        if runneld is not None:
            runneld.stop()
            runneld.cleanup()
        if started_kafka is not None:
            subprocess.run([os.path.join(ROOT, "scripts", "kafka-ref.sh"), "stop",
                            str(started_kafka)])


if __name__ == "__main__":
    sys.exit(main())
