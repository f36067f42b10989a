"""One request must never crash the broker, stall its loop or pin its memory: each case is a
hostile request found to do one of these (an abort, a multi-second stall, fds exhausted for
good, a response a thousand times the request) and checks the bound that stops it, while a
good client's Metadata latency is measured on another connection. Small limits come from
flags so the whole test stays fast; the figures are printed as TAP diagnostics."""

import os
import resource
import struct
import subprocess
import sys
import threading
import time
import zlib

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from datapath_common import Broker, Conn, Tap, W, metadata_create, produce  # noqa: E402

UNKNOWN_TOPIC_OR_PARTITION = 3
KAFKA_STORAGE_ERROR = 56
INVALID_PARTITIONS = 37
POLICY_VIOLATION = 44
I32MAX = 2**31 - 1


def sanitized():
    """True for a build with the sanitizers, whose shadow memory needs an unlimited address
    space."""
    try:
        with open(os.path.join(D.BUILD, "CMakeCache.txt")) as f:
            return "RN_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


class LimitedBroker(Broker):
    """runneld under resource limits (RLIMIT_NOFILE, RLIMIT_AS), so a case that exhausts fds
    or memory does so quickly and without hurting the machine."""

    def __init__(self, extra_args=None, nofile=None, address_space=None, soft_nofile=None):
        self.nofile = nofile
        self.soft_nofile = soft_nofile or nofile
        self.address_space = address_space
        super().__init__(extra_args)

    def start(self):
        def limits():
            D._die_with_parent()
            if self.nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.soft_nofile, self.nofile))
            if self.address_space and not sanitized():
                resource.setrlimit(resource.RLIMIT_AS, (self.address_space, self.address_space))
        real = subprocess.Popen

        def popen(*a, **kw):
            kw["preexec_fn"] = limits
            return real(*a, **kw)
        subprocess.Popen = popen
        try:
            super().start()
        finally:
            subprocess.Popen = real


class Latency:
    """A good client: Metadata calls on its own connection in a thread, for as long as the
    hostile request runs; the slowest one is what the loop's stall cost it."""

    def __init__(self, bootstrap):
        self.conn = Conn(bootstrap, timeout=60)
        self.worst = 0.0
        self.calls = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                self.conn.call("Metadata", 4, {"Topics": [], "AllowAutoTopicCreation": False})
            except Exception:  # noqa: BLE001 - a dead broker shows in the checks
                self.worst = max(self.worst, 99.0)
                return
            self.worst = max(self.worst, time.monotonic() - t0)
            self.calls += 1
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=70)
        self.conn.close()
        return self.worst


def timed(fn, *args):
    t0 = time.monotonic()
    try:
        r = fn(*args)
    except Exception as e:  # noqa: BLE001 - reported by the caller's check
        r = e
    return r, time.monotonic() - t0


# ---- CreateTopics num_partitions 2^31-1 ---------------------------------------------------------

