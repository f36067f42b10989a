#!/usr/bin/env python3
"""Three runneld nodes form the metadata quorum (broker/quorum/): they agree on one leader and
epoch (DescribeQuorum, Metadata's controller id); a SIGKILLed leader is replaced within a
bound; the old leader rejoins as a follower and catches up; a follower stopped past the
fetch timeout does not disturb the leader (pre-vote); a node wiped clean rejoins; a single
node is its own leader at once."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import (Node, controller, describe_quorum as describe,  # noqa: E402
                            elected_at)

T = D.Tap("test_quorum_cluster", timeout_s=120)


def agreed(nodes, timeout, not_leader=None):
    """Wait until every node names the same leader and epoch; (leader, epoch) or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = [describe(n) for n in nodes]
        if all(v is not None and v[0] >= 0 for v in views) and \
                len({(v[0], v[1]) for v in views}) == 1 and \
                views[0][0] != not_leader and \
                all(controller(n) == views[0][0] for n in nodes):
            return views[0][0], views[0][1]
        time.sleep(0.05)
    return None


KAFKA_TOOLS = os.path.join(os.environ.get("KAFKA_TOOLS_CACHE") or
                           os.path.expanduser("~/.cache/runnel/kafka-tools"), "3.9.1", "libs")


def qlog_opens(node):
    """The node's log lines about opening the metadata log, oldest first."""
    with open(os.path.join(node.dir, "runneld.log"), "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return [line for line in text.splitlines() if "__cluster_metadata-0: opened" in line]


def metadata_quorum_status(node):
    """kafka-metadata-quorum.sh describe --status against node (its output), or None when the
    kafka-tools jars are not installed."""
    if not os.path.exists(os.path.join(KAFKA_TOOLS, ".complete")) or not shutil.which("java"):
        return None
    r = subprocess.run(["java", "-cp", KAFKA_TOOLS + "/*",
                        "org.apache.kafka.tools.MetadataQuorumCommand",
                        "--bootstrap-server", node.bootstrap, "describe", "--status"],
                       capture_output=True, text=True, timeout=90)
    return r.stdout + r.stderr


def main():
    ports = [D.free_port() for _ in range(3)]
    cluster = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], cluster) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    by_id = {n.node_id: n for n in nodes}

    got = agreed(nodes, 15)
    T.ok(got is not None, "three nodes agree on one leader and epoch (DescribeQuorum, Metadata)",
         None if got else "\n".join(n.log_text() for n in nodes))
    if got is None:
        return
    leader, epoch = got
    d = describe(by_id[leader])
    T.ok(d[4] == 0 and sorted(d[3]) == [1, 2, 3], "the leader describes all three voters")

    # Kafka's own tool (kafka-metadata-quorum.sh describe --status), bootstrapped on each
    # node: a follower forwards DescribeQuorum to the leader, as Kafka's brokers do.
    for n in nodes:
        out = metadata_quorum_status(n)
        if out is None:
            T.ok(True, "kafka-metadata-quorum.sh describe --status # SKIP kafka-tools jars "
                 "absent (scripts/deps.sh fetches them)")
            break
        T.ok("LeaderId:               %d" % leader in out and
             "LeaderEpoch:            %d" % epoch in out and
             all('"id": %d' % i in out for i in (1, 2, 3)),
             "kafka-metadata-quorum.sh describe --status through node %d shows leader %d, "
             "epoch %d and the three voters" % (n.node_id, leader, epoch), out[-1500:])

    # SIGKILL the leader: a new one within the bound. The election time is the new leader's
    # own log line; clients see it a little later (a follower's forwarded DescribeQuorum to
    # the dead leader waits out the quorum's request timeout).
    t0, w0 = time.monotonic(), time.time()
    by_id[leader].stop(kill=True)
    rest = [n for n in nodes if n.node_id != leader]
    got2 = agreed(rest, 10, not_leader=leader)
    took = time.monotonic() - t0
    at = elected_at(by_id[got2[0]], got2[1]) if got2 is not None else None
    elected = at - w0 if at is not None else took
    T.diag("new leader %s elected %.3f s after SIGKILL of leader %d (both survivors agree "
           "after %.2f s)" % (got2, elected, leader, took))
    T.ok(got2 is not None and got2[0] != leader and got2[1] > epoch and took < 5,
         "a new leader within 5 s of a SIGKILL (elected after %.3f s, seen after %.2f s)"
         % (elected, took))
    if got2 is None:
        return
    leader2, epoch2 = got2

    # The old leader restarts and rejoins as a follower with the same view and catches up.
    by_id[leader].start()
    time.sleep(1)
    got3 = agreed(nodes, 10)
    T.ok(got3 == (leader2, epoch2), "the restarted node follows leader %d at epoch %d"
         % (leader2, epoch2), str(got3))
    deadline = time.monotonic() + 10
    caught = False
    while time.monotonic() < deadline and not caught:
        d = describe(by_id[leader2])
        caught = d is not None and d[3].get(leader, -1) == d[3].get(leader2)
        time.sleep(0.1)
    T.ok(caught, "the restarted node's log end catches up with the leader's",
         str(describe(by_id[leader2])))
    d = describe(by_id[leader2])
    T.ok(d is not None and d[2] == max(d[3].values()),
         "the high watermark reaches the leader's log end (%s)" % (d,))

    # SIGSTOP a follower past the fetch timeout: pre-vote keeps the leader and epoch.
    follower = [n for n in nodes if n.node_id != leader2][0]
    follower.proc.send_signal(signal.SIGSTOP)
    time.sleep(3)
    follower.proc.send_signal(signal.SIGCONT)
    time.sleep(2)
    got4 = agreed(nodes, 10)
    T.ok(got4 == (leader2, epoch2), "a follower stopped for 3 s does not disturb the leader",
         str(got4))

    # A node restarted with an empty data dir rejoins.
    wiped = [n for n in nodes if n.node_id != leader2][1]
    wiped.stop()
    shutil.rmtree(wiped.data)
    wiped.start()
    got5 = agreed(nodes, 10)
    T.ok(got5 is not None and got5[0] == leader2, "a node with an empty data dir rejoins",
         str(got5))
    deadline = time.monotonic() + 10
    d = None
    while time.monotonic() < deadline:
        d = describe(by_id[leader2])
        if d is not None and d[3].get(wiped.node_id, -1) == d[3].get(leader2):
            break
        time.sleep(0.1)
    T.ok(d is not None and d[3].get(wiped.node_id, -1) == d[3].get(leader2),
         "the wiped node's log is rebuilt up to the leader's end (%s)" % (d,))
    # The metadata log knows a clean stop from a crash: the node SIGKILLed above recovered
    # its log on restart; a node stopped cleanly (SIGTERM) and started again does not.
    opens = qlog_opens(by_id[leader])
    T.ok(len(opens) >= 2 and "after an unclean shutdown" in opens[1],
         "the metadata log of the node restarted after SIGKILL is recovered", "\n".join(opens))
    clean = [n for n in nodes if n.node_id != leader2][0]
    clean.stop()
    clean.start()
    opens = qlog_opens(clean)
    T.ok(opens and "after a clean shutdown" in opens[-1],
         "after a clean stop the metadata log opens clean", "\n".join(opens))
    T.ok(agreed(nodes, 10) == (leader2, epoch2), "and the node follows leader %d again" % leader2)
    for n in nodes:
        n.finish(T)

    # A single node is its own leader at once.
    t0 = time.monotonic()
    single = D.Broker()
    T.cleanups.append(single.cleanup)
    d = None
    while time.monotonic() - t0 < 5 and (d is None or d[0] != 1):
        d = describe(single)
    T.ok(d is not None and d[0] == 1 and controller(single) == 1,
         "a single node leads its quorum of one (%.2f s from start)" % (time.monotonic() - t0))
    single.finish(T)


T.step("quorum cluster", main)
T.done()
