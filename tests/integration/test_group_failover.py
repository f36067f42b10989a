#!/usr/bin/env python3
"""Consumer groups through a group coordinator move, on three runneld nodes
(broker/group/rn_gcoord.h: __consumer_offsets partitions follow their leaders; writes are
acknowledged once replicated):
  - __consumer_offsets is created with replication factor 3 on a three-node cluster;
  - an OffsetCommit is not acknowledged while both followers of its partition are stopped
    (REQUEST_TIMED_OUT after offsets.commit.timeout.ms), and is not visible to OffsetFetch;
    once they run again commits succeed;
  - for each client (confluent-kafka 1.7 from Debian and 2.x from the venv, kafka-python,
    kafkajs) and each fault (SIGKILL, then SIGTERM of another group's coordinator): a member
    consumes and commits message by message, the node that coordinates its group is stopped,
    another node becomes coordinator and serves the committed offsets, the member goes on
    with 300 more messages; every message is consumed, none is consumed again after a commit
    past it was acknowledged, and the final committed offsets are the log ends.
Prints the time from the fault until the new coordinator serves the group's offsets, and
until the member's first acknowledged commit. The members run as subprocesses
(group_failover_worker.py / .js). RN_FAILOVER_CLIENTS and RN_FAILOVER_SIGNALS limit the
clients and faults (comma-separated names, e.g. kafkajs and SIGKILL)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, controller, wait_for  # noqa: E402
from replication_common import stop_all  # noqa: E402
from rn_testlib import SRC  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

T = D.Tap("test_group_failover", timeout_s=850)
HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PY = os.path.join(SRC, ".venv", "bin", "python")
FLAGS = ["--broker.session.timeout.ms", "4000", "--group.initial.rebalance.delay.ms", "0"]
PARTS = 3
BATCH = 300  # messages before and after the fault
OFFSETS_TOPIC = "__consumer_offsets"


def cluster():
    ports = [D.free_port() for _ in range(3)]
    spec = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], spec, FLAGS) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    return nodes


def live(nodes):
    return [n for n in nodes if n.proc is not None and n.proc.poll() is None]


def bootstrap(nodes):
    return ",".join(n.bootstrap for n in live(nodes))


def node(nodes, node_id):
    return [n for n in nodes if n.node_id == node_id][0]


def call(n, api, version, body, timeout=5):
    c = D.Conn(n.bootstrap, timeout=timeout)
    try:
        return c.call(api, version, body)
    finally:
        c.close()


def coordinator(nodes, group):
    """The node id FindCoordinator names for group (asking each running node), or None."""
    for n in live(nodes):
        try:
            r = call(n, "FindCoordinator", 1, {"Key": group, "KeyType": 0}, timeout=3)
        except Exception:  # noqa: BLE001 - a node going down
            continue
        if r["ErrorCode"] == 0:
            return r["NodeId"]
    return None


def offsets_at(n, group, topic):
    """(error, {partition: committed offset}) from n's OffsetFetch v5."""
    r = call(n, "OffsetFetch", 5, {"GroupId": group, "Topics": [
        {"Name": topic, "PartitionIndexes": list(range(PARTS))}]})
    if r["ErrorCode"] != 0:
        return r["ErrorCode"], None
    return 0, {p["PartitionIndex"]: p["CommittedOffset"] for t in r["Topics"]
               for p in t["Partitions"]}


def commit_raw(n, group, topic, offset, timeout=20):
    """A simple consumer's OffsetCommit v8 of partition 0: its error code."""
    r = call(n, "OffsetCommit", 8, {
        "GroupId": group, "GenerationIdOrMemberEpoch": -1, "MemberId": "",
        "GroupInstanceId": None, "Topics": [{"Name": topic, "Partitions": [
            {"PartitionIndex": 0, "CommittedOffset": offset, "CommittedLeaderEpoch": -1,
             "CommittedMetadata": ""}]}]}, timeout=timeout)
    return r["Topics"][0]["Partitions"][0]["ErrorCode"]


def partitions(nodes, topic):
    """{partition: (leader, replicas, isr)} from the first running node that answers."""
    for n in live(nodes):
        try:
            r = call(n, "Metadata", 9, {"Topics": [{"Name": topic}],
                                        "AllowAutoTopicCreation": False,
                                        "IncludeTopicAuthorizedOperations": False}, timeout=3)
        except Exception:  # noqa: BLE001
            continue
        t = r["Topics"][0]
        if t["ErrorCode"] != 0:
            return None
        return {p["PartitionIndex"]: (p["LeaderId"], sorted(p["ReplicaNodes"]),
                                      sorted(p["IsrNodes"])) for p in t["Partitions"]}
    return None


