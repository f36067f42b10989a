#!/usr/bin/env python3
"""Kafka's own tools (their Java admin client) against a three-node runneld cluster, each
request sent to a different node than the one before:

- kafka-topics --create --replication-factor 3 --partitions 6 through one node, then
  --describe through each of the two others: the same six partitions, each on all three
  brokers, leaders spread two per broker;
- kafka-broker-api-versions through a node lists the three brokers at their addresses;
- kafka-metadata-quorum describe --status shows the leader, its epoch, the high watermark,
  the follower lag and the three voters; --replication shows one row per voter with its
  log end offset and lag, the leader's marked Leader and the others Follower.

The classes behind the .sh scripts run with `java -cp "<libs>/*"` as in test_kafka_tools.py;
without the jars (scripts/deps.sh fetches them) or java, a version is skipped.

Environment: RN_TOOLS_VERSIONS (default "3.9.1 4.1.1")."""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, describe_quorum, leader_of, wait_for  # noqa: E402

T = D.Tap("test_cluster_kafka_tools", timeout_s=300)
VERSIONS = os.environ.get("RN_TOOLS_VERSIONS", "3.9.1 4.1.1").split()
CACHE = os.environ.get("KAFKA_TOOLS_CACHE") or os.path.expanduser("~/.cache/runnel/kafka-tools")
API_VERSIONS_CLASS = {"3": "kafka.admin.BrokerApiVersionsCommand",
                      "4": "org.apache.kafka.tools.BrokerApiVersionsCommand"}


def tool(version, cls, args, budget=90):
    """(exit status, stdout, stderr) of one run of a tool class."""
    libs = os.path.join(CACHE, version, "libs")
    t0 = time.monotonic()
    try:
        r = subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                            libs + "/*", cls] + args, capture_output=True, text=True,
                           timeout=budget)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %d s" % budget
    T.diag("%s %s %s: %.1f s" % (version, cls.rsplit(".", 1)[-1], " ".join(args[2:4]),
                                 time.monotonic() - t0))
    return r.returncode, r.stdout, r.stderr


def brokers_registered(nodes):
    """Every node's Metadata lists the three brokers."""
    for n in nodes:
        try:
            c = D.Conn(n.bootstrap, timeout=3)
            r = c.call("Metadata", 12, {"Topics": [], "AllowAutoTopicCreation": False})
            c.close()
        except Exception:  # noqa: BLE001 - a node still starting
            return False
        if sorted(b["NodeId"] for b in r["Brokers"]) != [1, 2, 3]:
            return False
    return True


def partitions(describe_out, topic):
    """{partition: (leader, [replicas], [isr])} from kafka-topics --describe."""
    out = {}
    pat = re.compile(r"Topic: %s\tPartition: (\d+)\tLeader: (-?\d+)\tReplicas: ([\d,]*)\t"
                     r"Isr: ([\d,]*)" % re.escape(topic))
    for line in describe_out.splitlines():
        m = pat.search(line)
        if m:
            ints = [[int(x) for x in g.split(",") if x] for g in (m.group(3), m.group(4))]
            out[int(m.group(1))] = (int(m.group(2)), ints[0], ints[1])
    return out


def topics_checks(v, nodes):
    topic = "kt-rf3-" + v.replace(".", "")
    cls = "org.apache.kafka.tools.TopicCommand"
    rc, out, err = tool(v, cls, ["--bootstrap-server", nodes[0].bootstrap, "--create",
                                 "--topic", topic, "--replication-factor", "3",
                                 "--partitions", "6"])
    T.ok(rc == 0 and "Created topic %s." % topic in out,
         "%s: kafka-topics --create --replication-factor 3 --partitions 6 through node %d"
         % (v, nodes[0].node_id), out + err[-1500:])
    views = []
    for n in nodes[1:]:
        rc, out, err = tool(v, cls, ["--bootstrap-server", n.bootstrap, "--describe",
                                     "--topic", topic])
        views.append(partitions(out, topic))
        T.ok(rc == 0 and "PartitionCount: 6\tReplicationFactor: 3" in out,
             "%s: kafka-topics --describe through node %d: 6 partitions, replication factor 3"
             % (v, n.node_id), out + err[-1500:])
    p = views[0]
    T.ok(views[0] == views[1] and sorted(p) == list(range(6)),
         "%s: both nodes describe the same placement of the 6 partitions" % v, str(views))
    T.ok(all(sorted(r) == [1, 2, 3] and l == r[0] and sorted(i) == [1, 2, 3]
             for l, r, i in p.values()),
         "%s: each partition has replicas on the three brokers, led by the first" % v, str(p))
    leaders = [l for l, _, _ in p.values()]
    T.ok(all(leaders.count(b) == 2 for b in (1, 2, 3)),
         "%s: leaders spread two per broker (%s)" % (v, leaders))


