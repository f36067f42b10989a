#!/usr/bin/env python3
"""Measure how long a three-node cluster takes to elect a new metadata-quorum leader after its
leader is SIGKILLed, over several kills: start three runneld nodes (default timeouts), then
repeatedly kill the leader, time until both survivors name the same new leader in a higher
epoch (DescribeQuorum and Metadata's controller id), restart the killed node and let it
rejoin. The election time is the new leader's own "leads epoch" log line (its wall-clock
stamp) minus the moment of the kill; the time until clients see it (polling both survivors)
is printed beside it. Prints one line per kill and a summary. A measurement, not a pass/fail
test.

    python3 tests/bench/quorum_failover.py [KILLS]      (RN_BUILD_DIR, RN_TEST_PORTS honoured)
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import datapath_common as D  # noqa: E402
from cluster_common import Node, controller, describe_quorum, elected_at  # noqa: E402


def agreed(nodes, timeout, not_leader=None, min_epoch=-1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = [describe_quorum(n, timeout=1) for n in nodes]
        if all(v is not None and v[0] >= 0 for v in views) and \
                len({(v[0], v[1]) for v in views}) == 1 and views[0][0] != not_leader and \
                views[0][1] > min_epoch and all(controller(n, timeout=1) == views[0][0]
                                                for n in nodes):
            return views[0][0], views[0][1]
        time.sleep(0.01)
    return None


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    ports = [D.free_port() for _ in range(3)]
    cluster = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], cluster) for i in range(3)]
    by_id = {n.node_id: n for n in nodes}
    times = []
    try:
        got = agreed(nodes, 20)
        if got is None:
            print("no leader")
            return 1
        for k in range(kills):
            leader, epoch = got
            time.sleep(1.0)  # a steady state: followers fetching, not just elected
            t0, w0 = time.monotonic(), time.time()
            by_id[leader].stop(kill=True)
            rest = [n for n in nodes if n.node_id != leader]
            got2 = agreed(rest, 15, not_leader=leader, min_epoch=epoch)
            seen = time.monotonic() - t0
            if got2 is None:
                print("kill %d: leader %d SIGKILLed; no new leader" % (k + 1, leader))
                return 1
            at = elected_at(by_id[got2[0]], got2[1])
            took = at - w0 if at is not None else seen
            print("kill %d: leader %d (epoch %d) SIGKILLed; node %d leads epoch %d after %.3f s "
                  "(agreed by both survivors' answers after %.3f s)"
                  % (k + 1, leader, epoch, got2[0], got2[1], took, seen), flush=True)
            times.append(took)
            by_id[leader].start()
            got = agreed(nodes, 15)
            if got is None:
                print("the restarted node did not rejoin")
                return 1
        times.sort()
        print("election after SIGKILL over %d kills: min %.3f s, median %.3f s, max %.3f s"
              % (len(times), times[0], times[len(times) // 2], times[-1]))
        return 0
    finally:
        for n in nodes:
            n.cleanup()


if __name__ == "__main__":
    sys.exit(main())
