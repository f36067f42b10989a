#!/usr/bin/env python3
"""ISR changes and controlled shutdown on three real nodes.

AlterPartition (56) sent over the wire to the active controller as a partition leader would:
a good shrink is committed and shows in every node's Metadata ISR; the answer carries the
new partition epoch; the old partition epoch is then refused (INVALID_UPDATE_VERSION); a
member named with a wrong broker epoch is INELIGIBLE_REPLICA; a node that is not the
controller answers NOT_CONTROLLER; an expansion restores the ISR.

Controlled shutdown: SIGTERM to the leader of an RF=3 partition. Before its process exits,
the other nodes' Metadata already name another leader and leave it out of the ISR (the
controller answers ShouldShutDown only once every other broker applied that); the shutdown
time is printed. The deposed leader's old leader epoch is then refused
(FENCED_LEADER_EPOCH), and the restarted node registers, is unfenced and may rejoin the ISR.

Ports: RN_TEST_PORT_BASE (three consecutive ports from it) when set, else free ones."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, controller, leader_of, wait_for  # noqa: E402

T = D.Tap("test_cluster_isr", timeout_s=180)
TOPIC = "isr-t"
NONE, NOT_CONTROLLER, FENCED_LEADER_EPOCH = 0, 41, 74
INVALID_UPDATE_VERSION, INELIGIBLE_REPLICA = 95, 107


def ports():
    base = os.environ.get("RN_TEST_PORT_BASE")
    if base:
        return [int(base) + i for i in range(3)]
    return [D.free_port() for _ in range(3)]


def broker_epoch(node):
    """The broker epoch node's latest registration got (its log says), or None."""
    try:
        with open(os.path.join(node.dir, "runneld.log"), "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    got = re.findall(r"node %d: registered with controller \d+, broker epoch (\d+)" % node.node_id,
                     text)
    return int(got[-1]) if got else None


def metadata(node, timeout=3):
    try:
        c = D.Conn(node.bootstrap, timeout=timeout)
        r = c.call("Metadata", 12, {"Topics": [{"Name": TOPIC}], "AllowAutoTopicCreation": False})
        c.close()
    except Exception:  # noqa: BLE001 - a stopped or stopping node
        return None
    t = r["Topics"][0]
    if t["ErrorCode"] != 0 or not t["Partitions"]:
        return None
    p = t["Partitions"][0]
    return {"topic_id": t["TopicId"], "leader": p["LeaderId"], "leader_epoch": p["LeaderEpoch"],
            "isr": sorted(p["IsrNodes"]), "replicas": p["ReplicaNodes"],
            "brokers": sorted(b["NodeId"] for b in r["Brokers"])}


def alter(node, broker_id, broker_epoch_, topic_id, leader_epoch, partition_epoch, isr,
          version=3):
    """AlterPartition to node; (top-level error, partition answer or None)."""
    part = {"PartitionIndex": 0, "LeaderEpoch": leader_epoch, "PartitionEpoch": partition_epoch}
    if version >= 1:
        part["LeaderRecoveryState"] = 0
    if version >= 3:
        part["NewIsrWithEpochs"] = [{"BrokerId": m, "BrokerEpoch": e} for m, e in isr]
    else:
        part["NewIsr"] = [m for m, _ in isr]
    topic = {"TopicId": topic_id} if version >= 2 else {"TopicName": TOPIC}
    topic["Partitions"] = [part]
    c = D.Conn(node.bootstrap, timeout=10)
    r = c.call("AlterPartition", version, {"BrokerId": broker_id, "BrokerEpoch": broker_epoch_,
                                           "Topics": [topic]})
    c.close()
    parts = [p for t in r["Topics"] for p in t["Partitions"]]
    return r["ErrorCode"], (parts[0] if parts else None)


def everywhere(nodes, pred, secs):
    return wait_for(lambda: all((m := metadata(n)) is not None and pred(m) for n in nodes), secs)


