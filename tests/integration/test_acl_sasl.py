"""ACLs for SASL principals through real clients: test_acl.py decides for User:ANONYMOUS on a
PLAINTEXT listener, test_sasl.py logs in without an authorizer; here the two meet.

One runneld with a PLAINTEXT, a SASL_PLAINTEXT (SCRAM-SHA-512 and PLAIN) and a dedicated
CONTROLLER listener, the StandardAuthorizer on, allow.everyone.if.no.acl.found=false and
super.users=User:admin. The controller listener (the nodes' own traffic) is only the way in:
`runnel user add admin` on it. Everything else is done as admin over SASL (runnel
--command-config): users alice and bob, the topics, and these ACLs:

  alice  ALLOW WRITE, DESCRIBE  topic  orders-  PREFIXED
  bob    ALLOW READ             topic  orders-  PREFIXED
  bob    ALLOW READ             group  billing  LITERAL
  bob    DENY  READ             topic  orders-secret  LITERAL

Then confluent-kafka (Debian's, librdkafka 2.0.2) logged in as each user, once with
SCRAM-SHA-512 and once with PLAIN (the same principal, so the same decisions), each allowed
and denied as the client reports it: produce, consume in a group (join, fetch, commit), a
fetch by assignment, Metadata listing only describable topics, DENY beating the prefixed
ALLOW, and the super user doing all of it. Prints TAP."""

import os
import subprocess
import sys
import shutil
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datapath_common as D  # noqa: E402
from sasl_common import Runneld  # noqa: E402

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,  # noqa: E402
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

T = D.Tap("test_acl_sasl", timeout_s=240)
RUNNEL = os.path.join(D.BUILD, "tools", "runnel")
STD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
PASSWORDS = {"admin": "admin-Secret-0", "alice": "alice-Secret-1", "bob": "bob-Secret-2"}
MECHS = ("SCRAM-SHA-512", "PLAIN")
TOPICS = ("invoices", "orders-eu", "orders-secret", "orders-us")
TAF = KafkaError.TOPIC_AUTHORIZATION_FAILED
GAF = KafkaError.GROUP_AUTHORIZATION_FAILED

ACLS = [  # (principal, allow or deny, operation, resource flag, name, pattern)
    ("User:alice", "--allow-principal", "Write", "--topic", "orders-", "prefixed"),
    ("User:alice", "--allow-principal", "Describe", "--topic", "orders-", "prefixed"),
    ("User:bob", "--allow-principal", "Read", "--topic", "orders-", "prefixed"),
    ("User:bob", "--allow-principal", "Read", "--group", "billing", "literal"),
    ("User:bob", "--deny-principal", "Read", "--topic", "orders-secret", "literal"),
]


class Env:
    broker = None
    workdir = None


E = Env()


def conf(user, mech, **extra):
    c = {"bootstrap.servers": E.broker.sasl_bs, "security.protocol": "SASL_PLAINTEXT",
         "sasl.mechanism": mech, "sasl.username": user, "sasl.password": PASSWORDS[user]}
    c.update(extra)
    return c


def props(user, mech="SCRAM-SHA-512"):
    """A Kafka client properties file logging in as user (runnel --command-config)."""
    path = os.path.join(E.workdir, "%s-%s.properties" % (user, mech))
    module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mech == "PLAIN"
              else "org.apache.kafka.common.security.scram.ScramLoginModule")
    with open(path, "w") as f:
        f.write("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=%s\nsasl.jaas.config=%s "
                "required username=\"%s\" password=\"%s\";\n" % (mech, module, user,
                                                                 PASSWORDS[user]))
    return path


def runnel(bootstrap, *args, as_user=None, stdin=None):
    cmd = [RUNNEL, "-b", bootstrap]
    if as_user is not None:
        cmd += ["--command-config", props(as_user)]
    p = subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def produce(user, mech, topic, n=3):
    """Deliver n records as user: the delivery error codes, [] when all went."""
    errors = []
    p = Producer(conf(user, mech, **{"message.timeout.ms": 8000, "enable.idempotence": False}))
    for i in range(n):
        p.produce(topic, b"%s-%d" % (user.encode(), i),
                  on_delivery=lambda err, msg: errors.append(err.code()) if err else None)
    p.flush(15)
    return errors


def poll_until(c, want, seconds, ignore=()):
    """Poll c until want records, an error (other than those in ignore) or seconds: (values,
    error code)."""
    values, err = [], None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(values) < want and err is None:
        m = c.poll(0.3)
        if m is None:
            continue
        if m.error():
            if m.error().code() not in (KafkaError._PARTITION_EOF,) + tuple(ignore):
                err = m.error().code()
            continue
        values.append(m.value())
    return values, err


