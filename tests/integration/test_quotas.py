#!/usr/bin/env python3
"""Client quotas (README "Exposing runnel to a network"): a producer_byte_rate and a
consumer_byte_rate set for client ids with AlterClientQuotas hold real librdkafka clients
near their quota, the clients see throttle_time_ms (throttle_cb), other client ids are not
throttled, DescribeClientQuotas returns what was set, Kafka's validation errors, and the
quotas survive a restart. Short quota windows (3 x 1 s) keep the start-up burst Kafka's
rate allows (windows - 1 of them) small. Figures are printed as TAP diagnostics."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402

QUOTA = 256 * 1024  # bytes per second
MEASURE_S = 6.0
WARMUP_S = 3.0

t = D.Tap("quotas", timeout_s=120)


def alter(conn, entity, ops, validate_only=False):
    req = {"Entries": [{"Entity": [{"EntityType": k, "EntityName": v} for k, v in entity],
                        "Ops": [{"Key": k, "Value": float(v or 0), "Remove": v is None}
                                for k, v in ops]}],
           "ValidateOnly": validate_only}
    resp = conn.call("AlterClientQuotas", 1, req)
    e = resp["Entries"][0]
    return e["ErrorCode"], e["ErrorMessage"]


def describe(conn, components, strict=False):
    req = {"Components": [{"EntityType": k, "MatchType": m, "Match": v}
                          for k, m, v in components], "Strict": strict}
    resp = conn.call("DescribeClientQuotas", 1, req)
    if resp["ErrorCode"]:
        return resp["ErrorCode"], resp["ErrorMessage"]
    out = {}
    for e in resp["Entries"] or []:
        key = tuple((x["EntityType"], x["EntityName"]) for x in e["Entity"])
        out[key] = {v["Key"]: v["Value"] for v in e["Values"]}
    return out


def produce_for(bootstrap, client_id, topic, seconds):
    """Produce 1 KiB records as fast as the client goes; (bytes/s after warm-up, throttle
    events)."""
    throttles = []
    p = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 5,
                  "batch.size": 64 * 1024, "throttle_cb": lambda ev: throttles.append(
                      ev.throttle_time), "queue.buffering.max.kbytes": 512})
    acked = []
    payload = b"x" * 1024
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            p.produce(topic, payload, on_delivery=lambda err, msg: acked.append(
                (time.monotonic(), len(msg.value()))) if err is None else None)
        except BufferError:
            p.poll(0.01)
            continue
        p.poll(0)
    p.flush(30)
    lo = start + WARMUP_S
    hi = start + seconds
    n = sum(size for ts, size in acked if lo <= ts < hi)
    return n / (hi - lo), throttles, sum(size for _, size in acked)


def consume_for(bootstrap, client_id, topic, seconds):
    throttles = []
    c = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id,
                  "group.id": "g-" + client_id, "auto.offset.reset": "earliest",
                  "throttle_cb": lambda ev: throttles.append(ev.throttle_time),
                  # A throttled Fetch is answered empty (as Kafka's); librdkafka then waits
                  # its error back-off (500 ms) before fetching again.
                  "fetch.error.backoff.ms": 20})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for m in c.consume(100, 0.2):
            if not m.error():
                got.append((time.monotonic(), len(m.value())))
    c.close()
    first = got[0][0] if got else start
    lo, hi = first + WARMUP_S, start + seconds
    n = sum(size for ts, size in got if lo <= ts < hi)
    return n / max(hi - lo, 0.1), throttles


b = D.Broker(["--quota.window.num", "3", "--quota.window.size.seconds", "1"])
try:
    conn = D.Conn(b.bootstrap)
    topic = "quota-t"
    D.metadata_create(conn, topic)

    # Validation, as Kafka answers it.
    code, msg = alter(conn, [("client-id", "x")], [("producer_byte_rate", 1.5)])
    t.eq(code, 42, "a fractional byte rate is INVALID_REQUEST (%s)" % msg)
    code, msg = alter(conn, [("client-id", "x")], [("bogus", 1)])
    t.eq(code, 42, "an unknown key is INVALID_REQUEST (%s)" % msg)
    code, msg = alter(conn, [], [("producer_byte_rate", 1)])
    t.eq(code, 42, "an empty entity is INVALID_REQUEST (%s)" % msg)
    code, msg = alter(conn, [("client-id", "x")], [("request_percentage", -1)])
    t.eq(code, 42, "a quota <= 0 is INVALID_REQUEST (%s)" % msg)
    code, _ = alter(conn, [("client-id", "x")], [("producer_byte_rate", 5)], validate_only=True)
    t.eq((code, describe(conn, [])), (0, {}), "validate_only changes nothing")

    t.eq(alter(conn, [("client-id", "slow-p")], [("producer_byte_rate", QUOTA)])[0], 0,
          "producer_byte_rate set for client-id slow-p")
    t.eq(alter(conn, [("client-id", "slow-c")], [("consumer_byte_rate", QUOTA)])[0], 0,
          "consumer_byte_rate set for client-id slow-c")
    t.eq(alter(conn, [("user", None)], [("request_percentage", 200)])[0], 0,
          "request_percentage set for the default user")
    want = {(("client-id", "slow-p"),): {"producer_byte_rate": QUOTA},
            (("client-id", "slow-c"),): {"consumer_byte_rate": QUOTA},
            (("user", None),): {"request_percentage": 200.0}}
    t.eq(describe(conn, []), want, "DescribeClientQuotas returns what was set")
    t.eq(describe(conn, [("client-id", 2, None)], strict=True),
          {k: v for k, v in want.items() if k[0][0] == "client-id"},
          "strict filter on any client-id")
    t.eq(describe(conn, [("client-id", 0, "slow-p")]),
          {(("client-id", "slow-p"),): {"producer_byte_rate": QUOTA}}, "exact match")
    t.eq(describe(conn, [("client-id", 0, "a"), ("client-id", 1, None)])[0], 42,
          "an entity type twice in the filter is INVALID_REQUEST")

    rate, thr, _ = produce_for(b.bootstrap, "slow-p", topic, WARMUP_S + MEASURE_S)
    t.diag("slow-p: %.0f B/s against a quota of %d B/s; %d throttle events, max %d ms"
           % (rate, QUOTA, len(thr), max(thr or [0])))
    t.ok(0.7 * QUOTA <= rate <= 1.3 * QUOTA, "a throttled producer stays within 30%% of its "
         "quota (%.0f B/s)" % rate)
    t.ok(len(thr) > 0 and max(thr) > 0, "the producer saw throttle_time_ms")
    _, thr_f, total_f = produce_for(b.bootstrap, "fast-p", topic, 2.5)
    rate_f = total_f / 2.5
    t.diag("fast-p: %.0f B/s, %d throttle events" % (rate_f, len(thr_f)))
    t.ok(not thr_f and rate_f > 3 * QUOTA, "another client id is not throttled")

    # Client ids are Kafka strings: "n\0x" is not "n" (Kafka 4.1.1 keeps them apart too).
    t.eq(alter(conn, [("client-id", "n")], [("producer_byte_rate", 500)])[0], 0,
         "producer_byte_rate 500 set for client-id n")
    t.eq(alter(conn, [("client-id", "n\x00x")], [("consumer_byte_rate", 12345)])[0], 0,
         "a quota set for client-id n\\0x")
    t.eq(describe(conn, [("client-id", 0, "n\x00x")]),
         {(("client-id", "n\x00x"),): {"consumer_byte_rate": 12345.0}},
         "an exact match on n\\0x finds it whole")
    t.eq(describe(conn, [("client-id", 0, "n")]),
         {(("client-id", "n"),): {"producer_byte_rate": 500.0}}, "and n finds only n's")
    want[(("client-id", "n"),)] = {"producer_byte_rate": 500.0}
    want[(("client-id", "n\x00x"),)] = {"consumer_byte_rate": 12345.0}

    def throttles(client_id):
        host, port = b.bootstrap.split(":")
        c = D.W.Conn(host, int(port), timeout=15, client_id=client_id)
        out = []
        for _ in range(1):  # 2 KB over a young rate's 2 s: twice n's quota
            r = c.call("Produce", 8, {"Acks": 1, "TimeoutMs": 5000, "TransactionalId": None,
                                      "TopicData": [{"Name": topic, "PartitionData": [
                                          {"Index": 0, "Records": D.record_batch([b"y" * 2000])}]}]})
            out.append(r["ThrottleTimeMs"])
        c.close()
        return out

    thr_nul, thr_n = throttles("n\x00x"), throttles("n")
    t.ok(not any(thr_nul), "client id n\\0x is not throttled by n's quota", repr(thr_nul))
    t.ok(thr_n[0] > 0, "client id n is", repr(thr_n))

    crate, cthr = consume_for(b.bootstrap, "slow-c", topic, WARMUP_S + MEASURE_S)
    t.diag("slow-c: %.0f B/s against a quota of %d B/s; %d throttle events, max %d ms"
           % (crate, QUOTA, len(cthr), max(cthr or [0])))
    t.ok(0.5 * QUOTA <= crate <= 1.3 * QUOTA, "a throttled consumer stays under its quota, above half "
         "of it (%.0f B/s)" % crate)
    t.ok(len(cthr) > 0, "the consumer saw throttle_time_ms")
    _, fthr = consume_for(b.bootstrap, "fast-c", topic, 3.0)
    t.diag("fast-c: %d throttle events" % len(fthr))
    t.ok(not fthr, "another consumer is not throttled")

    t.eq(alter(conn, [("user", None)], [("request_percentage", None)])[0], 0,
          "a quota is removed")
    del want[(("user", None),)]
    conn.close()
    b.restart()
    conn = D.Conn(b.bootstrap)
    t.eq(describe(conn, []), want, "quotas survive a restart")
    conn.close()
    b.finish(t)
finally:
    b.cleanup()
t.done()
