"""ACL authorization through real clients: one runneld with the StandardAuthorizer on,
super.users empty and allow.everyone.if.no.acl.found=false. Clients connect on the PLAINTEXT
listener as User:ANONYMOUS (no TLS or SASL here); the ACLs are managed on a dedicated
controller listener, which runneld treats as the nodes' own traffic, with confluent-kafka's
AdminClient, `runnel acl` and Kafka's kafka-acls.sh (AclCommand, when java and the jars of
scripts/deps.sh are there).

ACLs are granted with `runnel acl` (so the test runs with Debian's confluent-kafka 1.7, which
has no ACL admin API); with confluent-kafka 1.9+ its AdminClient creates, lists and deletes
ACLs too and describes the cluster.

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

from datapath_common import Conn  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

try:  # confluent-kafka 1.9+ (the venv of tests/interop); Debian's 1.7 has no ACL admin API
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                       AclPermissionType, ResourcePatternType, ResourceType)
    HAVE_ACL_API = True
except ImportError:
    HAVE_ACL_API = False

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


RES = {"topic": "--topic", "group": "--group", "cluster": "--cluster"}


def acl_args(kind, name, op, deny=False, prefixed=False, principal=ANON):
    args = ["--deny-principal" if deny else "--allow-principal", principal, "--operation", op]
    args += [RES[kind]] if kind == "cluster" else [RES[kind], name]
    if prefixed:
        args += ["--resource-pattern-type", "prefixed"]
    return args


def grant(kind, name, op, **kw):
    rc, out, err = runnel("acl", "add", *acl_args(kind, name, op, **kw))
    if rc != 0:
        raise RuntimeError("runnel acl add failed: %s%s" % (out, err))


def revoke(kind, name, op, **kw):
    rc, out, err = runnel("acl", "delete", *acl_args(kind, name, op, **kw))
    if rc != 0:
        raise RuntimeError("runnel acl delete failed: %s%s" % (out, err))


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
    p = subprocess.run([RUNNEL, "-b", broker.bootstrap, "acl", "list"], capture_output=True,
                       text=True, timeout=60)
    t.ok(p.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in p.stderr,
         "runnel acl list without DESCRIBE on the cluster: CLUSTER_AUTHORIZATION_FAILED, exit 1", p.stdout + p.stderr)


def test_produce():
    t.eq(produce("orders"), [KafkaError.TOPIC_AUTHORIZATION_FAILED] * 3,
         "produce without WRITE: TOPIC_AUTHORIZATION_FAILED")
    grant("topic", "orders", "Write")
    t.eq(produce("orders"), [], "produce with WRITE on the topic")
    t.eq(topics_seen(client), ["orders"], "WRITE implies DESCRIBE: the topic is visible")
    t.eq(produce("secret"), [KafkaError.TOPIC_AUTHORIZATION_FAILED] * 3,
         "another topic is still refused")


def test_consume():
    grant("topic", "orders", "Read")
    values, err, _ = consume("orders", "g1")
    t.eq((values, err), ([], KafkaError.GROUP_AUTHORIZATION_FAILED),
         "group join without READ on the group: GROUP_AUTHORIZATION_FAILED")
    grant("group", "g1", "Read")
    values, err, commit_err = consume("orders", "g1", want=3)
    t.eq((len(values), err, commit_err), (3, None, None),
         "join, consume and commit with READ on topic and group")
    grant("group", "g-", "Read", prefixed=True)
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
    grant("topic", "pre-", "All", prefixed=True)
    fs = client.create_topics([NewTopic("pre-new", 1, 1)], request_timeout=15)
    fs["pre-new"].result()
    t.ok(True, "create under a prefixed ALL")
    t.eq(topics_seen(client), ["orders", "pre-a", "pre-new"], "describe under the prefix")
    t.eq(produce("pre-new"), [], "produce under the prefix")
    fs = client.delete_topics(["pre-new"], request_timeout=15)
    fs["pre-new"].result()
    t.ok(True, "delete under the prefix")
    # Deny beats allow.
    grant("topic", "pre-a", "Write", deny=True)
    t.eq(produce("pre-a", n=1), [KafkaError.TOPIC_AUTHORIZATION_FAILED],
         "a literal DENY WRITE beats the prefixed ALLOW ALL")
    t.ok("pre-a" in topics_seen(client), "DENY WRITE leaves DESCRIBE to the ALLOW")
    grant("topic", "*", "Describe", deny=True)
    t.eq(topics_seen(client), [], "a DENY DESCRIBE on \"*\" hides every topic")
    revoke("topic", "*", "Describe", deny=True)
    # CREATE on the cluster creates any topic.
    grant("cluster", None, "Create")
    fs = client.create_topics([NewTopic("made-by-client", 1, 1)], request_timeout=15)
    fs["made-by-client"].result()
    t.ok(True, "create with CREATE on the cluster")


def cluster_ops():
    """The cluster's authorized operations as the client is told them: DescribeCluster v0
    (IncludeClusterAuthorizedOperations) on the wire, and confluent-kafka's
    describe_cluster when it has one. Operation codes: 5 CREATE, 7 ALTER, 8 DESCRIBE."""
    conn = Conn(broker.bootstrap)
    r = conn.call("DescribeCluster", 0, {"IncludeClusterAuthorizedOperations": True})
    conn.close()
    wire = sorted(op for op in range(32) if r["ClusterAuthorizedOperations"] & (1 << op))
    if HAVE_ACL_API and hasattr(client, "describe_cluster"):
        d = client.describe_cluster(include_authorized_operations=True, request_timeout=10).result()
        lib = sorted(int(op.value) for op in (d.authorized_operations or []))
        t.eq(lib, wire, "confluent-kafka's describe_cluster reports the same operations")
    return r["ErrorCode"], wire


def test_cluster_describe():
    t.eq(cluster_ops(), (0, []), "describe cluster without DESCRIBE: no authorized operations")
    grant("cluster", None, "Describe")
    t.eq(cluster_ops(), (0, [5, 8]), "with DESCRIBE (and CREATE) on the cluster: exactly those")
    p = subprocess.run([RUNNEL, "-b", broker.bootstrap, "--json", "acl", "list"],
                       capture_output=True, text=True, timeout=60)
    t.ok(p.returncode == 0 and p.stdout.count('"principal"') >= 8,
         "with DESCRIBE on the cluster the client lists the ACLs", p.stdout + p.stderr)


def test_admin_acl_api():
    if not HAVE_ACL_API:
        t.ok(True, "# SKIP confluent-kafka %s has no ACL admin API (1.9+)"
             % __import__("confluent_kafka").version()[0])
        return
    b = AclBinding(ResourceType.TOPIC, "api-", ResourcePatternType.PREFIXED, "User:erin", "*",
                   AclOperation.READ, AclPermissionType.ALLOW)
    for f in admin.create_acls([b], request_timeout=15).values():
        f.result()
    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, "User:erin", None,
                           AclOperation.ANY, AclPermissionType.ANY)
    t.eq([str(x) for x in admin.describe_acls(flt, request_timeout=10).result()], [str(b)],
         "AdminClient create_acls then describe_acls")
    deleted = [r for f in admin.delete_acls([flt], request_timeout=15).values() for r in f.result()]
    t.eq([str(x) for x in deleted], [str(b)], "AdminClient delete_acls reports what it deleted")
    t.eq(admin.describe_acls(flt, request_timeout=10).result(), [], "and it is gone")


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
    # SCRAM users are cluster metadata too: ALTER on the cluster to change them.
    p = subprocess.run([RUNNEL, "-b", broker.bootstrap, "user", "add", "mallory"],
                       input="secret\n", capture_output=True, text=True, timeout=60)
    t.ok(p.returncode != 0 and "CLUSTER_AUTHORIZATION_FAILED" in p.stdout + p.stderr,
         "a client without ALTER on the cluster cannot add a SCRAM user", p.stdout + p.stderr)
    p = subprocess.run([RUNNEL, "-b", broker.admin_bootstrap, "user", "add", "mallory"],
                       input="secret\n", capture_output=True, text=True, timeout=60)
    t.ok(p.returncode == 0, "the controller listener can", p.stdout + p.stderr)


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


def acl_json():
    rc, out, err = runnel("--json", "acl", "list")
    return out.strip() if rc == 0 else err


def test_restart():
    before = acl_json()
    broker.stop()
    broker.start()
    after, deadline = None, time.monotonic() + 15
    while after != before and time.monotonic() < deadline:  # until the log has replayed
        after = acl_json()
        time.sleep(0.1)
    t.eq(after, before, "the ACLs outlive a restart (%d bindings)" % before.count('"principal"'))
    t.eq(produce("orders", n=1), [], "and still decide: produce allowed")
    t.eq(produce("secret", n=1), [KafkaError.TOPIC_AUTHORIZATION_FAILED], "and denied")


def main():
    t.step("setup", test_setup)
    t.step("produce", test_produce)
    t.step("consume, group join, offset commit", test_consume)
    t.step("topic create, delete, describe; prefixed; deny beats allow", test_topics_admin)
    t.step("cluster describe", test_cluster_describe)
    t.step("runnel acl", test_cli)
    t.step("AdminClient ACL API", test_admin_acl_api)
    t.step("kafka-acls.sh", test_kafka_acls)
    t.step("restart", test_restart)
    broker.finish(t)
    t.done()


main()
