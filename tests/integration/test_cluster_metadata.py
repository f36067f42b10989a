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

T = D.Tap("test_cluster_metadata", timeout_s=120)


class Node(D.Broker):
    def __init__(self, node_id, port, cluster):
        self.node_id = node_id
        self.fixed_port = port
        self.cluster = cluster
        super().__init__()

    def start(self):
        self.port = self.fixed_port
        self.log = open(os.path.join(self.dir, "runneld.log"), "ab")
        self.proc = D.subprocess.Popen(
            [D.RUNNELD, "--node-id", str(self.node_id), "--listen", self.bootstrap,
             "--data-dir", self.data, "--cluster", self.cluster],
            stdout=self.log, stderr=D.subprocess.STDOUT, preexec_fn=D._die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                D.socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("node %d did not listen" % self.node_id)


def controller(node):
    try:
        c = D.Conn(node.bootstrap, timeout=3)
        r = c.call("Metadata", 12, {"Topics": [], "AllowAutoTopicCreation": False})
        c.close()
        return r["ControllerId"]
    except Exception:  # noqa: BLE001
        return None



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


def everywhere(nodes, name, secs):
    deadline = time.monotonic() + secs
    ids = []
    while time.monotonic() < deadline:
        ids = [topic_id(n, name) for n in nodes]
        if ids[0] is not None and all(i == ids[0] for i in ids):
            return ids
        time.sleep(0.05)
    return ids


def leader_of(nodes, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        for n in nodes:
            if n.proc is not None and n.proc.poll() is None and controller(n) == n.node_id:
                return n
        time.sleep(0.1)
    return None


def main():
    ports = [D.free_port() for _ in range(3)]
    cluster = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], cluster) for i in range(3)]
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
