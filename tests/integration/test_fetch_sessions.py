"""Fetch sessions (KIP-227) on the wire against one runneld.

A full fetch (epoch 0) of 8 partitions opens a session; incremental fetches carry only changed
partitions and forgotten ones and are answered with the partitions that have records, a moved
high watermark or an error; a wrong epoch gets INVALID_FETCH_SESSION_EPOCH (and leaves the
session usable), an unknown id FETCH_SESSION_ID_NOT_FOUND, epoch -1 closes the session; an
incremental long poll parks and answers with what changed; v13 sessions name topics by id
(unknown ids answered UNKNOWN_TOPIC_ID every time; a v12 request on a v13 session gets
FETCH_SESSION_TOPIC_ID_ERROR); max.incremental.fetch.session.cache.slots bounds the cache; the
metrics count sessions and incremental fetches.
"""

import threading
import time
import urllib.request

from datapath_common import (Broker, Conn, Tap, free_port, metadata_create, parse_batches,
                             produce, record_batch)

TOPIC = "sess"
NPART = 8
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71
UNKNOWN_TOPIC_ID = 100
FETCH_SESSION_TOPIC_ID_ERROR = 106


def fetch_raw(conn, parts, session, epoch, version=12, forgotten=(), max_wait=0, min_bytes=1,
              topic_id=None, topic=TOPIC):
    """Fetch {partition: offset} of one topic in session (id, epoch); forgotten partitions.
    Returns (error, session id, {partition: (error, hw, log start, number of batches)})."""
    name = {"TopicId": topic_id} if version >= 13 else {"Topic": topic}
    topics = []
    if parts:
        topics.append(dict(name, Partitions=[
            {"Partition": p, "FetchOffset": o, "PartitionMaxBytes": 1 << 20}
            for p, o in parts.items()]))
    forget = [dict(name, Partitions=list(forgotten))] if forgotten else []
    r = conn.call("Fetch", version, {
        "ReplicaId": -1, "MaxWaitMs": max_wait, "MinBytes": min_bytes, "MaxBytes": 1 << 24,
        "IsolationLevel": 0, "SessionId": session, "SessionEpoch": epoch, "Topics": topics,
        "ForgottenTopicsData": forget})
    out = {}
    for t in r["Responses"]:
        for p in t["Partitions"]:
            key = p["PartitionIndex"] if version < 13 or t["TopicId"] == topic_id.hex() \
                else ("other", p["PartitionIndex"])
            out[key] = (p["ErrorCode"], p["HighWatermark"], p["LogStartOffset"],
                        len(parse_batches(p["Records"] or b"")))
    return r["ErrorCode"], r["SessionId"], out


def produce_to(conn, partition, n=1):
    for _ in range(n):
        produce(conn, TOPIC, record_batch([b"x" * 50]), partition=partition)


def topic_id_of(conn, topic):
    r = conn.call("Metadata", 12, {"Topics": [{"Name": topic, "TopicId": b"\0" * 16}],
                                   "AllowAutoTopicCreation": False,
                                   "IncludeTopicAuthorizedOperations": False})
    return bytes.fromhex(r["Topics"][0]["TopicId"])


def test_session(t, conn):
    for p in range(4):
        produce_to(conn, p)
    err, sid, parts = fetch_raw(conn, {p: 0 for p in range(NPART)}, 0, 0)
    t.ok(err == 0 and sid != 0, "full fetch with epoch 0 opens a session", (err, sid))
    t.eq(sorted(parts), list(range(NPART)), "the full fetch answers every partition")
    t.eq([parts[p][3] for p in range(NPART)], [1, 1, 1, 1, 0, 0, 0, 0],
         "records from the 4 partitions with data")
    err, sid1, parts = fetch_raw(conn, {p: 1 for p in range(4)}, sid, 1)
    t.eq((err, sid1, parts), (0, sid, {}),
         "incremental fetch with new offsets and nothing new: no partitions")
    produce_to(conn, 5, 2)
    err, _, parts = fetch_raw(conn, {}, sid, 2)
    t.eq(parts, {5: (0, 2, 0, 2)}, "only the partition with new data, from its cached offset")
    err, sid2, parts = fetch_raw(conn, {}, sid, 2)
    t.eq((err, sid2, parts), (INVALID_FETCH_SESSION_EPOCH, 0, {}),
         "a repeated epoch: INVALID_FETCH_SESSION_EPOCH")
    err, _, parts = fetch_raw(conn, {5: 2}, sid, 3, forgotten=[7])
    t.eq((err, parts), (0, {}), "the session still serves epoch 3; partition 7 forgotten")
    produce_to(conn, 7)
    t0 = time.monotonic()
    err, _, parts = fetch_raw(conn, {}, sid, 4, max_wait=400)
    dt = time.monotonic() - t0
    t.ok(err == 0 and parts == {} and dt > 0.3,
         "data on a forgotten partition neither wakes nor shows (%.2f s)" % dt, parts)

    def later():
        time.sleep(0.3)
        c2 = Conn(conn_bootstrap)
        produce(c2, TOPIC, record_batch([b"y" * 50]), partition=6)
        c2.close()
    th = threading.Thread(target=later)
    th.start()
    t0 = time.monotonic()
    err, _, parts = fetch_raw(conn, {}, sid, 5, max_wait=5000)
    dt = time.monotonic() - t0
    th.join()
    t.ok(err == 0 and parts == {6: (0, 1, 0, 1)} and 0.2 < dt < 3,
         "an incremental long poll parks and answers with the partition that changed "
         "(%.2f s)" % dt, parts)
    err, _, parts = fetch_raw(conn, {7: 0, 6: 1}, sid, 6)
    t.eq(parts, {7: (0, 1, 0, 1)}, "a partition added again is answered in full")
    err, sid3, parts = fetch_raw(conn, {0: 0}, sid, -1)
    t.ok(err == 0 and sid3 == 0 and parts.get(0, (None,))[0] == 0,
         "epoch -1 closes the session and is answered sessionless")
    err, sid4, _ = fetch_raw(conn, {}, sid, 7)
    t.eq((err, sid4), (FETCH_SESSION_ID_NOT_FOUND, 0), "the closed session: not found")
    err, sid5, _ = fetch_raw(conn, {0: 0}, 0, 0)
    err, sid6, _ = fetch_raw(conn, {0: 0}, sid5, 0)
    t.ok(sid5 != 0 and sid6 not in (0, sid5) and
         fetch_raw(conn, {}, sid5, 1)[0] == FETCH_SESSION_ID_NOT_FOUND,
         "a full fetch naming a session closes it and opens another")
    err, _, parts = fetch_raw(conn, {}, sid6, 1, forgotten=[0])
    t.ok(err == 0 and fetch_raw(conn, {}, sid6, 2)[0] == FETCH_SESSION_ID_NOT_FOUND,
         "a session left empty is closed")


