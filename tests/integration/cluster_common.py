"""Shared pieces of the multi-node tests (test_quorum_cluster, test_cluster_metadata,
test_cluster_producer_ids, test_cluster_partition, test_replication_faults): a runneld node
of a --cluster on a fixed port (or Apache Kafka standing in for it, KafkaNode), and the
questions those tests ask each node (who is the controller, what the metadata quorum looks
like, who leads a partition), each answering None when the node cannot be asked."""

import ctypes
import datetime
import os
import random
import re
import signal
import socket
import subprocess
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

    def __init__(self, node_id, port, cluster, extra=(), wait=True, host="127.0.0.1",
                 netns=None):
        """wait=False: return once started, without waiting for it to listen (the nodes of
        a cluster whose client port opens only once a quorum has formed); listening()
        waits. netns: run it in that network namespace (ip netns exec), listening on host."""
        self.node_id = node_id
        self.fixed_port = port
        self.cluster = cluster
        self.node_extra = list(extra)
        self.wait_on_start = wait
        self.host = host
        self.netns = netns
        super().__init__()
        self.wait_on_start = True

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.fixed_port)

    def command(self):
        return self.ns_prefix() + [
            D.RUNNELD, "--node-id", str(self.node_id), "--listen", self.bootstrap,
            "--data-dir", self.data, "--cluster", self.cluster] + self.node_extra

    def ns_prefix(self):
        # ip netns exec execs the command: the pid stays the node's own.
        return ["ip", "netns", "exec", self.netns] if self.netns else []

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
        return self.host

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
        return self.ns_prefix() + [
            "bash", KAFKA_REF, "as-runneld", "--node-id", str(self.node_id), "--listen",
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


# ---- network namespaces (test_cluster_partition, test_replication_faults) --------------------

CLONE_NEWNET = 0x40000000


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def netns_unusable(prefix):
    """None when this process may create a network namespace and load nft rules in it;
    otherwise why not."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    ns = "%sprobe-%d" % (prefix, os.getpid())
    try:
        r = sh("ip", "netns", "add", ns, check=False)
        if r.returncode != 0:
            return "ip netns not permitted here: " + r.stderr.strip()
        r = sh("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "probe", check=False)
        if r.returncode != 0:
            return "nft not usable in a namespace here: " + r.stderr.strip()
    except FileNotFoundError as e:
        return "%s missing (scripts/deps.sh installs iproute2 and nftables)" % e.filename
    finally:
        try:
            sh("ip", "netns", "del", ns, check=False)
        except FileNotFoundError:
            pass
    return None


def sweep_stale_netns(prefix):
    """Namespaces left by an earlier run of a test that was SIGKILLed (ctest's timeout): only
    that test's (the prefix) and only when the pid in the name is gone."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        try:
            pid = int(name[len(prefix):].split("-")[0])
        except ValueError:
            continue
        if not os.path.exists("/proc/%d" % pid):
            sh("ip", "netns", "del", name, check=False)


class Net:
    """The hub namespace with a bridge and one veth pair per node namespace; this thread
    enters the hub so that its sockets go over the bridge."""

    def __init__(self, n, prefix):
        self.tag = "%s%d" % (prefix, os.getpid())
        self.hub = self.tag + "-hub"
        self.ns = ["%s-%d" % (self.tag, i + 1) for i in range(n)]
        self.net = "10.%d.%d" % (random.randint(64, 250), random.randint(0, 255))
        self.made = []
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.entered = False

    def addr(self, i):
        return "%s.%d" % (self.net, i + 1)

    def up(self):
        sh("ip", "netns", "add", self.hub)
        self.made.append(self.hub)
        sh("ip", "-n", self.hub, "link", "set", "lo", "up")
        sh("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.hub, "addr", "add", self.net + ".254/24", "dev", "br0")
        sh("ip", "-n", self.hub, "link", "set", "br0", "up")
        for i, ns in enumerate(self.ns):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            # Created in the hub with its peer already in the node's namespace, so no
            # interface ever appears in the root namespace.
            sh("ip", "-n", self.hub, "link", "add", "v%d" % (i + 1), "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.hub, "link", "set", "v%d" % (i + 1), "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", self.addr(i) + "/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        self.enter(self.hub)

    def enter(self, ns):
        fd = os.open("/run/netns/" + ns, os.O_RDONLY)
        try:
            if self.libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns " + ns)
        finally:
            os.close(fd)
        self.entered = True

    def cut(self, i):
        """Drop everything between node i and the other nodes, both ways; the hub (the test)
        still reaches it."""
        others = ", ".join(self.addr(j) for j in range(len(self.ns)) if j != i)
        rules = ("table inet rncut {\n"
                 " chain in { type filter hook input priority 0; ip saddr { %s } drop; }\n"
                 " chain out { type filter hook output priority 0; ip daddr { %s } drop; }\n"
                 "}\n" % (others, others))
        r = subprocess.run(["ip", "netns", "exec", self.ns[i], "nft", "-f", "-"], input=rules,
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError("nft: " + r.stderr)

    def heal(self, i):
        sh("ip", "netns", "exec", self.ns[i], "nft", "delete", "table", "inet", "rncut")

    def down(self):
        if self.entered:
            self.libc.setns(self.home, CLONE_NEWNET)
            self.entered = False
        for ns in reversed(self.made):
            sh("ip", "netns", "del", ns, check=False)
        self.made = []
