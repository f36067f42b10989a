"""runneld's monitoring endpoint (metrics.listen) against a running broker:

  - /health and /ready answer 200; unknown paths 404;
  - /metrics is Prometheus text format 0.0.4, parsed strictly here: every line is blank, a
    comment, or `name{labels} value`; HELP/TYPE at most once per family and before its
    samples; a family's samples contiguous; no series twice; histogram buckets cumulative
    and ending at le="+Inf" equal to _count;
  - after `kcat -L` the Metadata request counter and its latency histogram went up; the
    connections gauge counts an open client connection; RSS and open files are positive;
  - producing and consuming with kcat moves the topic's bytes/messages counters and its
    partition's log end offset and high watermark;
  - every group state is listed (0 without groups); after `runnel consume -g` read K of N
    messages and committed, the group counts as Empty and its lag on the partition is N-K;
  - a bad metrics.listen stops start-up naming the key; SIGTERM stops runneld cleanly.
Prints TAP. Needs kcat (scripts/deps.sh)."""

import http.client
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datapath_common import (RUNNELD, Broker, Conn, Tap, api_versions,  # noqa: E402
                             free_port)

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ExpositionError(Exception):
    pass


def parse_value(text, lineno):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ExpositionError("line %d: %r is not a sample value" % (lineno, text))
    return float(text)


def parse_labels(line, pos, lineno):
    """Parse {name="value",...} starting at line[pos] == '{'; returns (labels, end)."""
    labels = {}
    pos += 1
    while True:
        if line[pos:pos + 1] == "}":
            return labels, pos + 1
        m = LABEL.match(line, pos)
        if not m:
            raise ExpositionError("line %d: bad label name at column %d" % (lineno, pos))
        name = m.group(0)
        pos = m.end()
        if line[pos:pos + 2] != '="':
            raise ExpositionError("line %d: expected =\" after label %s" % (lineno, name))
        pos += 2
        value = []
        while True:
            if pos >= len(line):
                raise ExpositionError("line %d: unterminated label value" % lineno)
            c = line[pos]
            if c == "\\":
                nxt = line[pos + 1:pos + 2]
                if nxt not in ('\\', '"', "n"):
                    raise ExpositionError("line %d: bad escape \\%s" % (lineno, nxt))
                value.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ExpositionError("line %d: raw newline in a label value" % lineno)
            else:
                value.append(c)
                pos += 1
        if name in labels:
            raise ExpositionError("line %d: label %s twice" % (lineno, name))
        labels[name] = "".join(value)
        if line[pos:pos + 1] == ",":
            pos += 1
        elif line[pos:pos + 1] != "}":
            raise ExpositionError("line %d: expected , or } at column %d" % (lineno, pos))