def test_topic_ids(t, conn):
    tid = topic_id_of(conn, TOPIC)
    bogus = b"\x42" * 16
    r = conn.call("Fetch", 13, {
        "ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 1, "MaxBytes": 1 << 20, "IsolationLevel": 0,
        "SessionId": 0, "SessionEpoch": 0, "ForgottenTopicsData": [],
        "Topics": [{"TopicId": tid, "Partitions": [{"Partition": 0, "FetchOffset": 0,
                                                    "PartitionMaxBytes": 1 << 20}]},
                   {"TopicId": bogus, "Partitions": [{"Partition": 0, "FetchOffset": 0,
                                                      "PartitionMaxBytes": 1 << 20}]}]})
    sid = r["SessionId"]
    errs = [(t_["TopicId"], p["ErrorCode"]) for t_ in r["Responses"] for p in t_["Partitions"]]
    t.ok(sid != 0 and errs == [(tid.hex(), 0), (bogus.hex(), UNKNOWN_TOPIC_ID)],
         "v13 full fetch by topic id opens a session; an unknown id is UNKNOWN_TOPIC_ID", errs)
    err, _, parts = fetch_raw(conn, {0: 1}, sid, 1, version=13, topic_id=tid)
    t.eq((err, parts), (0, {("other", 0): (UNKNOWN_TOPIC_ID, -1, -1, 0)}),
         "incremental v13: the unknown id's error is sent every time, the quiet partition not")
    err, sid2, _ = fetch_raw(conn, {}, sid, 2, version=12)
    t.eq((err, sid2), (FETCH_SESSION_TOPIC_ID_ERROR, 0),
         "a v12 fetch on a v13 session: FETCH_SESSION_TOPIC_ID_ERROR")
    produce_to(conn, 0)
    err, _, parts = fetch_raw(conn, {}, sid, 2, version=13, topic_id=tid)
    t.eq(parts.get(0), (0, 2, 0, 1), "v13 incremental: partition 0's new data, by id")


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("runnel_fetch_"):
            name, value = line.split()
            out[name] = float(value)
    return out


def test_slots(t, mport):
    b = Broker(["--max.incremental.fetch.session.cache.slots", "2", "--metrics.listen",
                "127.0.0.1:%d" % mport, "--num.partitions", str(NPART)])
    try:
        c = Conn(b.bootstrap)
        metadata_create(c, TOPIC)
        sids = [fetch_raw(c, {p: 0}, 0, 0)[1] for p in range(3)]
        t.ok(sids[0] != 0 and sids[1] != 0 and sids[2] == 0,
             "slots 2: the third full fetch gets no session (nothing evictable)", sids)
        fetch_raw(c, {}, sids[0], 1)
        m = scrape(mport)
        t.eq((m.get("runnel_fetch_sessions"), m.get("runnel_fetch_session_partitions"),
              m.get("runnel_fetch_sessions_created_total"),
              m.get("runnel_fetch_incremental_total")), (2.0, 2.0, 2.0, 1.0),
             "metrics: 2 sessions of 1 partition, 2 created, 1 incremental fetch")
        c.close()
    finally:
        b.finish(t)
        b.cleanup()


def main():
    global conn_bootstrap
    t = Tap("fetch-sessions")
    broker = Broker(["--num.partitions", str(NPART)])
    t.cleanups.append(broker.cleanup)
    conn_bootstrap = broker.bootstrap
    conn = Conn(broker.bootstrap)
    metadata_create(conn, TOPIC)
    t.step("sessions", test_session, t, conn)
    t.step("topic ids", test_topic_ids, t, conn)
    conn.close()
    broker.finish(t)
    t.step("cache slots and metrics", test_slots, t, free_port())
    t.done()


if __name__ == "__main__":
    main()