def consume(user, mech, topic, group, want=1, seconds=15):
    """Subscribe in group, read until want records or an error, then commit: (number read,
    error code, commit error code)."""
    c = Consumer(conf(user, mech, **{"group.id": group, "auto.offset.reset": "earliest",
                                     "enable.auto.commit": False, "session.timeout.ms": 6000}))
    c.subscribe([topic])
    values, err = poll_until(c, want, seconds)
    commit_err = None
    if values:
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            commit_err = e.args[0].code()
    c.close()
    return len(values), err, commit_err


def fetch(user, mech, topic, want=1, seconds=10):
    """Read partition 0 from offset 0 by assignment: (number read, error code). The group
    plays no part (no join, no offsets), but confluent-kafka 1.7 requires a group.id and
    librdkafka looks up its coordinator anyway, which the users may not: that
    GROUP_AUTHORIZATION_FAILED is not the fetch's and is passed over."""
    c = Consumer(conf(user, mech, **{"group.id": "unused", "enable.auto.commit": False}))
    c.assign([TopicPartition(topic, 0, 0)])
    values, err = poll_until(c, want, seconds, ignore=(GAF,))
    c.close()
    return len(values), err


def topics_seen(user, mech):
    """The topics Metadata (all topics) shows user."""
    a = AdminClient(conf(user, mech))
    return sorted(n for n in a.list_topics(timeout=10).topics if not n.startswith("__"))


def topic_error(user, mech, topic):
    """The error Metadata for one named topic reports to user (None when described)."""
    a = AdminClient(conf(user, mech))
    md = a.list_topics(topic=topic, timeout=10)
    t = md.topics.get(topic)
    return t.error.code() if t is not None and t.error is not None else None


def test_setup():
    b = E.broker
    rc, out, err = runnel(b.ctl_bs, "user", "add", "admin", stdin=PASSWORDS["admin"] + "\n")
    T.ok(rc == 0, "runnel user add admin on the controller listener", out + err)
    rc, out, err = runnel(b.plain_bs, "user", "add", "mallory", stdin="x-Secret-9\n")
    T.ok(rc != 0 and "CLUSTER_AUTHORIZATION_FAILED" in out + err,
         "User:ANONYMOUS on the PLAINTEXT listener may not add a user", out + err)
    for user in ("alice", "bob"):
        rc, out, err = runnel(b.sasl_bs, "user", "add", user, as_user="admin",
                              stdin=PASSWORDS[user] + "\n")
        T.ok(rc == 0, "the super user adds %s over SASL (SCRAM-SHA-512)" % user, out + err)
    rc, out, err = runnel(b.sasl_bs, "user", "add", "mallory", as_user="alice",
                          stdin="x-Secret-9\n")
    T.ok(rc != 0 and "CLUSTER_AUTHORIZATION_FAILED" in out + err,
         "alice (no ACL on the cluster) may not add a user", out + err)
    a = AdminClient(conf("admin", "SCRAM-SHA-512"))
    fs = a.create_topics([NewTopic(n, 1, 1) for n in TOPICS], request_timeout=15)
    errs = {}
    for name, f in fs.items():
        try:
            f.result()
        except KafkaException as e:
            errs[name] = str(e)
    T.eq(errs, {}, "the super user creates %s" % ", ".join(TOPICS))
    for name in TOPICS:
        if produce("admin", "SCRAM-SHA-512", name) != []:
            raise RuntimeError("the super user could not produce to %s" % name)
    # Before any ACL: nothing allowed to the users (so each allowed check below can fail).
    T.eq(topics_seen("alice", "SCRAM-SHA-512"), [], "without ACLs alice sees no topic")
    T.eq(produce("alice", "SCRAM-SHA-512", "orders-eu", n=1), [TAF],
         "without ACLs alice's produce: TOPIC_AUTHORIZATION_FAILED")
    rc, out, err = runnel(b.sasl_bs, "acl", "add", "--allow-principal", "User:alice",
                          "--operation", "All", "--cluster", as_user="alice")
    T.ok(rc != 0 and "CLUSTER_AUTHORIZATION_FAILED" in out + err,
         "alice may not grant herself ACLs", out + err)
    for principal, perm, op, res, name, pattern in ACLS:
        rc, out, err = runnel(b.sasl_bs, "acl", "add", perm, principal, "--operation", op, res,
                              name, "--resource-pattern-type", pattern, as_user="admin")
        if rc != 0:
            raise RuntimeError("runnel acl add %s %s failed: %s%s" % (principal, op, out, err))
    rc, out, err = runnel(b.sasl_bs, "--json", "acl", "list", as_user="admin")
    T.ok(rc == 0 and out.count('"principal"') == len(ACLS),
         "the super user grants and lists the %d ACLs over SASL" % len(ACLS), out + err)


