#!/usr/bin/env python3
"""Integration test of runneld's group coordinator on the wire, version by version.

Raw requests (encoded and decoded from runnel's client/defs by tests/interop/diffwire.py,
through datapath_common's Conn) check what client libraries hide: ApiVersions ranges;
FindCoordinator v0-v4 (batched keys, key types); JoinGroup v0 (the Debian sarama path), v4
MEMBER_ID_REQUIRED, v5 static members, v7 protocol type, v9 SkipAssignment; SyncGroup v0/v5;
Heartbeat; LeaveGroup v0 and v3 batches by instance id; OffsetCommit v2 (retention) / v8,
OffsetFetch v1 (per-partition errors) / v7 (all topics) / v8 (several groups); DescribeGroups,
ListGroups v4 state filter, DeleteGroups, OffsetDelete; Kafka's error codes; and that
committed offsets and group metadata survive SIGKILL.
"""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import Broker, Conn, Tap, W, api_versions, metadata_create  # noqa: E402

NONE, UNKNOWN_TOPIC, COORD_NA, ILLEGAL_GEN, INCONSISTENT = 0, 3, 15, 22, 23
INVALID_GROUP_ID, UNKNOWN_MEMBER, INVALID_SESSION, REBALANCING = 24, 25, 26, 27
INVALID_REQUEST, NON_EMPTY, GROUP_NOT_FOUND, MEMBER_ID_REQUIRED = 42, 68, 69, 79
FENCED, SUBSCRIBED = 82, 86

APIS = {8: (0, 8), 9: (0, 8), 10: (0, 4), 11: (0, 9), 12: (0, 4), 13: (0, 5), 14: (0, 5),
        15: (0, 5), 16: (0, 4), 42: (0, 2), 47: (0, 0)}


def subscription(topics):
    """A ConsumerProtocol v0 subscription (JoinGroup's opaque protocol metadata, which has no
    message definition, so it is packed here: version, topics, null user data)."""
    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out + struct.pack(">i", -1)


def join_request(v, group, member="", instance=None, protocols=None, session=10000,
                 rebalance=10000, ptype="consumer", reason=None):
    protocols = protocols if protocols is not None else [("range", b"meta")]
    req = {"GroupId": group, "SessionTimeoutMs": session, "MemberId": member,
           "GroupInstanceId": instance, "ProtocolType": ptype, "Reason": reason,
           "Protocols": [{"Name": name, "Metadata": meta} for name, meta in protocols]}
    if v >= 1:
        req["RebalanceTimeoutMs"] = rebalance
    return req


def join_answer(r, v):
    out = {"error": r["ErrorCode"], "generation": r["GenerationId"],
           "protocol": r["ProtocolName"], "leader": r["Leader"], "member": r["MemberId"],
           "members": [(m["MemberId"], m.get("GroupInstanceId"), m["Metadata"])
                       for m in r["Members"]]}
    if v >= 7:
        out["protocol_type"] = r["ProtocolType"]
    if v >= 9:
        out["skip"] = int(r["SkipAssignment"])
    return out


def join(c, v, group, **kw):
    return join_answer(c.call("JoinGroup", v, join_request(v, group, **kw)), v)


def sync_request(group, gen, member, instance=None, assignments=(), ptype=None, pname=None):
    return {"GroupId": group, "GenerationId": gen, "MemberId": member,
            "GroupInstanceId": instance, "ProtocolType": ptype, "ProtocolName": pname,
            "Assignments": [{"MemberId": mid, "Assignment": data} for mid, data in assignments]}


def sync(c, v, group, gen, member, instance=None, assignments=(), ptype=None, pname=None):
    r = c.call("SyncGroup", v, sync_request(group, gen, member, instance, assignments, ptype,
                                            pname))
    out = {"error": r["ErrorCode"], "assignment": r["Assignment"]}
    if v >= 5:
        out["protocol_type"] = r["ProtocolType"]
        out["protocol"] = r["ProtocolName"]
    return out


def heartbeat(c, v, group, gen, member, instance=None):
    r = c.call("Heartbeat", v, {"GroupId": group, "GenerationId": gen, "MemberId": member,
                                "GroupInstanceId": instance})
    return r["ErrorCode"]


