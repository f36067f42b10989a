#!/usr/bin/env python3
"""Replicated partitions under faults, checked the way a user would: three nodes, a topic
with replication factor 3 and min.insync.replicas 2, an idempotent acks=all producer
(librdkafka through confluent-kafka) writing numbered messages while nodes are killed,
frozen and restarted, then every acknowledged message looked for in the log.

Phases (--only picks some; all by default):
  faults       SIGKILL the leader of partition 0 and restart it (RN_FAULTS_KILLS times),
               SIGSTOP it for RN_FAULTS_PAUSE_S s then SIGCONT (RN_FAULTS_PAUSES times),
               SIGKILL the active controller (DescribeQuorum's leader) and restart it
               (RN_FAULTS_CONTROLLER_KILLS times), and, with the nodes in network namespaces,
               cut the leader off from the other two nodes (nft) for RN_FAULTS_CUT_S s
               (RN_FAULTS_CUTS times), while the producer runs. The checker reads
               the topic back from the beginning: no acknowledged message may be lost,
               reordered within its partition, found at another offset than acknowledged, or
               duplicated (idempotence). Printed per fault: the time until a message sent
               after it is acknowledged on a partition the victim led (a new leader serves),
               until Metadata names another leader, and until the restarted node is back in
               every ISR it belongs to.
  quorum-loss  with the leader's two followers killed one after the other, acks=all fails
               (NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT or no answer) and nothing is
               acknowledged; brought back, the partition heals (full ISR, acks=all works
               again) and every message acknowledged before, between and after is there.
  seed001      Kafka's own tools (~/.cache/runnel/kafka-tools, scripts/deps.sh):
               kafka-topics --create --replication-factor 2, the console producer, the console
               consumer --from-beginning; then the partition's leader is killed and a new
               console consumer --from-beginning still reads every line. Skipped without the
               jars or java.

The nodes are runneld --cluster (this build's) or, with --broker kafka (RN_FAULTS_BROKER=kafka),
Apache Kafka through scripts/kafka-ref.sh as-runneld: the harness must pass against Kafka, so
that a failure against runneld is runneld's. Kafka fences a node it no longer hears from after
broker.session.timeout.ms (9 s), so its failover takes ~10 s; the bounds below allow for it
and the issue's target for runneld (a new leader within 3 s) is printed, not asserted.

Environment (defaults in brackets):
  RN_FAULTS_BROKER runneld|kafka [runneld]   RN_FAULTS_BASE_PORT  nodes on BASE, BASE+2, BASE+4
  RN_FAULTS_KILLS [3]  RN_FAULTS_PAUSES [2]  RN_FAULTS_PAUSE_S [15]  RN_FAULTS_CONTROLLER_KILLS [2]
  RN_FAULTS_CUTS [2]  RN_FAULTS_CUT_S [15]  RN_FAULTS_NETNS auto|yes|no [auto]: nodes in
  namespaces of their own, joined by a bridge in a fourth that the test enters (as
  test_cluster_partition), when this process may make them; else on loopback, without the cut
  RN_FAULTS_PARTITIONS [3]  RN_FAULTS_RATE messages/s [200]  RN_FAULTS_DOWN_S [3]: how long a
  killed node stays down once a new leader serves   RN_FAULTS_FAILOVER_MAX [runneld 20, kafka
  25]: seconds within which a fault must be followed by an acknowledgement
  RN_FAULTS_ISR_MAX [runneld 20, kafka 40]: within which a restarted node must be back in the
  ISR   RN_TOOLS_VERSION [3.9.1]   RN_FAULTS_KEEP=1 keeps the nodes' directories (their paths
  are printed).

Once a fault is not recovered from (no failover or no return to the ISR in time), the rest of
the schedule is skipped: the producer is stopped and the topic checked at once, so that a
broken cluster fails in a bounded time (well under ctest's 300 s).
"""
import argparse
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
import cluster_common as CC  # noqa: E402
from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, Producer,  # noqa: E402
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def env_num(name, default, kind=int):
    v = os.environ.get(name)
    return kind(v) if v else default


KILLS = env_num("RN_FAULTS_KILLS", 3)
PAUSES = env_num("RN_FAULTS_PAUSES", 2)
PAUSE_S = env_num("RN_FAULTS_PAUSE_S", 15.0, float)
CONTROLLER_KILLS = env_num("RN_FAULTS_CONTROLLER_KILLS", 2)
CUTS = env_num("RN_FAULTS_CUTS", 2)
CUT_S = env_num("RN_FAULTS_CUT_S", 15.0, float)
NETNS_PREFIX = "rnfault-"
NETNS_WHY = None  # why the nodes run on loopback rather than in namespaces
PARTITIONS = env_num("RN_FAULTS_PARTITIONS", 3)
RATE = env_num("RN_FAULTS_RATE", 200.0, float)
DOWN_S = env_num("RN_FAULTS_DOWN_S", 3.0, float)
# Set in main() by the kind of node: Kafka fences a node it stopped hearing from after its
# 9 s broker session timeout and restarts a JVM in ~10 s; runneld is allowed less.
FAILOVER_MAX = None
ISR_MAX = None
TARGET_S = 3.0  # issue 12: a new leader serves within 3 s
TOOLS_VERSION = os.environ.get("RN_TOOLS_VERSION", "3.9.1")
TOOLS_CACHE = os.environ.get("KAFKA_TOOLS_CACHE") or os.path.expanduser(
    "~/.cache/runnel/kafka-tools")

