"""Three runneld nodes whose one listener (the inter-broker one too) is SASL_PLAINTEXT with
SCRAM-SHA-512 (issue 15, item 2, inter-node):

  - every node logs in to the others as the inter-broker user of its sasl.jaas.config
    (Kafka's form), which each node accepts from its own configuration, so the quorum forms
    and the controller is elected with no credential in the metadata yet;
  - a SCRAM user created through a follower (AlterUserScramCredentials, forwarded to the
    controller) can log in on every node once the metadata reaches it;
  - a topic with replication factor 3 gets its followers in the ISR (replica fetchers log in
    too) and a client logged in as that user produces with acks=all and reads back;
  - a wrong inter-broker password keeps a fourth configuration from joining: its login is
    refused (logged by the others, without the password).
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_common as C  # noqa: E402
import datapath_common as D  # noqa: E402
from sasl_common import scram_login, upsertion  # noqa: E402

T = D.Tap("test_sasl_cluster", timeout_s=300)
BROKER_PW = "broker-Secret-9"
JAAS = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
        'username="broker" password="%s";')


def sasl_args(password):
    return ["--listener.security.protocol.map", "PLAINTEXT:SASL_PLAINTEXT",
            "--sasl.enabled.mechanisms", "SCRAM-SHA-512",
            "--sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512",
            "--sasl.jaas.config", JAAS % password]


def login(node, user, password):
    c = D.Conn(node.bootstrap, timeout=10)
    r = scram_login(c, user, password)
    return c, r


def wait_for(pred, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception:  # noqa: BLE001 - not there yet
            pass
        time.sleep(0.2)
    return None


def main():
    ports = C.free_ports(3, stride=2)
    cluster = ",".join("%d@127.0.0.1:%d" % (i + 1, p) for i, p in enumerate(ports))
    nodes = [C.Node(i + 1, p, cluster, extra=sasl_args(BROKER_PW), wait=False)
             for i, p in enumerate(ports)]
    for n in nodes:
        T.cleanups.append(n.cleanup)
    for n in nodes:
        n.listening()

    def controller():
        c, r = login(nodes[0], "broker", BROKER_PW)
        if r["ErrorCode"] != 0:
            return None
        md = c.call("Metadata", 1, {"Topics": None})
        return md["ControllerId"] if md["ControllerId"] >= 0 and len(md["Brokers"]) == 3 else None

    ctl = wait_for(controller, 60)
    T.ok(ctl is not None, "a quorum forms and three brokers register over SASL_PLAINTEXT "
                          "(controller %s)" % ctl,
         "\n".join(n.log_text()[-1500:] for n in nodes))
    if ctl is None:
        T.done()
    follower = next(n for n in nodes if n.node_id != ctl)
    c, r = login(follower, "broker", BROKER_PW)
    res = c.call("AlterUserScramCredentials", 0,
                 {"Deletions": [], "Upsertions": [upsertion("alice", "alice-pw")]})
    T.eq([(x["User"], x["ErrorCode"]) for x in res["Results"]], [("alice", 0)],
         "AlterUserScramCredentials through follower %d (forwarded to the controller)"
         % follower.node_id)
    for n in nodes:
        ok = wait_for(lambda: login(n, "alice", "alice-pw")[1]["ErrorCode"] == 0, 15)
        T.ok(ok, "alice logs in on node %d" % n.node_id)
    T.eq(login(nodes[1], "alice", "wrong")[1]["ErrorCode"], 58, "a wrong password is refused")

    c, r = login(nodes[0], "broker", BROKER_PW)
    dc = c.call("DescribeConfigs", 3, {
        "Resources": [{"ResourceType": 4, "ResourceName": "1",
                       "ConfigurationKeys": ["sasl.jaas.config"]}],
        "IncludeSynonyms": True, "IncludeDocumentation": False})
    cfgs = dc["Results"][0]["Configs"]
    T.ok(len(cfgs) == 1 and cfgs[0]["Value"] is None and cfgs[0]["IsSensitive"] and
         not cfgs[0]["Synonyms"], "DescribeConfigs shows sasl.jaas.config as sensitive, no "
                                  "value", cfgs)
    def create():
        c2, _ = login(nodes[0], "alice", "alice-pw")
        res = c2.call("CreateTopics", 4, {
            "Topics": [{"Name": "replicated", "NumPartitions": 1, "ReplicationFactor": 3,
                        "Assignments": [], "Configs": []}],
            "timeoutMs": 15000, "validateOnly": False})
        code = res["Topics"][0]["ErrorCode"]
        return res if code in (0, 36) else None  # 38 while a broker is still fenced

    created = wait_for(create, 30) or {"Topics": [{"ErrorCode": -1}]}
    T.ok(created["Topics"][0]["ErrorCode"] in (0, 36), "CreateTopics replicated (RF 3) as alice "
         "once the three brokers are unfenced", created)

    def isr3():
        _, r2 = login(nodes[0], "alice", "alice-pw")
        c2, _ = login(nodes[0], "alice", "alice-pw")
        md = c2.call("Metadata", 1, {"Topics": [{"Name": "replicated"}]})
        p = md["Topics"][0]["Partitions"][0]
        return p if len(p["IsrNodes"]) == 3 else None

    part = wait_for(isr3, 30)
    T.ok(part is not None, "all three replicas in the ISR: the followers' fetchers log in")
    if part is not None:
        leader = next(n for n in nodes if n.node_id == part["LeaderId"])
        c, r = login(leader, "alice", "alice-pw")
        err, base = D.produce(c, "replicated", D.record_batch([b"a", b"b", b"c"]), acks=-1)[:2]
        T.eq((err, base), (0, 0), "acks=all produce as alice on the leader (node %d)"
             % leader.node_id)
        f = D.fetch(c, "replicated", 0)
        T.ok(f is not None and f.get("hw") == 3,
             "the high watermark reaches 3: every replica has the records", f)

    # Node 3 restarted with another inter-broker password: the others refuse its login.
    n3 = nodes[2]
    n3.stop()
    n3.node_extra = sasl_args("not-" + BROKER_PW)
    n3.wait_on_start = False
    n3.start()
    time.sleep(5)
    refused = "login as broker refused" in n3.log_text()
    others = any("failed SCRAM-SHA-512 login" in n.log_text() for n in nodes[:2])
    T.ok(refused and others, "a node with a wrong inter-broker password is refused (it logs "
                             "the refusal, the others the failed login)", n3.log_text()[-1500:])
    logs = "".join(n.log_text() for n in nodes)
    T.ok(BROKER_PW not in logs and "alice-pw" not in logs, "no password in the nodes' logs")
    T.done()


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        import traceback
        T.ok(False, "test_sasl_cluster raised", traceback.format_exc())
        T.done()
