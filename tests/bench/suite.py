#!/usr/bin/env python3
"""The performance suite (issue 17): every workload against runneld, Apache Kafka and
librdkafka's mock cluster in one invocation, with the ratios and the machine's own limits.

  scripts/bench.sh --suite [--scale F] [--only P1,L1,...] [--no-kafka] [--no-mock] [--big]

Workloads (message counts at --scale 1; each produce workload is also consumed back):
  P1  100 B, acks=1, 1 partition, 2,000,000 msgs, two rounds        -> produce msgs/s
  C1  consume P1's topic from the beginning                          -> msgs/s
  P2  1 KiB, acks=all, 1 partition, 500,000 msgs: two rounds uncompressed, then lz4, zstd
  C2  consume P2's topic                                             -> MB/s
  P3  100 B, acks=1, 8 partitions, 4 producers, 2,000,000 msgs       -> msgs/s
  L1  end-to-end latency (enqueue to consumer), 100 B, linger.ms=0, at 10k msgs/s (10 s)
      and 100k msgs/s (10 s)                                         -> p50/p99/p99.9 ms
  K   Kafka's own kafka-producer-perf-test (1,000,000 x 100 B, acks=1) and
      kafka-consumer-perf-test, as a second load generator            -> msgs/s
  M   idle RSS, peak RSS through P2, RSS holding 10,000 partitions
  S   runneld start-up (empty), restart after a clean stop and after SIGKILL with 1,000
      partitions (tests/bench/restart_bench.py); --big adds a restart with 10 GiB of data
  machine: loopback TCP copy, sequential write without and with fdatasync

Both brokers run with group.initial.rebalance.delay.ms=0 (kafka-consumer-perf-test's new
group would otherwise wait 3 s for its first join). Placement on a machine with 2+ CPUs: the broker (runneld or Kafka's JVM) is pinned to CPU 0
and the client to CPU 1 (taskset), so the two do not fight for one core; the mock cluster
lives inside the client process and gets every CPU. Kafka is 3.9.1 by default
(KAFKA_REF_VERSION), started by scripts/kafka-ref.sh with its default 1 GiB heap.

Prints one table (figures and the runnel/kafka and runnel/mock ratios) and writes the raw
rows (results.tsv) and the table as Markdown (table.md) into the run directory, which it
names at the end. Not a pass/fail test; not run in CI (about 10 minutes at --scale 1).
Environment: RN_BUILD_DIR, BENCH_DIR (run directories), KAFKA_REF_VERSION, RN_TEST_PORTS=LO-HI
(brokers listen on ports of that range instead of ones the kernel picks).
"""

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("RN_BUILD_DIR") or os.path.join(SRC, "build")
RUNNELD = os.path.join(BUILD, "broker", "runneld")
BENCH = os.path.join(BUILD, "tests", "bench_rdkafka")
KAFKA_VERSION = os.environ.get("KAFKA_REF_VERSION", "3.9.1")
TOOLS_LIBS = os.path.expanduser("~/.cache/runnel/kafka-tools/%s/libs")

PINNED = (os.cpu_count() or 1) >= 2
BROKER_CPU, CLIENT_CPU = "0", "1"


def log(msg):
    print("# " + msg, flush=True)


def pin(cmd, cpu):
    return ["taskset", "-c", cpu] + cmd if PINNED and shutil.which("taskset") else cmd


_handed = set()