T = None  # the Tap, made in main() once the watchdog's budget is known
# librdkafka's log lines (connection failures, retries) go to this file rather than stderr;
# its path is printed when a check fails.
CLIENT_LOG = os.path.join(tempfile.gettempdir(), "rn-faults-clients-%d.log" % os.getpid())
LOGGER = logging.getLogger("rdkafka")


def client_conf(conf):
    conf = dict(conf)
    conf["logger"] = LOGGER
    return conf


def now():
    return time.monotonic()


# ---- the cluster ---------------------------------------------------------------------------

class Cluster:
    """Three nodes of one kind (CC.Node: runneld; CC.KafkaNode: Apache Kafka) on loopback."""

    def __init__(self, kind, base_port=None, net=None):
        self.kind = kind
        self.net = net
        cls = CC.KafkaNode if kind == "kafka" else CC.Node
        t0 = now()
        if net is not None:
            # One namespace per node, each node on port 9092 of its own address.
            hosts = [net.addr(i) for i in range(3)]
            ports = [9092] * 3
        else:
            # Ports two apart: Kafka's controller listens one above each client port.
            hosts = ["127.0.0.1"] * 3
            ports = ([base_port + 2 * i for i in range(3)] if base_port
                     else CC.free_ports(3, stride=2))
        self.cluster = ",".join("%d@%s:%d" % (i + 1, hosts[i], ports[i]) for i in range(3))
        # All three started before waiting for any: a node may open its client port only
        # once a quorum of controllers has formed.
        self.nodes = []
        for i in range(3):
            self.nodes.append(cls(i + 1, ports[i], self.cluster, wait=False, host=hosts[i],
                                  netns=net.ns[i] if net is not None else None))
            T.cleanups.insert(0, self.nodes[-1].cleanup)
        for n in self.nodes:
            n.listening()
        T.diag("all three listen after %.1f s" % (now() - t0))
        self.by_id = {n.node_id: n for n in self.nodes}
        self.bootstrap = ",".join(n.bootstrap for n in self.nodes)

    def up(self):
        return [n for n in self.nodes if n.alive() and not n.paused]

    def cut(self, node):
        """Drop all traffic between node and the other two (the test still reaches it)."""
        self.net.cut(node.node_id - 1)
        node.cut = True

    def heal(self, node):
        self.net.heal(node.node_id - 1)
        node.cut = False

    def ask(self, fn, prefer_not=()):
        """fn(node)'s first answer that is not None, over the running nodes (those in
        prefer_not last: a node that just came back may still have stale metadata)."""
        order = sorted(self.up(), key=lambda n: n.node_id in prefer_not)
        for n in order:
            v = fn(n)
            if v is not None:
                return v
        return None

    def partitions(self, topic, prefer_not=()):
        return self.ask(lambda n: CC.partitions(n, topic, timeout=2), prefer_not)

    def controller(self, prefer_not=()):
        """The active controller (the metadata quorum's leader) as DescribeQuorum says."""
        def q(n):
            d = CC.describe_quorum(n, timeout=2)
            return d[0] if d is not None and d[4] == 0 and d[0] >= 0 else None
        return self.ask(q, prefer_not)

    def ready(self, secs):
        """Every node registered as a broker and a quorum leader known, within secs."""
        def check():
            r = self.ask(lambda n: CC.metadata(n, [], timeout=2))
            return (r is not None and len(r["Brokers"]) == 3 and
                    self.controller() is not None)
        return CC.wait_for(check, secs, step=0.2)

    def full_isr(self, topic, secs, node=None, prefer_not=()):
        """Within secs, every partition of topic has its whole replica list in its ISR (or,
        with node, every partition listing node has it in its ISR) and a leader."""
        def check():
            parts = self.partitions(topic, prefer_not)
            if not parts:
                return False
            for leader, replicas, isr in parts.values():
                if leader < 0:
                    return False
                want = set(replicas) if node is None else {node} & set(replicas)
                if not want <= set(isr):
                    return False
            return True
        return CC.wait_for(check, secs, step=0.1)

    def log_tails(self):
        return "\n".join("--- node %d (%s) ---\n%s" % (n.node_id, n.dir, n.log_text()[-3000:])
                         for n in self.nodes)


def create_topic(cluster, topic, partitions, rf, min_isr=2, secs=30):
    """CreateTopics through the admin client; returns {partition: (leader, replicas, isr)}
    once every partition has a leader and a full ISR, or None."""
    admin = AdminClient(client_conf({"bootstrap.servers": cluster.bootstrap}))
    fut = admin.create_topics([NewTopic(topic, partitions, rf,
                                        config={"min.insync.replicas": str(min_isr)})],
                              operation_timeout=15)
    try:
        fut[topic].result(timeout=30)
    except Exception as e:  # noqa: BLE001 - reported by the caller's check
        T.diag("CreateTopics %s: %s" % (topic, e))
        return None
    if not cluster.full_isr(topic, secs):
        T.diag("topic %s: no full ISR within %d s: %s" % (topic, secs,
                                                           cluster.partitions(topic)))
        return None
    return cluster.partitions(topic)


# ---- the producer --------------------------------------------------------------------------

