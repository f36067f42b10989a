#!/usr/bin/env python3
"""Replicated partitions on three runneld nodes (broker/replica/rn_replica.h), each safety rule
checked so that the test fails without it:
  - followers hold byte-identical logs (batches appended as the leader wrote them);
  - the high watermark is not passed to consumers before the followers have the records;
  - acks=all waits for the followers (REQUEST_TIMED_OUT when they cannot answer);
  - a follower that stops fetching leaves the ISR, acks=all is refused with fewer in-sync
    replicas than min.insync.replicas and the high watermark stays put, and the follower
    rejoins once caught up;
  - a restarted old leader truncates its unreplicated tail by leader epoch, not by its
    high watermark, and ends up with the new leader's log;
  - after SIGKILL of a leader a new one serves, with every acknowledged message kept.
The client is confluent-kafka (librdkafka) with idempotence and acks=all."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, wait_for  # noqa: E402
from replication_common import (consume_all, controller_id, create_topic, log_bytes,  # noqa: E402
                                metadata, node, produce_all, stop_all)

T = D.Tap("test_replication", timeout_s=240)
LAG_MS = 2000
SESSION_FLAGS = ["--broker.session.timeout.ms", "6000", "--replica.lag.time.max.ms", str(LAG_MS)]


def cluster():
    ports = [D.free_port() for _ in range(3)]
    spec = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], spec, SESSION_FLAGS) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    return nodes


def raw_fetch_hw(n, topic, offset):
    c = D.Conn(n.bootstrap, timeout=5)
    r = D.fetch(c, topic, offset)
    c.close()
    return r["perror"], r["hw"], r["records"]


def test_identical_logs(nodes):
    create_topic(nodes, "same")
    values = [b"v%06d" % i for i in range(5000)]
    acked, errors = produce_all(nodes, "same", values)
    T.ok(len(acked) == 5000 and not errors, "5000 messages acknowledged with acks=all",
         "acked %d, errors %s" % (len(acked), errors[:3]))
    logs = wait_for(lambda: (lambda ls: ls if len(set(ls)) == 1 and ls[0] else None)(
        [log_bytes(n, "same") for n in nodes]), 10)
    T.ok(logs is not None, "the three nodes hold byte-identical logs of same-0")
    got = consume_all(nodes, "same", 5000)
    T.ok(got == values, "a consumer reads all 5000 in order", "got %d" % len(got))


def test_hw_and_acks(nodes):
    create_topic(nodes, "hw")
    acked, _ = produce_all(nodes, "hw", [b"a", b"b"])
    leader, _, _ = metadata(nodes, "hw")
    lead = node(nodes, leader)
    followers = [n for n in nodes if n.node_id != leader]
    err, hw0, _ = raw_fetch_hw(lead, "hw", 0)
    T.ok(err == 0 and hw0 == 2, "high watermark is 2 after two acknowledged messages",
         "err %r hw %r" % (err, hw0))
    for f in followers:
        f.proc.send_signal(signal.SIGSTOP)
    try:
        c = D.Conn(lead.bootstrap, timeout=10)
        r1 = D.produce(c, "hw", D.record_batch([b"c"]), acks=1)
        T.ok(r1[0] == 0 and r1[1] == 2, "acks=1 appends at offset 2 with both followers stopped",
             repr(r1))
        err, hw, recs = raw_fetch_hw(lead, "hw", 2)
        T.ok(err == 0 and hw == 2 and not recs,
             "a consumer sees high watermark 2 and no record at 2 before followers have it",
             "err %r hw %r records %r" % (err, hw, recs))
        e, _, off, _ = D.list_offsets(c, "hw", -1)
        T.ok(e == 0 and off == 2, "ListOffsets latest answers the high watermark (2)",
             "err %r offset %r" % (e, off))
        t0 = time.monotonic()
        req = {"Acks": -1, "TimeoutMs": 1500, "TransactionalId": None,
               "TopicData": [{"Name": "hw", "PartitionData": [
                   {"Index": 0, "Records": D.record_batch([b"d"])}]}]}
        r = c.call("Produce", 7, req)
        waited = time.monotonic() - t0
        code = r["Responses"][0]["PartitionResponses"][0]["ErrorCode"]
        T.ok(code == 7 and waited >= 1.4,
             "acks=all with followers stopped waits its timeout and answers REQUEST_TIMED_OUT",
             "error %r after %.2f s" % (code, waited))
        c.close()
    finally:
        for f in followers:
            f.proc.send_signal(signal.SIGCONT)
    hw = wait_for(lambda: (lambda r: r[1] if r[1] == 4 else None)(raw_fetch_hw(lead, "hw", 0)),
                  10)
    T.ok(hw == 4, "once the followers run again the high watermark reaches 4", repr(hw))


def test_isr(nodes):
    """min.insync.replicas=3: a stopped follower leaves the ISR after replica.lag.time.max.ms
    (the leader's AlterPartition), acks=all is then refused before anything is appended, the
    high watermark stays put, and the follower rejoins once it catches up."""
    create_topic(nodes, "isr", min_isr=3)
    acked, _ = produce_all(nodes, "isr", [b"x%d" % i for i in range(10)])
    T.ok(len(acked) == 10, "10 messages acknowledged with the full ISR")
    leader, _, _ = metadata(nodes, "isr")
    ctl = controller_id(nodes)
    lead = node(nodes, leader)
    victim = [n for n in nodes if n.node_id not in (leader, ctl)][0]
    victim.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        # A follower only lags once the leader has something it lacks.
        c = D.Conn(lead.bootstrap, timeout=10)
        r = D.produce(c, "isr", D.record_batch([b"behind"]), acks=1)
        T.ok(r[0] == 0 and r[1] == 10, "acks=1 appends at 10 with a follower stopped", repr(r))
        shrunk = wait_for(lambda: (lambda m: m if m and victim.node_id not in m[2] else None)(
            metadata(nodes, "isr")), 15, step=0.1)
        T.ok(shrunk is not None, "the stopped follower %d leaves the ISR" % victim.node_id,
             repr(metadata(nodes, "isr")))
        T.diag("ISR shrank %.1f s after the follower stopped (replica.lag.time.max.ms %d)"
               % (time.monotonic() - t0, LAG_MS))
        with open(os.path.join(lead.dir, "runneld.log"), "rb") as f:
            whole = f.read().decode("utf-8", "replace")
        T.ok("isr-0: ISR -> " in whole and "followers not caught up" in whole,
             "the leader asked for the shrink itself (AlterPartition)")
        r = D.produce(c, "isr", D.record_batch([b"refused"]), acks=-1)
        T.ok(r[0] == 19, "acks=all with 2 in-sync replicas of min.insync.replicas=3 answers "
             "NOT_ENOUGH_REPLICAS", repr(r))
        r = D.produce(c, "isr", D.record_batch([b"only-here"]), acks=1)
        T.ok(r[0] == 0 and r[1] == 11, "acks=1 still appends (at 11)", repr(r))
        e, hw, recs = raw_fetch_hw(lead, "isr", 10)
        T.ok(e == 0 and hw == 10 and not recs, "the high watermark stays at 10 while the ISR is "
             "below min.insync.replicas (KAFKA-15583)", "err %r hw %r" % (e, hw))
        c.close()
    finally:
        victim.proc.send_signal(signal.SIGCONT)
    t1 = time.monotonic()
    back = wait_for(lambda: (lambda m: m if m and len(m[2]) == 3 else None)(
        metadata(nodes, "isr")), 20, step=0.1)
    T.ok(back is not None, "the follower rejoins the ISR once it caught up",
         repr(metadata(nodes, "isr")))
    T.diag("back in the ISR %.1f s after SIGCONT" % (time.monotonic() - t1))
    hw = wait_for(lambda: (lambda r: r[1] if r[1] == 12 else None)(raw_fetch_hw(lead, "isr", 0)),
                  10)
    T.ok(hw == 12, "the high watermark then moves past the acks=1 records", repr(hw))
    acked, errors = produce_all(nodes, "isr", [b"y"])
    T.ok(len(acked) == 1, "acks=all works again", repr(errors))


def test_truncation_and_failover(nodes):
    create_topic(nodes, "div")
    acked, _ = produce_all(nodes, "div", [b"base%d" % i for i in range(100)])
    T.ok(len(acked) == 100, "100 messages acknowledged before the faults")
    leader, epoch, _ = metadata(nodes, "div")
    old = node(nodes, leader)
    followers = [n for n in nodes if n.node_id != leader]
    # The followers die (SIGKILL: a stopped one would still receive what the leader had
    # written to its socket), the old leader appends 50 records no follower gets, then dies
    # too, and the followers come back.
    for f in followers:
        f.stop(kill=True)
    c = D.Conn(old.bootstrap, timeout=10)
    r = D.produce(c, "div", D.record_batch([b"lost%d" % i for i in range(50)]), acks=1)
    c.close()
    T.ok(r[0] == 0 and r[1] == 100, "the old leader appends 50 unreplicated records at 100",
         repr(r))
    old.stop(kill=True)
    t_kill = time.monotonic()
    for f in followers:
        f.start()
    new = wait_for(lambda: (lambda m: m if m and m[0] not in (-1, leader) else None)(
        metadata(followers, "div")), 30, step=0.1)
    T.ok(new is not None and new[1] > epoch, "a follower becomes leader at a higher epoch",
         repr(new))
    acked2, errors = produce_all(followers, "div", [b"new%d" % i for i in range(30)])
    served = time.monotonic() - t_kill
    T.ok(len(acked2) == 30, "the new leader acknowledges 30 more with acks=all",
         "acked %d errors %s" % (len(acked2), errors[:3]))
    T.diag("the new leader served %.1f s after the old one was killed and the followers "
           "restarted (broker.session.timeout.ms 6000)" % served)
    old.start()
    logs = wait_for(lambda: (lambda ls: ls if len(set(ls)) == 1 else None)(
        [log_bytes(n, "div") for n in nodes]), 20, step=0.2)
    T.ok(logs is not None, "the restarted old leader truncated its tail by epoch and holds the "
         "new leader's log byte for byte")
    got = consume_all(nodes, "div", 130)
    want = [b"base%d" % i for i in range(100)] + [b"new%d" % i for i in range(30)]
    T.ok(got == want, "consumers read the 130 acknowledged messages and none of the lost 50",
         "got %d, first extra %r" % (len(got), [g for g in got if g.startswith(b"lost")][:1]))
    text = old.log_text()
    T.ok("truncated" in text, "the old leader logged its truncation", text[-1500:])


NODES = cluster()
T.step("byte-identical replicas", test_identical_logs, NODES)
T.step("high watermark and acks=all", test_hw_and_acks, NODES)
T.step("ISR shrink and expansion, strict min ISR", test_isr, NODES)
T.step("truncation by epoch and failover", test_truncation_and_failover, NODES)
T.step("clean stop", stop_all, T, NODES)
T.done()
