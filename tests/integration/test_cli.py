"""runnel (the CLI) end to end, checked against independent clients: kcat (librdkafka) and
Debian's confluent_kafka (AdminClient, Consumer). Starts runneld on a free port with a fresh
data dir, or uses the broker at $RN_BOOTSTRAP (e.g. scripts/kafka-ref.sh start 29092 and
RN_BOOTSTRAP=127.0.0.1:29092) when that is set. Group tests are skipped when the broker does
not serve the group APIs. Prints TAP."""
import faulthandler
import json
import os
import random
import string
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import BUILD, Broker, Conn, Tap, api_versions  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource  # noqa: E402

RUNNEL = os.path.join(BUILD, "tools", "runnel")

t = Tap("test_cli", timeout_s=300)
# Tap's SIGALRM watchdog cannot interrupt a client library blocked in C; this one can (it
# prints every thread's stack and exits 1).
faulthandler.dump_traceback_later(320, exit=True)
broker = None
BOOT = os.environ.get("RN_BOOTSTRAP")
if not BOOT:
    broker = Broker()
    t.cleanups.append(broker.cleanup)
    BOOT = broker.bootstrap
print("# runnel against %s" % BOOT, flush=True)
SUFFIX = "".join(random.choice(string.ascii_lowercase) for _ in range(6))


def name(prefix):
    return "%s-%s" % (prefix, SUFFIX)