def api_versions_checks(v, nodes):
    rc, out, err = tool(v, API_VERSIONS_CLASS[v.split(".")[0]],
                        ["--bootstrap-server", nodes[1].bootstrap])
    # "host:port (id: N rack: null) -> (" (4.x adds "isFenced: false" after the rack)
    listed = re.findall(r"^(\S+):(\d+) \(id: (\d+) rack: null[^)]*\) -> \(", out, re.M)
    want = sorted(("127.0.0.1", str(n.port), str(n.node_id)) for n in nodes)
    T.ok(rc == 0 and sorted(listed) == want,
         "%s: kafka-broker-api-versions through node %d lists the three brokers at their "
         "addresses" % (v, nodes[1].node_id),
         "%s\n%s" % (listed, "\n".join(x for x in out.splitlines() if "->" in x) + err[-1500:]))


def quorum_checks(v, nodes, leader, epoch):
    cls = "org.apache.kafka.tools.MetadataQuorumCommand"
    rc, out, err = tool(v, cls, ["--bootstrap-server", nodes[2].bootstrap, "describe",
                                 "--status"])
    fields = dict(re.findall(r"^(\w+):\s+(.*)$", out, re.M))
    voters = sorted(int(x) for x in re.findall(r'"id": (\d+)', fields.get("CurrentVoters", "")))
    T.ok(rc == 0 and fields.get("LeaderId") == str(leader) and
         fields.get("LeaderEpoch") == str(epoch) and voters == [1, 2, 3] and
         int(fields.get("HighWatermark", "-1")) > 0 and
         int(fields.get("MaxFollowerLag", "-1")) >= 0 and
         int(fields.get("MaxFollowerLagTimeMs", "-1")) >= 0,
         "%s: kafka-metadata-quorum describe --status through node %d: leader %d, epoch %d, "
         "voters 1-3, high watermark and follower lag" % (v, nodes[2].node_id, leader, epoch),
         out + err[-1500:])
    rc, out, err = tool(v, cls, ["--bootstrap-server", nodes[0].bootstrap, "describe",
                                 "--replication"])
    rows = {}
    for line in out.splitlines()[1:]:
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) >= 7 and cols[0].isdigit():
            rows[int(cols[0])] = (int(cols[2]), int(cols[3]), cols[6])
    T.ok(rc == 0 and sorted(rows) == [1, 2, 3] and
         [n for n, r in rows.items() if r[2] == "Leader"] == [leader] and
         sorted(r[2] for r in rows.values()) == ["Follower", "Follower", "Leader"] and
         all(r[0] > 0 and r[1] >= 0 for r in rows.values()),
         "%s: kafka-metadata-quorum describe --replication through node %d: the three voters "
         "with log end offset and lag, %d the leader" % (v, nodes[0].node_id, leader),
         out + err[-1500:])


def main():
    ports = [D.free_port() for _ in range(3)]
    cluster = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], cluster) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    T.ok(leader_of(nodes, 20) is not None, "a controller is elected")
    T.ok(wait_for(lambda: brokers_registered(nodes), 20), "every node lists the three brokers")
    for v in VERSIONS:
        if not os.path.exists(os.path.join(CACHE, v, "libs", ".complete")) or \
                not shutil.which("java"):
            T.ok(True, "%s # SKIP kafka-tools jars or java absent (scripts/deps.sh fetches them)"
                 % v)
            continue
        topics_checks(v, nodes)
        api_versions_checks(v, nodes)
        d = describe_quorum(nodes[0])
        T.ok(d is not None and d[0] in (1, 2, 3), "DescribeQuorum names the leader", str(d))
        if d is not None:
            quorum_checks(v, nodes, d[0], d[1])
    for n in nodes:
        n.finish(T)


T.step("Kafka's tools against three nodes", main)
T.done()
