"""Shared pieces of the multi-node tests (test_quorum_cluster, test_cluster_metadata,
test_cluster_producer_ids, test_cluster_partition, test_replication_faults): a runneld node
of a --cluster on a fixed port (or Apache Kafka standing in for it, KafkaNode), and the
questions those tests ask each node (who is the controller, what the metadata quorum looks
like, who leads a partition), each answering None when the node cannot be asked."""

import os
import signal
import socket
import time

import datapath_common as D
from rn_testlib import SRC

QUORUM_TOPIC = "__cluster_metadata"
KAFKA_REF = os.path.join(SRC, "scripts", "kafka-ref.sh")


def free_ports(n, stride=1):
    """A base port such that base, base+stride, ... (n of them) and the port above each
    (Kafka's controller listener) are free on loopback right now."""
    for _ in range(200):
        base = D.free_port()
        ports = [base + i * stride for i in range(n)]
        if ports[-1] + 1 > 65535:
            continue
        try:
            socks = []
            for p in ports + [p + 1 for p in ports]:
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return ports
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


class Node(D.Broker):
    """Node node_id of the cluster `cluster` (the --cluster list) on 127.0.0.1:port; extra
    flags follow. restart() keeps its data dir and port."""

    def __init__(self, node_id, port, cluster, extra=(), wait=True):
        """wait=False: return once started, without waiting for it to listen (the nodes of
        a cluster whose client port opens only once a quorum has formed); listening()
        waits."""
        self.node_id = node_id
        self.fixed_port = port
        self.cluster = cluster
        self.node_extra = list(extra)
        self.wait_on_start = wait
        super().__init__()
        self.wait_on_start = True

    def command(self):
        return [D.RUNNELD, "--node-id", str(self.node_id), "--listen", self.bootstrap,
                "--data-dir", self.data, "--cluster", self.cluster] + self.node_extra

    start_s = 30  # until it listens

    def start(self):
        """Start the node (on its data dir, if it has one) and wait until it listens. The
        process gets SIGKILL when the thread that started it ends: start nodes from the
        test's main thread."""
        self.port = self.fixed_port
        self.paused = False
        self.log = open(os.path.join(self.dir, "runneld.log"), "ab")
        self.proc = D.subprocess.Popen(self.command(), stdout=self.log,
                                       stderr=D.subprocess.STDOUT,
                                       preexec_fn=D._die_with_parent)
        if self.wait_on_start:
            self.listening()

    def listening(self):
        deadline = time.monotonic() + self.start_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("node %d exited with %d; log:\n%s"
                                   % (self.node_id, self.proc.returncode, self.log_text()))
            try:
                D.socket.create_connection((self.listen_host(), self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("node %d did not listen" % self.node_id)

    def listen_host(self):
        return "127.0.0.1"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, keeping the data dir; start() brings the node back on it."""
        self.paused = False
        return self.stop(kill=True)

    def pause(self):
        """SIGSTOP: the process freezes with its sockets open (a hung host, a long GC)."""
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def cleanup(self):
        if self.alive() and self.paused:
            self.resume()
        super().cleanup()


class KafkaNode(Node):
    """Apache Kafka (scripts/kafka-ref.sh as-runneld: a combined broker+controller with
    runneld's command line; its controller listens on port+1) in the place of a runneld
    node, to check a multi-node test itself: a test that Kafka fails is a wrong test."""

    start_s = 120  # the first start formats the data dir: two JVM starts

    def command(self):
        return ["bash", KAFKA_REF, "as-runneld", "--node-id", str(self.node_id), "--listen",
                self.bootstrap, "--data-dir", self.data, "--cluster", self.cluster]

    def log_text(self):
        text = super().log_text()
        try:
            with open(os.path.join(self.data, "logs", "server.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 6000))
                text += "\n--- server.log ---\n" + f.read().decode("utf-8", "replace")
        except OSError:
            pass
        return text


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


def metadata(node, topics=None, timeout=3):
    """node's Metadata v12 answer for the named topics (None: every topic), or None."""
    try:
        c = D.Conn(node.bootstrap, timeout=timeout)
        req = [{"Name": t} for t in topics] if topics is not None else None
        r = c.call("Metadata", 12, {"Topics": req, "AllowAutoTopicCreation": False})
        c.close()
        return r
    except Exception:  # noqa: BLE001 - a stopped, restarting or cut-off node
        return None


def partitions(node, topic, timeout=3):
    """{partition: (leader, replicas, isr)} of topic as node's Metadata tells it, or None."""
    r = metadata(node, [topic], timeout)
    if r is None or not r["Topics"] or r["Topics"][0]["ErrorCode"] != 0:
        return None
    return {p["PartitionIndex"]: (p["LeaderId"], list(p["ReplicaNodes"]), list(p["IsrNodes"]))
            for p in r["Topics"][0]["Partitions"]}
