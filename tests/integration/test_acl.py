"""ACL authorization through real clients: one runneld with the StandardAuthorizer on,
super.users empty and allow.everyone.if.no.acl.found=false. Clients connect on the PLAINTEXT
listener as User:ANONYMOUS (no TLS or SASL here); the ACLs are managed on a dedicated
controller listener, which runneld treats as the nodes' own traffic, with confluent-kafka's
AdminClient, `runnel acl` and Kafka's kafka-acls.sh (AclCommand, when java and the jars of
scripts/deps.sh are there).

The matrix, each allowed and denied as the client reports it: produce, consume in a group
(group join and offset commit), topic create, delete and describe (topics not describable
are invisible in Metadata), cluster describe; prefixed patterns; deny beats allow; the ACLs
outlive a restart (they are metadata records). Prints TAP."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import BUILD, Broker, Tap, free_port  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,  # noqa: E402
                                   AclPermissionType, AdminClient, NewTopic, ResourcePatternType,
                                   ResourceType)

RUNNEL = os.path.join(BUILD, "tools", "runnel")
STD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ANON = "User:ANONYMOUS"
TOOLS_CACHE = os.environ.get("KAFKA_TOOLS_CACHE") or os.path.expanduser("~/.cache/runnel/kafka-tools")

t = Tap("test_acl", timeout_s=300)


class AclBroker(Broker):
    """runneld with a client listener (PLAINTEXT) and a controller listener (CONTROLLER)."""

    def __init__(self):
        self.ctl_port = free_port()
        super().__init__()

    def start(self):
        self.extra = ["--listeners", "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d"
                      % (self.port, self.ctl_port), "--controller.listener.names", "CONTROLLER",
                      "--authorizer.class.name", STD, "--allow.everyone.if.no.acl.found", "false"]
        super().start()

    @property
    def admin_bootstrap(self):
        return "127.0.0.1:%d" % self.ctl_port


broker = AclBroker()
t.cleanups.append(broker.cleanup)
CLIENT = {"bootstrap.servers": broker.bootstrap}
admin = AdminClient({"bootstrap.servers": broker.admin_bootstrap})
client = AdminClient(CLIENT)


def binding(rtype, name, op, perm=AclPermissionType.ALLOW, pattern=ResourcePatternType.LITERAL,
            principal=ANON):
    return AclBinding(rtype, name, pattern, principal, "*", op, perm)


def grant(*bindings):
    for f in admin.create_acls(list(bindings), request_timeout=15).values():
        f.result()


def revoke(*bindings):
    filters = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host,
                                b.operation, b.permission_type) for b in bindings]
    for f in admin.delete_acls(filters, request_timeout=15).values():
        f.result()


def error_code(exc):
    """The Kafka error code a client call failed with."""
    if isinstance(exc, KafkaException):
        return exc.args[0].code()
    return None


def produce(topic, n=3):
    """Deliver n records; the list of delivery errors (codes), [] when all went."""
    errors = []
    p = Producer(dict(CLIENT, **{"message.timeout.ms": 8000, "enable.idempotence": False}))
    for i in range(n):
        p.produce(topic, b"v%d" % i,
                  on_delivery=lambda err, msg: errors.append(err.code()) if err else None)
    p.flush(15)
    return errors


def consume(topic, group, want=1, seconds=15):
    """Subscribe in group and read until want records or an error: (values, error code,
    commit error code)."""
    c = Consumer(dict(CLIENT, **{"group.id": group, "auto.offset.reset": "earliest",
                                 "enable.auto.commit": False, "session.timeout.ms": 6000}))
    c.subscribe([topic])
    values, err, commit_err = [], None, None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(values) < want and err is None:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                err = m.error().code()
            continue
        values.append(m.value())
    if values:
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            commit_err = error_code(e)
    c.close()
    return values, err, commit_err


def topics_seen(a):
    return sorted(n for n in a.list_topics(timeout=10).topics if not n.startswith("__"))


def test_setup():
    fs = admin.create_topics([NewTopic(n, 1, 1) for n in ("orders", "secret", "pre-a")],
                             request_timeout=15)
    for f in fs.values():
        f.result()
    t.eq(topics_seen(admin), ["orders", "pre-a", "secret"], "the admin listener sees every topic")
    t.eq(topics_seen(client), [], "without ACLs a client sees no topic (DESCRIBE needed)")
    # librdkafka (2.x) reports DescribeAcls' top-level error as an empty result; the wire
    # answer (CLUSTER_AUTHORIZATION_FAILED) is checked through `runnel acl list` below.
    fs = client.describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                               None, None, AclOperation.ANY,
                                               AclPermissionType.ANY), request_timeout=10)
    try:
        got = fs.result()
    except KafkaException as e:
        got = error_code(e)
    t.ok(got in ([], KafkaError.CLUSTER_AUTHORIZATION_FAILED),
         "a client without DESCRIBE on the cluster sees no ACL", got)
    p = subprocess.run([RUNNEL, "-b", broker.bootstrap, "acl", "list"], capture_output=True,
                       text=True, timeout=60)
    t.ok(p.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in p.stderr,
         "runnel acl list without DESCRIBE on the cluster: CLUSTER_AUTHORIZATION_FAILED, exit 1", p.stdout + p.stderr)


def test_produce():
    t.eq(produce("orders"), [KafkaError.TOPIC_AUTHORIZATION_FAILED] * 3,
         "produce without WRITE: TOPIC_AUTHORIZATION_FAILED")
    grant(binding(ResourceType.TOPIC, "orders", AclOperation.WRITE))
    t.eq(produce("orders"), [], "produce with WRITE on the topic")
    t.eq(topics_seen(client), ["orders"], "WRITE implies DESCRIBE: the topic is visible")
    t.eq(produce("secret"), [KafkaError.TOPIC_AUTHORIZATION_FAILED] * 3,
         "another topic is still refused")


def test_consume():
    grant(binding(ResourceType.TOPIC, "orders", AclOperation.READ))
    values, err, _ = consume("orders", "g1")
    t.eq((values, err), ([], KafkaError.GROUP_AUTHORIZATION_FAILED),
         "group join without READ on the group: GROUP_AUTHORIZATION_FAILED")
    grant(binding(ResourceType.GROUP, "g1", AclOperation.READ))
    values, err, commit_err = consume("orders", "g1", want=3)
    t.eq((len(values), err, commit_err), (3, None, None),
         "join, consume and commit with READ on topic and group")
    grant(binding(ResourceType.GROUP, "g-", AclOperation.READ, pattern=ResourcePatternType.PREFIXED))
    values, err, _ = consume("secret", "g-2")
    t.ok(err == KafkaError.TOPIC_AUTHORIZATION_FAILED and values == [],
         "consume a topic without READ: TOPIC_AUTHORIZATION_FAILED", err)
    c = Consumer(dict(CLIENT, **{"group.id": "g1", "enable.auto.commit": False}))
    from confluent_kafka import TopicPartition
    try:
        res = c.commit(offsets=[TopicPartition("secret", 0, 1)], asynchronous=False)
        got = res[0].error.code() if res and res[0].error else None
    except KafkaException as e:
        got = error_code(e)
    c.close()
    t.eq(got, KafkaError.TOPIC_AUTHORIZATION_FAILED,
         "offset commit for a topic without READ: TOPIC_AUTHORIZATION_FAILED")


def test_topics_admin():
    fs = client.create_topics([NewTopic("made-by-client", 1, 1)], request_timeout=15)
    try:
        fs["made-by-client"].result()
        t.ok(False, "create without CREATE must fail")
    except KafkaException as e:
        t.eq(error_code(e), KafkaError.TOPIC_AUTHORIZATION_FAILED,
             "create a topic without CREATE: TOPIC_AUTHORIZATION_FAILED")
    fs = client.delete_topics(["orders"], request_timeout=15)
    try:
        fs["orders"].result()
        t.ok(False, "delete without DELETE must fail")
    except KafkaException as e:
        t.eq(error_code(e), KafkaError.TOPIC_AUTHORIZATION_FAILED,
             "delete a topic without DELETE: TOPIC_AUTHORIZATION_FAILED")
    # A prefixed ALL: create, describe, produce and delete under the prefix.
    grant(binding(ResourceType.TOPIC, "pre-", AclOperation.ALL, pattern=ResourcePatternType.PREFIXED))
    fs = client.create_topics([NewTopic("pre-new", 1, 1)], request_timeout=15)
    fs["pre-new"].result()
    t.ok(True, "create under a prefixed ALL")
    t.eq(topics_seen(client), ["orders", "pre-a", "pre-new"], "describe under the prefix")
    t.eq(produce("pre-new"), [], "produce under the prefix")
    fs = client.delete_topics(["pre-new"], request_timeout=15)
    fs["pre-new"].result()
    t.ok(True, "delete under the prefix")
    # Deny beats allow.
    grant(binding(ResourceType.TOPIC, "pre-a", AclOperation.WRITE, perm=AclPermissionType.DENY))
    t.eq(produce("pre-a", n=1), [KafkaError.TOPIC_AUTHORIZATION_FAILED],
         "a literal DENY WRITE beats the prefixed ALLOW ALL")
    t.ok("pre-a" in topics_seen(client), "DENY WRITE leaves DESCRIBE to the ALLOW")
    grant(binding(ResourceType.TOPIC, "*", AclOperation.DESCRIBE, perm=AclPermissionType.DENY))
    t.eq(topics_seen(client), [], "a DENY DESCRIBE on \"*\" hides every topic")
    revoke(binding(ResourceType.TOPIC, "*", AclOperation.DESCRIBE, perm=AclPermissionType.DENY))
    # CREATE on the cluster creates any topic.
    grant(binding(ResourceType.BROKER, "kafka-cluster", AclOperation.CREATE))
    fs = client.create_topics([NewTopic("made-by-client", 1, 1)], request_timeout=15)
    fs["made-by-client"].result()
    t.ok(True, "create with CREATE on the cluster")


def test_cluster_describe():
    d = client.describe_cluster(include_authorized_operations=True, request_timeout=10).result()
    t.ok(AclOperation.DESCRIBE not in (d.authorized_operations or []),
         "describe cluster without DESCRIBE: no authorized operations", d.authorized_operations)
    grant(binding(ResourceType.BROKER, "kafka-cluster", AclOperation.DESCRIBE))
    d = client.describe_cluster(include_authorized_operations=True, request_timeout=10).result()
    ops = d.authorized_operations or []
    t.ok(AclOperation.DESCRIBE in ops and AclOperation.CREATE in ops and AclOperation.ALTER not in ops,
         "with DESCRIBE (and CREATE) on the cluster: exactly those reported", ops)
    acls = client.describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                                 None, None, AclOperation.ANY,
                                                 AclPermissionType.ANY), request_timeout=10).result()
    t.ok(len(acls) >= 8, "with DESCRIBE on the cluster the client lists the ACLs", len(acls))


def runnel(*args):
    p = subprocess.run([RUNNEL, "-b", broker.admin_bootstrap] + list(args), capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_cli():
    rc, out, err = runnel("acl", "add", "--allow-principal", "User:carol", "--operation", "Read",
                          "--operation", "Describe", "--topic", "orders", "--group", "carol-g")
    t.ok(rc == 0 and "added 4 ACL binding(s)" in out, "runnel acl add", out + err)
    rc, out, err = runnel("--json", "acl", "list", "--principal", "User:carol")
    t.ok(rc == 0 and out.count('"principal":"User:carol"') == 4, "runnel acl list --principal",
         out + err)
    rc, out, err = runnel("acl", "list", "--topic", "pre-a", "--resource-pattern-type", "match")
    t.ok(rc == 0 and "PREFIXED" in out and "DENY" in out, "list --resource-pattern-type match",
         out + err)
    rc, out, err = runnel("acl", "delete", "--allow-principal", "User:carol", "--group", "carol-g")
    t.ok(rc == 0 and "deleted 2 ACL binding(s)" in out, "runnel acl delete", out + err)
    p = subprocess.run([RUNNEL, "-b", broker.bootstrap, "acl", "add", "--allow-principal", ANON,
                        "--operation", "All", "--cluster"], capture_output=True, text=True,
                       timeout=60)
    t.ok(p.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in p.stderr,
         "a client without ALTER on the cluster cannot grant itself", p.stdout + p.stderr)


def tools_libs():
    for version, cls in (("4.1.1", "org.apache.kafka.tools.AclCommand"),
                         ("3.9.1", "kafka.admin.AclCommand")):
        libs = os.path.join(TOOLS_CACHE, version, "libs")
        if os.path.isdir(libs) and shutil.which("java"):
            return libs, cls
    return None, None


def test_kafka_acls():
    libs, cls = tools_libs()
    if libs is None:
        t.ok(True, "# SKIP kafka-acls.sh: no java or no Kafka tools jars (scripts/deps.sh)")
        return

    def acls(*args):
        p = subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", libs + "/*",
                            cls, "--bootstrap-server", broker.admin_bootstrap] + list(args),
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = acls("--add", "--allow-principal", "User:dave", "--operation", "Write",
                        "--topic", "tools-", "--resource-pattern-type", "prefixed")
    t.ok(rc == 0, "kafka-acls.sh --add (prefixed)", out + err)
    rc, out, err = acls("--list", "--topic", "tools-", "--resource-pattern-type", "prefixed")
    t.ok(rc == 0 and "User:dave" in out and "WRITE" in out.upper(), "kafka-acls.sh --list shows it",
         out + err)
    rc, out, err = runnel("--json", "acl", "list", "--principal", "User:dave")
    t.ok('"resource_name":"tools-"' in out and '"pattern_type":"PREFIXED"' in out,
         "runnel acl list reads what kafka-acls.sh wrote", out + err)
    rc, out, err = acls("--remove", "--force", "--allow-principal", "User:dave", "--operation",
                        "Write", "--topic", "tools-", "--resource-pattern-type", "prefixed")
    t.ok(rc == 0, "kafka-acls.sh --remove", out + err)
    rc, out, err = runnel("--json", "acl", "list", "--principal", "User:dave")
    t.eq(out.strip(), "[]", "and the binding is gone")


def test_restart():
    before = sorted(str(b) for b in admin.describe_acls(
        AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                         AclOperation.ANY, AclPermissionType.ANY), request_timeout=10).result())
    broker.stop()
    broker.start()
    a2 = AdminClient({"bootstrap.servers": broker.admin_bootstrap})
    after, deadline = [], time.monotonic() + 15
    while after != before and time.monotonic() < deadline:  # until the log has replayed
        after = sorted(str(b) for b in a2.describe_acls(
            AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                             AclOperation.ANY, AclPermissionType.ANY), request_timeout=10).result())
        time.sleep(0.1)
    t.eq(after, before, "the ACLs outlive a restart (%d bindings)" % len(before))
    t.eq(produce("orders", n=1), [], "and still decide: produce allowed")
    t.eq(produce("secret", n=1), [KafkaError.TOPIC_AUTHORIZATION_FAILED], "and denied")


def main():
    t.step("setup", test_setup)
    t.step("produce", test_produce)
    t.step("consume, group join, offset commit", test_consume)
    t.step("topic create, delete, describe; prefixed; deny beats allow", test_topics_admin)
    t.step("cluster describe", test_cluster_describe)
    t.step("runnel acl", test_cli)
    t.step("kafka-acls.sh", test_kafka_acls)
    t.step("restart", test_restart)
    broker.finish(t)
    t.done()


main()