def free_port():
    """A free loopback port: the kernel's choice, or with RN_TEST_PORTS=LO-HI (a machine
    shared with others, as the integration tests take it) the first one of that range not
    handed out yet that binds."""
    span = os.environ.get("RN_TEST_PORTS", "")
    if not span:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    lo, hi = (int(x) for x in span.split("-", 1))
    for port in range(lo, hi + 1):
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    sys.exit("suite: no free port left in RN_TEST_PORTS=%s" % span)


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def proc_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Runneld:
    name = "runnel"

    def __init__(self, work):
        self.dir = os.path.join(work, "runneld")
        self.port = free_port()
        self.started_s = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.logf = open(os.path.join(self.dir, "runneld.log"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            # group.initial.rebalance.delay.ms 0 as scripts/kafka-ref.sh gives Kafka: with the
            # default 3 s a new group's first join (kafka-consumer-perf-test's) waits 3 s.
            pin([RUNNELD, "--node-id", "1", "--listen", "127.0.0.1:%d" % self.port,
                 "--data-dir", os.path.join(self.dir, "data"),
                 "--group.initial.rebalance.delay.ms", "0"], BROKER_CPU),
            stdout=self.logf, stderr=subprocess.STDOUT)
        while not port_open(self.port):
            if self.proc.poll() is not None:
                sys.exit("suite: runneld exited; see %s/runneld.log" % self.dir)
            time.sleep(0.005)
        self.started_s = time.monotonic() - t0
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                log("runneld took over 120 s to stop; killed")
                self.proc.kill()
                self.proc.wait()
        self.logf.close()

    def bootstrap(self):
        return "127.0.0.1:%d" % self.port


class Kafka:
    name = "kafka"

    def __init__(self, work):
        self.port = free_port()
        while port_open(self.port + 1):
            self.port = free_port()
        _handed.add(self.port + 1)  # its controller's
        self.started_s = None

    def _ref(self, *args):
        env = dict(os.environ, KAFKA_REF_VERSION=KAFKA_VERSION)
        return subprocess.run([os.path.join(SRC, "scripts", "kafka-ref.sh")] + list(args),
                              env=env, check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True).stdout

    def start(self):
        self._ref("fetch")
        t0 = time.monotonic()
        self._ref("start", str(self.port))
        self.started_s = time.monotonic() - t0
        state = os.path.join(os.environ.get("TMPDIR", "/tmp"), "runnel-kafka-ref-%d" % self.port)
        with open(os.path.join(state, "pid")) as f:
            self.pid = int(f.read().strip())
        if PINNED:  # every thread of the JVM onto the broker's CPU
            subprocess.run(["taskset", "-a", "-p", "-c", BROKER_CPU, str(self.pid)],
                           stdout=subprocess.DEVNULL, check=False)

    def stop(self):
        self._ref("stop", str(self.port))

    def bootstrap(self):
        return "127.0.0.1:%d" % self.port


class Mock:
    name = "mock"
    pid = None


class Suite:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.tsv = os.path.join(work, "results.tsv")
        self.rows = []  # (workload, metric, target, value)
        self.order = []  # (workload, metric) as the table lists them

    def reserve(self, workload, metric):
        if (workload, metric) not in self.order:
            self.order.append((workload, metric))

    def add(self, workload, metric, target, value):
        self.reserve(workload, metric)
        if value is not None:
            self.rows.append((workload, metric, target, value))
            print("  %-4s %-28s %-7s %s" % (workload, metric, target, fmt(value)), flush=True)

    def n(self, count):
        return max(1000, int(count * self.args.scale))

    def bench(self, target, label, extra):
        """One bench_rdkafka run; returns its TSV row as a dict."""
        before = os.path.getsize(self.tsv) if os.path.exists(self.tsv) else 0
        if target.name == "mock":
            cmd = [BENCH, "--mock"]
        else:
            cmd = pin([BENCH, "--bootstrap", target.bootstrap(), "--broker-pid",
                       str(target.pid)], CLIENT_CPU)
        cmd += ["--target-name", target.name, "--tsv", self.tsv] + extra
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with open(os.path.join(self.work, "bench.log"), "a") as f:
            f.write("$ %s\n%s%s" % (" ".join(cmd), out.stdout, out.stderr))
        if out.returncode != 0:
            log("%s on %s failed: %s" % (label, target.name, out.stderr.strip()[-300:]))
            return None
        with open(self.tsv) as f:
            f.seek(before)
            lines = [ln for ln in f.read().splitlines() if ln and not ln.startswith("target\t")]
        with open(self.tsv) as f:
            header = f.readline().rstrip("\n").split("\t")
        row = dict(zip(header, lines[-1].split("\t")))
        complete = row["failed"] == "0" and row["consumed"] == row["available"]
        return {k: (float(v) if re.fullmatch(r"-?[0-9.]+", v) else v) for k, v in row.items()} \
            if complete or target.name == "mock" else None

    def cpu_rows(self, workload, label, t, r, phase="cons"):
        """Who is the limit of a run: the CPU the client and the broker used in its produce
        or consume phase, in percent of one core (a client near 100 pinned to its core is the
        limit, whatever the broker does; the mock's share is client and mock together)."""
        secs = r.get(phase + "_secs") or 0
        if secs <= 0:
            return
        self.add(workload, "client CPU % " + label, t.name, 100 * r[phase + "_cpu_self"] / secs)
        self.reserve(workload, "broker CPU % " + label)
        if r.get(phase + "_cpu_broker", -1) >= 0:
            self.add(workload, "broker CPU % " + label, t.name,
                     100 * r[phase + "_cpu_broker"] / secs)

    def produce_consume(self, targets):
        a = self.args
        for t in targets:
            for rnd in (1, 2):
                r = self.bench(t, "P1", ["--sizes", "100", "--acks", "1",
                                         "--messages", str(self.n(2000000))])
                if r:
                    self.add("P1", "produce msgs/s round %d" % rnd, t.name, r["prod_msgs_s"])
                    self.cpu_rows("P1", "round %d" % rnd, t, r, "prod")
                    if t.name != "mock":  # the mock keeps only its newest 5 MB
                        self.add("C1", "consume msgs/s round %d" % rnd, t.name, r["cons_msgs_s"])
                        self.cpu_rows("C1", "round %d" % rnd, t, r)
            for rnd, comp in ((1, "none"), (2, "none"), (1, "lz4"), (1, "zstd")):
                r = self.bench(t, "P2", ["--sizes", "1024", "--acks", "all", "--compression",
                                         comp, "--messages", str(self.n(500000))])
                if r:
                    label = "produce MB/s %s" % (comp if comp != "none" else "round %d" % rnd)
                    self.add("P2", label, t.name, r["prod_mb_s"])
                    self.cpu_rows("P2", label.split("MB/s ")[1], t, r, "prod")
                    if comp == "none" and t.name != "mock":
                        self.add("C2", "consume MB/s round %d" % rnd, t.name, r["cons_mb_s"])
                        self.cpu_rows("C2", "round %d" % rnd, t, r)
            if t.pid:
                self.add("M", "peak RSS MiB through P1-P2", t.name, proc_kb(t.pid, "VmHWM") / 1024)
            r = self.bench(t, "P3", ["--sizes", "100", "--acks", "1", "--partitions", "8",
                                     "--producers", "4", "--messages", str(self.n(2000000))])
            if r:
                self.add("P3", "produce msgs/s 8 parts 4 prods", t.name, r["prod_msgs_s"])
                self.cpu_rows("P3", "8 parts 4 prods", t, r, "prod")
            for rate in (10000, 100000):
                r = self.bench(t, "L1", ["--sizes", "100", "--acks", "1", "--e2e", "--rate",
                                         str(rate), "--messages", str(self.n(rate * 10)),
                                         "--producer-conf", "linger.ms=0"])
                if r:
                    k = "%dk/s" % (rate // 1000)
                    self.add("L1", "e2e p50 ms at " + k, t.name, r["e2e_p50_ms"])
                    self.add("L1", "e2e p99 ms at " + k, t.name, r["e2e_p99_ms"])
                    self.add("L1", "e2e p99.9 ms at " + k, t.name, r["e2e_p999_ms"])
            if t.name != "mock" and not a.no_kafka_tools:
                self.kafka_perf(t)

    def kafka_perf(self, t):
        libs = TOOLS_LIBS % KAFKA_VERSION
        if not os.path.isdir(libs):
            log("no Kafka tools in %s (scripts/deps.sh installs them); K skipped" % libs)
            return
        topic = "perf-%d" % int(time.time())
        n = self.n(1000000)
        java = ["java", "-Xmx512m", "-cp", libs + "/*"]
        prod = subprocess.run(
            pin(java + ["org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                        "--num-records", str(n), "--record-size", "100", "--throughput", "-1",
                        "--producer-props", "bootstrap.servers=" + t.bootstrap(), "acks=1",
                        "linger.ms=5", "batch.size=1000000"], CLIENT_CPU),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"^%d records sent, ([0-9.]+) records/sec" % n, prod.stdout, re.M)
        self.add("K", "producer-perf-test msgs/s", t.name, float(m.group(1)) if m else None)
        cons = subprocess.run(
            pin(java + ["org.apache.kafka.tools.ConsumerPerformance", "--topic", topic,
                        "--messages", str(n), "--bootstrap-server", t.bootstrap(),
                        "--timeout", "60000"], CLIENT_CPU),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec...
        rows = [ln.split(", ") for ln in cons.stdout.splitlines() if ln.count(", ") >= 5]
        val = float(rows[-1][5]) if rows and re.fullmatch(r"[0-9.]+", rows[-1][5]) else None
        self.add("K", "consumer-perf-test msgs/s", t.name, val)
        if m is None or val is None:
            with open(os.path.join(self.work, "kafka-perf.log"), "a") as f:
                f.write(prod.stdout + cons.stdout)

    def many_partitions(self, cls):
        """RSS of a fresh broker holding 10,000 partitions (topics of 1,000), or as many
        thousands as fit in the open-file limit at FDS_PER_PARTITION each, 1,000 left over."""
        from confluent_kafka.admin import AdminClient, NewTopic
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        topics = min(10, (limit - 1000) // (1000 * FDS_PER_PARTITION))
        t = cls(os.path.join(self.work, "m10k"))
        try:
            t.start()
            admin = AdminClient({"bootstrap.servers": t.bootstrap()})
            took = []
            for i in range(topics):
                t0 = time.monotonic()
                fs = admin.create_topics([NewTopic("m10k-%d" % i, 1000, 1)],
                                         operation_timeout=120)
                for f in fs.values():
                    f.result(timeout=180)
                took.append(time.monotonic() - t0)
            self.add("M", "create a topic of 1,000 partitions, median s", t.name,
                     statistics.median(took) if took else None)
            time.sleep(5)
            self.add("M", "RSS MiB with %d,000 partitions" % topics, t.name,
                     proc_kb(t.pid, "VmRSS") / 1024)
            del admin
        finally:
            t.stop()

    def restarts(self):
        cmd = [sys.executable, os.path.join(HERE, "restart_bench.py"), "--partitions", "1000",
               "--port", str(free_port())]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with open(os.path.join(self.work, "restart.log"), "w") as f:
            f.write(out.stdout)
        tail = out.stdout.split("# median", 1)[-1]
        for label, name in (("clean", "after clean stop"), ("kill", "after SIGKILL"),
                            ("kill-cr", "after SIGKILL, restarted before")):
            m = re.search(r"^%s\s+listen\s+([0-9.]+) s" % re.escape(label), tail, re.M)
            self.add("S", "restart 1,000 parts %s s" % name, "runnel",
                     float(m.group(1)) if m else None)

    def big_restart(self):
        """Restart after SIGKILL with 10 GiB in one partition."""
        t = Runneld(os.path.join(self.work, "big"))
        t.start()
        self.bench(t, "S-big", ["--sizes", "1024", "--acks", "1", "--messages",
                                str(int(10 * 1024 * 1024 * self.args.scale)),
                                "--consumer-conf", "fetch.max.bytes=1"])
        t.proc.send_signal(signal.SIGKILL)
        t.proc.wait()
        t.start()
        self.add("S", "restart after SIGKILL, 10 GiB s", "runnel", t.started_s)
        t.stop()

    def machine(self):
        size = 1 << 30
        # Loopback: one sender thread, the receiver here, 1 MiB writes.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)

        def send():
            c = socket.create_connection(srv.getsockname())
            buf = b"\0" * (1 << 20)
            for _ in range(size >> 20):
                c.sendall(buf)
            c.close()

        th = threading.Thread(target=send)
        t0 = time.monotonic()
        th.start()
        conn, _ = srv.accept()
        got = 0
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            got += len(b)
        secs = time.monotonic() - t0
        th.join()
        conn.close()
        srv.close()
        self.add("net", "loopback TCP copy MB/s", "machine", got / secs / 1e6)
        path = os.path.join(self.work, "ddtest")
        for label, extra in (("write MB/s no sync", []), ("write MB/s fdatasync", ["conv=fdatasync"])):
            out = subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M",
                                  "count=%d" % (size >> 20)] + extra,
                                 stderr=subprocess.PIPE, text=True).stderr
            m = re.search(r"copied, ([0-9.]+) s", out)
            self.add("disk", label, "machine", size / float(m.group(1)) / 1e6 if m else None)
            os.unlink(path)


def fmt(v):
    if isinstance(v, str):
        return v
    return "%.0f" % v if abs(v) >= 100 else "%.2f" % v


LOWER_IS_BETTER = re.compile(r" ms( |$)|RSS| s$")


def table(rows, order):
    vals = {}
    for w, m, t, v in rows:
        vals.setdefault((w, m), {})[t] = v
    keys = [k for k in order if k in vals]
    lines = ["| workload | figure | runnel | Kafka %s | mock | runnel/Kafka | runnel/mock |"
             % KAFKA_VERSION, "|---|---|---|---|---|---|---|"]
    for w, m in keys:
        d = vals[(w, m)]

        def ratio(other):
            a, b = d.get("runnel"), d.get(other)
            if a is None or b is None or a == 0 or b == 0 or " CPU %" in m:
                return ""  # CPU shares say who is the limit, not who is better
            # Always "how many times better runnel is": >1 means runnel leads.
            return "%.2fx" % (b / a if LOWER_IS_BETTER.search(m) else a / b)

        if "machine" in d:
            lines.append("| %s | %s | %s | | | | |" % (w, m, fmt(d["machine"])))
            continue
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            w, m, fmt(d["runnel"]) if "runnel" in d else "-",
            fmt(d["kafka"]) if "kafka" in d else "-", fmt(d["mock"]) if "mock" in d else "-",
            ratio("kafka"), ratio("mock")))
    return "\n".join(lines)