class Load(threading.Thread):
    """An idempotent acks=all producer sending "<seq>" to partition seq % partitions at a
    steady rate; every delivery report is recorded with its time."""

    def __init__(self, bootstrap, topic, partitions, rate, msg_timeout_ms=120000,
                 prefix="", extra=None):
        super().__init__(daemon=True)
        self.topic = topic
        self.parts = partitions
        self.rate = rate
        self.prefix = prefix
        # socket.timeout.ms: requests in flight to a frozen (SIGSTOPped) leader are given up
        # after 10 s rather than librdkafka's 60 s, so that the producer, which keeps its
        # sequence order, moves to the new leader while the old one is still frozen.
        self.conf = client_conf({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                 "acks": "all", "linger.ms": 5, "socket.timeout.ms": 10000,
                                 "message.timeout.ms": msg_timeout_ms, "error_cb": self._error})
        self.conf.update(extra or {})
        self.lock = threading.Lock()
        self.sent = {}    # seq -> (partition, time enqueued)
        self.acked = {}   # seq -> (partition, offset, time acknowledged)
        self.failed = {}  # seq -> (partition, error name)
        self.events = []  # (time acknowledged, partition, time enqueued), in report order
        self.errors = []  # (time, error) from error_cb; fatal ones fail the test
        self.stop_at = None
        self.halt = threading.Event()
        self.unreported = 0
        self.seq = 0

    def _error(self, err):
        self.errors.append((now(), err))

    def _report(self, seq, part, t_enq, err, msg):
        t = now()
        with self.lock:
            if err is not None:
                self.failed[seq] = (part, err.name())
            else:
                self.acked[seq] = (msg.partition(), msg.offset(), t)
                self.events.append((t, msg.partition(), t_enq))

    def value(self, seq):
        return ("%s%d" % (self.prefix, seq)).encode()

    def run(self):
        p = Producer(self.conf)
        nxt = now()
        while not self.halt.is_set():
            seq = self.seq
            part = seq % self.parts
            t = now()
            try:
                p.produce(self.topic, value=self.value(seq), partition=part,
                          on_delivery=lambda err, msg, s=seq, pt=part, te=t:
                          self._report(s, pt, te, err, msg))
            except BufferError:
                p.poll(0.1)
                continue
            with self.lock:
                self.sent[seq] = (part, t)
            self.seq += 1
            nxt += 1.0 / self.rate
            p.poll(max(0.0, nxt - now()))
            if nxt < now() - 1:  # fell behind (a stall): do not burst to catch up
                nxt = now()
        self.unreported = p.flush(self.flush_s)
        self.producer = p

    def finish(self, flush_s=60):
        """Stop sending; wait up to flush_s for the outstanding reports."""
        self.flush_s = flush_s
        self.halt.set()
        self.join(flush_s + 10)

    def mark(self):
        with self.lock:
            return len(self.events)

    def first_ack(self, since_idx, t0, parts):
        """The first acknowledgement (its time) reported after event since_idx for a message
        enqueued at or after t0 on one of parts, or None."""
        with self.lock:
            for t, part, t_enq in self.events[since_idx:]:
                if part in parts and t_enq >= t0:
                    return t
        return None

    def fatal(self):
        return [(t, e) for t, e in self.errors if e.fatal()]


# ---- reading back and checking -------------------------------------------------------------