def healthy(nodes, topic):
    """Every partition of topic led and with all three replicas in sync."""
    ps = partitions(nodes, topic)
    return bool(ps) and all(leader >= 0 and len(isr) == 3 for leader, _, isr in ps.values())


def create_topic(nodes, name):
    admin = AdminClient({"bootstrap.servers": bootstrap(nodes)})
    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline:
        fs = admin.create_topics([NewTopic(name, PARTS, 3,
                                           config={"min.insync.replicas": "2"})])
        try:
            fs[name].result(10)
            break
        except Exception as e:  # noqa: BLE001 - brokers still registering
            if "TOPIC_ALREADY_EXISTS" in str(e):
                break
            last = e
            time.sleep(0.5)
    else:
        raise RuntimeError("cannot create %s: %s" % (name, last))
    if not wait_for(lambda: healthy(nodes, name), 30, step=0.2):
        raise RuntimeError("%s has no full ISR: %r" % (name, partitions(nodes, name)))


def produce(nodes, topic, first, count, idempotent=True):
    """Values m<first>..m<first+count-1>, round-robin over the partitions, acks=all. After a
    fault the producer is not idempotent: a new producer id needs the controller, which may be
    the node just stopped (a retried batch may then be written twice: log_ends counts it)."""
    acked, errors = [], []

    def cb(err, msg):
        (errors if err is not None else acked).append(err or msg.value())
    p = Producer({"bootstrap.servers": bootstrap(nodes), "acks": "all",
                  "enable.idempotence": idempotent, "linger.ms": 5,
                  "message.timeout.ms": 60000})
    for i in range(first, first + count):
        p.produce(topic, value=b"m%05d" % i, partition=i % PARTS, on_delivery=cb)
        p.poll(0)
    p.flush(90)
    if len(acked) != count:
        raise RuntimeError("produced %d of %d: %s" % (len(acked), count, errors[:3]))


def log_ends(nodes, topic):
    """{partition: high watermark}."""
    c = Consumer({"bootstrap.servers": bootstrap(nodes), "group.id": "gf-watermarks"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(PARTS)}
    finally:
        c.close()


class Worker:
    """A group member subprocess; its JSON events collected by a reader thread."""

    def __init__(self, argv, name):
        self.dir = tempfile.mkdtemp(prefix="rn-gf-")
        self.stopfile = os.path.join(self.dir, "stop")
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.events = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(argv + [self.stopfile], stdout=subprocess.PIPE,
                                     stderr=self.err, preexec_fn=D._die_with_parent)
        self.name = name
        threading.Thread(target=self._read, daemon=True).start()
        T.cleanups.append(self.cleanup)

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(ev)

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def acked(self):
        """{partition: highest acknowledged commit}."""
        out = {}
        for ev in self.snapshot():
            if ev["ev"] == "commit":
                out[ev["p"]] = max(out.get(ev["p"], 0), ev["o"])
        return out

    def acked_to(self, ends):
        a = self.acked()
        return all(a.get(p) == end for p, end in ends.items())

    def stop(self):
        open(self.stopfile, "w").close()
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.kill()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stderr_tail(self):
        self.err.flush()
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-1500:]


def check_history(events):
    """(values consumed, deliveries, redeliveries of a message after a commit past it was
    acknowledged)."""
    acked = {}
    seen = set()
    values = set()
    deliveries = 0
    bad = []
    for ev in events:
        if ev["ev"] == "commit":
            acked[ev["p"]] = max(acked.get(ev["p"], 0), ev["o"])
        elif ev["ev"] == "msg":
            deliveries += 1
            key = (ev["p"], ev["o"])
            if key in seen and ev["o"] < acked.get(ev["p"], 0):
                bad.append(key)
            seen.add(key)
            values.add(ev["v"])
    return values, deliveries, bad


