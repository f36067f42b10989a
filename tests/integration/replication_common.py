"""Shared pieces of the replication tests (test_replication, test_failover): topics made with
the admin client, partition 0's leader and ISR as Metadata says, and an idempotent acks=all
producer and a consumer from confluent-kafka that record what they saw."""
import os
import time

import datapath_common as D

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def bootstrap(nodes):
    return ",".join(n.bootstrap for n in nodes if n.proc is not None)


def create_topic(nodes, name, rf=3, min_isr=2):
    admin = AdminClient({"bootstrap.servers": bootstrap(nodes)})
    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline:
        fs = admin.create_topics([NewTopic(name, 1, rf,
                                           config={"min.insync.replicas": str(min_isr)})])
        try:
            fs[name].result(10)
            return True
        except Exception as e:  # noqa: BLE001 - brokers still registering
            if "TOPIC_ALREADY_EXISTS" in str(e):
                return True  # an earlier try that timed out went through
            last = e
            time.sleep(0.5)
    raise RuntimeError("cannot create %s: %s" % (name, last))


def controller_id(nodes):
    for n in nodes:
        if n.proc is None:
            continue
        try:
            c = D.Conn(n.bootstrap, timeout=3)
            r = c.call("Metadata", 9, {"Topics": [], "AllowAutoTopicCreation": False,
                                       "IncludeTopicAuthorizedOperations": False})
            c.close()
            return r["ControllerId"]
        except Exception:  # noqa: BLE001 - a stopped node
            continue
    return None


def metadata(nodes, topic):
    """(leader, leader epoch, isr) of partition 0 as the first answering node says."""
    for n in nodes:
        if n.proc is None:
            continue
        try:
            c = D.Conn(n.bootstrap, timeout=3)
            r = c.call("Metadata", 9, {"Topics": [{"Name": topic}],
                                       "AllowAutoTopicCreation": False,
                                       "IncludeTopicAuthorizedOperations": False})
            c.close()
            p = r["Topics"][0]["Partitions"][0]
            return p["LeaderId"], p["LeaderEpoch"], sorted(p["IsrNodes"])
        except Exception:  # noqa: BLE001 - a stopped node
            continue
    return None


def node(nodes, node_id):
    """The node with that id."""
    return [n for n in nodes if n.node_id == node_id][0]


def log_bytes(n, topic):
    d = os.path.join(n.data, "%s-0" % topic)
    out = b""
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                out += fh.read()
    return out


def produce_all(nodes, topic, values, acks="all"):
    """Produce values with an idempotent producer; returns (acked values, errors)."""
    acked, errors = [], []

    def cb(err, msg):
        if err is None:
            acked.append(msg.value())
        else:
            errors.append(err)
    p = Producer({"bootstrap.servers": bootstrap(nodes), "acks": acks,
                  "enable.idempotence": acks == "all", "linger.ms": 5,
                  "message.timeout.ms": 60000})
    for v in values:
        while True:
            try:
                p.produce(topic, value=v, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    p.flush(90)
    return acked, errors


def consume_all(nodes, topic, expect, secs=30):
    c = Consumer({"bootstrap.servers": bootstrap(nodes), "group.id": "check-%s" % topic,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline and len(got) < expect:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    return got


def stop_all(t, nodes):
    """End of a test: every node still running stops cleanly (exit 0) on SIGTERM."""
    for n in nodes:
        if n.proc is not None:
            rc = n.stop()
            t.ok(rc == 0, "node %d stops cleanly" % n.node_id, None if rc == 0 else n.log_text())
