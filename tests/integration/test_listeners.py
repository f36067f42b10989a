#!/usr/bin/env python3
"""Named listeners as docker-compose users configure Kafka: runneld from a YAML file with
INTERNAL (127.0.0.1:P1, advertising itself) and EXTERNAL (every interface, port P2,
advertised as 127.0.0.2:P2), inter.broker.listener.name INTERNAL.

  - kcat -L through each listener lists the broker at that listener's advertised address;
  - DescribeCluster and FindCoordinator answer the same per listener (raw requests);
  - confluent-kafka produces through EXTERNAL and a group consumes through INTERNAL;
  - misspelt listener names (advertised.listeners, the protocol map,
    inter.broker.listener.name, controller.listener.names), a SASL mechanism runnel does not
    offer and an advertised 0.0.0.0 stop start-up with exit 2 and a message naming the key;
  - --listen alone still serves one PLAINTEXT listener.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import RUNNELD, Broker, Conn, Tap, free_port  # noqa: E402
import datapath_common as D  # noqa: E402

from confluent_kafka import Consumer, Producer  # noqa: E402

t = Tap("listeners", timeout_s=180)
work = tempfile.mkdtemp(prefix="rn-listeners-")
t.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))

P1, P2 = free_port(), free_port()
INTERNAL = "127.0.0.1:%d" % P1
EXTERNAL = "127.0.0.2:%d" % P2
YAML = """\
node.id: 1
log.dirs: %s
listeners: INTERNAL://127.0.0.1:%d,EXTERNAL://:%d
advertised.listeners: EXTERNAL://127.0.0.2:%d
listener.security.protocol.map: INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
inter.broker.listener.name: INTERNAL
controller.listener.names: INTERNAL
""" % (os.path.join(work, "data"), P1, P2, P2)


def write(name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def start(args, ports):
    """runneld with args, once every port accepts; the Popen and its log file."""
    log = open(os.path.join(work, "runneld.log"), "ab")
    proc = subprocess.Popen([RUNNELD] + args, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=D._die_with_parent)
    t.cleanups.insert(0, lambda: proc.poll() is None and (proc.kill(), proc.wait()))
    deadline = time.monotonic() + 60
    pending = list(ports)
    while pending and time.monotonic() < deadline and proc.poll() is None:
        try:
            D.socket.create_connection(pending[0], timeout=0.5).close()
            pending.pop(0)
        except OSError:
            time.sleep(0.05)
    return proc, log


def kcat_brokers(bootstrap):
    out = subprocess.run(["kcat", "-b", bootstrap, "-L", "-J", "-m", "10"], capture_output=True,
                         text=True, timeout=60)
    return [b["name"] for b in json.loads(out.stdout)["brokers"]] if out.returncode == 0 else out


def two_listeners():
    proc, log = start(["--config", write("runnel.yaml", YAML)],
                      [("127.0.0.1", P1), ("127.0.0.2", P2)])
    if not t.ok(proc.poll() is None, "runneld starts with two named listeners"):
        return
    t.eq(kcat_brokers(INTERNAL), [INTERNAL], "kcat through INTERNAL sees INTERNAL's address")
    t.eq(kcat_brokers(EXTERNAL), [EXTERNAL], "kcat through EXTERNAL sees EXTERNAL's address")
    for name, addr in (("INTERNAL", INTERNAL), ("EXTERNAL", EXTERNAL)):
        c = Conn(addr)
        r = c.call("DescribeCluster", 0, {"IncludeClusterAuthorizedOperations": False})
        t.eq(["%s:%d" % (b["Host"], b["Port"]) for b in r["Brokers"]], [addr],
             "DescribeCluster through %s answers its address" % name)
        r = c.call("FindCoordinator", 2, {"Key": "g-listeners", "KeyType": 0})
        t.eq("%s:%d" % (r["Host"], r["Port"]), addr,
             "FindCoordinator through %s answers its address" % name)
        c.close()

    topic = "listeners-%d" % os.getpid()
    prod = Producer({"bootstrap.servers": EXTERNAL, "acks": "all"})
    for i in range(20):
        prod.produce(topic, value=b"v%d" % i, key=b"k")
    left = prod.flush(30)
    t.eq(left, 0, "confluent-kafka produces 20 records through EXTERNAL")
    cons = Consumer({"bootstrap.servers": INTERNAL, "group.id": "g-" + topic,
                     "auto.offset.reset": "earliest"})
    cons.subscribe([topic])
    got, deadline = [], time.monotonic() + 60
    while len(got) < 20 and time.monotonic() < deadline:
        msg = cons.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
    cons.close()
    t.eq(got, [b"v%d" % i for i in range(20)], "a group consumes them through INTERNAL")

    proc.terminate()
    t.eq(proc.wait(30), 0, "runneld stops cleanly")
    log.close()
    with open(os.path.join(work, "runneld.log"), errors="replace") as f:
        text = f.read()
    t.ok("listener EXTERNAL on 0.0.0.0:%d, advertised as %s" % (P2, EXTERNAL) in text,
         "the log names each listener and its advertised address", text[-2000:])


def refused(desc, overrides, want):
    """runneld with the YAML file and overriding flags must exit 2 (a configuration error)
    naming want."""
    out = subprocess.run([RUNNELD, "--config", write("runnel.yaml", YAML)] + overrides,
                         capture_output=True, text=True, timeout=30)
    t.ok(out.returncode == 2 and all(w in out.stderr for w in want),
         "%s: exit 2 naming %s" % (desc, ", ".join(want)),
         "exit %d, stderr: %s" % (out.returncode, out.stderr))


def start_errors():
    cases = [
        ("advertised.listeners misspelt", ["--advertised.listeners", "EXTRENAL://h:1"],
         ["advertised.listeners", "EXTRENAL", "INTERNAL, EXTERNAL"]),
        ("protocol map misspelt", ["--listener.security.protocol.map",
                                   "INTERNAL:PLAINTEXT,EXTRENAL:PLAINTEXT"],
         ["listener.security.protocol.map", "EXTRENAL"]),
        ("inter.broker.listener.name misspelt", ["--inter.broker.listener.name", "INTERNL"],
         ["inter.broker.listener.name", "INTERNL", "INTERNAL, EXTERNAL"]),
        ("controller.listener.names misspelt", ["--controller.listener.names", "CONTROLLER"],
         ["controller.listener.names", "CONTROLLER", "INTERNAL, EXTERNAL"]),
        ("a SASL_SSL listener offering GSSAPI", ["--listener.security.protocol.map",
                                                 "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
                                                 "--sasl.enabled.mechanisms", "GSSAPI"],
         ["sasl.enabled.mechanisms", "GSSAPI"]),
        ("a listener missing from the map", ["--listener.security.protocol.map",
                                             "INTERNAL:PLAINTEXT"],
         ["listener.security.protocol.map", "EXTERNAL"]),
        ("0.0.0.0 without an advertised address",
         ["--listeners", "INTERNAL://127.0.0.1:%d,EXTERNAL://0.0.0.0:%d" % (P1, P2),
          "--advertised.listeners", ""], ["advertised.listeners", "EXTERNAL", "0.0.0.0"]),
    ]
    for desc, flags, want in cases:
        refused(desc, flags, want)


def listen_alone():
    b = Broker()
    t.eq(kcat_brokers(b.bootstrap), [b.bootstrap], "--listen alone: one PLAINTEXT listener")
    b.finish(t)
    b.cleanup()


t.step("two listeners", two_listeners)
t.step("start-up errors", start_errors)
t.step("--listen alone", listen_alone)
t.done()
