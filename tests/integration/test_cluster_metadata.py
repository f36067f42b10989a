#!/usr/bin/env python3
"""Three runneld nodes keep their topics as records of the metadata quorum (broker/controller/
rn_cluster.h): a topic created through the controller appears on every node with the same
topic id; a follower forwards CreateTopics to the controller and
kcat's auto-creation through a follower reaches it too; after the controller is SIGKILLed a new one creates topics again; a node
restarted after missing a creation gets the topic from the log."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, controller, leader_of, wait_for  # noqa: E402

T = D.Tap("test_cluster_metadata", timeout_s=120)
SESSION_MS = 4000  # broker.session.timeout.ms, shortened so fencing is seen quickly
SESSION_FLAGS = ["--broker.session.timeout.ms", str(SESSION_MS)]


def topic_id(node, name):
    try:
        c = D.Conn(node.bootstrap, timeout=3)
        r = c.call("Metadata", 12, {"Topics": [{"Name": name}],
                                    "AllowAutoTopicCreation": False})
        c.close()
    except Exception:  # noqa: BLE001 - a stopped node
        return None
    t = r["Topics"][0]
    return t["TopicId"] if t["ErrorCode"] == 0 else None


def create(node, name):
    c = D.Conn(node.bootstrap, timeout=10)
    r = c.call("CreateTopics", 7, {"Topics": [{"Name": name, "NumPartitions": 2,
                                               "ReplicationFactor": 1, "Assignments": [],
                                               "Configs": []}], "timeoutMs": 5000})
    c.close()
    return r["Topics"][0]["ErrorCode"]


def metadata(node, topics=None):
    c = D.Conn(node.bootstrap, timeout=5)
    r = c.call("Metadata", 12, {"Topics": topics, "AllowAutoTopicCreation": False})
    c.close()
    return r


def broker_ids(node):
    try:
        return sorted(b["NodeId"] for b in metadata(node, [])["Brokers"])
    except Exception:  # noqa: BLE001
        return None


def create_rf(node, name, parts, rf):
    c = D.Conn(node.bootstrap, timeout=10)
    r = c.call("CreateTopics", 7, {"Topics": [{"Name": name, "NumPartitions": parts,
                                               "ReplicationFactor": rf, "Assignments": [],
                                               "Configs": []}], "timeoutMs": 5000})
    c.close()
    return r["Topics"][0]["ErrorCode"]


def leaders(node, name):
    t = metadata(node, [{"Name": name}])["Topics"][0]
    return {p["PartitionIndex"]: (p["LeaderId"], p["ErrorCode"], p["ReplicaNodes"], p["IsrNodes"])
            for p in t["Partitions"]}


def brokers_and_placement(nodes, lead, follower):
    T.ok(wait_for(lambda: all(broker_ids(n) == [1, 2, 3] for n in nodes), 10),
         "Metadata from each node lists the three registered brokers",
         str([broker_ids(n) for n in nodes]))
    T.ok(create_rf(follower, "cm-rf3", 6, 3) == 0, "RF 3, 6 partitions through a follower")
    T.ok(wait_for(lambda: len(leaders(follower, "cm-rf3")) == 6, 10), "all six partitions listed")
    ls = leaders(follower, "cm-rf3")
    count = {i: sum(1 for v in ls.values() if v[0] == i) for i in (1, 2, 3)}
    T.ok(count == {1: 2, 2: 2, 3: 2}, "leaders spread 2/2/2 over brokers 1-3", str(ls))
    T.ok(all(sorted(v[2]) == [1, 2, 3] and sorted(v[3]) == [1, 2, 3] for v in ls.values()),
         "each partition lists three replicas, all in the ISR")
    T.ok(create_rf(lead, "cm-rf4", 1, 4) == 38, "RF 4 over three brokers: "
         "INVALID_REPLICATION_FACTOR")


def produce_consume(nodes):
    T.ok(create_rf(nodes[0], "cm-data", 6, 1) == 0, "RF 1, 6 partitions")
    T.ok(everywhere(nodes, "cm-data", 10)[0] is not None, "on every node")
    lines = b"".join(b"m%d\n" % i for i in range(300))
    r = D.subprocess.run(["kcat", "-P", "-b", nodes[0].bootstrap, "-t", "cm-data"],
                         input=lines, timeout=30, capture_output=True)
    T.ok(r.returncode == 0, "kcat produces 300 records through node 1", r.stderr.decode()[-300:])
    r = D.subprocess.run(["kcat", "-C", "-b", nodes[1].bootstrap, "-t", "cm-data", "-e", "-q",
                          "-o", "beginning"], timeout=30, capture_output=True)
    got = r.stdout.split()
    T.ok(len(got) == 300 and sorted(got) == sorted(lines.split()),
         "kcat consumes all 300 back through node 2 (it follows the leaders)", str(len(got)))


def fence_and_return(nodes, lead):
    victim = next(n for n in nodes if n is not lead)
    others = [n for n in nodes if n is not victim]
    mine = [p for p, v in leaders(lead, "cm-data").items() if v[0] == victim.node_id]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    t0 = time.monotonic()
    gone = wait_for(lambda: all(victim.node_id not in (broker_ids(n) or [victim.node_id])
                                for n in others), SESSION_MS / 1000 + 5)
    T.ok(gone, "a SIGKILLed broker is fenced after the session timeout (%.2f s, "
         "broker.session.timeout.ms %d)" % (time.monotonic() - t0, SESSION_MS))
    ls = leaders(lead, "cm-data")
    T.ok(mine and all(ls[p][0] == -1 and ls[p][1] == 5 for p in mine),
         "its RF-1 partitions report leader -1 / LEADER_NOT_AVAILABLE", str((mine, ls)))
    t0 = time.monotonic()
    victim.start()
    back = wait_for(lambda: all(broker_ids(n) == [1, 2, 3] for n in nodes), 15)
    T.ok(back, "restarted, it registers again and is unfenced (%.2f s)" % (time.monotonic() - t0))
    T.ok(wait_for(lambda: all(leaders(lead, "cm-data")[p][0] == victim.node_id for p in mine),
                  10), "its partitions are led by it again")


def everywhere(nodes, name, secs):
    deadline = time.monotonic() + secs
    ids = []
    while time.monotonic() < deadline:
        ids = [topic_id(n, name) for n in nodes]
        if ids[0] is not None and all(i == ids[0] for i in ids):
            return ids
        time.sleep(0.05)
    return ids


def main():
    ports = [D.free_port() for _ in range(3)]
    cluster = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], cluster, SESSION_FLAGS) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    lead = leader_of(nodes, 15)
    T.ok(lead is not None, "a controller is elected")
    time.sleep(0.5)
    t0 = time.monotonic()
    T.ok(create(lead, "cm-one") == 0, "CreateTopics on the controller succeeds")
    ids = everywhere(nodes, "cm-one", 10)
    T.ok(ids and ids[0] is not None and len(set(ids)) == 1,
         "the topic is on all three nodes with one topic id (%.0f ms)" %
         ((time.monotonic() - t0) * 1000), str(ids))
    follower = next(n for n in nodes if n is not lead)
    t0 = time.monotonic()
    T.ok(create(follower, "cm-follower") == 0, "a follower forwards CreateTopics to the controller")
    ids = everywhere(nodes, "cm-follower", 10)
    T.ok(ids and ids[0] is not None and len(set(ids)) == 1,
         "the topic created through a follower is on all three with one id (%.0f ms)" %
         ((time.monotonic() - t0) * 1000), str(ids))
    auto = follower.bootstrap
    r = D.subprocess.run(["kcat", "-P", "-b", auto, "-t", "cm-auto"], input=b"a\nb\nc\n",
                         timeout=30, capture_output=True)
    ids = everywhere(nodes, "cm-auto", 10)
    T.ok(r.returncode == 0 and ids and ids[0] is not None and len(set(ids)) == 1,
         "kcat auto-creates through a follower: on all three with one id",
         str(ids) + r.stderr.decode()[-300:])

    brokers_and_placement(nodes, lead, follower)
    produce_consume(nodes)
    fence_and_return(nodes, lead)

    lead.proc.send_signal(signal.SIGKILL)
    lead.proc.wait()
    rest = [n for n in nodes if n is not lead]
    t0 = time.monotonic()
    new = leader_of(rest, 20)
    T.ok(new is not None and new is not lead,
         "a new controller after SIGKILL (%.2f s)" % (time.monotonic() - t0))
    err = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and err != 0:
        err = create(new, "cm-two")
        if err != 0:
            time.sleep(0.2)
    T.ok(err == 0, "the new controller creates a topic", str(err))
    T.ok(len(set(everywhere(rest, "cm-two", 10))) == 1, "both live nodes have it")
    lead.start()
    ids = everywhere(nodes, "cm-two", 15)
    T.ok(ids and ids[0] is not None and len(set(ids)) == 1,
         "the restarted node got the topic from the log", str(ids))
    T.ok(len(set(everywhere(nodes, "cm-one", 5))) == 1, "and kept the earlier one")
    for n in nodes:
        n.finish(T)


T.step("cluster metadata", main)
T.done()