def leave(c, v, group, member="", members=()):
    if v <= 2:
        req = {"GroupId": group, "MemberId": member}
    else:
        req = {"GroupId": group,
               "Members": [{"MemberId": mid, "GroupInstanceId": inst,
                            "Reason": "test" if v >= 5 else None} for mid, inst in members]}
    r = c.call("LeaveGroup", v, req)
    if v <= 2:
        return r["ErrorCode"], []
    return r["ErrorCode"], [(m["MemberId"], m["GroupInstanceId"], m["ErrorCode"])
                            for m in r["Members"]]


def commit(c, v, group, offsets, gen=-1, member="", instance=None, retention=-1):
    """offsets: {topic: {partition: (offset, metadata)}} -> {(topic, partition): error}"""
    req = {"GroupId": group, "GenerationIdOrMemberEpoch": gen, "MemberId": member,
           "GroupInstanceId": instance,
           "Topics": [{"Name": t, "Partitions": [
               dict({"PartitionIndex": p, "CommittedOffset": off, "CommittedMetadata": md},
                    **({"CommittedLeaderEpoch": 7} if v >= 6 else {}))
               for p, (off, md) in parts.items()]} for t, parts in offsets.items()]}
    if 2 <= v <= 4:
        req["RetentionTimeMs"] = retention
    r = c.call("OffsetCommit", v, req)
    return {(t["Name"], p["PartitionIndex"]): p["ErrorCode"]
            for t in r["Topics"] for p in t["Partitions"]}


def committed(topics):
    """OffsetFetch answer topics -> {(t, p): (offset, leader epoch or None before v5,
    metadata, error)}"""
    return {(t["Name"], p["PartitionIndex"]): (p["CommittedOffset"],
                                               p.get("CommittedLeaderEpoch"), p["Metadata"],
                                               p["ErrorCode"])
            for t in topics for p in t["Partitions"]}


def wanted(topics):
    """{topic: [partitions]} or None (all) -> OffsetFetch request topics."""
    if topics is None:
        return None
    return [{"Name": t, "PartitionIndexes": parts} for t, parts in topics.items()]


def fetch(c, v, group, topics):
    """topics: {topic: [partitions]} or None (all) -> (error, {(t, p): (off, epoch, md, err)})"""
    r = c.call("OffsetFetch", v, {"GroupId": group, "Topics": wanted(topics)})
    return (r["ErrorCode"] if v >= 2 else None), committed(r["Topics"])


def fetch_groups(c, groups):
    """v8: groups: {group: topics or None} -> {group: (error, parts)}"""
    r = c.call("OffsetFetch", 8, {"Groups": [{"GroupId": g, "Topics": wanted(topics)}
                                             for g, topics in groups.items()]})
    return {g["GroupId"]: (g["ErrorCode"], committed(g["Topics"])) for g in r["Groups"]}


def find(c, v, key, key_type=0, keys=None):
    if v <= 3:
        r = c.call("FindCoordinator", v, {"Key": key, "KeyType": key_type})
        return {"error": r["ErrorCode"], "message": r.get("ErrorMessage"), "node": r["NodeId"],
                "host": r["Host"], "port": r["Port"]}
    r = c.call("FindCoordinator", v, {"KeyType": key_type, "CoordinatorKeys": keys})
    return [{"key": x["Key"], "node": x["NodeId"], "host": x["Host"], "port": x["Port"],
             "error": x["ErrorCode"], "message": x["ErrorMessage"]} for x in r["Coordinators"]]


def describe(c, v, groups, ops=False):
    r = c.call("DescribeGroups", v, {"Groups": groups, "IncludeAuthorizedOperations": ops})
    return [{"error": d["ErrorCode"], "group": d["GroupId"], "state": d["GroupState"],
             "protocol_type": d["ProtocolType"], "protocol": d["ProtocolData"],
             "members": [{"member": m["MemberId"], "instance": m.get("GroupInstanceId"),
                          "client_id": m["ClientId"], "client_host": m["ClientHost"],
                          "metadata": m["MemberMetadata"],
                          "assignment": m["MemberAssignment"]} for m in d["Members"]],
             "ops": d["AuthorizedOperations"] if v >= 3 else None} for d in r["Groups"]]