def runnel(*args, stdin=None, env_boot=False, timeout=60):
    """Run runnel; returns (exit status, stdout, stderr). env_boot passes the broker through
    RUNNEL_BOOTSTRAP instead of -b."""
    env = dict(os.environ)
    env.pop("RUNNEL_BOOTSTRAP", None)
    argv = [RUNNEL]
    if env_boot:
        env["RUNNEL_BOOTSTRAP"] = BOOT
    else:
        argv += ["-b", BOOT]
    p = subprocess.run(argv + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def runnel_json(*args, **kw):
    rc, out, err = runnel("--json", *args, **kw)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, err + "\n(stdout was) " + out


def kcat(*args, stdin=None):
    p = subprocess.run(["kcat", "-b", BOOT] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def kcat_metadata(topic=None):
    args = ["-L", "-J"] + (["-t", topic] if topic else [])
    rc, out, err = kcat(*args)
    return json.loads(out) if rc == 0 else None


def kcat_records(topic, *extra):
    """Every record of the topic as kcat -J sees it, sorted by (partition, offset)."""
    rc, out, err = kcat("-C", "-J", "-t", topic, "-e", "-q", *extra)
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    return sorted(recs, key=lambda r: (r["partition"], r["offset"]))


def served_apis():
    c = Conn(BOOT)
    apis = api_versions(c)
    c.close()
    return apis


admin = AdminClient({"bootstrap.servers": BOOT, "log_level": 0})


def topic_config(topic, key):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([res])[res].result(timeout=20)
    e = entries.get(key)
    return (e.value, e.source) if e else (None, None)


# ---- help, usage, exit codes ----------------------------------------------------------------

def test_help():
    rc, out, err = runnel("--help")
    t.ok(rc == 0 and "topic create" in out and "consume" in out and "exit status" in out,
         "runnel --help lists the commands and the exit statuses", out + err)
    for cmd in (["topic", "create"], ["topic", "list"], ["topic", "describe"], ["topic", "delete"],
                ["topic", "alter-config"], ["topic", "add-partitions"], ["produce"], ["consume"],
                ["group", "list"], ["group", "describe"], ["group", "delete"],
                ["group", "reset-offsets"], ["cluster", "info"], ["quota", "describe"],
                ["quota", "alter"]):
        rc, out, err = runnel(*cmd, "--help")
        t.ok(rc == 0 and out.startswith("usage: runnel " + " ".join(cmd)) and
             "2  usage error" in out, "%s --help: usage line and exit statuses" % " ".join(cmd),
             out + err)
    rc, out, err = runnel("topic", "create", "x", "--no-such-option")
    t.ok(rc == 2 and "unknown option --no-such-option" in err and "--help" in err,
         "unknown option: exit 2 and a pointer to --help", (rc, err))
    rc, out, err = runnel("frobnicate")
    t.ok(rc == 2 and "unknown command" in err, "unknown command: exit 2", (rc, err))
    rc, out, err = runnel("topic", "create", "x", "-p", "many")
    t.ok(rc == 2 and "--partitions" in err, "bad number: exit 2 naming the option", (rc, err))
    p = subprocess.run([RUNNEL, "-b", "127.0.0.1:1", "topic", "list"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode()
    t.ok(p.returncode == 3 and "cannot reach a broker at 127.0.0.1:1" in err and
         "RUNNEL_BOOTSTRAP" in err, "unreachable broker: exit 3 and what to do", (p.returncode, err))
    rc, out, err = runnel("topic", "list", env_boot=True)
    t.ok(rc == 0, "RUNNEL_BOOTSTRAP is used when -b is not given", err)


# ---- topics ---------------------------------------------------------------------------------

def test_topics():
    topic = name("cli-orders")
    rc, out, err = runnel("topic", "create", topic, "-p", "3", "-c", "retention.ms=3600000")
    t.ok(rc == 0 and ('created topic "%s" (3 partitions' % topic) in out, "topic create", out + err)
    md = kcat_metadata(topic)
    kt = [x for x in (md or {}).get("topics", []) if x["topic"] == topic]
    t.ok(len(kt) == 1 and len(kt[0]["partitions"]) == 3 and "error" not in kt[0],
         "kcat -L sees the new topic with 3 partitions", md)
    t.eq(topic_config(topic, "retention.ms")[0], "3600000",
         "confluent describe_configs sees the config given with -c")

    rc, out, err = runnel("topic", "create", topic)
    t.ok(rc == 1 and "already exists" in err and "--if-not-exists" in err,
         "creating it again: exit 1, says it exists and how to accept that", (rc, err))
    rc, out, err = runnel("topic", "create", topic, "--if-not-exists")
    t.ok(rc == 0, "--if-not-exists accepts an existing topic", (rc, err))

    rc, listed, err = runnel_json("topic", "list")
    mine = [x for x in listed or [] if x["topic"] == topic]
    t.ok(rc == 0 and len(mine) == 1 and mine[0]["partitions"] == 3 and
         mine[0]["replication_factor"] == 1, "topic list --json", (rc, listed, err))
    rc, out, err = runnel("topic", "list")
    t.ok(rc == 0 and out.startswith("TOPIC") and topic in out, "topic list table", out)

    # describe vs kcat's metadata: leaders, replicas, in-sync replicas per partition
    rc, desc, err = runnel_json("topic", "describe", topic)
    ok = bool(rc == 0 and desc and len(desc[0]["partitions"]) == 3)
    if ok:
        for kp, rp in zip(sorted(kt[0]["partitions"], key=lambda p: p["partition"]),
                          desc[0]["partitions"]):
            ok &= kp["partition"] == rp["partition"] and kp["leader"] == rp["leader"]
            ok &= [r["id"] for r in kp["replicas"]] == rp["replicas"]
            ok &= sorted(r["id"] for r in kp["isrs"]) == sorted(rp["isr"])
            ok &= rp["start_offset"] == 0 and rp["end_offset"] == 0
        ok &= desc[0]["configs"].get("retention.ms") == "3600000"
    t.ok(ok, "topic describe --json matches kcat -L (leaders, replicas, isr) and configs",
         (desc, kt, err))
    rc, out, err = runnel("topic", "describe", topic)
    t.ok(rc == 0 and "retention.ms=3600000" in out and "PARTITION" in out, "topic describe table",
         out + err)

    rc, out, err = runnel("topic", "describe", "no-such-topic-" + SUFFIX)
    t.ok(rc == 4 and ('topic "no-such-topic-%s" not found on %s; known topics:' % (SUFFIX, BOOT))
         in err and topic in err, "describe of a missing topic: exit 4 and the known topics",
         (rc, err))

    rc, out, err = runnel("topic", "alter-config", topic, "--set", "retention.ms=1234",
                          "--set", "cleanup.policy=compact")
    t.ok(rc == 0, "alter-config --set", out + err)
    t.eq((topic_config(topic, "retention.ms")[0], topic_config(topic, "cleanup.policy")[0]),
         ("1234", "compact"), "confluent sees the altered configs")
    rc, out, err = runnel("topic", "alter-config", topic, "--delete", "cleanup.policy")
    t.ok(rc == 0 and topic_config(topic, "cleanup.policy")[0] == "delete",
         "alter-config --delete returns a key to its default", out + err)
    rc, out, err = runnel("topic", "alter-config", topic, "--set", "no.such.config=1")
    t.ok(rc == 1 and "INVALID_CONFIG" in err, "alter-config of an unknown key: exit 1", (rc, err))

    rc, out, err = runnel("topic", "add-partitions", topic, "-p", "5")
    md = kcat_metadata(topic)
    n = len([x for x in md["topics"] if x["topic"] == topic][0]["partitions"]) if md else 0
    t.ok(rc == 0 and n == 5, "add-partitions to 5: kcat sees 5 partitions", (rc, out, err, n))
    rc, out, err = runnel("topic", "add-partitions", topic, "-p", "2")
    t.ok(rc == 1 and "already has 5 partitions" in err, "shrinking is refused with the reason",
         (rc, err))

    rc, out, err = runnel("topic", "delete", topic)
    t.ok(rc == 0 and "deleted" in out, "topic delete", out + err)
    time.sleep(0.5)
    names = [x["topic"] for x in (kcat_metadata() or {}).get("topics", [])]
    t.ok(topic not in names, "kcat -L no longer lists the deleted topic", names)
    rc, out, err = runnel("topic", "delete", topic)
    t.ok(rc == 4, "deleting it again: exit 4", (rc, err))
    rc, out, err = runnel("topic", "delete", topic, "--if-exists")
    t.ok(rc == 0, "--if-exists accepts a missing topic", (rc, err))


# ---- produce --------------------------------------------------------------------------------

def test_produce():
    topic = name("cli-produce")
    runnel("topic", "create", topic, "-p", "3")
    lines = "k1:hello\nk2:world with spaces\nnokey\n:empty key\nk5:\n"
    rc, out, err = runnel_json("produce", topic, "-K", ":", "-H", "source=cli", "-H", "trace",
                               "-p", "1", stdin=lines.encode())
    t.ok(rc == 0 and out and out["records"] == 5 and out["partitions"][0]["partition"] == 1 and
         out["partitions"][0]["first_offset"] == 0 and out["partitions"][0]["last_offset"] == 4,
         "produce --json summary: 5 records at offsets 0-4 of partition 1", (out, err))
    recs = kcat_records(topic)
    got = [(r["partition"], r["offset"], r["key"], r["payload"], r.get("headers")) for r in recs]
    hdrs = ["source", "cli", "trace", None]
    want = [(1, 0, "k1", "hello", hdrs), (1, 1, "k2", "world with spaces", hdrs),
            (1, 2, None, "nokey", hdrs), (1, 3, "", "empty key", hdrs), (1, 4, "k5", "", hdrs)]
    t.eq(got, want, "kcat -C reads the same keys, values and headers")

    # Every codec; kcat decompresses them.
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        values = ["%s value %d %s" % (codec, i, "x" * (i % 50)) for i in range(300)]
        rc, out, err = runnel("produce", topic, "-p", "2", "-z", codec,
                              stdin=("\n".join(values) + "\n").encode())
        rc2, kout, kerr = kcat("-C", "-t", topic, "-p", "2", "-o", "-300", "-e", "-q", "-f",
                               "%s\n")
        t.ok(rc == 0 and kout.splitlines() == values,
             "produce -z %s: kcat reads the 300 values back" % codec, (out, err, kout[:300], kerr))

    # Keyed records land where the Java partitioner (murmur2) puts them: as kcat's
    # murmur2_random partitioner does.
    t2 = name("cli-murmur")
    runnel("topic", "create", t2, "-p", "7")
    keys = ["key-%d" % i for i in range(60)]
    runnel("produce", t2, "-K", "=", stdin="".join("%s=runnel\n" % k for k in keys).encode())
    kcat("-P", "-t", t2, "-K", "=", "-X", "topic.partitioner=murmur2_random",
         stdin="".join("%s=kcat\n" % k for k in keys).encode())
    where = {}
    for r in kcat_records(t2):
        where.setdefault(r["key"], {})[r["payload"]] = r["partition"]
    same = [k for k in keys if where.get(k, {}).get("runnel") == where.get(k, {}).get("kcat")
            and "runnel" in where.get(k, {})]
    t.eq(len(same), len(keys), "keyed records go to the same partition as murmur2 (Java's)")

    # acks=0 and a file with another delimiter
    rc, out, err = runnel("produce", t2, "-a", "0", "-p", "0", stdin=b"fire\nforget\n")
    t.ok(rc == 0 and "produced 2 records" in out, "produce --acks 0", out + err)
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "runnel-cli-%s.txt" % SUFFIX)
    with open(path, "wb") as f:
        f.write(b"a|b|c")
    rc, out, err = runnel("produce", t2, "-f", path, "-D", "|", "-p", "3", "--null-empty")
    os.unlink(path)
    vals = [r["payload"] for r in kcat_records(t2, "-p", "3") if r["key"] is None]
    t.ok(rc == 0 and vals[-3:] == ["a", "b", "c"], "produce --file with --delimiter", (vals, err))
    rc, out, err = runnel("produce", t2, "-p", "99", stdin=b"x\n")
    t.ok(rc == 4 and "no partition 99" in err, "produce to a missing partition: exit 4",
         (rc, err))
    rc, out, err = runnel("produce", t2, "-z", "brotli", stdin=b"x\n")
    t.ok(rc == 2, "produce with an unknown codec: exit 2", (rc, err))


# ---- consume --------------------------------------------------------------------------------

def test_consume():
    topic = name("cli-consume")
    runnel("topic", "create", topic, "-p", "2")
    kcat("-P", "-t", topic, "-p", "0", "-K", ":", "-H", "h1=v1", "-H", "h2=v2",
         stdin=b"a:alpha\nb:beta\nc:gamma\n")
    kcat("-P", "-t", topic, "-p", "1", "-z", "lz4", stdin=b"one\ntwo\n")
    kfmt = kcat("-C", "-t", topic, "-e", "-q", "-f", "%k %s %o %p %T %h\n")[1]
    rc, out, err = runnel("consume", topic, "-o", "beginning", "-e", "-F", "%k %v %o %p %T %h")
    t.eq((rc, sorted(out.splitlines())), (0, sorted(kfmt.splitlines())),
         "consume -F '%k %v %o %p %T %h' prints what kcat -f prints")
    rc, out, err = runnel("consume", topic, "--json", "-o", "beginning", "-e", "-p", "0")
    recs = [json.loads(line) for line in out.splitlines()]
    t.ok(rc == 0 and [(r["offset"], r["key"], r["value"], r["headers"]) for r in recs] ==
         [(0, "a", "alpha", [["h1", "v1"], ["h2", "v2"]]), (1, "b", "beta", [["h1", "v1"], ["h2", "v2"]]),
          (2, "c", "gamma", [["h1", "v1"], ["h2", "v2"]])],
         "consume --json: one object per record with key, value and headers", (out, err))
    kts = {r["offset"]: r["ts"] for r in kcat_records(topic, "-p", "0")}
    t.ok(all(kts.get(r["offset"]) == r["timestamp"] for r in recs),
         "timestamps agree with kcat's", (kts, recs))

    rc, out, err = runnel("consume", topic, "-p", "0", "-o", "-2", "-e")
    t.eq(out.splitlines(), ["beta", "gamma"], "-o -2 starts two records before the end")
    rc, out, err = runnel("consume", topic, "-p", "0", "-o", "1", "-c", "1")
    t.eq((rc, out), (0, "beta\n"), "-o 1 -c 1: one record from offset 1")
    time.sleep(0.05)  # a later timestamp than kcat's three records
    runnel("produce", topic, "-p", "0", stdin=b"delta\n")
    ts = {r["offset"]: r["ts"] for r in kcat_records(topic, "-p", "0")}
    rc, out, err = runnel("consume", topic, "-p", "0", "-o", "@%d" % ts[3], "-e", "-F", "%o %v")
    t.eq((rc, out), (0, "3 delta\n"), "-o @TIMESTAMP starts at the first record at or after it")
    rc, out, err = runnel("consume", topic, "-p", "0", "-o", "@%d" % (ts[3] + 1), "-e")
    t.eq((rc, out), (0, ""), "-o @TIMESTAMP after the last record starts at the end")
    rc, out, err = runnel("consume", topic, "-p", "1", "-o", "end", "-e")
    t.eq((rc, out), (0, ""), "-o end -e prints nothing and exits")
    rc, out, err = runnel("consume", topic, "-o", "beginning", "-c", "5", "-F", "%p:%o")
    t.eq((rc, len(out.splitlines())), (0, 5), "-c 5 without -e stops after 5 records")
    rc, out, err = runnel("consume", "no-such-" + SUFFIX, "-e")
    t.ok(rc == 4 and "known topics:" in err, "consume of a missing topic: exit 4", (rc, err))


# ---- cluster --------------------------------------------------------------------------------

def test_cluster():
    rc, info, err = runnel_json("cluster", "info")
    md = kcat_metadata()
    ok = bool(rc == 0 and info and md)
    if ok:
        ok &= sorted(b["id"] for b in info["brokers"]) == sorted(b["id"] for b in md["brokers"])
        ok &= sorted("%s:%d" % (b["host"], b["port"]) for b in info["brokers"]) == \
            sorted(b["name"] for b in md["brokers"])
        ok &= info["controller"] == md["controllerid"]
        ok &= info["under_replicated"] == [] and info["offline"] == []
    t.ok(ok, "cluster info --json: brokers and controller as kcat -L reports them", (info, md, err))
    cmd = admin.list_topics(timeout=20)
    t.ok(info and info["cluster_id"] == cmd.cluster_id, "cluster id as confluent reports it",
         (info, cmd.cluster_id))
    rc, out, err = runnel("cluster", "info")
    t.ok(rc == 0 and "cluster id:" in out and "BROKER" in out and "under-replicated: 0" in out,
         "cluster info table", out + err)


# ---- groups ---------------------------------------------------------------------------------

def committed(group, topic, nparts):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False,
                  "log_level": 0})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(nparts)], timeout=20)
        return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}
    finally:
        c.close()