def section(name, fn, *args):
    """Run one part of the suite; a failure is reported and the rest still runs."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - a benchmark reports and goes on
        log("%s failed: %s: %s" % (name, type(e).__name__, str(e).strip()[-400:]))


def produce_workloads(s, args, work):
    targets = []
    if not args.no_mock:
        targets.append(Mock())
    rn = Runneld(work)
    rn.start()
    try:
        s.add("S", "start-up, empty data dir s", "runnel", rn.started_s)
        time.sleep(0.5)
        s.add("M", "idle RSS MiB at start", "runnel", proc_kb(rn.pid, "VmRSS") / 1024)
        targets.append(rn)
        s.produce_consume(targets[:])
    finally:
        rn.stop()
    if not args.no_kafka:
        k = Kafka(work)
        try:
            k.start()
            s.add("S", "start-up, empty data dir s", "kafka", k.started_s)
            time.sleep(2)
            s.add("M", "idle RSS MiB at start", "kafka", proc_kb(k.pid, "VmRSS") / 1024)
            s.produce_consume([k])
        finally:
            k.stop()


# Descriptors a partition of one segment holds open, in runneld as in Kafka: its .log (both
# map their index files and close them).
FDS_PER_PARTITION = 1


def raise_fd_limit():
    """10,000 partitions hold a file each open in either broker: lift the soft limit to the
    hard one (brokers inherit it; runneld also lifts its own), as a service unit's
    LimitNOFILE would."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    ap.add_argument("--only", default="", help="comma list of P (P1-P3,C,L1,K), M, S, machine")
    ap.add_argument("--no-kafka", action="store_true", help="skip Apache Kafka")
    ap.add_argument("--no-mock", action="store_true", help="skip the mock cluster")
    ap.add_argument("--no-kafka-tools", action="store_true", help="skip K")
    ap.add_argument("--big", action="store_true", help="add the 10 GiB restart")
    ap.add_argument("--keep", action="store_true", help="keep the run directory's data")
    args = ap.parse_args()
    only = set(x for x in args.only.split(",") if x)
    want = (lambda part: not only or part in only)
    for f in (RUNNELD, BENCH):
        if not os.access(f, os.X_OK):
            sys.exit("suite: %s is missing; run scripts/build.sh release" % f)
    base = os.environ.get("BENCH_DIR") or os.path.join(BUILD, "bench")
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="suite.", dir=base)
    s = Suite(args, work)
    cpu = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    log("%s; %d CPUs (%s); %s; broker on CPU %s, client on CPU %s; Kafka %s; scale %g" % (
        time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), model.group(1) if model else "?",
        subprocess.run(["df", "-PT", work], stdout=subprocess.PIPE, text=True)
        .stdout.splitlines()[-1].split()[1], BROKER_CPU if PINNED else "-",
        CLIENT_CPU if PINNED else "-", KAFKA_VERSION, args.scale))
    log("load average before: %s; open-file limit %d" % (
        open("/proc/loadavg").read().strip(), raise_fd_limit()))
    try:
        if want("machine"):
            section("machine", s.machine)
        if want("P"):
            section("produce and consume", produce_workloads, s, args, work)
        if want("M"):
            section("10,000 partitions, runneld", s.many_partitions, Runneld)
            if not args.no_kafka:
                section("10,000 partitions, Kafka", s.many_partitions, Kafka)
        if want("S"):
            section("restarts", s.restarts)
            if args.big:
                section("10 GiB restart", s.big_restart)
    finally:
        md = table(s.rows, s.order)
        with open(os.path.join(work, "table.md"), "w") as f:
            f.write(md + "\n")
        print()
        print(md)
        print("\n# figures in %s (results.tsv, table.md, bench.log)" % work)
        if not args.keep:
            for d in ("runneld", "m10k", "big"):
                shutil.rmtree(os.path.join(work, d), ignore_errors=True)


if __name__ == "__main__":
    main()