def list_groups(c, v, states=()):
    r = c.call("ListGroups", v, {"StatesFilter": list(states)})
    return r["ErrorCode"], {g["GroupId"]: (g["ProtocolType"], g.get("GroupState"))
                            for g in r["Groups"]}


def delete_groups(c, v, groups):
    r = c.call("DeleteGroups", v, {"GroupsNames": groups})
    return {g["GroupId"]: g["ErrorCode"] for g in r["Results"]}


def offset_delete(c, group, topics):
    r = c.call("OffsetDelete", 0, {
        "GroupId": group,
        "Topics": [{"Name": t, "Partitions": [{"PartitionIndex": p} for p in parts]}
                   for t, parts in topics.items()]})
    return r["ErrorCode"], {(t["Name"], p["PartitionIndex"]): p["ErrorCode"]
                            for t in r["Topics"] for p in t["Partitions"]}


def create_topic(c, name, partitions):
    r = c.call("CreateTopics", 2, {"Topics": [{"Name": name, "NumPartitions": partitions,
                                               "ReplicationFactor": 1}],
                                   "timeoutMs": 10000})
    (topic,) = r["Topics"]
    return topic["ErrorCode"]


# ---- the checks ----------------------------------------------------------------------------

GROUPS = ["g-find", "g-v0", "g-x", "g-x2", "g-dance", "g-static", "g-simple", "g-live",
          "g-empty", "g-nobody", "no-such-group", "nobody", "g\0x", "g", "g\0y", "j\0k"]


def wait_coordinators(t, c):
    """Kafka creates __consumer_offsets on the first FindCoordinator and loads its partitions
    afterwards, answering COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR / LOAD_IN_PROGRESS
    meanwhile (clients retry); runneld answers once the topic exists. Wait until every group
    this test uses has a ready coordinator, so the test also runs against Kafka."""
    deadline = time.monotonic() + 30
    pending = set(GROUPS)
    while pending and time.monotonic() < deadline:
        for g in sorted(pending):
            if find(c, 1, g)["error"] == NONE and fetch(c, 2, g, {})[0] == NONE:
                pending.discard(g)
        if pending:
            time.sleep(0.2)
    t.ok(not pending, "the coordinator of every group is ready", sorted(pending))


def metadata_ready(c, topic):
    """Metadata v1: whether topic exists with a leader for every partition."""
    r = c.call("Metadata", 1, {"Topics": [{"Name": topic}]})
    ok = False
    for t in r["Topics"]:
        leaders = [p["LeaderId"] for p in t["Partitions"]]
        ok = t["ErrorCode"] == NONE and leaders and min(leaders) >= 0
    return ok


def check_versions(t, c):
    got = api_versions(c)
    t.eq({k: got.get(k) for k in APIS}, APIS,
         "ApiVersions lists the group APIs and runnel's ranges (Kafka 4.1 serves a few more)")


def check_find(t, b, c):
    r = find(c, 0, "g-find")
    t.eq((r["error"], r["node"], r["port"]), (NONE, 1, b.port),
         "FindCoordinator v0 creates __consumer_offsets and answers this node")
    r = find(c, 3, "g-find", 0)
    t.eq((r["error"], r["host"], r["message"]), (NONE, "127.0.0.1", "NONE"),
         "v3 (flexible); error message NONE as Kafka sends it")
    r = find(c, 1, "txn", 1)
    t.eq(r["error"], COORD_NA, "transaction coordinator: COORDINATOR_NOT_AVAILABLE")
    r = find(c, 4, None, 0, ["a", "b", "c"])
    t.eq([(x["key"], x["error"], x["node"]) for x in r], [("a", 0, 1), ("b", 0, 1), ("c", 0, 1)],
         "v4 answers every key of the batch")
    r = find(c, 4, None, 7, ["a"])
    t.eq(r[0]["error"], INVALID_REQUEST, "v4 unknown key type: INVALID_REQUEST")
    r = find(c, 1, "x", 9)
    t.eq(r["error"], INVALID_REQUEST, "v1 unknown key type: INVALID_REQUEST")
    c2 = Conn(b.bootstrap)
    r = describe(c2, 0, ["nobody"])
    t.eq((r[0]["error"], r[0]["state"]), (NONE, "Dead"), "an unknown group is described Dead")


