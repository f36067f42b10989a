"""Shared pieces of the multi-node tests (test_quorum_cluster, test_cluster_metadata,
test_cluster_producer_ids, test_cluster_partition): a runneld node of a --cluster on a fixed
port, and the questions those tests ask each node (who is the controller, what the metadata
quorum looks like), each answering None when the node cannot be asked."""

import datetime
import os
import re
import time

import datapath_common as D

QUORUM_TOPIC = "__cluster_metadata"


class Node(D.Broker):
    """Node node_id of the cluster `cluster` (the --cluster list) on 127.0.0.1:port; extra
    flags follow. restart() keeps its data dir and port."""

    def __init__(self, node_id, port, cluster, extra=()):
        self.node_id = node_id
        self.fixed_port = port
        self.cluster = cluster
        self.node_extra = list(extra)
        super().__init__()

    def command(self):
        return [D.RUNNELD, "--node-id", str(self.node_id), "--listen", self.bootstrap,
                "--data-dir", self.data, "--cluster", self.cluster] + self.node_extra

    def start(self):
        self.port = self.fixed_port
        self.log = open(os.path.join(self.dir, "runneld.log"), "ab")
        self.proc = D.subprocess.Popen(self.command(), stdout=self.log,
                                       stderr=D.subprocess.STDOUT,
                                       preexec_fn=D._die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                D.socket.create_connection((self.listen_host(), self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("node %d did not listen" % self.node_id)

    def listen_host(self):
        return "127.0.0.1"


def controller(node, timeout=3):
    """The controller id node's Metadata names, or None."""
    try:
        c = D.Conn(node.bootstrap, timeout=timeout)
        r = c.call("Metadata", 12, {"Topics": [], "AllowAutoTopicCreation": False})
        c.close()
        return r["ControllerId"]
    except Exception:  # noqa: BLE001 - a stopped, restarting or cut-off node
        return None


def describe_quorum(node, timeout=3):
    """(leader id, epoch, high watermark, {voter: log end}, error) from node's DescribeQuorum,
    or None."""
    try:
        c = D.Conn(node.bootstrap, timeout=timeout)
        r = c.call("DescribeQuorum", 1, {"Topics": [{"TopicName": QUORUM_TOPIC,
                                                      "Partitions": [{"PartitionIndex": 0}]}]})
        c.close()
    except Exception:  # noqa: BLE001 - a stopped node, or a leader it cannot reach
        return None
    p = D.only_partition(r, "Topics", "Partitions")
    ends = {v["ReplicaId"]: v["LogEndOffset"] for v in p["CurrentVoters"]}
    return p["LeaderId"], p["LeaderEpoch"], p["HighWatermark"], ends, p["ErrorCode"]


def elected_at(node, epoch):
    """When node became the quorum leader of epoch: the wall-clock time (time.time() seconds)
    of its "leads epoch" log line, or None."""
    pat = re.compile(r"^(\S+)Z .* node %d leads epoch %d$" % (node.node_id, epoch))
    try:
        with open(os.path.join(node.dir, "runneld.log"), "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in lines:
        m = pat.match(line)
        if m:
            return datetime.datetime.fromisoformat(m.group(1)).replace(
                tzinfo=datetime.timezone.utc).timestamp()
    return None


def wait_for(pred, secs, step=0.05):
    """pred()'s first true value within secs, else None."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def leader_of(nodes, secs):
    """The running node that names itself controller, within secs; None otherwise."""
    def find():
        for n in nodes:
            if n.proc is not None and n.proc.poll() is None and controller(n) == n.node_id:
                return n
        return None
    return wait_for(find, secs, step=0.1)
