"""Shared helpers for the data-path integration tests (test_datapath_*.py).

Starts $RN_BUILD_DIR/broker/runneld on a free loopback port with a temporary data dir,
prints TAP, and offers raw Kafka requests for checks no client library exposes (error codes,
duplicate acknowledgements, sequence errors, DeleteRecords, OffsetForLeaderEpoch). Requests and
answers go through the generic codec of tests/interop/diffwire.py (runnel's client/defs), which
also builds the record batches, so the Python tests share one encoder, one CRC-32C and one
varint codec.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean (diffwire imports client/)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from rn_testlib import BUILD, Tap, free_port  # noqa: E402,F401 - re-exported to the tests
import diffwire as W  # noqa: E402

RUNNELD = os.path.join(BUILD, "broker", "runneld")


def _die_with_parent():
    """In the child before exec: get SIGKILL when the test process dies, however it dies
    (watchdog, ctest timeout, crash), so no runneld outlives its test."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Broker:
    """One runneld process; restart() keeps the data dir and port."""

    def __init__(self, extra_args=None):
        self.dir = tempfile.mkdtemp(prefix="rn-datapath-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.extra = extra_args or []
        self.proc = None
        self.log = None
        self.start()

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.log = open(os.path.join(self.dir, "runneld.log"), "ab")
        self.proc = subprocess.Popen(
            [RUNNELD, "--node-id", "1", "--listen", self.bootstrap, "--data-dir", self.data]
            + self.extra, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("runneld exited with %d; log:\n%s" % (self.proc.returncode,
                                                                          self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError("runneld did not listen on %s within 60 s; log:\n%s"
                           % (self.bootstrap, self.log_text()))

    def stop(self, kill=False):
        """Stop runneld (SIGTERM: a clean shutdown; kill: SIGKILL); returns its exit status."""
        rc = None
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            rc = self.proc.returncode
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None
        return rc

    def restart(self, kill=False):
        self.stop(kill=kill)
        self.start()

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "runneld.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self, t):
        """End of a test: runneld must still run and then stop cleanly (exit 0; under the
        sanitizers that also means no leak and no error report)."""
        alive = self.proc is not None and self.proc.poll() is None
        t.ok(alive, "runneld still running", None if alive else self.log_text())
        rc = self.stop()
        t.ok(rc == 0, "runneld stops cleanly on SIGTERM (exit %r)" % rc,
             None if rc == 0 else self.log_text())


# ---- record batches ---------------------------------------------------------------------------

def record_batch(values, producer_id=-1, epoch=-1, base_seq=-1, timestamp=None, attributes=0,
                 keys=None):
    """A magic-2 uncompressed batch of the given values (bytes), every record stamped now (or
    at timestamp): diffwire's builder with the data-path tests' defaults."""
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    return W.batch(values, ts=ts, ts_step=0, producer_id=producer_id, epoch=epoch,
                   base_seq=base_seq, attributes=attributes, keys=keys)


legacy_message_set = W.message_set


def parse_batches(data):
    """(base_offset, last_offset_delta, producer_id, epoch, base_seq, count, attrs) per whole
    magic-2 batch; a trailing partial batch is left out."""
    return [(h["base"], h["last_delta"], h["producer_id"], h["producer_epoch"], h["base_seq"],
             h["count"], h["attrs"]) for h in W.batch_headers(data) if "count" in h]


def segment_batches(data_dir, topic, partition=0):
    """Every batch header in the partition's .log files, in file order."""
    d = os.path.join(data_dir, "%s-%d" % (topic, partition))
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".log"):
            with open(os.path.join(d, name), "rb") as f:
                out += parse_batches(f.read())
    return out


# ---- requests ----------------------------------------------------------------------------------

class Conn(W.Conn):
    """One connection (client id "test"), opened at once; call()/send()/recv() take api names
    and dicts keyed by Kafka's field names (see diffwire)."""

    def __init__(self, bootstrap, timeout=15):
        host, port = bootstrap.split(":")
        super().__init__(host, int(port), timeout=timeout, client_id="test")
        self._connect()


def only_partition(resp, topics="Topics", partitions="Partitions"):
    """The one partition answer of a single-topic, single-partition request."""
    (topic,) = resp[topics]
    (part,) = topic[partitions]
    return part


def api_versions(conn):
    """{api key: (min, max)} from ApiVersions v0; {} when it answers an error."""
    r = conn.call("ApiVersions", 0, {})
    if r["ErrorCode"] != 0:
        return {}
    return {k["ApiKey"]: (k["MinVersion"], k["MaxVersion"]) for k in r["ApiKeys"]}


def metadata_create(conn, topic, tries=50):
    """Metadata v4 with auto-creation until the topic has a leader; returns the partition count."""
    err = None
    for _ in range(tries):
        r = conn.call("Metadata", 4, {"Topics": [{"Name": topic}],
                                      "AllowAutoTopicCreation": True})
        parts = 0
        for t in r["Topics"]:
            err = t["ErrorCode"]
            parts = sum(1 for p in t["Partitions"] if p["ErrorCode"] == 0 and p["LeaderId"] >= 0)
        if err == 0 and parts > 0:
            return parts
        time.sleep(0.1)
    raise RuntimeError("topic %s never got a leader (last error %r)" % (topic, err))


def produce(conn, topic, batch, version=7, acks=-1, partition=0, transactional_id=None):
    """Produce one batch; returns (error, base_offset, log_append_time, log_start_offset,
    record_errors, error_message) for the partition (acks=0: None). Fields the version lacks
    are None; record_errors are (batch index, message) pairs."""
    req = {"Acks": acks, "TimeoutMs": 5000,
           "TopicData": [{"Name": topic, "PartitionData": [{"Index": partition,
                                                            "Records": batch}]}]}
    if version >= 3:
        req["TransactionalId"] = transactional_id
    r = conn.call("Produce", version, req, answer=acks != 0)
    if r is None:
        return None
    p = only_partition(r, "Responses", "PartitionResponses")
    return (p["ErrorCode"], p["BaseOffset"],
            p["LogAppendTimeMs"] if version >= 2 else None,
            p["LogStartOffset"] if version >= 5 else None,
            [(e["BatchIndex"], e["BatchIndexErrorMessage"]) for e in p["RecordErrors"]]
            if version >= 8 else [],
            p["ErrorMessage"] if version >= 8 else None)


def fetch(conn, topic, offset, version=11, max_wait=0, min_bytes=1, max_bytes=1 << 20,
          part_max=1 << 20, partition=0, isolation=0, session_id=0, session_epoch=-1,
          topic_id=None):
    """Fetch one partition; returns dict with top error, session id and the partition fields
    (None where the version lacks them; aborted is the number of aborted transactions or None
    when null)."""
    name = {"TopicId": topic_id} if version >= 13 else {"Topic": topic}
    req = {"ReplicaId": -1, "MaxWaitMs": max_wait, "MinBytes": min_bytes,
           "MaxBytes": max_bytes, "IsolationLevel": isolation,
           "Topics": [dict(name, Partitions=[{"Partition": partition, "FetchOffset": offset,
                                               "PartitionMaxBytes": part_max}])]}
    if version >= 7:
        req.update(SessionId=session_id, SessionEpoch=session_epoch, ForgottenTopicsData=[])
    r = conn.call("Fetch", version, req)
    out = {"throttle": r["ThrottleTimeMs"]}
    if version >= 7:
        out["error"] = r["ErrorCode"]
        out["session"] = r["SessionId"]
    for t in r["Responses"]:
        if version >= 13:
            out["topic_id"] = bytes.fromhex(t["TopicId"])
        else:
            out["topic"] = t["Topic"]
        for p in t["Partitions"]:
            aborted = p["AbortedTransactions"]
            out.update(partition=p["PartitionIndex"], perror=p["ErrorCode"],
                       hw=p["HighWatermark"], lso=p["LastStableOffset"],
                       log_start=p["LogStartOffset"] if version >= 5 else None,
                       aborted=None if aborted is None else len(aborted),
                       preferred=p["PreferredReadReplica"] if version >= 11 else None,
                       records=p["Records"])
    return out


def list_offsets(conn, topic, timestamp, version=5, partition=0, isolation=0):
    """(error, timestamp, offset, leader epoch or None) of one partition (v1+)."""
    req = {"ReplicaId": -1, "IsolationLevel": isolation,
           "Topics": [{"Name": topic, "Partitions": [{"PartitionIndex": partition,
                                                      "Timestamp": timestamp}]}]}
    if version < 2:
        del req["IsolationLevel"]
    p = only_partition(conn.call("ListOffsets", version, req))
    return (p["ErrorCode"], p["Timestamp"], p["Offset"],
            p["LeaderEpoch"] if version >= 4 else None)


def delete_records(conn, topic, offset, version=1, partition=0):
    """(error, low watermark) of one partition."""
    r = conn.call("DeleteRecords", version, {
        "Topics": [{"Name": topic, "Partitions": [{"PartitionIndex": partition,
                                                   "Offset": offset}]}],
        "TimeoutMs": 5000})
    p = only_partition(r)
    return p["ErrorCode"], p["LowWatermark"]


def offset_for_leader_epoch(conn, topic, epoch, version=3, partition=0, current_epoch=-1):
    """(error, leader epoch, end offset) of one partition."""
    req = {"Topics": [{"Topic": topic, "Partitions": [{"Partition": partition,
                                                       "CurrentLeaderEpoch": current_epoch,
                                                       "LeaderEpoch": epoch}]}]}
    if version >= 3:
        req["ReplicaId"] = -1
    p = only_partition(conn.call("OffsetForLeaderEpoch", version, req))
    return p["ErrorCode"], p["LeaderEpoch"], p["EndOffset"]


def init_producer_id(conn, transactional_id=None, version=1):
    """(error, producer id, epoch)."""
    r = conn.call("InitProducerId", version, {"TransactionalId": transactional_id,
                                              "TransactionTimeoutMs": 60000})
    return r["ErrorCode"], r["ProducerId"], r["ProducerEpoch"]