def check_join_v0_and_errors(t, c):
    r = join(c, 0, "g-v0", protocols=[("range", b"M0")])
    t.eq((r["error"], r["generation"], r["protocol"]), (NONE, 1, "range"),
         "JoinGroup v0 (sarama's path) joins at once with no MEMBER_ID_REQUIRED")
    t.ok(r["member"].startswith("test-") and r["leader"] == r["member"]
         and r["members"] == [(r["member"], None, b"M0")],
         "v0 leader gets itself and its metadata", r)
    m = r["member"]
    s = sync(c, 0, "g-v0", 1, m, assignments=[(m, b"A0")])
    t.eq((s["error"], s["assignment"]), (NONE, b"A0"), "SyncGroup v0 returns the assignment")
    t.eq(heartbeat(c, 0, "g-v0", 1, m), NONE, "Heartbeat v0")
    t.eq(heartbeat(c, 4, "g-v0", 0, m), ILLEGAL_GEN, "Heartbeat v4 old generation")
    t.eq(heartbeat(c, 2, "g-v0", 1, "nobody"), UNKNOWN_MEMBER, "Heartbeat unknown member")
    t.eq(heartbeat(c, 1, "no-such-group", 1, m), UNKNOWN_MEMBER, "Heartbeat unknown group")
    t.eq(join(c, 1, "")["error"], INVALID_GROUP_ID, "empty group id: INVALID_GROUP_ID")
    t.eq(join(c, 1, "g-x", session=100)["error"], INVALID_SESSION,
         "session below group.min.session.timeout.ms")
    t.eq(join(c, 1, "g-v0", protocols=[("roundrobin", b"")])["error"], INCONSISTENT,
         "no protocol in common: INCONSISTENT_GROUP_PROTOCOL")
    t.eq(join(c, 1, "g-x2", member="made-up")["error"], UNKNOWN_MEMBER,
         "a member id for an unknown group: UNKNOWN_MEMBER_ID")
    s = sync(c, 5, "g-v0", 1, m, ptype="consumer", pname="sticky")
    t.eq(s["error"], INCONSISTENT, "SyncGroup v5 with another protocol name")
    s = sync(c, 5, "g-v0", 1, m, ptype="consumer", pname="range")
    t.eq((s["error"], s["protocol_type"], s["protocol"], s["assignment"]),
         (NONE, "consumer", "range", b"A0"), "SyncGroup v5 names type and protocol")
    err, _ = leave(c, 0, "g-v0", m)
    t.eq(err, NONE, "LeaveGroup v0")
    err, _ = leave(c, 1, "g-v0", m)
    t.eq(err, UNKNOWN_MEMBER, "LeaveGroup v1 again: UNKNOWN_MEMBER_ID in the top-level error")
    d = describe(c, 5, ["g-v0"])[0]
    t.eq((d["state"], d["protocol_type"], d["members"]), ("Empty", "consumer", []),
         "DescribeGroups v5: Empty after the leave")


