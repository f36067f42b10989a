#!/usr/bin/env python3
"""Producer ids come from the controller's blocks (broker/data/rn_pidalloc.h): InitProducerId
on each of three nodes gets ids from distinct blocks of 1000, a restarted node never repeats
an id, and a single node upgraded with the old producer-id-block file starts above its mark."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, controller, leader_of  # noqa: E402

T = D.Tap("test_cluster_producer_ids", timeout_s=120)
BLOCK = 1000
SESSION_MS = 4000
SESSION_FLAGS = ["--broker.session.timeout.ms", str(SESSION_MS)]


def init_pid(node, secs=20):
    """The producer id node hands out, retrying the retriable answers; None if none came."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            c = D.Conn(node.bootstrap, timeout=15)
            err, pid, epoch = D.init_producer_id(c, version=4)
            c.close()
        except Exception:  # noqa: BLE001 - a node still starting
            err, pid = None, None
        if err == 0 and pid >= 0:
            return pid
        time.sleep(0.2)
    return None


def cluster():
    ports = [D.free_port() for _ in range(3)]
    spec = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], spec, SESSION_FLAGS) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    T.ok(leader_of(nodes, 15) is not None, "a controller is elected")
    first = [[init_pid(n) for _ in range(3)] for n in nodes]
    T.ok(all(p is not None for ids in first for p in ids), "InitProducerId answers on every node",
         repr(first))
    if any(p is None for ids in first for p in ids):
        return
    blocks = [{p // BLOCK for p in ids} for ids in first]
    T.ok(all(len(b) == 1 for b in blocks), "each node's ids come from one block", repr(first))
    T.ok(len({min(b) for b in blocks}) == 3, "the three nodes' blocks are distinct", repr(first))
    T.ok(all(ids == sorted(set(ids)) for ids in first), "ids increase on each node", repr(first))
    seen = {p for ids in first for p in ids}
    victim = nodes[1]
    victim.stop(kill=True)
    victim.start()
    again = init_pid(victim, 30)
    T.ok(again is not None and again not in seen and again // BLOCK not in
         {p // BLOCK for p in seen}, "a restarted node takes a new block", repr((again, first)))
    for n in nodes:
        n.finish(T)


def upgrade():
    b = D.Broker()
    T.cleanups.append(b.cleanup)
    b.stop()
    with open(os.path.join(b.data, "producer-id-block"), "w") as f:
        f.write("5000\n")
    b.start()
    pid = init_pid(b)
    T.ok(pid is not None and pid >= 5000, "the old file's mark is the floor", repr(pid))
    b.restart(kill=True)
    pid2 = init_pid(b)
    T.ok(pid2 is not None and pid is not None and pid2 > pid,
         "ids never repeat across a restart (%r > %r)" % (pid2, pid))
    with open(os.path.join(b.data, "producer-id-block")) as f:
        T.ok(f.read() == "5000\n", "the old file is no longer written")
    b.stop()


T.step("three nodes", cluster)
T.step("single node upgraded from the file", upgrade)
T.done()
