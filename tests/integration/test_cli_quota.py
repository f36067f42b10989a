"""runnel quota describe|alter end to end against a fresh runneld: quotas set with the CLI
are read back with the CLI (table and --json) and with the test suite's own wire client
(DescribeClientQuotas), deleted, set on the default client id and on a user's client; the
broker's validation errors reach the user with exit 1, usage errors exit 2, and
--validate-only changes nothing. Prints TAP."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import BUILD, Broker, Conn, Tap  # noqa: E402

RUNNEL = os.path.join(BUILD, "tools", "runnel")

t = Tap("test_cli_quota", timeout_s=120)
broker = Broker()
t.cleanups.append(broker.cleanup)
BOOT = broker.bootstrap


def runnel(*args):
    p = subprocess.run([RUNNEL, "-b", BOOT] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def runnel_json(*args):
    rc, out, err = runnel("--json", *args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, err + "\n(stdout was) " + out


def wire_quotas():
    """Every entity's quotas as the broker answers them on the wire, independent of runnel:
    {((type, name), ...): {key: value}} with the parts sorted by type."""
    conn = Conn(BOOT)
    resp = conn.call("DescribeClientQuotas", 1, {"Components": [], "Strict": False})
    conn.close()
    out = {}
    for e in resp["Entries"] or []:
        key = tuple(sorted((x["EntityType"], x["EntityName"]) for x in e["Entity"]))
        out[key] = {v["Key"]: v["Value"] for v in e["Values"]}
    return out


def table(out):
    """The describe table as [(entity, key, value)], header checked."""
    lines = out.splitlines()
    if not lines or lines[0].split() != ["ENTITY", "KEY", "VALUE"]:
        return None
    return [tuple(line.split()) for line in lines[1:]]


def test_help():
    rc, out, err = runnel("--help")
    t.ok(rc == 0 and "quota describe" in out and "quota alter" in out,
         "runnel --help lists quota describe and quota alter", out + err)
    rc, out, err = runnel("quota", "--help")
    t.ok(rc == 0 and "describe" in out and "alter" in out, "runnel quota --help", out + err)
    for cmd in ("describe", "alter"):
        rc, out, err = runnel("quota", cmd, "--help")
        t.ok(rc == 0 and out.startswith("usage: runnel quota " + cmd) and "2  usage error" in out,
             "quota %s --help: usage line and exit statuses" % cmd, out + err)


def test_alter_describe():
    rc, out, err = runnel("quota", "describe")
    t.ok(rc == 0 and "no client quotas match" in out, "describe on a fresh broker: none", out + err)
    rc, out, err = runnel("quota", "alter", "--client-id", "reporting", "--add",
                          "producer_byte_rate=1048576,consumer_byte_rate=2097152",
                          "--add", "request_percentage=12.5")
    t.ok(rc == 0 and "updated quotas of client-id=reporting" in out, "alter --client-id --add",
         out + err)
    t.eq(wire_quotas(), {(("client-id", "reporting"),): {
        "producer_byte_rate": 1048576.0, "consumer_byte_rate": 2097152.0,
        "request_percentage": 12.5}}, "the broker holds the three quotas")
    rc, out, err = runnel("quota", "describe", "--client-id", "reporting")
    t.eq(table(out), [("client-id=reporting", "consumer_byte_rate", "2097152"),
                      ("client-id=reporting", "producer_byte_rate", "1048576"),
                      ("client-id=reporting", "request_percentage", "12.5")],
         "describe --client-id: table sorted by key, byte rates as whole numbers")
    rc, js, err = runnel_json("quota", "describe", "--client-id", "reporting")
    t.eq((rc, js), (0, [{"entity": {"client-id": "reporting"},
                         "quotas": {"consumer_byte_rate": 2097152, "producer_byte_rate": 1048576,
                                    "request_percentage": 12.5}}]), "describe --json")

    rc, out, err = runnel("quota", "alter", "--client-id", "reporting", "--delete",
                          "request_percentage")
    t.ok(rc == 0 and "-request_percentage" in out, "alter --delete", out + err)
    t.eq(wire_quotas(), {(("client-id", "reporting"),): {
        "producer_byte_rate": 1048576.0, "consumer_byte_rate": 2097152.0}},
        "the deleted quota is gone, the others stay")


def test_default_and_user():
    rc, out, err = runnel("quota", "alter", "--default-client-id", "--add", "producer_byte_rate=1000")
    t.ok(rc == 0 and "client-id=<default>" in out, "alter --default-client-id", out + err)
    rc, out, err = runnel("quota", "alter", "--user", "bob", "--client-id", "reporting",
                          "--add", "consumer_byte_rate=5000")
    t.ok(rc == 0 and "user=bob,client-id=reporting" in out, "alter --user --client-id", out + err)
    w = wire_quotas()
    t.eq((w.get((("client-id", None),)), w.get((("client-id", "reporting"), ("user", "bob")))),
         ({"producer_byte_rate": 1000.0}, {"consumer_byte_rate": 5000.0}),
         "the broker holds the default client id's and the user's client's quotas")
    rc, js, err = runnel_json("quota", "describe", "--default-client-id")
    t.eq((rc, js), (0, [{"entity": {"client-id": None}, "quotas": {"producer_byte_rate": 1000}}]),
         "describe --default-client-id --json: the default is null")
    rc, out, err = runnel("quota", "describe", "--client-id", "reporting")
    t.ok(rc == 0 and "bob" not in out and "<default>" not in out,
         "a client-id filter names the whole entity (the user's client is not listed)", out)
    rc, out, err = runnel("quota", "describe")
    t.eq([r[0] for r in table(out) or []],
         ["client-id=<default>", "client-id=reporting", "client-id=reporting",
          "user=bob,client-id=reporting"], "describe without a filter lists every entity")
    rc, js, err = runnel_json("quota", "describe", "--user", "bob", "--client-id", "reporting")
    t.eq(js, [{"entity": {"user": "bob", "client-id": "reporting"},
               "quotas": {"consumer_byte_rate": 5000}}], "describe --user --client-id --json")


def test_errors():
    before = wire_quotas()
    rc, out, err = runnel("quota", "alter", "--client-id", "reporting", "--add",
                          "producer_byte_rate=0")
    t.ok(rc == 1 and "client-id=reporting" in err and "INVALID_REQUEST" in err and
         "Quota producer_byte_rate must be greater than 0" in err,
         "a value the broker refuses: exit 1 with the entity and the broker's reason", (rc, err))
    rc, out, err = runnel("quota", "alter", "--client-id", "reporting", "--add",
                          "consumer_byte_rate=10,no_such_quota=1")
    t.ok(rc == 1 and "Invalid configuration key no_such_quota" in err,
         "an unknown key: exit 1 naming the key", (rc, err))
    rc, out, err = runnel("quota", "alter", "--client-id", "reporting", "--add",
                          "producer_byte_rate=1.5")
    t.ok(rc == 1 and "fractional" in err, "a fractional byte rate: exit 1", (rc, err))
    t.eq(wire_quotas(), before, "refused changes changed nothing (not even their valid ops)")
    rc, out, err = runnel("quota", "alter", "--client-id", "reporting", "--add",
                          "producer_byte_rate=7", "--validate-only")
    t.ok(rc == 0 and out.startswith("validated change of quotas of client-id=reporting"),
         "--validate-only succeeds", out + err)
    t.eq(wire_quotas(), before, "--validate-only changes nothing")
    for args, want in ((["--add", "producer_byte_rate=1"], "--client-id"),
                       (["--client-id", "x"], "nothing to change"),
                       (["--client-id", "x", "--add", "producer_byte_rate=lots"], "number"),
                       (["--client-id", "x", "--add", "producer_byte_rate"], "KEY=VALUE"),
                       (["--client-id", "x", "--default-client-id", "--add", "a=1"], "one client"),
                       (["--client-id", "x", "--delete", "a=1"], "without values")):
        rc, out, err = runnel("quota", "alter", *args)
        t.ok(rc == 2 and want in err and "--help" in err, "usage error %s: exit 2" % args,
             (rc, err))
    rc, out, err = runnel("quota", "describe", "--add", "a=1")
    t.ok(rc == 2 and "unknown option" in err, "describe has no --add: exit 2", (rc, err))
    p = subprocess.run([RUNNEL, "-b", "127.0.0.1:1", "quota", "describe"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    t.ok(p.returncode == 3, "unreachable broker: exit 3", p.stderr)


def main():
    t.step("help", test_help)
    t.step("alter and describe", test_alter_describe)
    t.step("default client id and a user's client", test_default_and_user)
    t.step("errors and exit statuses", test_errors)
    broker.finish(t)
    t.done()


main()