def case_huge_partitions(t):
    b = LimitedBroker(["--max.partitions.per.topic", "1000"], address_space=3 << 30)
    t.cleanups.append(b.cleanup)
    conn = Conn(b.bootstrap, timeout=60)
    req = {"Topics": [{"Name": "huge", "NumPartitions": I32MAX, "ReplicationFactor": 1,
                       "Assignments": [], "Configs": []}], "timeoutMs": 30000}
    r, dt = timed(conn.call, "CreateTopics", 5, req)
    t.diag("CreateTopics num_partitions 2^31-1: %s in %.2f s" % (
        r if isinstance(r, Exception) else "error %d" % r["Topics"][0]["ErrorCode"], dt))
    t.ok(not isinstance(r, Exception) and r["Topics"][0]["ErrorCode"] in
         (INVALID_PARTITIONS, POLICY_VIOLATION),
         "num_partitions 2^31-1 answers INVALID_PARTITIONS / POLICY_VIOLATION", repr(r))
    conn2 = Conn(b.bootstrap)
    req["Topics"][0].update(Name="wide", NumPartitions=800)
    r2, _ = timed(conn2.call, "CreateTopics", 5, req)
    t.ok(not isinstance(r2, Exception) and r2["Topics"][0]["ErrorCode"] == 0,
         "a topic within max.partitions.per.topic is created", repr(r2))
    req["Topics"][0].update(Name="wider", NumPartitions=1001)
    r3, _ = timed(conn2.call, "CreateTopics", 5, req)
    t.ok(not isinstance(r3, Exception) and r3["Topics"][0]["ErrorCode"] == INVALID_PARTITIONS,
         "one over max.partitions.per.topic answers INVALID_PARTITIONS", repr(r3))
    r4, _ = timed(conn2.call, "CreatePartitions", 1, {"Topics": [
        {"Name": "wide", "Count": I32MAX, "Assignments": None}], "TimeoutMs": 30000,
        "ValidateOnly": False})
    t.ok(not isinstance(r4, Exception) and r4["Results"][0]["ErrorCode"] == INVALID_PARTITIONS,
         "CreatePartitions to 2^31-1 answers INVALID_PARTITIONS", repr(r4))
    b.finish(t)


# ---- 1,000 auto-created topics, one Fetch naming all, fd limit 768 ---------------------------
# A partition holds one fd (its .log; the indexes are mapped and closed), so 1,000 of them
# only press on the limit below ~1,030: at 768 the derived max.partitions (512) must stop
# them, and without it they exhaust the fds. runneld starts with a soft limit of 256 and
# raises it to the hard 768 itself.

def soft_nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def case_fd_exhaustion(t):
    b = LimitedBroker(["--auto.create.topics.rate", "100000"], nofile=768, soft_nofile=256)
    t.cleanups.append(b.cleanup)
    soft = soft_nofile(b.proc.pid)
    t.ok(soft == 768, "runneld raised its soft open-file limit from 256 to the hard 768 (%r)"
         % soft)
    conn = Conn(b.bootstrap, timeout=60)
    metadata_create(conn, "legit")  # a topic made before the attack, first used after it
    names = ["fd-%04d" % i for i in range(1000)]
    for i in range(0, len(names), 250):
        for _ in range(50):
            r = conn.call("Metadata", 4, {"Topics": [{"Name": n} for n in names[i:i + 250]],
                                          "AllowAutoTopicCreation": True})
            if all(x["ErrorCode"] != 5 for x in r["Topics"]):  # LEADER_NOT_AVAILABLE
                break
            time.sleep(0.05)
    all_md = conn.call("Metadata", 4, {"Topics": None, "AllowAutoTopicCreation": False})
    have = [x["Name"] for x in all_md["Topics"] if x["Name"].startswith("fd-")]
    t.diag("auto-created %d of 1000 topics under RLIMIT_NOFILE 768" % len(have))
    t.ok(256 < len(have) <= 512, "max.partitions derived from the raised limit: 768 - 256 "
         "partitions at most, more than the 256 of the start-up limit (%d)" % len(have))
    req = {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 1, "MaxBytes": 1 << 20,
           "IsolationLevel": 0, "SessionId": 0, "SessionEpoch": -1, "ForgottenTopicsData": [],
           "Topics": [{"Topic": n, "Partitions": [{"Partition": 0, "FetchOffset": 0,
                                                   "PartitionMaxBytes": 1024}]}
                      for n in names]}
    r, dt = timed(conn.call, "Fetch", 11, req)
    errs = {}
    if not isinstance(r, Exception):
        for tr in r["Responses"]:
            for p in tr["Partitions"]:
                errs[p["ErrorCode"]] = errs.get(p["ErrorCode"], 0) + 1
    t.diag("Fetch naming the 1000 topics: %.2f s, partition errors %s" % (dt, errs))
    res = produce(conn, "legit", D.record_batch([b"after"]))
    t.ok(res is not None and res[0] == 0,
         "a partition first used after the Fetch opens (error %r, not KAFKA_STORAGE_ERROR)"
         % (res and res[0]), b.log_text()[-1500:])
    t.ok(errs.get(KAFKA_STORAGE_ERROR, 0) == 0,
         "no partition of the Fetch is offline for lack of fds (%d were)"
         % errs.get(KAFKA_STORAGE_ERROR, 0))
    b.finish(t)