def check_v4_dance_and_rebalance(t, b, c):
    c2 = Conn(b.bootstrap)
    sub = subscription(["orders"])
    r = join(c, 4, "g-dance", protocols=[("range", sub)])
    t.eq(r["error"], MEMBER_ID_REQUIRED, "JoinGroup v4 without id: MEMBER_ID_REQUIRED")
    a = r["member"]
    r = join(c, 7, "g-dance", member=a, protocols=[("range", sub)])
    t.eq((r["error"], r["protocol_type"], r["leader"]), (NONE, "consumer", a),
         "JoinGroup v7 with the id: joined, protocol type in the answer")
    gen = r["generation"]
    s = sync(c, 4, "g-dance", gen, a, assignments=[(a, b"all")])
    t.eq(s["error"], NONE, "leader synced")
    # A second member: the first learns of the rebalance from its heartbeat.
    r = join(c2, 9, "g-dance", protocols=[("range", sub)])
    bid = r["member"]
    # parked until a rejoins
    corr = c2.send("JoinGroup", 9, join_request(9, "g-dance", bid, protocols=[("range", sub)]))
    t.eq(heartbeat(c, 4, "g-dance", gen, a), REBALANCING, "heartbeat: REBALANCE_IN_PROGRESS")
    ra = join(c, 9, "g-dance", member=a, protocols=[("range", sub)])
    rb = join_answer(c2.recv("JoinGroup", 9, corr), 9)
    t.eq((ra["generation"], rb["generation"], ra["leader"], rb["leader"]),
         (gen + 1, gen + 1, a, a), "both in the next generation, same leader")
    t.eq((len(ra["members"]), len(rb["members"]), ra["skip"]), (2, 0, 0),
         "leader gets both members, follower none")
    corr = c2.send("SyncGroup", 4, sync_request("g-dance", gen + 1, bid))  # waits for leader
    s = sync(c, 4, "g-dance", gen + 1, a, assignments=[(a, b"pa"), (bid, b"pb")])
    sb = c2.recv("SyncGroup", 4, corr)
    t.eq((s["assignment"], sb["ErrorCode"], sb["Assignment"]), (b"pa", NONE, b"pb"),
         "the leader's SyncGroup answers the waiting follower too")
    d = describe(c, 4, ["g-dance"], ops=True)[0]
    t.eq((d["state"], d["protocol"], len(d["members"]), d["ops"]),
         ("Stable", "range", 2, (1 << 3) | (1 << 6) | (1 << 8)),
         "DescribeGroups v4: Stable, protocol, members, authorized operations READ, DELETE, "
         "DESCRIBE (Kafka 4.1 adds its group-config operations)")
    mine = [m for m in d["members"] if m["member"] == bid][0]
    t.eq((mine["metadata"], mine["assignment"], mine["client_host"]), (sub, b"pb", "/127.0.0.1"),
         "member metadata, assignment and client host")
    err, groups = list_groups(c, 4, ["stable"])
    t.ok(err == NONE and groups.get("g-dance") == ("consumer", "Stable")
         and "g-v0" not in groups, "ListGroups v4 with a state filter", groups)
    err, groups = list_groups(c, 0)
    t.ok(err == NONE and {"g-dance", "g-v0"} <= set(groups), "ListGroups v0 lists all", groups)
    t.eq(delete_groups(c, 1, ["g-dance", "g-v0", "g-none"]),
         {"g-dance": NON_EMPTY, "g-v0": NONE, "g-none": GROUP_NOT_FOUND},
         "DeleteGroups: live group refused, empty deleted, unknown not found")
    return a, bid, gen + 1


def check_static(t, b, c):
    r = join(c, 5, "g-static", instance="inst-1")
    t.eq(r["error"], NONE, "JoinGroup v5 with an instance id needs no MEMBER_ID_REQUIRED")
    m1, gen = r["member"], r["generation"]
    t.ok(m1.startswith("inst-1-"), "static member id starts with its instance id", m1)
    s = sync(c, 5, "g-static", gen, m1, "inst-1", [(m1, b"S")])
    t.eq(s["error"], INCONSISTENT,
         "SyncGroup v5 without protocol type and name: INCONSISTENT_GROUP_PROTOCOL")
    s = sync(c, 5, "g-static", gen, m1, "inst-1", [(m1, b"S")], "consumer", "range")
    t.eq(s["error"], NONE, "SyncGroup v5 with them")
    r = join(c, 5, "g-static", instance="inst-1")
    t.eq((r["error"], r["generation"], r["leader"]), (NONE, gen, m1),
         "restarted static member: same generation, old leader id (pre-v9), no rebalance")
    m2 = r["member"]
    t.ok(m2 != m1, "with a new member id")
    t.eq(heartbeat(c, 3, "g-static", gen, m1, "inst-1"), FENCED, "old id is FENCED_INSTANCE_ID")
    s = sync(c, 5, "g-static", gen, m2, "inst-1", ptype="consumer", pname="range")
    t.eq(s["assignment"], b"S", "new id gets the stored assignment")
    r = join(c, 9, "g-static", instance="inst-1")
    t.eq((r["leader"], r["skip"], len(r["members"])), (r["member"], 1, 1),
         "v9: the returning leader is told it leads, with SkipAssignment")
    err, res = leave(c, 3, "g-static", members=[("", "inst-1"), ("", "inst-9")])
    t.eq((err, [e for _, _, e in res]), (NONE, [NONE, UNKNOWN_MEMBER]),
         "LeaveGroup v3 by instance id: removed; unknown instance: UNKNOWN_MEMBER_ID")


