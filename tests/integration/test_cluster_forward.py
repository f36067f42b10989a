#!/usr/bin/env python3
"""Admin requests sent to a node that is not the controller are forwarded to it
(broker/controller/cluster_forward.c) and bounded by their own timeoutMs, as Kafka's
forwarding brokers do: while the controller is gone the request goes to whichever node is
elected next, and when no controller answers within timeoutMs the client hears
REQUEST_TIMED_OUT then, not after a fixed 30 s."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, controller, leader_of, wait_for  # noqa: E402

T = D.Tap("test_cluster_forward", timeout_s=150)
REQUEST_TIMED_OUT = 7


def call(node, api, version, body, timeout=40):
    """(response, seconds it took)."""
    t0 = time.monotonic()
    c = D.Conn(node.bootstrap, timeout=timeout)
    try:
        r = c.call(api, version, body)
    finally:
        c.close()
    return r, time.monotonic() - t0


def create(node, name, timeout_ms):
    r, took = call(node, "CreateTopics", 7, {
        "Topics": [{"Name": name, "NumPartitions": 2, "ReplicationFactor": 1,
                    "Assignments": [], "Configs": []}], "timeoutMs": timeout_ms})
    t = r["Topics"][0]
    return t["ErrorCode"], t["ErrorMessage"], took


def topic_exists(node, name):
    try:
        r, _ = call(node, "Metadata", 12, {"Topics": [{"Name": name}],
                                           "AllowAutoTopicCreation": False}, timeout=3)
    except Exception:  # noqa: BLE001 - a node restarting
        return False
    return r["Topics"][0]["ErrorCode"] == 0


def main():
    ports = [D.free_port() for _ in range(3)]
    cluster = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], cluster) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    lead = leader_of(nodes, 20)
    T.ok(lead is not None, "a controller is elected")
    if lead is None:
        return
    followers = [n for n in nodes if n is not lead]
    ok = wait_for(lambda: all(controller(n) == lead.node_id for n in followers), 10)
    T.ok(ok, "both followers know the controller")
    err, _, took = create(followers[0], "fw-steady", 5000)
    T.ok(err == 0, "a follower forwards CreateTopics to the controller (%.2f s)" % took, str(err))

    # The controller dies; a CreateTopics sent to a follower at once waits for the next
    # controller (within its timeoutMs) and is created there.
    lead.stop(kill=True)
    err, msg, took = create(followers[0], "fw-failover", 10000)
    T.ok(err == 0 and took < 8,
         "CreateTopics sent to a follower as the controller is SIGKILLed reaches the next "
         "controller (%.2f s)" % took, "%s %s" % (err, msg))
    T.ok(wait_for(lambda: all(topic_exists(n, "fw-failover") for n in followers), 10),
         "the topic is on both live nodes")

    # Two of three gone: no controller can be elected. The survivor answers within the
    # request's own timeoutMs with REQUEST_TIMED_OUT.
    new = leader_of(followers, 10)
    T.ok(new is not None, "a new controller among the two left")
    if new is None:
        return
    alone = next(n for n in followers if n is not new)
    new.stop(kill=True)
    err, msg, took = create(alone, "fw-alone", 1500)
    T.ok(err == REQUEST_TIMED_OUT and 1.4 <= took < 4,
         "with no controller reachable, CreateTopics (timeoutMs 1500) answers REQUEST_TIMED_OUT "
         "after %.2f s" % took, "%s %s" % (err, msg))
    r, took = call(alone, "DeleteTopics", 6, {"Topics": [{"Name": "fw-steady"}],
                                               "TimeoutMs": 1000})
    t = r["Responses"][0]
    T.ok(t["ErrorCode"] == REQUEST_TIMED_OUT and t["Name"] == "fw-steady" and 0.9 <= took < 4,
         "DeleteTopics (TimeoutMs 1000) too, after %.2f s" % took, str(r))
    r, took = call(alone, "CreatePartitions", 3, {
        "Topics": [{"Name": "fw-steady", "Count": 4, "Assignments": None}],
        "TimeoutMs": 1000, "ValidateOnly": False})
    t = r["Results"][0]
    T.ok(t["ErrorCode"] == REQUEST_TIMED_OUT and t["Name"] == "fw-steady" and 0.9 <= took < 4,
         "CreatePartitions (TimeoutMs 1000) too, after %.2f s" % took, str(r))

    # Back to a majority: the survivor's requests reach the new controller again.
    lead.start()
    back = leader_of([lead, alone], 20)
    T.ok(back is not None, "a controller once two nodes run again")
    err = None
    deadline = time.monotonic() + 20
    while err != 0 and time.monotonic() < deadline:
        err, msg, took = create(alone, "fw-back", 5000)
    T.ok(err == 0, "CreateTopics through the survivor succeeds again", "%s %s" % (err, msg))
    T.ok(not topic_exists(alone, "fw-alone"), "the timed-out topic was never created")
    for n in (lead, alone):
        n.finish(T)


T.step("forwarding bounded by timeoutMs", main)
T.done()