def case_fd_retry(t):
    """With the derived bound lifted, the same Fetch does exhaust the fds: a partition that
    failed to open then must come back once fds are free again, not stay offline."""
    b = LimitedBroker(["--auto.create.topics.rate", "100000", "--max.partitions", "100000"],
                      nofile=768)
    t.cleanups.append(b.cleanup)
    conn = Conn(b.bootstrap, timeout=60)
    metadata_create(conn, "legit")
    names = ["fd-%04d" % i for i in range(1000)]
    for i in range(0, len(names), 250):
        for _ in range(50):
            r = conn.call("Metadata", 4, {"Topics": [{"Name": n} for n in names[i:i + 250]],
                                          "AllowAutoTopicCreation": True})
            if all(x["ErrorCode"] != 5 for x in r["Topics"]):
                break
            time.sleep(0.05)
    req = {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 1, "MaxBytes": 1 << 20,
           "IsolationLevel": 0, "SessionId": 0, "SessionEpoch": -1, "ForgottenTopicsData": [],
           "Topics": [{"Topic": n, "Partitions": [{"Partition": 0, "FetchOffset": 0,
                                                   "PartitionMaxBytes": 1024}]}
                      for n in names]}
    conn.call("Fetch", 11, req)
    during = produce(conn, "legit", D.record_batch([b"during"]))
    conn.call("DeleteTopics", 5, {"TopicNames": names, "TimeoutMs": 30000})
    after, waited = None, 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        after = produce(conn, "legit", D.record_batch([b"after"]))
        if after and after[0] == 0:
            break
        time.sleep(0.1)
    waited = time.monotonic() - t0
    t.diag("max.partitions lifted: produce to a fresh partition while fds are exhausted: error "
           "%r; after the 1000 topics are deleted: error %r within %.1f s"
           % (during and during[0], after and after[0], waited))
    t.ok(after is not None and after[0] == 0,
         "a partition that failed to open for lack of fds opens once they are free "
         "(error %r)" % (after and after[0]), b.log_text()[-1500:])
    b.finish(t)


# ---- a gzip bomb, then ListOffsets by timestamp 150 times -----------------------------------

