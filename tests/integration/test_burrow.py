#!/usr/bin/env python3
"""Burrow (Debian's `burrow`, 1.2.1) reports the lag of a consumer group reading from runneld.

runneld gets N records in one partition and a group's commit at K < N; Burrow, configured
with small intervals, reads the commit from __consumer_offsets and the partition's end from
ListOffsets, and GET /v3/kafka/<cluster>/consumer/<group>/lag must report lag N - K.

Burrow's two Kafka modules use separate client profiles: the cluster module as kafka-version
0.10.0 (the value of Debian's example configuration), so that it asks ListOffsets v0, which
Kafka 3.9 served and runneld serves again; the consumer module as 0.11.0, because below that
sarama fetches with Fetch v0-3 (message formats v0/v1), which runneld does not serve
(client/defs/fetch.def). Burrow will not start without ZooKeeper (its root path and notifier
lock live there): tests/integration/fakezk.py stands in. Skipped when Burrow is not installed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import (Broker, Conn, Tap, free_port, metadata_create,  # noqa: E402
                             produce, record_batch)
from fakezk import FakeZooKeeper  # noqa: E402

BURROW = shutil.which("Burrow") or "/usr/bin/Burrow"
N, K = 10, 4
TOPIC, GROUP, CLUSTER = "burrow-orders", "burrow-lag-group", "rn"

CONFIG = """
[general]
pidfile="{dir}/burrow.pid"
stdout-logfile="{dir}/burrow.out"

[logging]
filename="{dir}/burrow.log"
level="info"

[zookeeper]
servers=["127.0.0.1:{zk}"]
timeout=6
root-path="/burrow"

[client-profile.listoffsets-v0]
client-id="burrow-cluster"
kafka-version="0.10.0"

[client-profile.fetch-v4]
client-id="burrow-consumer"
kafka-version="0.11.0"

[cluster.{cluster}]
class-name="kafka"
servers=["{broker}"]
client-profile="listoffsets-v0"
topic-refresh=1
offset-refresh=1

[consumer.{cluster}]
class-name="kafka"
cluster="{cluster}"
servers=["{broker}"]
client-profile="fetch-v4"
offsets-topic="__consumer_offsets"
start-latest=false

[httpserver.default]
address="127.0.0.1:{http}"

[storage.default]
class-name="inmemory"
workers=2
intervals=3
expire-group=604800
min-distance=1
"""


def get(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read().decode())


def prepare(t, b):
    c = Conn(b.bootstrap)
    metadata_create(c, TOPIC)
    for i in range(N):
        t.eq(produce(c, TOPIC, record_batch([b"r%d" % i]))[0], 0, "produce record %d" % i)
    deadline = time.monotonic() + 30
    err = None
    while time.monotonic() < deadline:
        c.call("FindCoordinator", 0, {"Key": GROUP})
        r = c.call("OffsetCommit", 2, {"GroupId": GROUP, "GenerationIdOrMemberEpoch": -1,
                                       "MemberId": "", "RetentionTimeMs": -1, "Topics": [
                                           {"Name": TOPIC, "Partitions": [
                                               {"PartitionIndex": 0, "CommittedOffset": K,
                                                "CommittedMetadata": ""}]}]})
        err = r["Topics"][0]["Partitions"][0]["ErrorCode"]
        if err == 0:
            break
        time.sleep(0.2)
    t.eq(err, 0, "group %s commits offset %d of %d" % (GROUP, K, N))
    c.close()


def lag_of(http):
    """The partition's lag as Burrow reports it, or None (and the answer) while it has none."""
    try:
        r = get("http://127.0.0.1:%d/v3/kafka/%s/consumer/%s/lag" % (http, CLUSTER, GROUP))
    except Exception as e:  # noqa: BLE001 - 404 until Burrow knows the group
        return None, str(e)
    for p in (r.get("status") or {}).get("partitions") or []:
        if p.get("topic") == TOPIC and p.get("partition") == 0:
            return p.get("current_lag"), r
    return None, r


def main():
    if not os.access(BURROW, os.X_OK):
        print("1..0 # SKIP burrow not installed (scripts/deps.sh)")
        return
    t = Tap("burrow", timeout_s=120)
    b = Broker()
    t.cleanups.append(b.cleanup)
    zk = FakeZooKeeper()
    t.cleanups.append(zk.close)
    work = tempfile.mkdtemp(prefix="rn-burrow-")
    t.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
    t.step("produce and commit", prepare, t, b)
    http = free_port()
    with open(os.path.join(work, "burrow.toml"), "w") as f:
        f.write(CONFIG.format(dir=work, zk=zk.port, cluster=CLUSTER, broker=b.bootstrap,
                              http=http))
    proc = subprocess.Popen([BURROW, "-config-dir", work], cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    t.cleanups.insert(0, lambda: (proc.terminate(), proc.wait(timeout=10)))
    deadline = time.monotonic() + 45
    lag, last = None, None
    while time.monotonic() < deadline and proc.poll() is None and lag is None:
        lag, last = lag_of(http)
        if lag is None:
            time.sleep(0.5)
    if not t.eq(lag, N - K, "Burrow reports lag %d for %s/%s-0" % (N - K, GROUP, TOPIC)):
        t.diag("last answer: %s" % json.dumps(last)[:1500])
        for name in ("burrow.out", "burrow.log"):
            try:
                with open(os.path.join(work, name)) as f:
                    t.diag("%s:\n%s" % (name, "".join(f.readlines()[-30:])))
            except OSError:
                pass
    else:
        t.diag("Burrow's answer: %s" % json.dumps(last)[:1500])
    t.ok(proc.poll() is None, "Burrow still running")
    b.finish(t)
    t.done()


if __name__ == "__main__":
    main()
