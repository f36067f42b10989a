#!/usr/bin/env python3
"""Integration test of the request versions Kafka 3.9 served and Kafka 4.0 dropped (KIP-896),
which runneld serves so that clients Kafka 3.9 served keep working: ListOffsets v0
(OldStyleOffsets, MaxNumOffsets), OffsetCommit v0/v1 and OffsetFetch v0, CreateTopics v0/v1,
DeleteTopics v0, DescribeConfigs v0 (IsDefault), OffsetForLeaderEpoch v0/v1; Fetch v0-3 stays
unserved (message formats v0/v1). Also that Kafka strings may hold any byte: committed
metadata with a NUL comes back whole (also after a restart), and a topic config value with a
NUL is refused rather than cut. No Kafka needed; tests/interop/differential.py compares the
same versions with a live Kafka 3.9 (KAFKA_REF_VERSION=3.9.1).
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import (Broker, Conn, Tap, api_versions, metadata_create,  # noqa: E402
                             produce, record_batch)
import diffwire as W  # noqa: E402

NONE, UNKNOWN_TOPIC, UNSUPPORTED_VERSION, INVALID_CONFIG = 0, 3, 35, 40
MD = "Hello\0world!"  # 12 bytes, a NUL in the middle


def check_versions(t, c):
    got = api_versions(c)
    for key, lo in ((2, 0), (8, 0), (9, 0), (19, 0), (20, 0), (23, 0), (32, 0), (1, 4)):
        t.eq(got.get(key, (None,))[0], lo, "api key %d served from v%d" % (key, lo))


def list_v0(c, topic, ts, n, replica=-1):
    r = c.call("ListOffsets", 0, {"ReplicaId": replica, "Topics": [{"Name": topic, "Partitions": [
        {"PartitionIndex": 0, "Timestamp": ts, "MaxNumOffsets": n}]}]})
    p = r["Topics"][0]["Partitions"][0]
    return p["ErrorCode"], p["OldStyleOffsets"]


def check_list_offsets_v0(t, c, topic):
    t.eq(list_v0(c, topic, -1, 10), (NONE, [0]), "v0 latest of an empty log: its one segment")
    for _ in range(5):
        t.eq(produce(c, topic, record_batch([b"x"]))[0], NONE, "produce")
    t.eq(list_v0(c, topic, -1, 10), (NONE, [5, 0]), "v0 latest: log end, then segment bases")
    t.eq(list_v0(c, topic, -1, 1), (NONE, [5]), "v0 latest with MaxNumOffsets 1")
    t.eq(list_v0(c, topic, -2, 10), (NONE, [0]), "v0 earliest: the log start only")
    t.eq(list_v0(c, topic, -1, 0), (NONE, []), "v0 with MaxNumOffsets 0: none")
    future = int(time.time() * 1000) + 3600 * 1000
    t.eq(list_v0(c, topic, future, 10), (NONE, [5, 0]),
         "v0 by a time after every write: as latest")
    t.eq(list_v0(c, topic, 1000, 10), (NONE, []), "v0 by a time before every segment: none")
    t.eq(list_v0(c, topic, -1, 10, replica=-2), (NONE, [5, 0]), "v0 for a debugging replica")
    t.eq(list_v0(c, "no-such-topic-k3", -1, 1)[0], UNKNOWN_TOPIC, "v0 on an unknown topic")
    for ts in (-3, -4, -100):
        t.eq(list_v0(c, topic, ts, 3), (UNSUPPORTED_VERSION, []),
             "v0 refuses the special timestamp %d, as Kafka 3.9 does" % ts)
    r = c.call("ListOffsets", 1, {"ReplicaId": -1, "Topics": [{"Name": topic, "Partitions": [
        {"PartitionIndex": 0, "Timestamp": -1}]}]})
    t.eq(r["Topics"][0]["Partitions"][0]["Offset"], 5, "v1 still answers one offset")


def wait_coordinator(t, c, group):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = c.call("FindCoordinator", 0, {"Key": group})
        if r["ErrorCode"] == NONE:
            f = c.call("OffsetFetch", 1, {"GroupId": group, "Topics": []})
            if not f["Topics"]:
                return t.ok(True, "coordinator of %s ready" % group)
        time.sleep(0.2)
    return t.ok(False, "coordinator of %s ready" % group)


def commit(c, v, group, topic, offset, metadata, ts=-1):
    req = {"GroupId": group, "Topics": [{"Name": topic, "Partitions": [
        {"PartitionIndex": 0, "CommittedOffset": offset, "CommittedMetadata": metadata,
         "CommitTimestamp": ts}]}]}
    if v >= 1:
        req.update({"GenerationIdOrMemberEpoch": -1, "MemberId": ""})
    r = c.call("OffsetCommit", v, req)
    return r["Topics"][0]["Partitions"][0]["ErrorCode"]


def fetch_committed(c, v, group, topic):
    if v >= 8:
        r = c.call("OffsetFetch", v, {"Groups": [{"GroupId": group, "Topics": [
            {"Name": topic, "PartitionIndexes": [0]}]}]})
        p = r["Groups"][0]["Topics"][0]["Partitions"][0]
    else:
        r = c.call("OffsetFetch", v, {"GroupId": group, "Topics": [
            {"Name": topic, "PartitionIndexes": [0]}]})
        p = r["Topics"][0]["Partitions"][0]
    return p["ErrorCode"], p["CommittedOffset"], p["Metadata"]


def check_offsets(t, c, topic):
    if not wait_coordinator(t, c, "k3-group"):
        return
    t.eq(commit(c, 0, "k3-group", topic, 3, "v0"), NONE, "OffsetCommit v0")
    t.eq(fetch_committed(c, 0, "k3-group", topic), (NONE, 3, "v0"), "OffsetFetch v0 reads it")
    t.eq(fetch_committed(c, 8, "k3-group", topic), (NONE, 3, "v0"), "and so does v8")
    t.eq(commit(c, 1, "k3-group", topic, 4, "v1", ts=1234567890123), NONE,
         "OffsetCommit v1 with a commit timestamp")
    t.eq(fetch_committed(c, 1, "k3-group", topic), (NONE, 4, "v1"), "OffsetFetch v1 reads it")
    t.eq(fetch_committed(c, 0, "k3-group", topic)[0:2], (NONE, 4), "OffsetFetch v0 too")
    t.eq(commit(c, 0, "k3-group", "no-such-topic-k3", 1, None), UNKNOWN_TOPIC,
         "OffsetCommit v0 to an unknown topic")
    # Kafka strings may hold any byte: the metadata comes back whole, not cut at the NUL.
    t.eq(commit(c, 8, "k3-nul", topic, 2, MD), NONE, "commit metadata holding a NUL")
    for v in (0, 1, 7, 8):
        t.eq(fetch_committed(c, v, "k3-nul", topic), (NONE, 2, MD),
             "OffsetFetch v%d returns all 12 bytes of the metadata" % v)


def check_topics(t, c):
    name = "k3-created"
    r = c.call("CreateTopics", 0, {"Topics": [{"Name": name, "NumPartitions": 2,
                                               "ReplicationFactor": 1, "Assignments": [],
                                               "Configs": [{"Name": "retention.ms",
                                                            "Value": "60000"}]}],
                                   "timeoutMs": 5000})
    t.eq([(x["Name"], x["ErrorCode"]) for x in r["Topics"]], [(name, NONE)], "CreateTopics v0")
    r = c.call("CreateTopics", 1, {"Topics": [{"Name": "k3-validated", "NumPartitions": 1,
                                               "ReplicationFactor": 1, "Assignments": [],
                                               "Configs": []}],
                                   "timeoutMs": 5000, "validateOnly": True})
    t.eq((r["Topics"][0]["ErrorCode"], r["Topics"][0]["ErrorMessage"]), (NONE, None),
         "CreateTopics v1 validate-only")
    md = c.call("Metadata", 4, {"Topics": [{"Name": name}, {"Name": "k3-validated"}],
                                "AllowAutoTopicCreation": False})
    t.eq(sorted((x["Name"], x["ErrorCode"], len(x["Partitions"])) for x in md["Topics"]),
         [(name, NONE, 2), ("k3-validated", UNKNOWN_TOPIC, 0)],
         "the v0 topic exists with 2 partitions, the validated one does not")
    # Kafka trims bytes up to ' ' (NUL too) from a config value's ends, then parses it.
    for key, value, want in (("retention.ms", "1\0abc", INVALID_CONFIG),
                             ("cleanup.policy", "compact,\0delete", INVALID_CONFIG),
                             ("retention.ms", "1\0", NONE), ("cleanup.policy", "delete\0", NONE)):
        r = c.call("CreateTopics", 1, {"Topics": [{"Name": "k3-nulcfg", "NumPartitions": 1,
                                                   "ReplicationFactor": 1, "Assignments": [],
                                                   "Configs": [{"Name": key, "Value": value}]}],
                                       "timeoutMs": 5000, "validateOnly": True})
        t.eq(r["Topics"][0]["ErrorCode"], want,
             "config %s=%r: a NUL before the end is invalid, not the end" % (key, value))
    for v in (0, 1):
        r = c.call("AlterConfigs", v, {"Resources": [
            {"ResourceType": 2, "ResourceName": name,
             "Configs": [{"Name": "retention.ms", "Value": "6\0x"}]}], "ValidateOnly": True})
        t.eq(r["Responses"][0]["ErrorCode"], INVALID_CONFIG,
             "AlterConfigs v%d: a NUL before the end is invalid" % v)
    for op in (0, 2):  # SET, APPEND
        r = c.call("IncrementalAlterConfigs", 1, {"Resources": [
            {"ResourceType": 2, "ResourceName": name, "Configs": [
                {"Name": "cleanup.policy", "ConfigOperation": op, "Value": "delete\0x"}]}],
            "ValidateOnly": True})
        t.eq(r["Responses"][0]["ErrorCode"], INVALID_CONFIG,
             "IncrementalAlterConfigs op %d: a NUL before the end is invalid" % op)
    r = c.call("DescribeConfigs", 0, {"Resources": [
        {"ResourceType": 2, "ResourceName": name,
         "ConfigurationKeys": ["retention.ms", "segment.bytes"]}]})
    res = r["Results"][0]
    t.eq((res["ErrorCode"], sorted((x["Name"], x["Value"], x["IsDefault"])
                                   for x in res["Configs"])),
         (NONE, [("retention.ms", "60000", False), ("segment.bytes", "1073741824", True)]),
         "DescribeConfigs v0: values with IsDefault")
    r = c.call("DeleteTopics", 0, {"TopicNames": [name, "k3-never"], "TimeoutMs": 5000})
    t.eq(sorted((x["Name"], x["ErrorCode"]) for x in r["Responses"]),
         [(name, NONE), ("k3-never", UNKNOWN_TOPIC)], "DeleteTopics v0")


def check_leader_epoch(t, c, topic):
    for v in (0, 1):
        r = c.call("OffsetForLeaderEpoch", v, {"Topics": [{"Topic": topic, "Partitions": [
            {"Partition": 0, "LeaderEpoch": 0}]}]})
        p = r["Topics"][0]["Partitions"][0]
        t.eq((p["ErrorCode"], p["EndOffset"]), (NONE, 5), "OffsetForLeaderEpoch v%d" % v)


def check_fetch_v3_refused(t, b):
    c = Conn(b.bootstrap)
    try:
        c.call("Fetch", 3, {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 1, "MaxBytes": 1 << 20,
                            "Topics": []})
        closed = False
    except W.BrokerClosed:
        closed = True
    c.close()
    t.ok(closed, "Fetch v3 (message format v0/v1) is not served: the connection closes")


def check_restart(t, b, topic):
    b.restart(kill=True)
    c = Conn(b.bootstrap)
    if wait_coordinator(t, c, "k3-nul"):
        t.eq(fetch_committed(c, 8, "k3-nul", topic), (NONE, 2, MD),
             "the metadata with its NUL survives a restart (replayed from __consumer_offsets)")
    c.close()


def main():
    t = Tap("kafka 3.x versions", timeout_s=120)
    b = Broker()
    t.cleanups.append(b.cleanup)
    c = Conn(b.bootstrap)
    topic = "k3-topic"
    t.step("api versions", check_versions, t, c)
    t.step("create", metadata_create, c, topic)
    t.step("list offsets v0", check_list_offsets_v0, t, c, topic)
    t.step("offsets", check_offsets, t, c, topic)
    t.step("topics", check_topics, t, c)
    t.step("leader epoch", check_leader_epoch, t, c, topic)
    t.step("fetch v3", check_fetch_v3_refused, t, b)
    c.close()
    t.step("restart", check_restart, t, b, topic)
    b.finish(t)
    t.done()


if __name__ == "__main__":
    main()