def bomb_batch(zeros, ts=1700000000000):
    """A gzip batch of one record whose value is `zeros` zero bytes (a small request that
    inflates a thousandfold)."""
    body_head = b"\x00" + W.varint(0) + W.varint(0) + W.varint(-1) + W.varint(zeros)
    body_len = len(body_head) + zeros + 1
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = bytearray(comp.compress(W.varint(body_len) + body_head))
    chunk = bytes(1 << 20)
    left = zeros
    while left > 0:
        n = min(left, len(chunk))
        out += comp.compress(chunk[:n])
        left -= n
    out += comp.compress(b"\x00") + comp.flush()
    after_crc = struct.pack(">hiqqqhii", 1, 0, ts, ts, -1, -1, -1, 1) + bytes(out)
    body = struct.pack(">ibI", 0, 2, W.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def case_gzip_bomb(t, b):
    conn = Conn(b.bootstrap, timeout=120)
    metadata_create(conn, "bomb")
    bomb = bomb_batch(256 << 20)
    r = produce(conn, "bomb", bomb)
    t.diag("gzip bomb: %d bytes inflating to 256 MiB, produce error %r" % (len(bomb), r and r[0]))
    req = {"ReplicaId": -1, "IsolationLevel": 0,
           "Topics": [{"Name": "bomb", "Partitions": [
               {"PartitionIndex": 0, "Timestamp": 1700000000000 - i, "CurrentLeaderEpoch": -1}
               for i in range(150)]}]}
    good = Latency(b.bootstrap)
    time.sleep(0.05)
    resp, dt = timed(conn.call, "ListOffsets", 5, req)
    worst = good.finish()
    t.diag("ListOffsets by timestamp, 150 entries on the bomb: %.2f s; good client's slowest "
           "Metadata %.3f s over %d calls" % (dt, worst, good.calls))
    ok = not isinstance(resp, Exception) and all(
        p["ErrorCode"] == 0 and p["Offset"] == 0 for p in resp["Topics"][0]["Partitions"])
    t.ok(ok, "every entry answers offset 0 (the bomb's batch)", repr(resp)[:500])
    t.ok(worst < 1.0, "the loop serves others meanwhile (slowest Metadata %.3f s < 1 s)" % worst)
    t.ok(dt < 3.0, "the request costs at most a few decompressions (%.2f s < 3 s)" % dt)


# ---- Fetch naming one partition 1,500 times, max_bytes 2^31-1 --------------------------------

def fetch_sizes(resp):
    total, entries = 0, 0
    for tr in resp["Responses"]:
        for p in tr["Partitions"]:
            entries += 1
            total += len(p["Records"] or b"")
    return total, entries


def case_fetch_bytes(t, b):
    conn = Conn(b.bootstrap, timeout=120)
    conn.call("CreateTopics", 5, {"Topics": [{"Name": "fat", "NumPartitions": 4,
                                              "ReplicationFactor": 1, "Assignments": [],
                                              "Configs": []}], "timeoutMs": 30000})
    metadata_create(conn, "fat")
    for p in range(4):
        for _ in range(10):
            produce(conn, "fat", D.record_batch([bytes(10000)]), partition=p)
    base = {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 1, "MaxBytes": I32MAX,
            "IsolationLevel": 0, "SessionId": 0, "SessionEpoch": -1, "ForgottenTopicsData": []}
    req = dict(base, Topics=[{"Topic": "fat", "Partitions": [
        {"Partition": 0, "FetchOffset": 0, "PartitionMaxBytes": 1 << 20}] * 1500}])
    body = W.encode("Fetch", "request", 11, req)
    resp, dt = timed(conn.call, "Fetch", 11, req)
    total, entries = fetch_sizes(resp) if not isinstance(resp, Exception) else (-1, -1)
    t.diag("Fetch naming fat-0 1500 times (%d-byte request): %d record bytes in %d partition "
           "entries, %.2f s" % (len(body), total, entries, dt))
    t.ok(entries == 1, "a partition named 1500 times is answered once, as Kafka does")
    t.ok(0 < total <= 150000, "the answer is that partition's data once (%d bytes)" % total)
    req = dict(base, Topics=[{"Topic": "fat", "Partitions": [
        {"Partition": p, "FetchOffset": 0, "PartitionMaxBytes": 1 << 20} for p in range(4)]}])
    resp, _ = timed(conn.call, "Fetch", 11, req)
    total, entries = fetch_sizes(resp) if not isinstance(resp, Exception) else (-1, -1)
    t.diag("Fetch of 4 partitions x 100 KB with max_bytes 2^31-1 under fetch.max.bytes "
           "150000: %d record bytes" % total)
    t.ok(0 < total <= 150000, "fetch.max.bytes caps the response (%d <= 150000)" % total)


# ---- a Fetch parked for max_wait_ms 2^31-1 -----------------------------------------------------

def case_max_wait(t, b):
    conn = Conn(b.bootstrap, timeout=20)
    metadata_create(conn, "idle")
    req = {"ReplicaId": -1, "MaxWaitMs": I32MAX, "MinBytes": 1 << 20, "MaxBytes": 1 << 20,
           "IsolationLevel": 0, "SessionId": 0, "SessionEpoch": -1, "ForgottenTopicsData": [],
           "Topics": [{"Topic": "idle", "Partitions": [
               {"Partition": 0, "FetchOffset": 0, "PartitionMaxBytes": 1 << 20}]}]}
    resp, dt = timed(conn.call, "Fetch", 11, req)
    t.diag("Fetch with max_wait_ms 2^31-1 under fetch.max.wait.ms.cap 1000: answered in %.2f s"
           % dt)
    t.ok(not isinstance(resp, Exception) and dt < 5, "max_wait_ms is capped (%.2f s)" % dt)


# ---- 40,000 names in CreatePartitions, CreateTopics, DeleteTopics ----------------------------

def case_many_names(t, b):
    conn = Conn(b.bootstrap, timeout=120)
    names = ["n%05d" % i for i in range(40000)]
    reqs = [
        ("CreatePartitions", 1, {"Topics": [{"Name": n, "Count": 2, "Assignments": None}
                                            for n in names], "TimeoutMs": 30000,
                                 "ValidateOnly": False}),
        ("CreateTopics", 5, {"Topics": [{"Name": n + "!", "NumPartitions": 1,
                                         "ReplicationFactor": 1, "Assignments": [],
                                         "Configs": []} for n in names], "timeoutMs": 30000}),
        ("DeleteTopics", 5, {"TopicNames": names, "TimeoutMs": 30000}),
    ]
    for api, v, req in reqs:
        body = bytes(W.encode(api, "request", v, req))  # encoded before the clock starts
        good = Latency(b.bootstrap)
        time.sleep(0.05)
        corr = conn.send(api, v, body)
        raw, dt = timed(conn.recv_raw, corr, W.is_flexible(api, v))
        worst = good.finish()
        t.diag("%s with 40000 names (%d-byte request): answered in %.2f s; good client's "
               "slowest Metadata %.3f s" % (api, len(body), dt, worst))
        t.ok(not isinstance(raw, Exception) and worst < 1.0,
             "%s with 40000 names does not stall the loop (slowest Metadata %.3f s < 1 s)"
             % (api, worst), repr(raw)[:300])


# ---- 5,000 topics auto-created by one Metadata request -----------------------------------------

def case_auto_create(t, b):
    conn = Conn(b.bootstrap, timeout=120)
    names = ["auto-%04d" % i for i in range(5000)]
    resp, dt = timed(conn.call, "Metadata", 4, {"Topics": [{"Name": n} for n in names],
                                                "AllowAutoTopicCreation": True})
    all_md = conn.call("Metadata", 4, {"Topics": None, "AllowAutoTopicCreation": False})
    made = sum(1 for x in all_md["Topics"] if x["Name"].startswith("auto-"))
    refused = 0 if isinstance(resp, Exception) else sum(
        1 for x in resp["Topics"] if x["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION)
    t.diag("Metadata naming 5000 new topics: %d created, %d UNKNOWN_TOPIC_OR_PARTITION, %.2f s"
           % (made, refused, dt))
    t.ok(0 < made <= 200, "auto.create.topics.rate bounds the creations (%d <= 200)" % made)
    t.ok(refused == 5000 - made, "the rest answer UNKNOWN_TOPIC_OR_PARTITION (retriable)")


def main():
    t = Tap("test_hostile_requests", timeout_s=170)
    t.step("huge num_partitions", case_huge_partitions, t)
    t.step("fd exhaustion", case_fd_exhaustion, t)
    t.step("fd retry", case_fd_retry, t)
    b = Broker(["--fetch.max.bytes", "150000", "--fetch.max.wait.ms.cap", "1000",
                "--auto.create.topics.rate", "100"])
    t.cleanups.append(b.cleanup)
    for name, fn in (("gzip bomb", case_gzip_bomb), ("fetch bytes", case_fetch_bytes),
                     ("max wait", case_max_wait), ("many names", case_many_names),
                     ("auto-create", case_auto_create)):
        if b.proc is None or b.proc.poll() is not None:
            t.ok(False, "%s: runneld is gone" % name, b.log_text()[-1500:])
            continue
        t.step(name, fn, t, b)
    b.finish(t)
    t.done()


if __name__ == "__main__":
    main()
