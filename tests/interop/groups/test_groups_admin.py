#!/usr/bin/env python3
"""Interop (consumer groups): ListGroups, DescribeGroups, OffsetFetch, OffsetCommit and
DeleteGroups through admin clients.

A live group of two confluent-kafka consumers (Stable) and a simple group (offsets committed
by an assign()-ing consumer, no membership: Empty with no protocol type) are inspected with
confluent-kafka's AdminClient (2.x: list/describe consumer groups with state filter,
list/alter consumer group offsets, delete; 1.7: list_groups) and kafka-python's
KafkaAdminClient (list/describe consumer groups, offsets, delete). Deleting the live group is
refused (NON_EMPTY_GROUP); once its members close it is deleted and gone from the listings.
Run with /usr/bin/python3 (confluent-kafka 1.7.0) and .venv/bin/python (2.x).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interop_common import BOOTSTRAP, Tap, unique  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka.admin import KafkaAdminClient  # noqa: E402

CK_VERSION = getattr(ck, "__version__", None) or ck.version()[0]
MODERN = hasattr(AdminClient, "describe_consumer_groups")
T = Tap("groups: admin clients (confluent-kafka %s, kafka-python)" % CK_VERSION, timeout_s=90)


def errname(e):
    return e.__name__ if isinstance(e, type) else type(e).__name__


def consumer(group, **extra):
    conf = {"bootstrap.servers": BOOTSTRAP, "group.id": group, "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
            "enable.auto.commit": False}
    conf.update(extra)
    return Consumer(conf)


def main():
    topic = unique("rn-grp-adm")
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics([NewTopic(topic, 3, 1)], operation_timeout=10)[topic].result(15)
    p = Producer({"bootstrap.servers": BOOTSTRAP})
    for i in range(30):
        p.produce(topic, value=b"v%d" % i, partition=i % 3)
    p.flush(10)

    live, simple = unique("rn-grp-adm-live"), unique("rn-grp-adm-simple")
    members = [consumer(live, **{"client.id": "adm-%d" % i}) for i in range(2)]
    assigned = [set(), set()]
    for i, c in enumerate(members):
        c.subscribe([topic], on_assign=lambda c_, ps, i=i: assigned[i].update(
            q.partition for q in ps), on_revoke=lambda c_, ps, i=i: assigned[i].clear())
    deadline = time.monotonic() + 30
    read = 0
    while time.monotonic() < deadline and (read < 30 or len(assigned[0] | assigned[1]) < 3
                                           or not all(assigned)):
        for c in members:
            m = c.poll(0.05)
            if m is not None and not m.error():
                read += 1
                c.commit(message=m, asynchronous=False)
    T.ok(read == 30 and all(assigned), "live group: 2 members read all 30 messages, committing")

    s = consumer(simple)
    s.assign([TopicPartition(topic, 0, 0)])
    s.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
    s.close()
    T.ok(True, "simple group committed offset 7 without joining")

    if MODERN:
        modern(admin, topic, live, simple)
    else:
        res = {g.id: g for g in admin.list_groups(timeout=10)}
        g = res.get(live)
        T.ok(g is not None and g.state == "Stable" and g.protocol_type == "consumer"
             and len(g.members) == 2, "1.7 list_groups: the live group is Stable with 2 members",
             res)
        T.ok(simple in res and res[simple].state == "Empty", "1.7 list_groups: simple group Empty")

    kp = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)
    listed = dict(kp.list_consumer_groups())
    T.ok(listed.get(live) == "consumer" and listed.get(simple) == "",
         "kafka-python list_consumer_groups: live (consumer) and simple ('')", listed)
    info = kp.describe_consumer_groups([live])[0]
    parts = sorted(tp[1] for m in info.members for tp in
                   [(t, q) for t, qs in m.member_assignment.assignment for q in qs])
    T.ok(info.state == "Stable" and info.protocol_type == "consumer" and len(info.members) == 2
         and parts == [0, 1, 2] and {m.client_id for m in info.members} == {"adm-0", "adm-1"},
         "kafka-python describe_consumer_groups: Stable, 2 members, assignments cover 0-2",
         info)
    offs = kp.list_consumer_group_offsets(live)
    T.eq(sorted((tp.partition, om.offset) for tp, om in offs.items()), [(0, 10), (1, 10), (2, 10)],
         "kafka-python list_consumer_group_offsets: live group at the log end")
    offs = kp.list_consumer_group_offsets(simple)
    T.eq(sorted((tp.partition, om.offset) for tp, om in offs.items()),
         [(0, 7), (1, 4)] if MODERN else [(0, 7)],
         "kafka-python list_consumer_group_offsets: simple group")
    res = kp.delete_consumer_groups([live])
    T.eq([errname(e) for _, e in res],
         ["NonEmptyGroupError"], "deleting the live group: NON_EMPTY_GROUP")

    for c in members:
        c.close()
    res = kp.delete_consumer_groups([live, simple])
    T.eq([(g, errname(e)) for g, e in sorted(res)],
         sorted([(live, "NoError"), (simple, "NoError")]),
         "after the members left both groups are deleted")
    listed = dict(kp.list_consumer_groups())
    T.ok(live not in listed and simple not in listed, "and gone from ListGroups")
    T.eq(kp.list_consumer_group_offsets(live), {}, "with their offsets")
    kp.close()


def modern(admin, topic, live, simple):
    from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions

    res = admin.list_consumer_groups(request_timeout=10).result()
    states = {g.group_id: g.state for g in res.valid}
    T.ok(states.get(live) == ConsumerGroupState.STABLE
         and states.get(simple) == ConsumerGroupState.EMPTY,
         "list_consumer_groups: live Stable, simple Empty", states)
    res = admin.list_consumer_groups(request_timeout=10,
                                     states={ConsumerGroupState.STABLE}).result()
    ids = {g.group_id for g in res.valid}
    T.ok(live in ids and simple not in ids, "list_consumer_groups with a state filter (v4)")
    d = admin.describe_consumer_groups([live], request_timeout=10)[live].result()
    parts = sorted(tp.partition for m in d.members for tp in m.assignment.topic_partitions)
    T.ok(d.state == ConsumerGroupState.STABLE and len(d.members) == 2 and parts == [0, 1, 2]
         and d.coordinator.id == 1 and d.partition_assignor,
         "describe_consumer_groups: Stable, 2 members, assignments, coordinator, assignor %s"
         % d.partition_assignor, d)
    got = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(live)])[live].result()
    T.eq(sorted((tp.partition, tp.offset) for tp in got.topic_partitions),
         [(0, 10), (1, 10), (2, 10)], "list_consumer_group_offsets: at the log end")
    req = ConsumerGroupTopicPartitions(simple, [TopicPartition(topic, 1, 4)])
    admin.alter_consumer_group_offsets([req])[simple].result()
    got = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(simple)])[
        simple].result()
    T.eq(sorted((tp.partition, tp.offset) for tp in got.topic_partitions), [(0, 7), (1, 4)],
         "alter_consumer_group_offsets on the simple group (a non-member OffsetCommit)")
    fut = admin.delete_consumer_groups([live], request_timeout=10)[live]
    try:
        fut.result()
        T.ok(False, "deleting the live group is refused")
    except ck.KafkaException as e:
        T.eq(e.args[0].code(), ck.KafkaError.NON_EMPTY_GROUP, "deleting the live group: "
             "NON_EMPTY_GROUP")


T.step("admin", main)
T.done()
