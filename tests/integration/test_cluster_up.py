#!/usr/bin/env python3
"""`runnel cluster up / status / down` (tools/runnel_up.c, tools/runnel_local.c): three nodes
come up as daemons on 19210-19212 and `up` returns the bootstrap list only once they serve (a
topic with replication factor 3 is created through it at once, and records go through it);
status shows each node's pid, role and registration; `up` again says the cluster runs; a
killed node is started again by `up`; `down` stops every node and keeps the data; and the
errors (port in use, no runneld, a node that cannot start, a cluster.conf contradicted)
name what to do and leave nothing running."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rn_testlib as L  # noqa: E402

T = L.Tap("test_cluster_up", timeout_s=120)
RUNNEL = os.path.join(L.BUILD, "tools", "runnel")
RUNNELD = os.path.join(L.BUILD, "broker", "runneld")
PORT = 19210
BOOT = "127.0.0.1:19210,127.0.0.1:19211,127.0.0.1:19212"
TMP = tempfile.mkdtemp(prefix="rn-cluster-up-")
DIR = os.path.join(TMP, "c")


def runnel(*args, env=None, exe=RUNNEL):
    p = subprocess.run([exe] + list(args), capture_output=True, text=True, timeout=60,
                       env=env, cwd=TMP)
    return p.returncode, p.stdout, p.stderr


def pids(d=DIR, n=3):
    out = []
    for i in range(1, n + 1):
        try:
            with open(os.path.join(d, "node-%d.pid" % i)) as f:
                out.append(int(f.read()))
        except (OSError, ValueError):
            out.append(None)
    return out


def alive(pid):
    if pid is None:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def cleanup():
    for d in (DIR, os.path.join(TMP, "busy"), os.path.join(TMP, "bad")):
        if os.path.exists(os.path.join(d, "cluster.conf")):
            runnel("cluster", "down", "--dir", d, "--wait", "5")
        for pid in pids(d):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(TMP, ignore_errors=True)


T.cleanups.append(cleanup)


def status_json():
    rc, out, err = runnel("cluster", "status", "--dir", DIR, "--json")
    try:
        return rc, json.loads(out)
    except ValueError:
        return rc, {"raw": out + err}


def main():
    if not os.access(RUNNEL, os.X_OK) or not os.access(RUNNELD, os.X_OK):
        print("1..0 # skip runnel or runneld is not built in %s" % L.BUILD)
        sys.exit(0)

    rc, out, _ = runnel("cluster", "--help")
    T.ok(rc == 0 and all(" %s " % w in out for w in ("up", "status", "down")),
         "runnel cluster --help lists up, status and down", out)

    t0 = time.monotonic()
    # A shorter broker session (passed through to runneld) lets a SIGKILLed node register
    # again sooner: the controller keeps its old registration until the session expires.
    rc, out, err = runnel("cluster", "up", "-n", "3", "--port", str(PORT), "--dir", DIR, "--",
                          "--broker.session.timeout.ms", "4000")
    took = time.monotonic() - t0
    T.ok(rc == 0, "cluster up exits 0 (%.2f s)" % took, err)
    T.eq(out, BOOT + "\n", "the bootstrap list is the one line on stdout")
    T.ok("runnel cluster of 3 nodes up" in err, "stderr says the cluster is up", err)
    T.diag("runnel cluster up took %.2f s" % took)
    first = pids()
    T.ok(all(alive(p) for p in first), "three pid files name live processes %s" % first)
    T.ok(all(os.path.isdir(os.path.join(DIR, "node-%d" % i)) for i in (1, 2, 3)),
         "each node has its data directory under --dir")
    T.ok(all(os.getsid(p) == p for p in first if alive(p)),
         "each node leads a session of its own (daemonized)")

    rc, st = status_json()
    T.ok(rc == 0, "cluster status exits 0 with every node up", st)
    nodes = st.get("nodes", [])
    T.eq([n["state"] for n in nodes], ["running"] * 3, "status: three nodes running")
    T.eq([n["pid"] for n in nodes], first, "status: the pids of the pid files")
    roles = sorted(n["role"] or "-" for n in nodes)
    T.eq(roles, ["follower", "follower", "leader"], "status: one quorum leader, two followers")
    T.eq([n["broker"] for n in nodes], ["registered"] * 3, "status: three brokers registered")
    rc, text, _ = runnel("cluster", "status", "--dir", DIR)
    T.ok(rc == 0 and "3 of 3 nodes running" in text and "quorum leader" in text,
         "status as a table", text)

    created = T.step("create a topic through the bootstrap list", create_and_use)
    T.ok(created, "a topic of replication factor 3 created at once through the bootstrap "
                  "list, 30 records produced and read back")

    rc, out, err = runnel("cluster", "up", "--dir", DIR)
    T.ok(rc == 0 and out == BOOT + "\n" and "already running" in err,
         "cluster up again: already running, prints the bootstrap", (rc, out, err))
    T.eq(pids(), first, "... and starts nothing")
    rc, out, err = runnel("cluster", "up", "-n", "5", "--dir", DIR)
    T.ok(rc == 1 and "cluster.conf" in err and "3 nodes" in err,
         "-n 5 over a 3-node cluster is refused, saying what the directory holds", err)

    os.kill(first[1], signal.SIGKILL)
    T.ok(wait(lambda: not alive(first[1]), 5), "node 2 SIGKILLed")
    rc, st = status_json()
    T.ok(rc == 1 and st["nodes"][1]["state"] == "stopped",
         "status exits 1 and shows node 2 stopped", st)
    t1 = time.monotonic()
    rc, out, err = runnel("cluster", "up", "--dir", DIR)
    T.ok(rc == 0 and "node 2 is not running; starting it" in err and out == BOOT + "\n",
         "cluster up starts node 2 again (%.2f s)" % (time.monotonic() - t1), (rc, out, err))
    again = pids()
    T.ok(again[0] == first[0] and again[2] == first[2] and alive(again[1]) and
         again[1] != first[1], "only node 2 is new", again)

    t2 = time.monotonic()
    rc, out, err = runnel("cluster", "down", "--dir", DIR)
    T.ok(rc == 0 and "stopped 3 nodes" in out, "cluster down exits 0 (%.2f s)"
         % (time.monotonic() - t2), (rc, out, err))
    T.ok(not any(alive(p) for p in again), "every node has exited")
    T.ok(not any(os.path.exists(os.path.join(DIR, "node-%d.pid" % i)) for i in (1, 2, 3)),
         "the pid files are removed")
    T.ok(any(e.startswith("upcheck-") for i in (1, 2, 3)
             for e in os.listdir(os.path.join(DIR, "node-%d" % i))),
         "the data is kept")
    T.ok(any("stopped cleanly" in open(os.path.join(DIR, "node-%d.log" % i)).read()
             for i in (1, 2, 3)), "the nodes logged a clean stop")
    rc, st = status_json()
    T.ok(rc == 1 and [n["state"] for n in st.get("nodes", [])] == ["stopped"] * 3,
         "status after down: three nodes stopped, exit 1", st)
    rc, out, err = runnel("cluster", "down", "--dir", DIR)
    T.ok(rc == 0 and "no node" in out, "down again: nothing to stop", (rc, out, err))
    rc, out, err = runnel("cluster", "status", "--dir", os.path.join(TMP, "none"))
    T.ok(rc == 4 and "runnel cluster up --dir" in err,
         "status of a directory without a cluster exits 4 and says how to start one", err)

    errors()
    T.done()


def wait(pred, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def create_and_use():
    """CreateTopics with replication factor 3 (refused unless all three brokers are registered
    and unfenced), then records produced through the bootstrap list and read back by
    partition (kcat) through node 3."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": BOOT})
    fut = admin.create_topics([NewTopic("upcheck", 3, 3)], operation_timeout=10)["upcheck"]
    fut.result(timeout=15)
    p = Producer({"bootstrap.servers": BOOT, "acks": "all"})
    for i in range(30):
        p.produce("upcheck", key=str(i % 3), value="v%d" % i)
    if p.flush(15) != 0:
        return False
    out = subprocess.run(["kcat", "-C", "-b", "127.0.0.1:19212", "-t", "upcheck", "-o",
                          "beginning", "-e", "-q"], capture_output=True, text=True,
                         timeout=30).stdout
    return sorted(out.split()) == sorted("v%d" % i for i in range(30))


