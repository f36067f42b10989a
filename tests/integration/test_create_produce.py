#!/usr/bin/env python3
"""CreateTopics is answered once its records are committed, as Kafka's controller answers it
(rn_topics_commit_records in broker/meta/rn_topics.h); the partitions' directories and
partition.metadata are made durable afterwards, off the loop. Checks, on one node and on
three: a client that produces right after creation gets every message in (the broker answers
the retriable NOT_LEADER_OR_FOLLOWER, or Metadata LEADER_NOT_AVAILABLE, until a partition is
ready, never another error); no write is accepted before the partition's directory and
partition.metadata exist; a small topic (100 partitions or fewer) is still ready when
answered; validate_only and the creation errors are unchanged."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from cluster_common import Node, leader_of  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

T = D.Tap("test_create_produce", timeout_s=420)
NONE, NOT_LEADER, LEADER_NOT_AVAILABLE = 0, 6, 5
TOPIC_ALREADY_EXISTS, INVALID_CONFIG, UNKNOWN_TOPIC = 36, 40, 3
BIG = 600  # partitions: their directories take long enough to see the window


def create_raw(conn, name, parts, rf=1, validate_only=False, configs=()):
    r = conn.call("CreateTopics", 7, {
        "Topics": [{"Name": name, "NumPartitions": parts, "ReplicationFactor": rf,
                    "Assignments": [],
                    "Configs": [{"Name": k, "Value": v} for k, v in configs]}],
        "timeoutMs": 60000, "validateOnly": validate_only})
    return r["Topics"][0]["ErrorCode"]


def leader_conn(nodes, conns, topic, part):
    """A connection to the node Metadata (asked of the first node) names leader of part;
    None while it names none."""
    if len(nodes) == 1:
        return next(iter(conns.values()))
    c = D.Conn(nodes[0].bootstrap, timeout=60)
    r = c.call("Metadata", 12, {"Topics": [{"Name": topic}], "AllowAutoTopicCreation": False})
    c.close()
    t = r["Topics"][0]
    ids = [p["LeaderId"] for p in t["Partitions"] if p["PartitionIndex"] == part]
    if t["ErrorCode"] != NONE or not ids or ids[0] < 0:
        return None
    if ids[0] not in conns:
        node = next(n for n in nodes if n.node_id == ids[0])
        conns[ids[0]] = D.Conn(node.bootstrap, timeout=60)
    return conns[ids[0]]


def window(nodes):
    """Raw requests right behind CreateTopics: Produce and Fetch answer NONE or
    NOT_LEADER_OR_FOLLOWER (on a node that has not applied the records yet, behind a
    forwarded CreateTopics, UNKNOWN_TOPIC_OR_PARTITION, as Kafka's brokers do), and a write is
    accepted only once the partition's partition.metadata exists."""
    first = nodes[0]
    c = D.Conn(first.bootstrap, timeout=60)
    conns = {getattr(first, "node_id", 1): c}
    retriable = {NONE, NOT_LEADER} | ({UNKNOWN_TOPIC} if len(nodes) > 1 else set())
    t0 = time.monotonic()
    err = create_raw(c, "window", BIG, rf=len(nodes))
    took = time.monotonic() - t0
    T.ok(err == NONE, "CreateTopics of %d partitions answers NONE (%.3f s)" % (BIG, took),
         str(err))
    last = BIG - 1
    # The first Produce goes out on the same connection, right behind the answer.
    seen, deadline, conn = [], time.monotonic() + 30, c
    while time.monotonic() < deadline:
        if conn is not None:
            seen.append(D.produce(conn, "window", D.record_batch([b"w"]), partition=last)[0])
            if seen[-1] == NONE:
                break
        time.sleep(0.02)
        conn = leader_conn(nodes, conns, "window", last)
    T.ok(seen and set(seen) <= retriable and seen[-1] == NONE,
         "Produce right after creation: retriable errors until ready, then NONE "
         "(%d refused first)" % (len(seen) - 1), repr(seen[:5] + seen[-3:]))
    meta = [os.path.join(n.data, "window-%d" % last, "partition.metadata") for n in nodes]
    T.ok(any(os.path.exists(m) for m in meta),
         "the partition accepting the write has its partition.metadata", repr(meta))
    err = create_raw(c, "window2", BIG, rf=len(nodes))
    f = D.fetch(c, "window2", 0, partition=last)
    T.ok(err == NONE and f["perror"] in retriable,
         "Fetch right after creation: NONE or a retriable error", repr((err, f["perror"])))
    r = c.call("Metadata", 12, {"Topics": [{"Name": "window2"}], "AllowAutoTopicCreation": False})
    t = r["Topics"][0]
    T.ok(t["ErrorCode"] in retriable | {LEADER_NOT_AVAILABLE} and
         (t["ErrorCode"] != NONE or len(t["Partitions"]) == BIG),
         "Metadata right after creation: the topic with its leaders, or a retriable error",
         repr((t["ErrorCode"], len(t["Partitions"]))))
    if len(nodes) == 1:
        # A small topic is answered once its directories are durable too: ready at once.
        err = create_raw(c, "small", 4)
        r = D.produce(c, "small", D.record_batch([b"s"]), partition=3)
        T.ok(err == NONE and r[0] == NONE, "a topic of 4 partitions takes a write at once",
             repr((err, r)))
    for conn in conns.values():
        conn.close()


def errors_unchanged(node):
    c = D.Conn(node.bootstrap, timeout=30)
    T.ok(create_raw(c, "checked", 3, validate_only=True) == NONE,
         "validate_only answers NONE")
    r = c.call("Metadata", 12, {"Topics": [{"Name": "checked"}], "AllowAutoTopicCreation": False})
    T.ok(r["Topics"][0]["ErrorCode"] == UNKNOWN_TOPIC, "and creates nothing",
         repr(r["Topics"][0]["ErrorCode"]))
    T.ok(create_raw(c, "window", 1) == TOPIC_ALREADY_EXISTS, "an existing name: TOPIC_ALREADY_EXISTS")
    T.ok(create_raw(c, "badconf", 1, configs=[("cleanup.policy", "nope")]) == INVALID_CONFIG,
         "a bad config: INVALID_CONFIG")
    c.close()


def produce_all(bootstrap, name, parts, rf, count):
    """AdminClient creates name; a producer writes count messages over every partition at
    once; a consumer reads them all back. Returns (create s, delivered, read back)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 60
    while True:
        t0 = time.monotonic()
        try:
            admin.create_topics([NewTopic(name, parts, rf)], operation_timeout=60)[name].result(90)
            break
        except Exception as e:  # noqa: BLE001 - a controller election under the disk's load
            if "TOPIC_ALREADY_EXISTS" in str(e):
                break  # an earlier try went through
            T.diag("create %s: %s, trying again" % (name, e))
            if "NOT_CONTROLLER" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    took = time.monotonic() - t0
    errors, delivered = [], [0]

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered[0] += 1

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "enable.idempotence": True, "message.timeout.ms": 60000})
    want = set()
    for i in range(count):
        v = b"%s-%d" % (name.encode(), i)
        want.add(v)
        p.produce(name, v, partition=i % parts, on_delivery=report)
        p.poll(0)
    left = p.flush(90)
    T.ok(left == 0 and not errors and delivered[0] == count,
         "%s: every one of %d messages delivered right after creation" % (name, count),
         repr((left, delivered[0], errors[:3])))
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + name,
                     "enable.auto.commit": False})
    cons.assign([TopicPartition(name, i, 0) for i in range(parts)])
    got, deadline = set(), time.monotonic() + 60
    while len(got) < count and time.monotonic() < deadline:
        m = cons.poll(0.5)
        if m is not None and m.error() is None:
            got.add(m.value())
    cons.close()
    T.ok(got == want, "%s: every message reads back" % name,
         "missing %d, extra %d" % (len(want - got), len(got - want)))
    return took


def blocked(b):
    """A partition whose directory cannot be made stays offline (the topic is committed:
    CreateTopics answered NONE) and takes writes once a later attempt succeeds."""
    in_the_way = os.path.join(b.data, "blocked-0")
    with open(in_the_way, "w") as f:
        f.write("not a directory\n")
    c = D.Conn(b.bootstrap, timeout=60)
    err = create_raw(c, "blocked", 200)
    T.ok(err == NONE, "CreateTopics answers NONE though a directory cannot be made", str(err))
    time.sleep(1.5)
    r = D.produce(c, "blocked", D.record_batch([b"b"]), partition=0)
    T.ok(r[0] == NOT_LEADER, "its partition refuses writes meanwhile", repr(r))
    os.unlink(in_the_way)
    seen, deadline = None, time.monotonic() + 20
    while time.monotonic() < deadline:
        seen = D.produce(c, "blocked", D.record_batch([b"b"]), partition=0)[0]
        if seen == NONE:
            break
        time.sleep(0.2)
    T.ok(seen == NONE and os.path.exists(os.path.join(in_the_way, "partition.metadata")),
         "once the directory can be made the partition takes writes", repr(seen))
    c.close()


def one_node():
    b = D.Broker()
    T.cleanups.append(b.cleanup)
    window([b])
    blocked(b)
    errors_unchanged(b)
    took = produce_all(b.bootstrap, "fresh", 200, 1, 4000)
    T.ok(True, "one node: AdminClient create_topics of 200 partitions took %.3f s" % took)
    b.restart()
    c = D.Conn(b.bootstrap, timeout=30)
    f = D.fetch(c, "fresh", 0, partition=0)
    T.ok(f["perror"] == NONE and f["hw"] == 20, "after a restart the messages are still there",
         repr((f["perror"], f["hw"])))
    c.close()
    b.finish(T)


def three_nodes():
    ports = [D.free_port() for _ in range(3)]
    spec = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [Node(i + 1, ports[i], spec, wait=False) for i in range(3)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    for n in nodes:
        n.listening()
    T.ok(leader_of(nodes, 30) is not None, "a controller is elected")
    bootstrap = ",".join(n.bootstrap for n in nodes)
    # Every broker registered: a topic of replication factor 3 can be placed.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        c = D.Conn(nodes[0].bootstrap, timeout=5)
        brokers = c.call("Metadata", 12, {"Topics": [], "AllowAutoTopicCreation": False})["Brokers"]
        c.close()
        if len(brokers) == 3:
            break
        time.sleep(0.2)
    window(nodes)
    took = produce_all(bootstrap, "fresh3", 300, 3, 3000)
    T.ok(True, "three nodes: AdminClient create_topics of 300 partitions (rf 3) took %.3f s"
         % took)
    for n in nodes:
        n.finish(T)


T.step("one node", one_node)
T.step("three nodes", three_nodes)
T.done()