def family_of(name, types):
    """The family a sample name belongs to (histograms write name_bucket/_sum/_count)."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse_exposition(text):
    """Strict reading of the text format; returns {(name, ((label, value), ...)): value} and
    {family: type}."""
    if not text.endswith("\n"):
        raise ExpositionError("the exposition does not end with a newline")
    samples, types, helps = {}, {}, set()
    done, sampled, current = set(), set(), None  # families finished / with samples / open
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise ExpositionError("line %d: bad metric name %r" % (lineno, name))
                if name in done or name in sampled:
                    raise ExpositionError("line %d: %s %s after its samples" %
                                          (lineno, parts[1], name))
                if parts[1] == "HELP":
                    if name in helps:
                        raise ExpositionError("line %d: second HELP for %s" % (lineno, name))
                    helps.add(name)
                else:
                    if name in types:
                        raise ExpositionError("line %d: second TYPE for %s" % (lineno, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ExpositionError("line %d: bad TYPE line" % lineno)
                    types[name] = parts[3]
                if current is not None and current != name:
                    done.add(current)
                current = name
            continue
        m = NAME.match(line)
        if not m:
            raise ExpositionError("line %d: not a comment, blank or sample: %r" % (lineno, line))
        name, pos = m.group(0), m.end()
        labels = {}
        if line[pos:pos + 1] == "{":
            labels, pos = parse_labels(line, pos, lineno)
        if line[pos:pos + 1] != " ":
            raise ExpositionError("line %d: expected a space before the value" % lineno)
        fields = line[pos + 1:].split(" ")
        if len(fields) not in (1, 2) or (len(fields) == 2 and not re.fullmatch(r"-?\d+",
                                                                                 fields[1])):
            raise ExpositionError("line %d: bad value/timestamp %r" % (lineno, line[pos:]))
        value = parse_value(fields[0], lineno)
        fam = family_of(name, types)
        if fam in done:
            raise ExpositionError("line %d: %s sample after other families" % (lineno, fam))
        if current is not None and current != fam:
            done.add(current)
        current = fam
        sampled.add(fam)
        key = (name, tuple(sorted(labels.items())))
        if key in samples:
            raise ExpositionError("line %d: series %r twice" % (lineno, key))
        samples[key] = value
    check_histograms(samples, types)
    return samples, types


def check_histograms(samples, types):
    for fam, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), value in samples.items():
            if name == fam + "_bucket":
                rest = tuple(kv for kv in labels if kv[0] != "le")
                le = dict(labels).get("le")
                if le is None:
                    raise ExpositionError("%s bucket without le" % fam)
                series.setdefault(rest, []).append((parse_value(le, 0), value))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [c for _, c in buckets]
            if counts != sorted(counts):
                raise ExpositionError("%s%r: buckets not cumulative" % (fam, rest))
            if buckets[-1][0] != math.inf:
                raise ExpositionError("%s%r: no +Inf bucket" % (fam, rest))
            count = samples.get((fam + "_count", rest))
            if count != buckets[-1][1] or (fam + "_sum", rest) not in samples:
                raise ExpositionError("%s%r: _count/_sum missing or not the +Inf bucket" %
                                      (fam, rest))


def get(port, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path)
    resp = conn.getresponse()
    body = resp.read().decode("utf-8")
    ctype = resp.getheader("Content-Type")
    conn.close()
    return resp.status, ctype, body


def scrape(t, port):
    status, ctype, body = get(port, "/metrics")
    if status != 200:
        raise ExpositionError("/metrics answered %d" % status)
    return parse_exposition(body)[0]


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def kcat(*args, data=None):
    return subprocess.run(["kcat"] + list(args), input=data, capture_output=True, timeout=60)


def test_parser(t):
    """The strict parser must refuse what Prometheus refuses, or passing proves nothing."""
    good = ("# HELP a A.\n# TYPE a counter\na{x=\"q\\\"\\n\\\\\"} 1\n\n"
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
            "h_sum 3.5\nh_count 2\n")
    samples, _ = parse_exposition(good)
    t.eq(value(samples, "a", x='q"\n\\'), 1, "parser: reads a good exposition")
    bad = {
        "no final newline": "a 1",
        "bad escape": "a{x=\"\\t\"} 1\n",
        "series twice": "a 1\na 2\n",
        "interleaved": "a 1\nb 1\na{x=\"1\"} 1\n",
        "TYPE after samples": "a 1\n# TYPE a gauge\n",
        "two TYPEs": "# TYPE a gauge\n# TYPE a gauge\na 1\n",
        "bad value": "a one\n",
        "bad name": "1a 1\n",
        "unquoted label": "a{x=1} 1\n",
        "buckets not cumulative": "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                                  "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "no +Inf bucket": "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
    }
    refused = []
    for what, text in bad.items():
        try:
            parse_exposition(text)
        except ExpositionError:
            refused.append(what)
    t.eq(sorted(refused), sorted(bad), "parser: refuses every bad exposition")


def test_bad_listen(t):
    tmp = tempfile.mkdtemp(prefix="rn-metrics-bad-")
    try:
        proc = subprocess.run([RUNNELD, "--listen", "127.0.0.1:%d" % free_port(), "--data-dir",
                               os.path.join(tmp, "d"), "--metrics.listen", "nowhere"],
                              capture_output=True, timeout=30)
        err = proc.stderr.decode("utf-8", "replace")
        t.ok(proc.returncode != 0 and "--metrics.listen: metrics.listen: \"nowhere\"" in err,
             "bad metrics.listen stops start-up naming the flag (exit %d)" % proc.returncode,
             err[-1000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    t = Tap("test_metrics", timeout_s=120)
    if shutil.which("kcat") is None:
        print("1..0 # SKIP kcat not installed (scripts/deps.sh)")
        sys.exit(0)
    test_parser(t)
    test_bad_listen(t)

    mport = free_port()
    broker = Broker(["--metrics.listen", "127.0.0.1:%d" % mport])
    t.cleanups.append(broker.cleanup)
    bs = broker.bootstrap

    status, ctype, body = get(mport, "/health")
    t.ok(status == 200 and body == "ok\n", "/health: 200 ok", (status, body))
    status, ctype, body = get(mport, "/ready")
    t.ok(status == 200 and body == "ready\n", "/ready: 200 ready", (status, body))
    status, ctype, body = get(mport, "/nope")
    t.eq(status, 404, "/nope: 404")

    status, ctype, body = get(mport, "/metrics")
    t.eq(status, 200, "/metrics: 200")
    t.eq(ctype, "text/plain; version=0.0.4; charset=utf-8", "/metrics: content type")
    try:
        before, types = parse_exposition(body)
        t.ok(True, "/metrics parses strictly (%d samples, %d families)" % (len(before),
                                                                            len(types)))
    except ExpositionError as e:
        t.ok(False, "/metrics parses strictly", "%s\n%s" % (e, body[:3000]))
        t.done()
    for fam, kind in (("runnel_requests_total", "counter"),
                      ("runnel_request_duration_seconds", "histogram"),
                      ("runnel_connections", "gauge"),
                      ("runnel_under_replicated_partitions", "gauge"),
                      ("process_resident_memory_bytes", "gauge")):
        t.eq(types.get(fam), kind, "family %s is a %s" % (fam, kind))
    t.eq(value(before, "runnel_under_replicated_partitions"), 0,
         "under-replicated partitions: 0 on a single node")
    states = ("Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Dead")
    t.ok(all(value(before, "runnel_consumer_groups", state=st) == 0 for st in states),
         "runnel_consumer_groups lists every state at 0 before any group",
         [value(before, "runnel_consumer_groups", state=st) for st in states])
    for fam in ("runnel_consumer_groups", "runnel_consumer_group_members",
                "runnel_consumer_group_lag", "runnel_consumer_group_lag_sum"):
        t.eq(types.get(fam), "gauge", "family %s is a gauge" % fam)
    rss = value(before, "process_resident_memory_bytes")
    t.ok(rss is not None and rss > 0, "RSS > 0 (%r)" % rss)
    fds = value(before, "process_open_fds")
    t.ok(fds is not None and fds > 0, "open files > 0 (%r)" % fds)

    md0 = value(before, "runnel_requests_total", api="Metadata") or 0
    lat0 = value(before, "runnel_request_duration_seconds_count", api="Metadata") or 0
    r = kcat("-b", bs, "-L", "-m", "10")
    t.ok(r.returncode == 0, "kcat -L", r.stderr.decode("utf-8", "replace"))
    after = scrape(t, mport)
    md1 = value(after, "runnel_requests_total", api="Metadata") or 0
    lat1 = value(after, "runnel_request_duration_seconds_count", api="Metadata") or 0
    t.ok(md1 >= md0 + 1, "Metadata requests went up after kcat -L (%r -> %r)" % (md0, md1))
    t.ok(lat1 >= lat0 + 1, "Metadata latency count went up (%r -> %r)" % (lat0, lat1))
    t.ok((value(after, "runnel_requests_total", api="ApiVersions") or 0) >= 1,
         "ApiVersions counted")
    t.ok((value(after, "runnel_network_received_bytes_total") or 0) > 0, "bytes received > 0")

    sock = Conn(broker.bootstrap, timeout=10)
    t.ok(api_versions(sock), "ApiVersions answered on a raw connection")
    s = scrape(t, mport)
    t.ok((value(s, "runnel_connections") or 0) >= 1,
         "connections gauge counts the open connection (%r)" % value(s, "runnel_connections"))
    sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and value(scrape(t, mport), "runnel_connections") != 0:
        time.sleep(0.05)
    s = scrape(t, mport)
    t.eq(value(s, "runnel_connections"), 0, "connections gauge back to 0 after close")
    t.ok((value(s, "runnel_connections_accepted_total") or 0) >= 2, "accepted connections")

    topic, n = "metrics.t", 5
    data = "".join("message-%d\n" % i for i in range(n)).encode()
    r = kcat("-b", bs, "-P", "-t", topic, "-p", "0", data=data)
    t.ok(r.returncode == 0, "kcat -P %d messages" % n, r.stderr.decode("utf-8", "replace"))
    r = kcat("-b", bs, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q")
    got = r.stdout.decode("utf-8", "replace").split()
    t.eq(len(got), n, "kcat -C reads them back")
    s = scrape(t, mport)
    t.eq(value(s, "runnel_topic_messages_in_total", topic=topic), n, "topic messages in")
    bin_ = value(s, "runnel_topic_bytes_in_total", topic=topic) or 0
    bout = value(s, "runnel_topic_bytes_out_total", topic=topic) or 0
    t.ok(bin_ > 0 and bout >= bin_, "topic bytes in/out (%r / %r)" % (bin_, bout))
    t.eq(value(s, "runnel_partition_log_end_offset", topic=topic, partition="0"), n,
         "partition log end offset")
    t.eq(value(s, "runnel_partition_high_watermark", topic=topic, partition="0"), n,
         "partition high watermark")
    t.eq(value(s, "runnel_partition_log_start_offset", topic=topic, partition="0"), 0,
         "partition log start offset")
    t.ok((value(s, "runnel_partition_size_bytes", topic=topic, partition="0") or 0) > 0,
         "partition size")
    t.ok((value(s, "runnel_partitions") or 0) >= 1 and (value(s, "runnel_topics") or 0) >= 1,
         "topic and partition counts")

    # A group reads k of the n messages and commits (runnel consume commits when it exits).
    group, k = "metrics.g", 3
    runnel = os.path.join(os.environ.get("RN_BUILD_DIR", "build"), "tools", "runnel")
    r = subprocess.run([runnel, "-b", bs, "consume", topic, "-g", group, "-o", "beginning",
                        "-c", str(k)], capture_output=True, timeout=60)
    t.ok(r.returncode == 0 and len(r.stdout.split()) == k,
         "runnel consume -g %s -c %d reads %d messages" % (group, k, k),
         (r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")))
    lag = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = scrape(t, mport)
        lag = value(s, "runnel_consumer_group_lag", group=group, topic=topic, partition="0")
        if lag == n - k and (value(s, "runnel_consumer_groups", state="Empty") or 0) >= 1:
            break
        time.sleep(0.1)
    t.ok((value(s, "runnel_consumer_groups", state="Empty") or 0) >= 1,
         "runnel_consumer_groups{state=Empty} >= 1 after the consumer left (%r)"
         % value(s, "runnel_consumer_groups", state="Empty"))
    t.eq(lag, n - k, "runnel_consumer_group_lag of %s on %s/0 is N-K" % (group, topic))
    t.eq(value(s, "runnel_consumer_group_lag_sum", group=group), n - k, "lag sum of the group")
    t.eq(value(s, "runnel_consumer_group_members", group=group), 0,
         "the Empty group has no members")

    broker.finish(t)
    t.done()


if __name__ == "__main__":
    main()