def check_offsets(t, b, c):
    t.eq(create_topic(c, "gw-orders", 3), NONE, "topic gw-orders created")
    deadline = time.monotonic() + 20
    while not metadata_ready(c, "gw-orders") and time.monotonic() < deadline:
        time.sleep(0.1)
    res = commit(c, 2, "g-simple", {"gw-orders": {0: (10, "m0"), 1: (20, None)},
                                    "gw-missing": {0: (1, "")}}, retention=60000)
    t.eq(res, {("gw-orders", 0): NONE, ("gw-orders", 1): NONE, ("gw-missing", 0): UNKNOWN_TOPIC},
         "OffsetCommit v2 (simple consumer): stored; unknown topic refused")
    res = commit(c, 8, "g-simple", {"gw-orders": {2: (30, "m2")}})
    t.eq(res, {("gw-orders", 2): NONE}, "OffsetCommit v8 (flexible)")
    res = commit(c, 6, "g-simple", {"gw-orders": {2: (31, "x")}}, gen=4, member="who")
    t.eq(res, {("gw-orders", 2): UNKNOWN_MEMBER}, "member commit to a member-less group")
    err, parts = fetch(c, 1, "g-simple", {"gw-orders": [0, 1, 2], "gw-none": [0]})
    t.eq(parts, {("gw-orders", 0): (10, None, "m0", 0), ("gw-orders", 1): (20, None, "", 0),
                 ("gw-orders", 2): (30, None, "m2", 0), ("gw-none", 0): (-1, None, "", 0)},
         "OffsetFetch v1: committed offsets, -1 where none")
    err, parts = fetch(c, 7, "g-simple", None)
    t.eq((err, sorted(parts)), (NONE, [("gw-orders", 0), ("gw-orders", 1), ("gw-orders", 2)]),
         "OffsetFetch v7 with null topics: every committed offset")
    t.eq(parts[("gw-orders", 2)][1], 7, "leader epoch kept (v6+ commit)")
    out = fetch_groups(c, {"g-simple": {"gw-orders": [1]}, "g-empty": None})
    t.eq(out, {"g-simple": (NONE, {("gw-orders", 1): (20, -1, "", 0)}), "g-empty": (NONE, {})},
         "OffsetFetch v8: several groups in one request")
    err, res = offset_delete(c, "g-simple", {"gw-orders": [0], "gw-missing": [0]})
    t.eq((err, res), (NONE, {("gw-orders", 0): NONE, ("gw-missing", 0): UNKNOWN_TOPIC}),
         "OffsetDelete on an Empty group")
    err, res = offset_delete(c, "g-nobody", {"gw-orders": [0]})
    t.eq(err, GROUP_NOT_FOUND, "OffsetDelete of an unknown group: GROUP_ID_NOT_FOUND")

    # A live consumer group may not delete offsets of a topic it consumes.
    sub = subscription(["gw-orders"])
    r = join(c, 3, "g-live", protocols=[("range", sub)])
    m, gen = r["member"], r["generation"]
    sync(c, 3, "g-live", gen, m, assignments=[(m, b"x")])
    res = commit(c, 7, "g-live", {"gw-orders": {0: (5, "")}}, gen=gen, member=m)
    t.eq(res, {("gw-orders", 0): NONE}, "member commit")
    res = commit(c, 7, "g-live", {"gw-orders": {0: (6, "")}}, gen=gen + 5, member=m)
    t.eq(res, {("gw-orders", 0): ILLEGAL_GEN}, "member commit with a wrong generation")
    err, res = offset_delete(c, "g-live", {"gw-orders": [0]})
    t.eq(res, {("gw-orders", 0): SUBSCRIBED}, "OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC")
    return m, gen