def test_offsets_topic(nodes):
    r = wait_for(lambda: coordinator(nodes, "rf-probe"), 30, step=0.2)
    T.ok(r is not None, "FindCoordinator creates __consumer_offsets and names a coordinator")
    ps = wait_for(lambda: partitions(nodes, OFFSETS_TOPIC), 30, step=0.2)
    T.ok(ps and len(ps) == 50 and all(rep == [1, 2, 3] for _, rep, _ in ps.values()),
         "__consumer_offsets: 50 partitions, each replicated on all three nodes "
         "(offsets.topic.replication.factor 3)", repr(ps and list(ps.items())[:3]))
    T.ok(wait_for(lambda: healthy(nodes, OFFSETS_TOPIC), 30, step=0.2),
         "every __consumer_offsets partition has three in-sync replicas")
    leaders = {leader for leader, _, _ in ps.values()} if ps else set()
    T.ok(leaders == {1, 2, 3}, "its leaders are spread over the three nodes", repr(leaders))


def test_commit_waits_for_followers(nodes):
    ctl = controller(nodes[0])
    group = coord = None
    for i in range(200):
        g = "stall-%d" % i
        c = coordinator(nodes, g)
        if c is not None and c != ctl:
            group, coord = g, c
            break
    T.ok(group is not None, "a group coordinated by a node that is not the controller: %s on "
         "node %s (controller %s)" % (group, coord, ctl))
    create_topic(nodes, "stall-t")
    lead = node(nodes, coord)
    others = [n for n in nodes if n.node_id != coord]
    # Right after the topic's creation a node may still be taking up its leaderships
    # (COORDINATOR_LOAD_IN_PROGRESS until it is registered and unfenced).
    T.ok(wait_for(lambda: commit_raw(lead, group, "stall-t", 5) == 0, 20, step=0.2),
         "a commit with every replica running succeeds")
    for n in others:
        n.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        err = commit_raw(lead, group, "stall-t", 7)
        waited = time.monotonic() - t0
        T.ok(err == 7 and waited >= 4.5,
             "with both followers of its __consumer_offsets partition stopped, OffsetCommit is "
             "not acknowledged: REQUEST_TIMED_OUT after offsets.commit.timeout.ms (5 s)",
             "error %r after %.2f s" % (err, waited))
        e, offs = offsets_at(lead, group, "stall-t")
        T.ok(e == 0 and offs and offs.get(0) == 5,
             "OffsetFetch still answers the last replicated commit (5), not the unacknowledged "
             "one", "error %r offsets %r" % (e, offs))
    finally:
        for n in others:
            n.proc.send_signal(signal.SIGCONT)

    def retried():
        c = coordinator(nodes, group)
        try:
            return c is not None and commit_raw(node(nodes, c), group, "stall-t", 9) == 0 and c
        except Exception:  # noqa: BLE001
            return False
    c = wait_for(retried, 30, step=0.3)
    T.ok(c, "once the followers run again a commit succeeds")
    e, offs = offsets_at(node(nodes, c), group, "stall-t") if c else (None, None)
    T.ok(e == 0 and offs and offs.get(0) == 9, "and is read back (9)", repr((e, offs)))
    wait_for(lambda: healthy(nodes, OFFSETS_TOPIC), 30, step=0.3)


