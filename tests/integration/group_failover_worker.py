"""One consumer-group member for test_group_failover.py, driven by a real Python client:

    python group_failover_worker.py confluent|kafka-python BOOTSTRAP TOPIC GROUP STOPFILE

It subscribes to TOPIC in GROUP (from the beginning), commits synchronously after every
message it processes (a failed commit is retried until it succeeds or the partition is
revoked), and writes one JSON line per event to stdout, each with its wall-clock time "t":
  {"ev": "msg", "p": partition, "o": offset, "v": value}
  {"ev": "commit", "p": partition, "o": next offset}          (acknowledged by the broker)
  {"ev": "commit_fail", "p": partition, "o": next offset, "err": text}
  {"ev": "assigned" | "revoked", "parts": [partitions]}
  {"ev": "closed"}                                             (after STOPFILE appeared)
Run by whichever interpreter has the client: /usr/bin/python3 (Debian: confluent-kafka 1.7,
kafka-python 2.0.2) or the venv (confluent-kafka 2.x, kafka-python from PyPI). Not a test
itself (no test_ prefix)."""

import json
import os
import sys
import time


def emit(**ev):
    ev["t"] = time.time()
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


class Committer:
    """The next offset to commit per owned partition, and what the broker acknowledged."""

    def __init__(self, commit_fn):
        self.commit_fn = commit_fn
        self.want = {}
        self.acked = {}

    def processed(self, p, o):
        self.want[p] = o + 1

    def revoked(self, parts):
        for p in parts:
            self.want.pop(p, None)

    def flush(self):
        for p, o in sorted(self.want.items()):
            if self.acked.get(p) == o:
                continue
            try:
                self.commit_fn(p, o)
                self.acked[p] = o
                emit(ev="commit", p=p, o=o)
            except Exception as e:  # noqa: BLE001 - any failure is logged and retried
                emit(ev="commit_fail", p=p, o=o, err=str(e)[:300])
                time.sleep(0.1)


def run_confluent(bootstrap, topic, group, stopfile):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
                  "topic.metadata.refresh.interval.ms": 2000})
    committer = Committer(lambda p, o: c.commit(offsets=[TopicPartition(topic, p, o)],
                                                asynchronous=False))

    def on_assign(consumer, parts):
        emit(ev="assigned", parts=sorted(tp.partition for tp in parts))

    def on_revoke(consumer, parts):
        committer.revoked(tp.partition for tp in parts)
        emit(ev="revoked", parts=sorted(tp.partition for tp in parts))

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not os.path.exists(stopfile):
        m = c.poll(0.2)
        if m is not None and not m.error():
            emit(ev="msg", p=m.partition(), o=m.offset(), v=m.value().decode())
            committer.processed(m.partition(), m.offset())
        committer.flush()
    c.close()


def run_kafka_python(bootstrap, topic, group, stopfile):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    c = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=group,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=10000, heartbeat_interval_ms=1000,
                      metadata_max_age_ms=2000, request_timeout_ms=15000)

    def offset_meta(o):
        try:
            return OffsetAndMetadata(o, "", -1)  # kafka-python >= 2.1 adds the leader epoch
        except TypeError:
            return OffsetAndMetadata(o, "")

    committer = Committer(lambda p, o: c.commit({TopicPartition(topic, p): offset_meta(o)}))

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            committer.revoked(tp.partition for tp in revoked)
            emit(ev="revoked", parts=sorted(tp.partition for tp in revoked))

        def on_partitions_assigned(self, assigned):
            emit(ev="assigned", parts=sorted(tp.partition for tp in assigned))

    c.subscribe([topic], listener=Listener())
    while not os.path.exists(stopfile):
        batches = c.poll(timeout_ms=200)
        for tp, records in batches.items():
            for r in records:
                emit(ev="msg", p=tp.partition, o=r.offset, v=r.value.decode())
                committer.processed(tp.partition, r.offset)
        committer.flush()
    c.close(autocommit=False)


def main():
    client, bootstrap, topic, group, stopfile = sys.argv[1:6]
    {"confluent": run_confluent, "kafka-python": run_kafka_python}[client](
        bootstrap, topic, group, stopfile)
    emit(ev="closed")


if __name__ == "__main__":
    main()
