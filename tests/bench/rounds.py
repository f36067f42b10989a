#!/usr/bin/env python3
"""Consecutive P2 rounds against one runneld, with what the kernel did in each (see
docs/performance.md, "Where the time goes", Sustained produce).

    tests/bench/rounds.py [--rounds 5] [--messages 500000] [--port N] [--record]
                          [--runneld-args "..."]

Starts build/broker/runneld (RN_BUILD_DIR overrides build/) pinned to CPU 0 on a fresh data
directory under build/bench/rounds/ (the repository's file system), then runs the suite's P2
workload (bench_rdkafka --sizes 1024 --acks all, client pinned to CPU 1) --rounds times, each
on a fresh topic. One line per round: produce and consume MB/s, the broker's CPU in the
produce phase in percent of a core, its user and system seconds over the whole round, the
page cache's Dirty before the round and its peak, the peak Writeback, the data directory's size,
and the round's change of /proc/vmstat counters that tell throttling and reclaim apart
(balance_dirty_pages pauses show as writeback:balance_dirty_pages in `perf stat -e`, direct
reclaim as pgsteal_direct / allocstall_*). --record writes `perf record -g` of the broker for
each round to rec<N>.data in the data directory's parent. Not run in CI.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("RN_BUILD_DIR") or os.path.join(SRC, "build")
HZ = os.sysconf("SC_CLK_TCK")
VMSTAT = ["pgsteal_kswapd", "pgsteal_direct", "allocstall_normal", "allocstall_movable",
          "nr_written", "workingset_refault_file"]


def cpu_secs(path):
    """utime and stime in seconds from a /proc/.../stat file."""
    with open(path) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) / HZ, int(rest[12]) / HZ


def proc_table(path):
    with open(path) as f:
        return {k.rstrip(":"): int(v.split()[0]) for k, v in
                (ln.split(None, 1) for ln in f if ln.strip())}


def disk_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    while True:
        if proc.poll() is not None:
            raise SystemExit("rounds: runneld exited; see its log")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--messages", type=int, default=500000)
    ap.add_argument("--port", type=int, default=0, help="default: a free one")
    ap.add_argument("--record", action="store_true", help="perf record -g per round")
    ap.add_argument("--runneld-args", default="", help="extra runneld flags")
    a = ap.parse_args()

    work = os.path.join(BUILD, "bench", "rounds")
    data = os.path.join(work, "data")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    port = a.port or free_port()
    with open(os.path.join(work, "runneld.log"), "ab") as logf:
        proc = subprocess.Popen(
            ["taskset", "-c", "0", os.path.join(BUILD, "broker", "runneld"), "--node-id", "1",
             "--listen", "127.0.0.1:%d" % port, "--data-dir", data,
             "--group.initial.rebalance.delay.ms", "0"] + a.runneld_args.split(),
            stdout=logf, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc)
        print("# load %s; MemTotal %d MiB" % (" ".join(open("/proc/loadavg").read().split()[:3]),
                                             proc_table("/proc/meminfo")["MemTotal"] >> 10))
        print("round\tprod_MBps\tcons_MBps\tbroker_%\tutime_s\tstime_s\tdirty0_MiB\t"
              "dirty_peak_MiB\twriteback_peak_MiB\tdata_MiB\t" + "\t".join(VMSTAT))
        for rnd in range(1, a.rounds + 1):
            one_round(a, rnd, proc.pid, port, work, data)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def one_round(a, rnd, pid, port, work, data):
    tsv = os.path.join(work, "bench.tsv")
    v0 = proc_table("/proc/vmstat")
    dirty0 = proc_table("/proc/meminfo")["Dirty"]
    u0, s0 = cpu_secs("/proc/%d/stat" % pid)
    peak = {"Dirty": 0, "Writeback": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            m = proc_table("/proc/meminfo")
            for k in peak:
                peak[k] = max(peak[k], m[k])
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    rec = None
    if a.record:
        rec = subprocess.Popen(["perf", "record", "-g", "-p", str(pid), "-o",
                                os.path.join(work, "rec%d.data" % rnd)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
    out = subprocess.run(
        ["taskset", "-c", "1", os.path.join(BUILD, "tests", "bench_rdkafka"), "--bootstrap",
         "127.0.0.1:%d" % port, "--broker-pid", str(pid), "--tsv", tsv, "--sizes", "1024",
         "--acks", "all", "--messages", str(a.messages)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if rec:
        rec.send_signal(signal.SIGINT)
        rec.wait()
    done.set()
    sampler.join()
    if out.returncode != 0:
        print("# round %d failed: %s" % (rnd, out.stderr.strip()[-300:]))
        return
    u1, s1 = cpu_secs("/proc/%d/stat" % pid)
    v1 = proc_table("/proc/vmstat")
    with open(tsv) as f:
        lines = f.read().splitlines()
    row = dict(zip(lines[0].split("\t"), lines[-1].split("\t")))
    secs = float(row["prod_secs"])
    print("%d\t%s\t%s\t%.0f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%s" % (
        rnd, row["prod_mb_s"], row["cons_mb_s"], 100 * float(row["prod_cpu_broker"]) / secs,
        u1 - u0, s1 - s0, dirty0 >> 10, peak["Dirty"] >> 10, peak["Writeback"] >> 10,
        disk_bytes(data) >> 20, "\t".join(str(v1.get(k, 0) - v0.get(k, 0)) for k in VMSTAT)),
        flush=True)


if __name__ == "__main__":
    main()
