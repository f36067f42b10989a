#!/usr/bin/env python3
"""Failover with Kafka's default timeouts (broker.session.timeout.ms 9000) on three runneld
nodes (broker/controller/cluster_liveness.c): a partition leader killed with SIGKILL is
replaced well before its session would expire, because its address refuses connections,
and a producer with acks=all and idempotence carries on with nothing acknowledged lost; a
leader stopped with SIGSTOP (no refusal: it may come back) keeps its leadership until the
session timeout, and is fenced only then. Times are printed."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, wait_for  # noqa: E402
from replication_common import (bootstrap, consume_all, controller_id, create_topic,  # noqa: E402
                                metadata, node, stop_all)

from confluent_kafka import Producer  # noqa: E402

T = D.Tap("test_failover", timeout_s=240)
SESSION_S = 9.0  # Kafka's broker.session.timeout.ms default, not overridden here


def cluster():
    ports = [D.free_port() for _ in range(3)]
    spec = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], spec) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    return nodes


class Writer:
    """An idempotent acks=all producer writing numbered messages until stopped; records
    every acknowledged value and the time of each acknowledgement."""

    def __init__(self, nodes, topic):
        self.acked, self.errors, self.ack_times = [], [], []
        self.stop = False
        self.p = Producer({"bootstrap.servers": bootstrap(nodes), "acks": "all",
                           "enable.idempotence": True, "linger.ms": 2,
                           "message.timeout.ms": 60000})
        self.topic = topic
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def cb(self, err, msg):
        if err is None:
            self.acked.append(msg.value())
            self.ack_times.append(time.monotonic())
        else:
            self.errors.append(err)

    def run(self):
        i = 0
        while not self.stop:
            try:
                self.p.produce(self.topic, value=b"m%08d" % i, on_delivery=self.cb)
                i += 1
            except BufferError:
                pass
            self.p.poll(0.002)
        self.p.flush(60)

    def finish(self):
        self.stop = True
        self.t.join()

    def first_ack_after(self, t0):
        return next((t for t in list(self.ack_times) if t > t0), None)


def test_kill(nodes):
    create_topic(nodes, "kill")
    w = Writer(nodes, "kill")
    time.sleep(2)
    leader, epoch, _ = metadata(nodes, "kill")
    victim = node(nodes, leader)
    T.diag("killing the leader, node %d (controller: node %s)" % (leader, controller_id(nodes)))
    t0 = time.monotonic()
    victim.stop(kill=True)
    moved = wait_for(lambda: (lambda m: m if m and m[0] not in (-1, leader) else None)(
        metadata(nodes, "kill")), SESSION_S, step=0.05)
    t_moved = time.monotonic() - t0
    T.ok(moved is not None and moved[1] > epoch,
         "another node leads before the killed one's session would expire", repr(moved))
    served = wait_for(lambda: w.first_ack_after(t0 + t_moved), 10, step=0.05)
    T.ok(served is not None, "the producer's writes are acknowledged by the new leader")
    if served is not None:
        T.diag("SIGKILL of the leader: new leader in metadata after %.2f s, first acks=all "
               "acknowledgement after %.2f s (session timeout %.0f s)"
               % (t_moved, served - t0, SESSION_S))
        T.ok(served - t0 < SESSION_S, "the new leader serves before the session timeout")
    victim.start()
    back = wait_for(lambda: (lambda m: m if m and leader in m[2] else None)(
        metadata(nodes, "kill")), 30, step=0.1)
    T.ok(back is not None, "the restarted node is back in the ISR", repr(metadata(nodes, "kill")))
    if back is not None:
        T.diag("restarted node back in the ISR %.1f s after its start" %
               (time.monotonic() - t0 - t_moved))
    w.finish()
    T.ok(not w.errors, "no produce failed", repr(w.errors[:3]))
    got = consume_all(nodes, "kill", len(w.acked), secs=60)
    have = set(got)
    lost = [v for v in w.acked if v not in have]
    T.ok(not lost, "all %d acknowledged messages are read back" % len(w.acked),
         "%d lost, first %r" % (len(lost), lost[:3]))
    T.ok(got == sorted(got) and len(got) == len(have), "in order, no duplicates",
         "%d read, %d distinct" % (len(got), len(have)))


def test_stop(nodes):
    create_topic(nodes, "stop")
    leader, epoch, _ = metadata(nodes, "stop")
    victim = node(nodes, leader)
    ctl = controller_id(nodes)
    if ctl == leader:
        T.diag("the leader is also the controller: the quorum elects another controller "
               "(fetch timeout), which gives every broker a full session before fencing")
    victim.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        time.sleep(4)
        m = metadata([n for n in nodes if n is not victim], "stop")
        if ctl != leader:
            T.ok(m is not None and m[0] == leader,
                 "a stopped (not dead) leader keeps its leadership within its session", repr(m))
        moved = wait_for(lambda: (lambda x: x if x and x[0] not in (-1, leader) else None)(
            metadata([n for n in nodes if n is not victim], "stop")), 25, step=0.1)
        T.ok(moved is not None, "it is fenced and replaced once the session expired")
        T.diag("SIGSTOP of the leader: replaced after %.1f s" % (time.monotonic() - t0))
    finally:
        victim.proc.send_signal(signal.SIGCONT)


NODES = cluster()
T.step("SIGKILL of a leader under load", test_kill, NODES)
T.step("SIGSTOP of a leader", test_stop, NODES)
T.step("clean stop", stop_all, T, NODES)
T.done()