def check_restart(t, b, member, gen):
    b.restart(kill=True)
    c = Conn(b.bootstrap)
    t.ok(True, "runneld killed with SIGKILL and restarted")
    wait_coordinators(t, c)
    err, parts = fetch(c, 5, "g-simple", {"gw-orders": [0, 1, 2]})
    t.eq(parts, {("gw-orders", 0): (-1, -1, "", 0), ("gw-orders", 1): (20, -1, "", 0),
                 ("gw-orders", 2): (30, 7, "m2", 0)},
         "committed offsets survived SIGKILL (the deleted one stays deleted)")
    err, parts = fetch(c, 5, "g-live", {"gw-orders": [0]})
    t.eq(parts[("gw-orders", 0)][0], 5, "member commit survived")
    d = describe(c, 3, ["g-live", "g-dance", "g-v0"])
    t.eq({x["group"]: (x["state"], len(x["members"])) for x in d},
         {"g-live": ("Stable", 1), "g-dance": ("Stable", 2), "g-v0": ("Dead", 0)},
         "group metadata survived: Stable groups with their members; the deleted one is gone")
    t.eq(heartbeat(c, 2, "g-live", gen, member), NONE,
         "a member heartbeats into the reloaded generation")
    s = sync(c, 2, "g-live", gen, member)
    t.eq(s["assignment"], b"x", "and gets its assignment back")


def check_nul_ids(t, c, bootstrap):
    """Kafka strings may hold any byte: "g\\0x" is a group of its own, not "g" (a broker that
    keeps ids as C strings folds the two), and a client id "c\\0d" gives member ids that start
    with all of it. Kafka 4.1 answers exactly this."""
    gx, g, topic = "g\0x", "g", "nul-ids"
    metadata_create(c, topic)
    for key in (gx, g):
        t.eq(find(c, 3, key)["error"], NONE, "FindCoordinator for %r" % key)
    t.eq(commit(c, 8, gx, {topic: {0: (5, "a\0b")}}), {(topic, 0): NONE}, "commit to g\\0x")
    t.eq(commit(c, 8, g, {topic: {0: (7, "")}}), {(topic, 0): NONE}, "commit to g")
    t.eq(fetch(c, 7, gx, {topic: [0]}), (NONE, {(topic, 0): (5, 7, "a\0b", NONE)}),
          "g\\0x keeps its own offset and metadata")
    t.eq(fetch(c, 7, g, {topic: [0]}), (NONE, {(topic, 0): (7, 7, "", NONE)}),
          "g keeps its own")
    err, groups = list_groups(c, 4)
    t.ok(gx in groups and g in groups, "ListGroups lists both (%r)" % sorted(groups))
    d = describe(c, 5, [gx, "g\0y"])
    t.eq([(x["group"], x["error"], x["state"]) for x in d],
          [(gx, NONE, "Empty"), ("g\0y", NONE, "Dead")], "DescribeGroups by every byte")
    odd = W.Conn(bootstrap.split(":")[0], int(bootstrap.split(":")[1]), timeout=15, client_id="c\0d")
    odd._connect()
    j = join(odd, 4, "j\0k", protocols=[("range", subscription([topic]))])
    t.eq(j["error"], MEMBER_ID_REQUIRED, "JoinGroup v4 asks for the member id")
    t.ok(j["member"].startswith("c\0d-") and len(j["member"]) == 4 + 36,
         "member id: the whole client id, '-', a UUID (%r)" % j["member"])
    j2 = join(odd, 4, "j\0k", member=j["member"][:1], protocols=[("range", b"m")])
    t.eq(j2["error"], UNKNOWN_MEMBER, "the id cut at its NUL is no member")
    odd.close()
    t.eq(delete_groups(c, 2, [g]), {g: NONE}, "DeleteGroups g")
    t.eq(fetch(c, 7, gx, {topic: [0]})[1][(topic, 0)][0], 5, "g\\0x untouched")
    t.eq(describe(c, 5, [g])[0]["state"], "Dead", "g gone")


def main():
    t = Tap("groups wire", timeout_s=120)
    b = Broker(["--group.initial.rebalance.delay.ms", "0"])
    t.cleanups.append(b.cleanup)
    c = Conn(b.bootstrap)
    t.step("api versions", check_versions, t, c)
    t.step("coordinators", wait_coordinators, t, c)
    t.step("find coordinator", check_find, t, b, c)
    t.step("join v0 and errors", check_join_v0_and_errors, t, c)
    t.step("v4 dance and rebalance", check_v4_dance_and_rebalance, t, b, c)
    t.step("static members", check_static, t, b, c)
    t.step("NUL in ids", check_nul_ids, t, c, b.bootstrap)
    res = t.step("offsets", check_offsets, t, b, c)
    if res:
        t.step("restart", check_restart, t, b, *res)
    b.finish(t)
    t.done()


if __name__ == "__main__":
    main()