def test_groups():
    topic = name("cli-group")
    group = name("cli-g")
    runnel("topic", "create", topic, "-p", "3")
    for p in range(3):
        runnel("produce", topic, "-p", str(p), stdin=("".join("p%d-%d\n" % (p, i)
                                                              for i in range(p + 2))).encode())
    rc, out, err = runnel("consume", topic, "-g", group, "-o", "beginning", "-e", "-F", "%p %o")
    t.ok(rc == 0 and len(out.splitlines()) == 2 + 3 + 4,
         "consume -g reads every partition once (range assignor, single member)", (out, err))
    want = {0: 2, 1: 3, 2: 4}
    t.eq(committed(group, topic, 3), want,
         "confluent sees the offsets runnel committed as a group member")
    rc, out, err = runnel("consume", topic, "-g", group, "-e")
    t.eq((rc, out), (0, ""), "a second run starts at the committed offsets (nothing new)")

    rc, desc, err = runnel_json("group", "describe", group)
    offs = {o["partition"]: (o["committed"], o["log_end"], o["lag"])
            for o in (desc[0]["offsets"] if desc else []) if o["topic"] == topic}
    t.eq(offs, {p: (want[p], want[p], 0) for p in want},
         "group describe --json: committed, log end and lag per partition")
    t.ok(desc and desc[0]["state"] == "Empty" and desc[0]["members"] == [],
         "group describe: state Empty, no members", desc)
    rc, groups, err = runnel_json("group", "list")
    t.ok(rc == 0 and any(g["group"] == group and g["protocol_type"] == "consumer"
                         for g in groups or []), "group list --json lists the group", groups)
    listed = [g.id for g in admin.list_groups(timeout=20)]
    t.ok(group in listed, "confluent's list_groups agrees", listed)

    rc, plan, err = runnel_json("group", "reset-offsets", group, "--topic", topic, "--to-earliest")
    t.ok(rc == 0 and plan and not plan["executed"] and
         all(o["new"] == 0 for o in plan["offsets"]) and committed(group, topic, 3) == want,
         "reset-offsets without --execute is a dry run", (plan, err))
    rc, out, err = runnel("group", "reset-offsets", group, "--topic", "%s:1,2" % topic,
                          "--shift-by", "-1", "--execute")
    t.eq((rc, committed(group, topic, 3)), (0, {0: 2, 1: 2, 2: 3}),
         "reset-offsets --shift-by -1 on partitions 1,2: confluent sees the new offsets")
    rc, out, err = runnel("group", "reset-offsets", group, "--topic", topic, "--to-earliest",
                          "--execute")
    t.eq((rc, committed(group, topic, 3)), (0, {0: 0, 1: 0, 2: 0}),
         "reset-offsets --to-earliest --execute")
    rc, out, err = runnel("consume", topic, "-g", group, "-e", "-F", "%p %o")
    t.eq((rc, len(out.splitlines())), (0, 9), "consuming again after the reset reads everything")

    # An active librdkafka member: describe shows it with its assignment; delete refuses.
    g2 = name("cli-g2")
    c = Consumer({"bootstrap.servers": BOOT, "group.id": g2, "client.id": "confluent-cli-test",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "partition.assignment.strategy": "range", "log_level": 0})
    c.subscribe([topic])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not c.assignment():
        c.poll(0.2)
    mine = sorted(tp.partition for tp in c.assignment())
    rc, desc, err = runnel_json("group", "describe", g2)
    members = desc[0]["members"] if desc else []
    assigned = sorted(p for m in members for a in m["assignment"] if a["topic"] == topic
                      for p in a["partitions"])
    t.ok(rc == 0 and len(members) == 1 and members[0]["client_id"] == "confluent-cli-test" and
         assigned == mine == [0, 1, 2], "group describe shows the librdkafka member and its "
         "assignment", (desc, mine, err))
    rc, out, err = runnel("group", "delete", g2)
    t.ok(rc == 1 and "NON_EMPTY_GROUP" in err and "stop its consumers" in err,
         "group delete of an active group: exit 1 and what to do", (rc, err))
    rc, out, err = runnel("group", "reset-offsets", g2, "--topic", topic, "--to-latest",
                          "--execute")
    t.ok(rc == 1 and "active member" in err, "reset-offsets refuses an active group", (rc, err))
    c.close()

    rc, out, err = runnel("group", "delete", group)
    t.ok(rc == 0 and "deleted group" in out, "group delete", out + err)
    rc, out, err = runnel("group", "describe", group)
    t.ok(rc == 4 and "not found" in err and "known groups:" in err,
         "describe of a deleted group: exit 4 and the known groups", (rc, err))
    rc, out, err = runnel("group", "delete", group)
    t.ok(rc == 4, "deleting it again: exit 4", (rc, err))