def read_all(bootstrap, topic, partitions, secs=30):
    """Every record of topic from the log start: [(partition, offset, value)] in offset
    order per partition, the (low, high) watermarks and the partitions not read to the end."""
    c = Consumer(client_conf({"bootstrap.servers": bootstrap,
                              "group.id": "faults-check-%d" % os.getpid(),
                              "enable.auto.commit": False, "auto.offset.reset": "earliest",
                              "enable.partition.eof": True}))
    marks = {}
    for p in range(partitions):
        marks[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    pos = {p: -1 for p in range(partitions)}
    unread = {p for p in range(partitions) if marks[p][1] > marks[p][0]}
    deadline = now() + secs
    while unread and now() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                if pos[m.partition()] + 1 >= marks[m.partition()][1]:
                    unread.discard(m.partition())
            continue
        out.append((m.partition(), m.offset(), m.value()))
        pos[m.partition()] = m.offset()
        if m.offset() + 1 >= marks[m.partition()][1]:
            unread.discard(m.partition())
    c.close()
    return out, marks, sorted(unread)


def check(records, acked, prefix=""):
    """Compare the log (records: (partition, offset, value)) with the acknowledgements
    (acked: seq -> (partition, offset, time)): acknowledged messages lost, messages read more
    than once (dup), out of order in their partition (reordered), acknowledged at one offset
    and found at another (moved), acknowledged offsets holding another message (reused), and
    messages found without an acknowledgement (unacked, allowed)."""
    by_seq = {}
    per_part = {}
    other = 0
    for part, off, val in records:
        m = re.fullmatch(re.escape(prefix).encode() + rb"(\d+)", val or b"")
        if not m:
            other += 1
            continue
        seq = int(m.group(1))
        by_seq.setdefault(seq, []).append((part, off))
        per_part.setdefault(part, []).append((off, seq))
    lost = sorted(s for s in acked if s not in by_seq)
    dup = sorted(s for s, where in by_seq.items() if len(where) > 1)
    reordered = []
    for part, seqs in per_part.items():
        seqs.sort()
        top = -1
        for off, seq in seqs:
            if seq < top:
                reordered.append((part, off, seq, top))
            top = max(top, seq)
    moved = [(s, acked[s][:2], by_seq[s]) for s in acked
             if s in by_seq and acked[s][1] >= 0 and (acked[s][0], acked[s][1]) not in by_seq[s]]
    unacked = sorted(s for s in by_seq if s not in acked)
    at = {(part, off): val for part, off, val in records}
    reused = [s for s in acked if at.get(acked[s][:2], ("%s%d" % (prefix, s)).encode())
              != ("%s%d" % (prefix, s)).encode()]
    return {"lost": lost, "dup": dup, "reordered": reordered, "moved": moved,
            "unacked": unacked, "reused": reused, "read": len(records), "other": other}


def report_check(name, res, acked):
    T.diag("%s: %d acknowledged, %d records read (%d not from this producer); lost %d, "
           "duplicated %d, reordered %d, at another offset %d, present without an "
           "acknowledgement %d" % (name, len(acked), res["read"], res["other"],
                                   len(res["lost"]), len(res["dup"]), len(res["reordered"]),
                                   len(res["moved"]), len(res["unacked"])))
    per_part = {}
    for seq in res["lost"]:
        per_part[acked[seq][0]] = per_part.get(acked[seq][0], 0) + 1
    T.ok(not res["lost"], "%s: no acknowledged message lost" % name,
         "lost %d (per partition %s), first: %s; acknowledged offsets that now hold another "
         "message: %d" % (len(res["lost"]), per_part, ", ".join(
             "%d (acked p%d@%d)" % (s, acked[s][0], acked[s][1]) for s in res["lost"][:10]),
             len(res["reused"])))
    T.ok(not res["reordered"], "%s: no message out of order in its partition" % name,
         "first (partition, offset, seq, after seq): %s" % res["reordered"][:10])
    T.ok(not res["moved"], "%s: every acknowledged message at the offset it was "
         "acknowledged at" % name, "first (seq, acked at, found at): %s" % res["moved"][:10])
    T.ok(not res["dup"], "%s: no message written twice (idempotence)" % name,
         "first: %s" % res["dup"][:10])


def checker_selftest():
    """The checker finds what it is there to find, on a made-up log."""
    acked = {s: (0, s, 0.0) for s in range(6)}
    acked[6] = (1, 0, 0.0)
    good = [(0, s, b"%d" % s) for s in range(6)] + [(1, 0, b"6"), (1, 1, b"7")]
    bad = ([(0, 0, b"0"), (0, 1, b"2"), (0, 2, b"1"), (0, 3, b"3"), (0, 4, b"3"),
            (0, 5, b"9")] + [(1, 0, b"8"), (1, 1, b"6")])
    g, b = check(good, acked), check(bad, acked)
    want = {"lost": [4, 5], "dup": [3], "reordered": [(0, 2, 1, 2), (1, 1, 6, 8)],
            "moved": [(1, (0, 1), [(0, 2)]), (2, (0, 2), [(0, 1)]), (6, (1, 0), [(1, 1)])],
            "unacked": [8, 9], "reused": [1, 2, 4, 5, 6]}
    got = {k: sorted(b[k]) for k in want}
    T.ok(all(not g[k] for k in want if k != "unacked") and g["unacked"] == [7] and
         got == {k: sorted(v) for k, v in want.items()},
         "the checker finds nothing wrong in a whole log and every fault in a broken one",
         "clean log: %s\nbroken log: %s" % (g, got))


# ---- phase: faults under load --------------------------------------------------------------

class Fault:
    def __init__(self, kind, node, parts, t0):
        self.kind = kind
        self.node = node
        self.parts = parts  # partitions the victim led
        self.t0 = t0
        self.serve = None     # s until a message sent after the fault is acknowledged there
        self.leader = None    # s until Metadata names another leader for all of them
        self.controller = None  # s until another node leads the metadata quorum
        self.back = None      # s from restart/SIGCONT until back in every ISR
        self.down = None      # s the node was down or frozen

    def line(self):
        def f(v):
            return "-" if v is None else "%.2f s" % v
        return ("%-16s node %d (led p%s): ack of a new message %s, new leader in Metadata %s%s"
                ", down %s, back in ISR %s after its return"
                % (self.kind, self.node.node_id, ",".join(map(str, sorted(self.parts))) or "-",
                   f(self.serve), f(self.leader),
                   "" if self.controller is None and self.kind != "controller kill"
                   else ", new controller %s" % f(self.controller), f(self.down), f(self.back)))


def wait_failover(cluster, load, topic, fault, mark, need_controller=False, until=None):
    """Poll until a message sent after the fault is acknowledged on every partition the
    victim led, Metadata names other leaders and (need_controller) another node leads the
    quorum; until FAILOVER_MAX, or the time until (SIGSTOP's end) if that comes first."""
    end = fault.t0 + FAILOVER_MAX if until is None else min(until, fault.t0 + FAILOVER_MAX)
    pending = set(fault.parts)
    victim = fault.node.node_id
    while now() < end:
        for part in list(pending):
            t = load.first_ack(mark, fault.t0, {part})
            if t is not None:
                pending.discard(part)
                fault.serve = max(fault.serve or 0, t - fault.t0)
        if fault.leader is None and fault.parts:
            parts = cluster.partitions(topic, prefer_not=(victim,))
            if parts and all(parts[p][0] not in (victim, -1) for p in fault.parts):
                fault.leader = now() - fault.t0
        if need_controller and fault.controller is None:
            c = cluster.controller(prefer_not=(victim,))
            if c is not None and c != victim:
                fault.controller = now() - fault.t0
        if (not pending and (fault.leader is not None or not fault.parts) and
                (fault.controller is not None or not need_controller)):
            return True
        time.sleep(0.05)
    return not pending


def back_in_isr(cluster, topic, fault, t_back):
    ok = cluster.full_isr(topic, ISR_MAX, node=fault.node.node_id,
                          prefer_not=(fault.node.node_id,))
    if ok:
        fault.back = now() - t_back
    return ok


def led_by(parts, node_id):
    return {p for p, (leader, _, _) in parts.items() if leader == node_id}


def kill_leader(cluster, load, topic, n):
    parts = cluster.partitions(topic)
    victim = cluster.by_id[parts[0][0]]
    mark = load.mark()
    fault = Fault("leader kill %d" % n, victim, led_by(parts, victim.node_id), now())
    victim.kill()
    served = wait_failover(cluster, load, topic, fault, mark)
    T.ok(served, "leader kill %d: with node %d (leader of p%s) killed, a message sent after "
         "it is acknowledged within %d s" % (n, victim.node_id, sorted(fault.parts),
                                             FAILOVER_MAX),
         "no acknowledgement; partitions now %s" % cluster.partitions(topic))
    if served:
        time.sleep(DOWN_S)
    t_back = now()
    fault.down = t_back - fault.t0
    victim.start()
    T.ok(back_in_isr(cluster, topic, fault, t_back),
         "leader kill %d: node %d restarted is back in every ISR within %d s"
         % (n, victim.node_id, ISR_MAX), "partitions now %s" % cluster.partitions(topic))
    return fault


def pause_leader(cluster, load, topic, n):
    parts = cluster.partitions(topic)
    victim = cluster.by_id[parts[0][0]]
    mark = load.mark()
    fault = Fault("leader SIGSTOP %d" % n, victim, led_by(parts, victim.node_id), now())
    victim.pause()
    served = wait_failover(cluster, load, topic, fault, mark, until=fault.t0 + PAUSE_S)
    rest = fault.t0 + PAUSE_S - now()
    if rest > 0:
        time.sleep(rest)
    t_back = now()
    fault.down = t_back - fault.t0
    victim.resume()
    T.ok(fault.leader is not None, "leader SIGSTOP %d: while node %d (leader of p%s) is frozen "
         "for %.0f s, Metadata names new leaders" % (n, victim.node_id, sorted(fault.parts),
                                                     PAUSE_S),
         "partitions now %s" % cluster.partitions(topic))
    if not served:  # the producer may have waited for its requests to the frozen node
        served = wait_failover(cluster, load, topic, fault, mark)
    T.ok(served, "leader SIGSTOP %d: a message sent after the freeze is acknowledged within "
         "%d s of it" % (n, FAILOVER_MAX), "partitions now %s" % cluster.partitions(topic))
    T.ok(back_in_isr(cluster, topic, fault, t_back),
         "leader SIGSTOP %d: node %d, running again, is back in every ISR within %d s"
         % (n, victim.node_id, ISR_MAX), "partitions now %s" % cluster.partitions(topic))
    return fault


def cut_leader(cluster, load, topic, n):
    parts = cluster.partitions(topic)
    victim = cluster.by_id[parts[0][0]]
    mark = load.mark()
    fault = Fault("leader cut %d" % n, victim, led_by(parts, victim.node_id), now())
    cluster.cut(victim)
    # The fault starts once the rules are in: a message sent while nft was loading them may
    # still have been replicated and acknowledged.
    fault.t0 = now()
    served = wait_failover(cluster, load, topic, fault, mark, until=fault.t0 + CUT_S)
    rest = fault.t0 + CUT_S - now()
    if rest > 0:
        time.sleep(rest)
    t_back = now()
    fault.down = t_back - fault.t0
    cluster.heal(victim)
    T.ok(fault.leader is not None, "leader cut %d: while node %d (leader of p%s) is cut off "
         "from the other nodes for %.0f s, Metadata names new leaders"
         % (n, victim.node_id, sorted(fault.parts), CUT_S),
         "partitions now %s" % cluster.partitions(topic))
    if not served:
        served = wait_failover(cluster, load, topic, fault, mark)
    T.ok(served, "leader cut %d: a message sent after the cut is acknowledged within %d s of "
         "it" % (n, FAILOVER_MAX), "partitions now %s" % cluster.partitions(topic))
    T.ok(back_in_isr(cluster, topic, fault, t_back),
         "leader cut %d: node %d, healed, is back in every ISR within %d s"
         % (n, victim.node_id, ISR_MAX), "partitions now %s" % cluster.partitions(topic))
    return fault


def kill_controller(cluster, load, topic, n):
    cid = cluster.controller()
    if cid is None:
        T.ok(False, "controller kill %d: DescribeQuorum names an active controller" % n)
        return None
    victim = cluster.by_id[cid]
    parts = cluster.partitions(topic)
    mark = load.mark()
    fault = Fault("controller kill %d" % n, victim, led_by(parts, cid), now())
    victim.kill()
    served = wait_failover(cluster, load, topic, fault, mark, need_controller=True)
    T.ok(served and fault.controller is not None,
         "controller kill %d: with the active controller (node %d) killed, another node "
         "leads the quorum and produce goes on within %d s" % (n, cid, FAILOVER_MAX),
         "controller now %s, partitions %s" % (cluster.controller(),
                                               cluster.partitions(topic)))
    time.sleep(DOWN_S)
    t_back = now()
    fault.down = t_back - fault.t0
    victim.start()
    T.ok(back_in_isr(cluster, topic, fault, t_back),
         "controller kill %d: node %d restarted is back in every ISR within %d s"
         % (n, cid, ISR_MAX), "partitions now %s" % cluster.partitions(topic))
    return fault


def phase_faults(cluster):
    topic = "faults"
    parts = create_topic(cluster, topic, PARTITIONS, 3)
    T.ok(parts is not None and len(parts) == PARTITIONS and
         all(len(r) == 3 and len(i) == 3 for _, r, i in parts.values()),
         "topic %s: %d partitions, replication factor 3, min.insync.replicas 2, full ISR"
         % (topic, PARTITIONS), str(parts))
    if parts is None:
        return
    T.diag("partitions (leader, replicas, isr): %s" % parts)
    load = Load(cluster.bootstrap, topic, PARTITIONS, RATE)
    load.start()
    # Two seconds of traffic before the first fault: what a lost leader held is then
    # worth looking for.
    warm = CC.wait_for(lambda: len(load.acked) >= 2 * RATE, 30)
    T.ok(warm, "the producer gets acknowledgements before any fault (%d)" % len(load.acked),
         cluster.log_tails())
    faults = []
    plan = ([lambda n=n: kill_leader(cluster, load, topic, n) for n in range(1, KILLS + 1)] +
            [lambda n=n: pause_leader(cluster, load, topic, n) for n in range(1, PAUSES + 1)] +
            [lambda n=n: kill_controller(cluster, load, topic, n)
             for n in range(1, CONTROLLER_KILLS + 1)] +
            [lambda n=n: cut_leader(cluster, load, topic, n)
             for n in range(1, (CUTS if cluster.net else 0) + 1)]) if warm else []
    if CUTS and not cluster.net:
        T.ok(True, "# SKIP leader cut off by a network partition: no network namespaces (%s)"
             % NETNS_WHY)
    for i, step in enumerate(plan):
        failed = T.failed
        f = T.step("fault", step)
        if f is not None:
            faults.append(f)
            T.diag(f.line())
        if T.failed > failed:
            T.diag("not recovered from that fault: the remaining %d are skipped; checking "
                   "what was acknowledged" % (len(plan) - i - 1))
            for n in cluster.nodes:
                if getattr(n, "cut", False):
                    cluster.heal(n)
                if n.paused:
                    n.resume()
                if not n.alive():
                    n.start()
            break
        time.sleep(1.0)  # a quiet second between faults: acknowledgements of the steady state
    n_before = len(load.acked)
    time.sleep(2.0)
    T.ok(len(load.acked) > n_before, "after the last fault the producer is still "
         "acknowledged (%d more in 2 s)" % (len(load.acked) - n_before))
    load.finish(flush_s=20)
    T.diag("producer: %d sent, %d acknowledged, %d failed (%s), %d without a report at the end"
           % (load.seq, len(load.acked), len(load.failed),
              sorted({e for _, e in load.failed.values()}), load.unreported))
    T.ok(not load.fatal(), "the idempotent producer hit no fatal error",
         str(load.fatal()))
    kinds = {}
    for _, e in load.errors:
        kinds[e.name()] = kinds.get(e.name(), 0) + 1
    T.diag("the producer's error callbacks (connections lost and refused): %s" % kinds)
    T.ok(cluster.full_isr(topic, ISR_MAX), "every partition has its full ISR at the end",
         str(cluster.partitions(topic)))
    records, marks, short = read_all(cluster.bootstrap, topic, PARTITIONS, secs=30)
    T.ok(not short, "the topic reads back to its high watermark (%s)" % marks,
         "partitions not read to the end: %s" % short)
    res = check(records, load.acked)
    report_check("faults", res, load.acked)
    summarize(faults)


def summarize(faults):
    T.diag("---- measured (%s) ----" % BROKER)
    for f in faults:
        T.diag(f.line())
    serve = [f.serve for f in faults if f.parts and f.serve is not None]
    back = [f.back for f in faults if f.back is not None]
    if serve:
        T.diag("new leader serving after a fault on a leader: min %.2f s, max %.2f s "
               "(issue 12's target: under %.0f s, %s)"
               % (min(serve), max(serve), TARGET_S,
                  "met" if max(serve) < TARGET_S else "not met"))
    if back:
        T.diag("back in the ISR after returning: min %.2f s, max %.2f s" % (min(back),
                                                                           max(back)))


# ---- phase: two of three down ---------------------------------------------------------------

def sync_produce(bootstrap, topic, values, msg_timeout_ms, secs):
    """Produce values (bytes) to partition 0 with a fresh idempotent acks=all producer;
    returns ({value: offset} acknowledged, {value: error name} failed)."""
    p = Producer(client_conf({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                              "acks": "all", "message.timeout.ms": msg_timeout_ms,
                              "linger.ms": 5}))
    ok, bad = {}, {}

    def dr(err, msg):
        if err is None:
            ok[msg.value()] = msg.offset()
        else:
            bad[msg.value()] = err.name()
    for v in values:
        p.produce(topic, value=v, partition=0, on_delivery=dr)
    p.flush(secs)
    return ok, bad


ERRORS = {0: "NONE", 6: "NOT_LEADER_OR_FOLLOWER", 7: "REQUEST_TIMED_OUT",
          19: "NOT_ENOUGH_REPLICAS", 20: "NOT_ENOUGH_REPLICAS_AFTER_APPEND"}


def raw_produce(node, topic, value, timeout_ms=5000):
    """One acks=-1 Produce (v7) to node; its error name, or "no answer"."""
    try:
        c = D.Conn(node.bootstrap, timeout=timeout_ms / 1000 + 5)
        req = {"Acks": -1, "TimeoutMs": timeout_ms, "TransactionalId": None,
               "TopicData": [{"Name": topic, "PartitionData": [
                   {"Index": 0, "Records": D.record_batch([value])}]}]}
        r = c.call("Produce", 7, req)
        c.close()
        err = r["Responses"][0]["PartitionResponses"][0]["ErrorCode"]
        return ERRORS.get(err, "error %d" % err)
    except Exception as e:  # noqa: BLE001
        return "no answer (%s)" % type(e).__name__


def phase_quorum_loss(cluster):
    topic = "quorum-loss"
    parts = create_topic(cluster, topic, 1, 3)
    T.ok(parts is not None, "topic %s: replication factor 3, min.insync.replicas 2" % topic,
         str(parts))
    if parts is None:
        return
    acked = {}
    ok, bad = sync_produce(cluster.bootstrap, topic, [b"b%d" % i for i in range(100)],
                           30000, 40)
    acked.update(ok)
    T.ok(len(ok) == 100, "100 messages acknowledged with all three nodes up", str(bad)[:300])
    leader_id = parts[0][0]
    leader = cluster.by_id[leader_id]
    f1, f2 = [cluster.by_id[i] for i in parts[0][1] if i != leader_id]

    t0 = now()
    f1.kill()
    ok, bad = sync_produce(cluster.bootstrap, topic, [b"c%d" % i for i in range(50)],
                           (FAILOVER_MAX + 15) * 1000, FAILOVER_MAX + 25)
    acked.update(ok)
    T.ok(len(ok) == 50, "with follower %d down (2 of 3 up, min.insync.replicas 2) acks=all "
         "still succeeds (%.1f s)" % (f1.node_id, now() - t0), str(bad)[:300])
    T.diag("partition now %s" % cluster.partitions(topic))

    f2.kill()
    t0 = now()
    raw = raw_produce(leader, topic, b"x-raw")
    T.diag("acks=-1 Produce to leader %d with both followers down: %s (%.1f s)"
           % (leader_id, raw, now() - t0))
    T.ok(raw != "NONE", "with 2 of 3 nodes down, acks=all Produce to the leader fails "
         "(%s)" % raw)
    ok, bad = sync_produce(cluster.bootstrap, topic, [b"x%d" % i for i in range(20)], 10000, 20)
    T.ok(not ok, "with 2 of 3 nodes down, the idempotent acks=all producer gets no "
         "acknowledgement within 10 s (delivery errors: %s)" % sorted(set(bad.values())),
         "acknowledged: %s" % sorted(ok.items())[:10])
    acked.update(ok)  # any that were must not be lost either

    t0 = now()
    f1.start()
    f2.start()
    healed = cluster.full_isr(topic, ISR_MAX + 10)
    T.ok(healed, "brought back, the partition heals: full ISR %.1f s after the restarts"
         % (now() - t0), str(cluster.partitions(topic)))
    T.diag("partition now %s" % cluster.partitions(topic))
    ok, bad = sync_produce(cluster.bootstrap, topic, [b"d%d" % i for i in range(50)],
                           30000, 40)
    acked.update(ok)
    T.ok(len(ok) == 50, "after healing, acks=all succeeds again", str(bad)[:300])
    records, marks, short = read_all(cluster.bootstrap, topic, 1)
    found = {}
    for _, off, val in records:
        found.setdefault(val, []).append(off)
    lost = sorted((v, o) for v, o in acked.items() if o not in found.get(v, []))
    order = [v for _, _, v in records if v in acked]
    T.ok(not short and not lost, "every message acknowledged before, during and after the "
         "outage is in the log at its offset (%d acknowledged, %d records)"
         % (len(acked), len(records)), "lost: %s; unread partitions %s" % (lost[:10], short))
    want = sorted(acked, key=lambda v: acked[v])
    T.ok(order == want, "in the order they were acknowledged")
    T.diag("records without an acknowledgement: %s" % sorted(
        {v.decode("utf-8", "replace")[:1] + "*" for _, _, v in records if v not in acked}))


# ---- phase: seed 001 with Kafka's tools ---------------------------------------------------

TOOLS_LOG4J = """log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
"""
TOOL_CLASSES = {
    "3": {"topics": "org.apache.kafka.tools.TopicCommand",
          "producer": "kafka.tools.ConsoleProducer",
          "consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer"},
    "4": {"topics": "org.apache.kafka.tools.TopicCommand",
          "producer": "org.apache.kafka.tools.ConsoleProducer",
          "consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer"},
}


def tool(workdir, bootstrap, name, args, stdin=None, budget=90):
    """kafka-<name>.sh's class with args: (exit status, stdout, stderr)."""
    log4j = os.path.join(workdir, "tools-log4j.properties")
    with open(log4j, "w") as f:
        f.write(TOOLS_LOG4J)
    cls = TOOL_CLASSES[TOOLS_VERSION.split(".")[0]][name]
    cmd = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
           "-Dlog4j.configuration=file:" + log4j,
           "-cp", os.path.join(TOOLS_CACHE, TOOLS_VERSION, "libs") + "/*", cls,
           "--bootstrap-server", bootstrap] + args
    t0 = now()
    try:
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", "timed out after %d s" % budget
    T.diag("kafka-%s %s: exit %d, %.1f s" % (name, " ".join(args[:2]), r.returncode,
                                             now() - t0))
    return r.returncode, r.stdout, r.stderr


