"""What the web console costs: runneld's resident memory and produce throughput, with the
console off, on but unwatched, and with a headless chromium following a partition live in
the message browser while a confluent-kafka producer floods that partition.

    RN_BUILD_DIR=build python3 tests/bench/console_bench.py [--messages N] [--runneld PATH]

Prints one line per case; not a pass/fail test. The browser shares the machine's CPUs with
runneld and the producer, so the third case measures what a watcher costs on this host."""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import datapath_common  # noqa: E402
from datapath_common import Broker, free_port  # noqa: E402
import test_console  # noqa: E402

DEFAULT_RUNNELD = datapath_common.RUNNELD


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def produce(bootstrap, topic, n, size):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": 1,
                  "batch.size": 1 << 20, "queue.buffering.max.messages": 1000000})
    value = b"v" * size
    p.produce(topic, value=value, partition=0)
    p.flush(30)  # the topic exists and its leader is known before the clock starts
    t0 = time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=value, partition=0)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(120)
    return time.monotonic() - t0


def run(case, runneld, args, n, size, watch):
    datapath_common.RUNNELD = runneld or DEFAULT_RUNNELD
    mport = free_port()
    extra = ["--metrics.listen", "127.0.0.1:%d" % mport] + args
    broker = Broker(extra)
    browser = None
    try:
        time.sleep(1.0)
        idle = rss_kib(broker.proc.pid)
        if watch:
            browser = test_console.Browser()
            web = "http://127.0.0.1:%d/console/" % mport
            produce(broker.bootstrap, "bench", 1, size)
            browser.go(web + "#/messages?topic=bench&partition=0&from=latest")
            browser.wait("return document.getElementById('m-follow');")
            browser.js("document.getElementById('m-follow').click();")
        secs = produce(broker.bootstrap, "bench", n, size)
        shown = browser.js("return document.querySelectorAll('#m-table tbody tr').length;") \
            if browser else 0
        after = rss_kib(broker.proc.pid)
        print("%-28s idle RSS %6d KiB  after %6d KiB  produce %8.0f msg/s %6.1f MB/s%s" % (
            case, idle, after, n / secs, n * size / secs / 1e6,
            "  (browser showed %d rows)" % shown if browser else ""), flush=True)
    finally:
        if browser:
            browser.close()
        broker.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--runneld", help="a runneld built without the console, for the first case")
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    for _ in range(a.runs):
        if a.runneld:
            run("other runneld", a.runneld, [], a.messages, a.size, False)
        run("console off", None, [], a.messages, a.size, False)
        run("console on, nobody looks", None, ["--console.enable", "true"], a.messages, a.size,
            False)
        run("console on, browser follows", None, ["--console.enable", "true"], a.messages, a.size,
            True)


if __name__ == "__main__":
    main()