def test_two_members():
    """Two runnel members of one group split the partitions with the range assignor."""
    topic = name("cli-split")
    group = name("cli-split-g")
    runnel("topic", "create", topic, "-p", "4")
    argv = [RUNNEL, "-b", BOOT, "consume", topic, "-g", group, "-o", "beginning", "-F", "%p",
            "--session-timeout-ms", "6000", "--commit-interval-ms", "500"]
    a = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    b = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    members = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rc, desc, err = runnel_json("group", "describe", group)
        members = desc[0]["members"] if rc == 0 and desc else []
        if len(members) == 2 and desc[0]["state"] == "Stable":
            break
        time.sleep(0.5)
    parts = [sorted(p for x in m["assignment"] for p in x["partitions"]) for m in members]
    ids = [m["member_id"] for m in members]
    by_id = [p for _, p in sorted(zip(ids, parts))]
    t.eq(by_id, [[0, 1], [2, 3]], "range assignor: the lower member id gets 0-1, the other 2-3")
    runnel("produce", topic, "-K", ":", stdin="".join("k%d:v\n" % i for i in range(40)).encode())
    time.sleep(2)
    for p in (a, b):
        p.terminate()
    outs = [p.communicate(timeout=20)[0].decode().split() for p in (a, b)]
    t.ok(a.returncode == 0 and b.returncode == 0, "members exit 0 on SIGTERM",
         (a.returncode, b.returncode))
    seen = sorted(outs[0] + outs[1])
    total = len(kcat_records(topic))
    t.ok(len(seen) == total == 40 and not set(outs[0]) & set(outs[1]),
         "every record read once, by the member owning its partition", (outs, total))
    got = committed(group, topic, 4)
    ends = {}
    for r in kcat_records(topic):
        ends[r["partition"]] = r["offset"] + 1
    t.eq(got, ends, "both members committed their positions on exit")