def show(r):
    return "exit %r\nstdout:\n%s\nstderr:\n%s" % (r[0], r[1][-1500:], r[2][-2500:])


def phase_seed001(cluster):
    libs = os.path.join(TOOLS_CACHE, TOOLS_VERSION, "libs")
    if shutil.which("java") is None or not os.path.isdir(libs):
        T.ok(True, "# SKIP seed 001: no java or no Kafka %s tools in %s (scripts/deps.sh)"
             % (TOOLS_VERSION, libs))
        return
    work = tempfile.mkdtemp(prefix="rn-seed001-")
    T.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
    topic, n = "seed001", 200
    bs = cluster.bootstrap
    r = tool(work, bs, "topics", ["--create", "--topic", topic, "--partitions", "1",
                                  "--replication-factor", "2"])
    T.ok(r[0] == 0 and "Created topic %s." % topic in r[1],
         "kafka-topics --create --topic %s --replication-factor 2" % topic, show(r))
    T.ok(cluster.full_isr(topic, 30), "both replicas in the ISR",
         str(cluster.partitions(topic)))
    lines = ["line %d of seed 001" % i for i in range(n)]
    r = tool(work, bs, "producer", ["--topic", topic, "--producer-property", "acks=all"],
             stdin="".join(x + "\n" for x in lines))
    T.ok(r[0] == 0 and "Exception" not in r[2], "kafka-console-producer sends %d lines" % n,
         show(r))

    def consume(desc, secs):
        # --timeout-ms: the longest wait for a record; the tool then exits with what it has.
        r = tool(work, bs, "consumer", ["--topic", topic, "--from-beginning", "--max-messages",
                                        str(n), "--timeout-ms", str(int(secs * 1000))],
                 budget=secs + 60)
        got = r[1].splitlines()
        return T.ok(r[0] == 0 and got == lines, "%s: kafka-console-consumer --from-beginning "
                    "reads all %d lines in order (%d)" % (desc, n, len(got)), show(r))
    if not consume("all nodes up", 20):
        T.diag("not reading with every node up: the leader is not killed")
        return
    parts = cluster.partitions(topic)
    victim = cluster.by_id[parts[0][0]]
    T.diag("killing node %d, the leader of %s (replicas %s)" % (victim.node_id, topic,
                                                                parts[0][1]))
    t0 = now()
    victim.kill()
    consume("leader killed", FAILOVER_MAX + 20)
    T.diag("the consumer after the kill finished %.1f s after it" % (now() - t0))
    victim.start()
    T.ok(cluster.full_isr(topic, ISR_MAX), "node %d restarted rejoins the ISR"
         % victim.node_id, str(cluster.partitions(topic)))