def scenario(nodes, name, argv, sig):
    signame = "SIGKILL" if sig == signal.SIGKILL else "SIGTERM"
    tag = "%s/%s" % (name, signame)
    topic = "gf-%s-%s" % (name.replace(".", ""), signame.lower())
    group = topic + "-group"
    create_topic(nodes, topic)
    produce(nodes, topic, 0, BATCH)
    w = Worker(argv + [bootstrap(nodes), topic, group], name)
    ends = {p: BATCH // PARTS for p in range(PARTS)}
    ok = wait_for(lambda: w.acked_to(ends) or w.proc.poll() is not None, 90, step=0.2)
    if not T.ok(ok and w.proc.poll() is None, "%s: the member consumed and committed %d messages"
                % (tag, BATCH), w.stderr_tail()):
        w.kill()
        return
    coord = coordinator(nodes, group)
    victim = node(nodes, coord)
    e, before = offsets_at(victim, group, topic)
    T.ok(e == 0 and before == ends,
         "%s: node %d coordinates the group, committed offsets at the log ends" % (tag, coord),
         repr((e, before)))
    t_fault = time.time()
    victim.proc.send_signal(sig)
    try:
        after_fault(nodes, tag, topic, group, w, coord, victim, before, t_fault, sig)
    finally:
        w.kill()
        if victim.proc is not None:
            victim.stop(kill=True)
        victim.start()
    back = wait_for(lambda: healthy(nodes, OFFSETS_TOPIC) and healthy(nodes, topic), 60, step=0.3)
    lagging = {t: {p: v for p, v in (partitions(nodes, t) or {}).items() if len(v[2]) < 3}
               for t in (OFFSETS_TOPIC, topic)}
    T.ok(back, "%s: node %d is back in every ISR" % (tag, coord), repr(lagging))


def after_fault(nodes, tag, topic, group, w, coord, victim, before, t_fault, sig):
    def served():
        c = coordinator(nodes, group)
        if c is None or c == coord:
            return None
        try:
            err, offs = offsets_at(node(nodes, c), group, topic)
        except Exception:  # noqa: BLE001
            return None
        return c if err == 0 and offs == before else None
    new = wait_for(served, 60, step=0.05)
    t_served = time.time() - t_fault
    T.ok(new is not None, "%s: node %s coordinates the group now and serves its committed "
         "offsets" % (tag, new))
    try:
        victim.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    rc = victim.stop()
    if sig == signal.SIGTERM:
        T.ok(rc == 0, "%s: the old coordinator shut down cleanly" % tag, victim.log_text())
    produce(nodes, topic, BATCH, BATCH, idempotent=False)
    ends = log_ends(nodes, topic)
    ok = wait_for(lambda: w.acked_to(ends) or w.proc.poll() is not None, 120, step=0.2)
    T.ok(ok and w.proc.poll() is None, "%s: the member consumed and committed the %d messages "
         "produced after the fault (log ends %r)" % (tag, BATCH, ends), w.stderr_tail())
    events = w.snapshot()
    after = [ev["t"] for ev in events if ev["ev"] == "commit" and ev["t"] > t_fault]
    fails = [ev for ev in events if ev["ev"] == "commit_fail"]
    T.diag("%s: the new coordinator served the group's offsets %.2f s after the fault; the "
           "member's first acknowledged commit came %.2f s after it (%d failed commit tries "
           "meanwhile%s)" % (tag, t_served, (after[0] - t_fault) if after else -1, len(fails),
                             ": " + fails[0]["err"][:100] if fails else ""))
    T.ok(w.stop() == 0, "%s: the member closed" % tag, w.stderr_tail())
    values, deliveries, bad = check_history(w.snapshot())
    want = {"m%05d" % i for i in range(2 * BATCH)}
    T.ok(values == want, "%s: every one of the %d messages consumed" % (tag, 2 * BATCH),
         "missing %r" % sorted(want - values)[:5])
    T.ok(not bad, "%s: none consumed again after its commit was acknowledged (%d deliveries "
         "for %d offsets)" % (tag, deliveries, sum(ends.values())), repr(bad[:5]))
    c = coordinator(nodes, group)
    e, final = offsets_at(node(nodes, c), group, topic) if c else (None, None)
    T.ok(e == 0 and final == ends, "%s: the committed offsets are at the log ends" % tag,
         repr((e, final)))


def clients():
    out = [("confluent-1.7", ["/usr/bin/python3", os.path.join(HERE, "group_failover_worker.py"),
                              "confluent"])]
    if os.path.exists(VENV_PY):
        out.append(("confluent-2.x", [VENV_PY, os.path.join(HERE, "group_failover_worker.py"),
                                      "confluent"]))
        out.append(("kafka-python", [VENV_PY, os.path.join(HERE, "group_failover_worker.py"),
                                     "kafka-python"]))
    else:
        T.diag("no venv at %s: confluent-kafka 2.x and kafka-python skipped" % VENV_PY)
    kjs = os.path.join(HERE, "..", "interop", "node_modules", "kafkajs")
    if os.path.isdir(kjs):
        out.append(("kafkajs", ["node", os.path.join(HERE, "group_failover_worker.js")]))
    else:
        T.diag("no kafkajs in tests/interop/node_modules: kafkajs skipped")
    only = os.environ.get("RN_FAILOVER_CLIENTS")
    if only:
        out = [c for c in out if c[0] in only.split(",")]
    return out


NODES = cluster()
T.step("__consumer_offsets replicated", test_offsets_topic, NODES)
T.step("commits wait for the followers", test_commit_waits_for_followers, NODES)
for cname, cargv in clients():
    for fault in [getattr(signal, f) for f in
                  os.environ.get("RN_FAILOVER_SIGNALS", "SIGKILL,SIGTERM").split(",")]:
        T.step("%s through a coordinator move" % cname, scenario, NODES, cname, cargv, fault)
T.step("clean stop", stop_all, T, NODES)
T.done()