def test_mixed_group():
    """runnel and librdkafka in one group: librdkafka (the first member, so the leader)
    assigns with its range assignor, runnel decodes its share; they split the partitions."""
    topic = name("cli-mixed")
    group = name("cli-mixed-g")
    runnel("topic", "create", topic, "-p", "4")
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "log_level": 0,
                  "partition.assignment.strategy": "range", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not c.assignment():
        c.poll(0.2)
    r = subprocess.Popen([RUNNEL, "-b", BOOT, "consume", topic, "-g", group, "-F", "%p",
                          "--session-timeout-ms", "6000"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    members = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        c.poll(0.2)
        rc, desc, err = runnel_json("group", "describe", group)
        members = desc[0]["members"] if rc == 0 and desc else []
        if len(members) == 2 and desc[0]["state"] == "Stable" and len(c.assignment()) == 2:
            break
    mine = sorted(tp.partition for tp in c.assignment())
    theirs = sorted(p for m in members if m["client_id"] == "runnel" for a in m["assignment"]
                    for p in a["partitions"])
    t.ok(len(members) == 2 and len(mine) == 2 and sorted(mine + theirs) == [0, 1, 2, 3],
         "runnel and a librdkafka consumer share a group's partitions", (members, mine))
    r.terminate()
    r.communicate(timeout=20)
    t.eq(r.returncode, 0, "runnel leaves the mixed group cleanly")
    c.close()


def main():
    t.step("help", test_help)
    t.step("topics", test_topics)
    t.step("produce", test_produce)
    t.step("consume", test_consume)
    t.step("cluster", test_cluster)
    apis = t.step("api versions", served_apis) or {}
    group_keys = (8, 9, 10, 11, 12, 13, 14, 15, 16, 42)
    missing = [k for k in group_keys if k not in apis]
    if missing:
        t.ok(True, "groups # SKIP the broker does not serve api keys %s" % missing)
    else:
        t.step("groups", test_groups)
        t.step("two members", test_two_members)
        t.step("mixed group", test_mixed_group)
    if broker:
        broker.finish(t)
    t.done()


main()