# ---- main ----------------------------------------------------------------------------------

PHASES = {"faults": phase_faults, "quorum-loss": phase_quorum_loss, "seed001": phase_seed001}
BROKER = "runneld"


def main():
    global T, BROKER, FAILOVER_MAX, ISR_MAX, NETNS_WHY
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", choices=("runneld", "kafka"),
                    default=os.environ.get("RN_FAULTS_BROKER", "runneld"))
    ap.add_argument("--only", default="faults,quorum-loss,seed001",
                    help="comma-separated phases: " + ", ".join(PHASES))
    ap.add_argument("--base-port", type=int,
                    default=int(os.environ.get("RN_FAULTS_BASE_PORT", "0")) or None)
    ap.add_argument("--netns", choices=("auto", "yes", "no"),
                    default=os.environ.get("RN_FAULTS_NETNS", "auto"),
                    help="nodes in network namespaces, for the network-partition fault "
                    "(auto: when this process may make them)")
    args = ap.parse_args()
    BROKER = args.broker
    kafka = BROKER == "kafka"
    # A cut-off leader that is also the controller: the quorum elects another (fetch timeout),
    # which gives every broker a full session (9 s) before fencing it, then clients retry.
    FAILOVER_MAX = env_num("RN_FAULTS_FAILOVER_MAX", 25.0 if kafka else 20.0, float)
    ISR_MAX = env_num("RN_FAULTS_ISR_MAX", 40.0 if kafka else 20.0, float)
    phases = [p for p in args.only.split(",") if p]
    for p in phases:
        if p not in PHASES:
            ap.error("unknown phase %s" % p)
    # runneld's run must stay well under ctest's budget; Kafka restarts a JVM per fault.
    T = D.Tap("test_replication_faults", timeout_s=440 if BROKER == "runneld" else 1200)
    handler = logging.FileHandler(CLIENT_LOG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.DEBUG)
    LOGGER.propagate = False

    def client_log():
        if T.failed:
            print("# the clients' log: %s" % CLIENT_LOG, flush=True)
        else:
            os.unlink(CLIENT_LOG)
    T.cleanups.append(client_log)
    if BROKER == "runneld" and not os.path.exists(D.RUNNELD):
        T.ok(False, "runneld built at %s" % D.RUNNELD)
        T.done()
    def on_signal(signum, frame):
        T.ok(False, "interrupted by signal %d" % signum)
        T.done()  # runs the cleanups: processes, then namespaces
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    checker_selftest()
    net = None
    if args.netns != "no" and not args.base_port:
        NETNS_WHY = CC.netns_unusable(NETNS_PREFIX)
        if NETNS_WHY is None:
            CC.sweep_stale_netns(NETNS_PREFIX)
            net = CC.Net(3, NETNS_PREFIX)
            T.cleanups.append(net.down)  # after the nodes' cleanups
            net.up()
            T.diag("nodes in namespaces %s on %s.0/24" % (", ".join(net.ns), net.net))
        elif args.netns == "yes":
            T.ok(False, "network namespaces usable", NETNS_WHY)
            T.done()
    else:
        NETNS_WHY = "--base-port or --netns no"
    t0 = now()
    T.diag("starting three %s nodes" % BROKER)
    cluster = T.step("start three nodes", Cluster, BROKER, args.base_port, net)
    if cluster is None:
        T.done()
    ready = cluster.ready(90)
    T.ok(ready, "three %s nodes up, registered, with a quorum leader (%.1f s; %s)"
         % (BROKER, now() - t0, cluster.bootstrap), None if ready else cluster.log_tails())
    if not ready:
        T.done()
    for p in phases:
        T.diag("==== %s ====" % p)
        t1 = now()
        T.step(p, PHASES[p], cluster)
        T.diag("%s took %.1f s" % (p, now() - t1))
    if os.environ.get("RN_FAULTS_KEEP") == "1":
        T.diag("kept: %s" % ", ".join(n.dir for n in cluster.nodes))
        T.cleanups = [n.stop for n in cluster.nodes]
    elif BROKER == "runneld":
        for n in cluster.nodes:
            n.finish(T)
    T.done()


main()