def setup():
    ps = ports()
    spec = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ps))
    nodes = [Node(i + 1, ps[i], spec) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    ctl = leader_of(nodes, 20)
    T.ok(ctl is not None, "a controller is elected")
    # Until brokers register, Metadata lists the voters: the logs say when each registered.
    T.ok(wait_for(lambda: all(broker_epoch(n) is not None for n in nodes), 20),
         "three brokers registered")
    T.ok(wait_for(lambda: all(metadata_brokers(n) == [1, 2, 3] for n in nodes), 20),
         "and unfenced")
    c = D.Conn(ctl.bootstrap, timeout=10)
    r = c.call("CreateTopics", 7, {"Topics": [{"Name": TOPIC, "NumPartitions": 1,
                                               "ReplicationFactor": 3, "Assignments": [],
                                               "Configs": []}], "timeoutMs": 5000})
    c.close()
    T.ok(r["Topics"][0]["ErrorCode"] == 0, "RF 3 topic created", repr(r))
    T.diag("controller: node %d" % ctl.node_id)
    T.ok(everywhere(nodes, lambda m: m["isr"] == [1, 2, 3], 10), "every node lists ISR 1,2,3")
    return nodes


def metadata_brokers(node):
    try:
        c = D.Conn(node.bootstrap, timeout=3)
        r = c.call("Metadata", 12, {"Topics": [], "AllowAutoTopicCreation": False})
        c.close()
        return sorted(b["NodeId"] for b in r["Brokers"])
    except Exception:  # noqa: BLE001
        return None


def by_id(nodes, i):
    return next(n for n in nodes if n.node_id == i)


def alter_partition(nodes):
    m = metadata(nodes[0])
    lead = by_id(nodes, m["leader"])
    f1, f2 = [by_id(nodes, i) for i in m["replicas"] if i != lead.node_id]
    epochs = {n.node_id: broker_epoch(n) for n in nodes}
    T.ok(all(e is not None for e in epochs.values()), "broker epochs from the logs", repr(epochs))
    ctl = by_id(nodes, controller(nodes[0]))
    if f2 is ctl:
        f1, f2 = f2, f1  # f2 is stopped below: not the controller the requests go to
    other = next(n for n in nodes if n is not ctl)
    tid, le = m["topic_id"], m["leader_epoch"]
    shrink = [(lead.node_id, epochs[lead.node_id]), (f1.node_id, epochs[f1.node_id])]

    ec, _ = alter(other, lead.node_id, epochs[lead.node_id], tid, le, 0, shrink)
    T.eq(ec, NOT_CONTROLLER, "a node that is not the controller: NOT_CONTROLLER")
    bad = [(lead.node_id, epochs[lead.node_id]), (f1.node_id, epochs[f1.node_id] + 1000)]
    ec, p = alter(ctl, lead.node_id, epochs[lead.node_id], tid, le, 0, bad)
    T.eq((ec, p and p["ErrorCode"]), (NONE, INELIGIBLE_REPLICA),
         "a member with another broker epoch: INELIGIBLE_REPLICA")

    # The leader itself would ask for f2 back as soon as f2 fetches again (a caught-up
    # follower rejoins): f2 is stopped while this test speaks for the leader.
    f2.proc.send_signal(signal.SIGSTOP)
    try:
        expand_while_stopped(nodes, ctl, lead, f1, f2, epochs, tid, le, shrink)
    finally:
        f2.proc.send_signal(signal.SIGCONT)
    T.ok(everywhere(nodes, lambda m: m["isr"] == [1, 2, 3], 10),
         "with f2 running again every node still lists ISR 1,2,3")


def expand_while_stopped(nodes, ctl, lead, f1, f2, epochs, tid, le, shrink):
    ec, p = alter(ctl, lead.node_id, epochs[lead.node_id], tid, le, 0, shrink)
    T.ok(ec == NONE and p and p["ErrorCode"] == NONE, "the leader's shrink is accepted", repr(p))
    if not p or p["ErrorCode"] != NONE:
        return
    want = sorted([lead.node_id, f1.node_id])
    T.eq((p["LeaderId"], p["LeaderEpoch"], sorted(p["Isr"]), p["PartitionEpoch"]),
         (lead.node_id, le, want, 1), "answer: same leader and leader epoch, new ISR, "
         "partition epoch 1")
    T.ok(everywhere([n for n in nodes if n is not f2], lambda m: m["isr"] == want, 10),
         "every running node's Metadata shows the shrunk ISR %s" % want)

    ec, p = alter(ctl, lead.node_id, epochs[lead.node_id], tid, le, 0, shrink[:1])
    T.eq(p and p["ErrorCode"], INVALID_UPDATE_VERSION,
         "the old partition epoch: INVALID_UPDATE_VERSION")
    T.ok(everywhere([n for n in nodes if n is not f2], lambda m: m["isr"] == want, 1),
         "the ISR did not change")

    full = shrink + [(f2.node_id, epochs[f2.node_id])]
    ec, p = alter(ctl, lead.node_id, epochs[lead.node_id], tid, le, 1, full, version=2)
    T.ok(p and p["ErrorCode"] == NONE and p["PartitionEpoch"] == 2,
         "expansion (v2) with partition epoch 1 accepted: partition epoch 2", repr(p))
    T.ok(everywhere([n for n in nodes if n is not f2], lambda m: m["isr"] == [1, 2, 3], 10),
         "every running node lists ISR 1,2,3")


def controlled_shutdown(nodes):
    m = metadata(nodes[0])
    lead = by_id(nodes, m["leader"])
    others = [n for n in nodes if n is not lead]
    old_le = m["leader_epoch"]
    old_epoch = broker_epoch(lead)
    t0 = time.monotonic()
    lead.proc.send_signal(signal.SIGTERM)
    seen = None  # when both others showed the move while the process was alive

    def moved(mm):
        return mm is not None and mm["leader"] not in (-1, lead.node_id) and \
            lead.node_id not in mm["isr"]
    while lead.proc.poll() is None and time.monotonic() - t0 < 30:
        if seen is None and all(moved(metadata(n, timeout=1)) for n in others):
            seen = time.monotonic() - t0
        time.sleep(0.01)
    if lead.proc.poll() is None:
        lead.proc.kill()
    lead.proc.wait()
    exited = time.monotonic() - t0
    rc = lead.proc.returncode
    lead.proc = None
    log = open(os.path.join(lead.dir, "runneld.log"), "rb").read().decode("utf-8", "replace")
    done = re.findall(r"controlled shutdown done in (\d+) ms", log)
    T.diag("controlled shutdown of leader %d: moved after %s s, exited after %.3f s "
           "(exit %r); the node says %s ms" % (lead.node_id, "%.3f" % seen if seen else "-",
                                               exited, rc, done[-1] if done else "-"))
    T.ok(rc == 0, "the leader exits cleanly on SIGTERM (exit %r)" % rc)
    T.ok(done, "its log says the controller confirmed the controlled shutdown",
         None if done else log[-3000:])
    T.ok(seen is not None and seen < exited,
         "before it exited, both other nodes named a new leader and left it out of the ISR")
    mm = metadata(others[0])
    T.ok(mm and mm["leader_epoch"] > old_le and mm["isr"] ==
         sorted(n.node_id for n in others), "new leader epoch, ISR = the two others",
         repr(mm))
    T.ok(exited < 6, "the shutdown took %.3f s (under controlled.shutdown.timeout.ms 5 s "
         "plus the drain)" % exited)

    # The stopped leader may have been the controller: ask whoever is controller now.
    deadline = time.monotonic() + 10
    while True:
        ctl = by_id(nodes, controller(others[0]) or others[0].node_id)
        if ctl is lead:
            ctl = others[0]
        ec, p = alter(ctl, lead.node_id, old_epoch, mm["topic_id"], old_le, 2,
                      [(lead.node_id, old_epoch)])
        if ec != NOT_CONTROLLER or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    T.eq((ec, p and p["ErrorCode"]), (NONE, FENCED_LEADER_EPOCH),
         "the deposed leader's old leader epoch: FENCED_LEADER_EPOCH")

    t1 = time.monotonic()
    lead.start()
    back = wait_for(lambda: all(metadata_brokers(n) == [1, 2, 3] for n in nodes), 20)
    T.ok(back, "restarted, it registers and is unfenced (%.2f s)" % (time.monotonic() - t1))
    # The new leader takes it back into the ISR (AlterPartition with its new broker epoch).
    mm = metadata(others[0])
    new_lead = by_id(nodes, mm["leader"])
    wait_for(lambda: broker_epoch(lead) not in (None, old_epoch), 10)
    full = [(i, broker_epoch(by_id(nodes, i))) for i in (1, 2, 3)]
    ctl = by_id(nodes, controller(others[0]))
    ec, p = alter(ctl, new_lead.node_id, broker_epoch(new_lead), mm["topic_id"],
                  mm["leader_epoch"], 3, full)
    # The leader asks for a caught-up follower itself (broker/replica), so this request may
    # come second, with a partition epoch already passed.
    T.ok(p and p["ErrorCode"] in (NONE, INVALID_UPDATE_VERSION),
         "the new leader adds it back (its new broker epoch)", repr((ec, p)))
    T.ok(everywhere(nodes, lambda m: m["isr"] == [1, 2, 3], 10), "every node lists ISR 1,2,3")


def main():
    nodes = setup()
    T.step("AlterPartition over the wire", alter_partition, nodes)
    T.step("controlled shutdown of a leader", controlled_shutdown, nodes)
    for n in nodes:
        if n.proc is not None:
            n.finish(T)


main()
T.done()