def errors():
    """The failures `up` explains, each leaving no node running."""
    busy = os.path.join(TMP, "busy")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 19225))
    s.listen(1)
    rc, out, err = runnel("cluster", "up", "--port", "19223", "--dir", busy)
    s.close()
    T.ok(rc == 1 and "127.0.0.1:19225 (node 3) is in use" in err and "--port" in err,
         "a port in use is named, with what to do", err)
    T.ok(not any(alive(p) for p in pids(busy)), "... and nothing was started")

    lone = os.path.join(TMP, "lone")
    os.makedirs(lone)
    shutil.copy(RUNNEL, lone)
    env = dict(os.environ, PATH="/usr/bin:/bin")
    rc, out, err = runnel("cluster", "up", "--port", "19223", "--dir", busy, env=env,
                          exe=os.path.join(lone, "runnel"))
    T.ok(rc == 1 and "runneld not found" in err and "--runneld" in err,
         "no runneld next to runnel or in PATH: said, with --runneld as the way out", err)
    rc, out, err = runnel("cluster", "up", "--port", "19223", "--dir", busy, "--runneld",
                          RUNNELD, env=env, exe=os.path.join(lone, "runnel"))
    T.ok(rc == 0, "--runneld PATH is used", err)
    runnel("cluster", "down", "--dir", busy)

    bad = os.path.join(TMP, "bad")
    rc, out, err = runnel("cluster", "up", "--port", "19226", "--dir", bad, "--",
                          "--no-such-key", "1")
    T.ok(rc == 1 and "exited while starting" in err and "--no-such-key" in err,
         "a node that cannot start: its exit and the end of its log are shown", err)
    T.ok(not any(alive(p) for p in pids(bad)) and not any(
        os.path.exists(os.path.join(bad, "node-%d.pid" % i)) for i in (1, 2, 3)),
        "... and the nodes started with it are stopped again")


main()