def check_users(mech):
    """The users' matrix with one mechanism: {check: what the client saw}."""
    got = {}

    def check(key, value, want, desc):
        got[key] = value
        T.eq(value, want, "%s: %s" % (mech, desc))

    check("alice produce orders-eu", produce("alice", mech, "orders-eu"), [],
          "alice produces to orders-eu (prefixed WRITE)")
    check("alice produce invoices", produce("alice", mech, "invoices"), [TAF] * 3,
          "alice produces to invoices: TOPIC_AUTHORIZATION_FAILED")
    check("bob produce orders-eu", produce("bob", mech, "orders-eu"), [TAF] * 3,
          "bob produces to orders-eu (READ only): TOPIC_AUTHORIZATION_FAILED")
    check("bob consume billing", consume("bob", mech, "orders-eu", "billing", want=3),
          (3, None, None), "bob consumes orders-eu in group billing: join, fetch, commit")
    check("bob consume other", consume("bob", mech, "orders-eu", "other"), (0, GAF, None),
          "bob in group other: GROUP_AUTHORIZATION_FAILED")
    check("bob fetch orders-secret", fetch("bob", mech, "orders-secret"), (0, TAF),
          "bob's literal DENY READ on orders-secret beats his prefixed ALLOW READ: "
          "TOPIC_AUTHORIZATION_FAILED")
    check("bob fetch orders-us", fetch("bob", mech, "orders-us", want=3), (3, None),
          "... while the prefixed ALLOW still reads orders-us")
    check("alice consume billing", consume("alice", mech, "orders-eu", "billing"),
          (0, GAF, None), "alice in group billing (no group ACL): GROUP_AUTHORIZATION_FAILED")
    check("alice fetch orders-eu", fetch("alice", mech, "orders-eu"), (0, TAF),
          "alice fetches orders-eu (WRITE and DESCRIBE, no READ): TOPIC_AUTHORIZATION_FAILED")
    check("alice topics", topics_seen("alice", mech), ["orders-eu", "orders-secret", "orders-us"],
          "Metadata shows alice the orders- topics only (DESCRIBE)")
    check("bob topics", topics_seen("bob", mech), ["orders-eu", "orders-secret", "orders-us"],
          "Metadata shows bob the orders- topics (READ implies DESCRIBE; his DENY READ does "
          "not deny DESCRIBE)")
    check("alice describe invoices", topic_error("alice", mech, "invoices"), TAF,
          "Metadata for invoices by name as alice: TOPIC_AUTHORIZATION_FAILED")
    check("bob describe invoices", topic_error("bob", mech, "invoices"), TAF,
          "Metadata for invoices by name as bob: TOPIC_AUTHORIZATION_FAILED")
    return got


def check_admin(mech):
    seen = [n for n in topics_seen("admin", mech) if not n.startswith("admin-made-")]
    T.eq(seen, list(TOPICS), "%s: the super user sees every topic" % mech)
    T.eq(produce("admin", mech, "invoices"), [], "%s: the super user produces to invoices" % mech)
    T.eq(produce("admin", mech, "orders-secret"), [],
         "%s: the super user produces to orders-secret" % mech)
    group = "any-" + mech.lower()
    T.eq(consume("admin", mech, "invoices", group, want=3), (3, None, None),
         "%s: the super user consumes invoices in group %s, no ACL needed" % (mech, group))
    T.eq(fetch("admin", mech, "orders-secret", want=3), (3, None),
         "%s: the super user reads orders-secret" % mech)
    name = "admin-made-" + mech.lower()
    a = AdminClient(conf("admin", mech))
    fs = a.create_topics([NewTopic(name, 1, 1)], request_timeout=15)
    try:
        fs[name].result()
        T.ok(True, "%s: the super user creates topic %s" % (mech, name))
    except KafkaException as e:
        T.ok(False, "%s: the super user creates topic %s" % (mech, name), str(e))


def main():
    E.workdir = tempfile.mkdtemp(prefix="rn-aclsasl-")
    T.cleanups.append(lambda: shutil.rmtree(E.workdir, ignore_errors=True))
    E.broker = Runneld(T, ["--sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512",
                           "--authorizer.class.name", STD,
                           "--allow.everyone.if.no.acl.found", "false",
                           "--super.users", "User:admin",
                           "--group.initial.rebalance.delay.ms", "0"], controller=True)
    T.step("setup: users, topics and ACLs as the super user", test_setup)
    decisions = {}
    for mech in MECHS:
        decisions[mech] = check_users(mech)
    T.eq(decisions["PLAIN"], decisions["SCRAM-SHA-512"],
         "PLAIN and SCRAM-SHA-512 logins of the same user get the same %d decisions"
         % len(decisions["PLAIN"]))
    for mech in MECHS:
        check_admin(mech)
    alive = E.broker.proc.poll() is None
    T.ok(alive, "runneld still running")
    rc = E.broker.stop()
    T.eq(rc, 0, "runneld stops cleanly on SIGTERM")
    T.done()


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        import traceback
        T.ok(False, "test_acl_sasl raised", traceback.format_exc())
        T.done()
