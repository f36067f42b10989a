#!/usr/bin/env python3
"""The sandbox of packaging/debian/runnel.service must allow what runneld does.

systemd is not running where the tests run, so the unit's restrictions cannot be applied
here. Instead runneld runs under strace with the packaged configuration through a
workload (produce with compression, consume, a restart with recovery, a segment roll),
and every system call it makes is checked against the unit: the syscall against
SystemCallFilter= (expanded with systemd-analyze), socket families against
RestrictAddressFamilies=, and every write to the file system (open for writing, create,
mkdir, rename, unlink, truncate) against the data directory, the one place
ProtectSystem=strict leaves writable (ReadWritePaths=/var/lib/runnel). A denied call
would make runneld fail with EPERM under systemd, so any found is a test failure.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rn_testlib import BUILD, SRC, Counter, free_port  # noqa: E402

UNIT = os.path.join(SRC, "packaging", "debian", "runnel.service")
CONF = os.path.join(SRC, "packaging", "runnel.yaml")
RUNNELD = os.path.join(BUILD, "broker", "runneld")

T = Counter(detail_lines=40)
ok = T.ok


def skip_all(why):
    print("1..0 # skip " + why)
    sys.exit(0)


def unit_values(key):
    """Every value of KEY= in the [Service] section, in order (systemd merges them)."""
    vals = []
    with open(UNIT) as f:
        for line in f:
            if line.startswith(key + "="):
                vals.append(line.split("=", 1)[1].strip())
    return vals


_groups = {}


def expand(name):
    """A syscall group (@name) or a syscall, as the set of syscall names it covers."""
    if not name.startswith("@"):
        return {name}
    if name not in _groups:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], check=True,
                             capture_output=True, text=True).stdout
        names = set()
        for line in out.splitlines()[1:]:
            word = line.strip()
            if word and not word.startswith("#"):
                names |= expand(word)
        _groups[name] = names
    return _groups[name]


def allowed_syscalls():
    """SystemCallFilter= semantics: allow lists are unioned, then ~deny lists removed."""
    allow, deny = set(), set()
    for val in unit_values("SystemCallFilter"):
        if val.startswith("~"):
            for word in val[1:].split():
                deny |= expand(word)
        else:
            for word in val.split():
                allow |= expand(word)
    return allow - deny


def wait_listening(port, proc, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def kcat(args, stdin=None):
    return subprocess.run(["kcat", "-b", BROKER] + args, input=stdin, capture_output=True,
                          timeout=60)


def run_traced(tmp, data, port, trace, workload):
    """runneld as the unit starts it (packaged config, cwd = data dir), under strace."""
    cmd = ["strace", "-f", "-qq", "-y", "-s", "256", "-o", trace, RUNNELD, "--config", CONF,
           "--listen", "127.0.0.1:%d" % port, "--data-dir", data]
    with open(os.path.join(tmp, "runneld.log"), "ab") as log:
        proc = subprocess.Popen(cmd, cwd=data, stdout=log, stderr=log)
    try:
        up = wait_listening(port, proc)
        if up:
            workload()
    finally:
        # strace passes SIGTERM on to runneld only if sent to runneld itself.
        kids = subprocess.run(["pgrep", "-P", str(proc.pid), "-x", "runneld"],
                              capture_output=True, text=True).stdout.split()
        for pid in kids or [str(proc.pid)]:
            os.kill(int(pid), 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return up, proc.returncode


CALL = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)(?:\(| resumed>)")
FDPATH = re.compile(r"^(-?\d+|AT_FDCWD)(?:<([^>]*)>)?$")
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def split_args(text):
    """Top-level comma-separated arguments of a strace call line (quotes, brackets)."""
    args, depth, cur, quoted, i = [], 0, "", False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            cur += c
            if c == "\\" and i + 1 < len(text):
                cur += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
            cur += c
        elif c in "([{<":
            depth += 1
            cur += c
        elif c in ")]}>":
            if depth == 0:
                break
            depth -= 1
            cur += c
        elif c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    args.append(cur.strip())
    return args


def unquote(arg):
    arg = re.sub(r"\.\.\.$", "", arg)
    return arg[1:-1] if arg.startswith('"') and arg.endswith('"') else arg


def resolve(dirfd, path, cwd):
    if path.startswith("/"):
        return os.path.normpath(path)
    m = FDPATH.match(dirfd) if dirfd else None
    base = m.group(2) if m and m.group(2) else cwd
    return os.path.normpath(os.path.join(base, path))


def writes(line, cwd):
    """Paths a traced call line writes to (created, opened for writing, removed...)."""
    m = re.match(r"^\d+\s+([a-z_0-9]+)\((.*)$", line)
    if not m:
        return []
    name, rest = m.group(1), m.group(2)
    args = split_args(rest)
    if name in ("open", "creat"):
        if name == "creat" or any(f in args[1] for f in WRITE_FLAGS):
            return [resolve(None, unquote(args[0]), cwd)]
    elif name == "openat" and len(args) >= 3:
        if any(f in args[2] for f in WRITE_FLAGS):
            return [resolve(args[0], unquote(args[1]), cwd)]
    elif name in ("mkdir", "unlink", "rmdir", "truncate"):
        return [resolve(None, unquote(args[0]), cwd)]
    elif name in ("mkdirat", "unlinkat"):
        return [resolve(args[0], unquote(args[1]), cwd)]
    elif name == "rename":
        return [resolve(None, unquote(args[0]), cwd), resolve(None, unquote(args[1]), cwd)]
    elif name in ("renameat", "renameat2"):
        return [resolve(args[0], unquote(args[1]), cwd), resolve(args[2], unquote(args[3]), cwd)]
    return []


def main():
    global BROKER
    for tool in ("strace", "systemd-analyze", "kcat", "pgrep"):
        if shutil.which(tool) is None:
            skip_all("%s is not installed (scripts/deps.sh installs it)" % tool)
    if not os.access(RUNNELD, os.X_OK):
        skip_all("%s is not built" % RUNNELD)
    probe = subprocess.run(["strace", "-o", "/dev/null", "true"], capture_output=True)
    if probe.returncode != 0:
        skip_all("strace cannot trace here: %s" % probe.stderr.decode().strip())

    allowed = allowed_syscalls()
    ok(len(allowed) > 100, "the unit's SystemCallFilter allows %d syscalls" % len(allowed))
    families = set()
    for val in unit_values("RestrictAddressFamilies"):
        families |= set(val.split())
    ok(families, "the unit restricts address families to %s" % " ".join(sorted(families)))
    rw = unit_values("ReadWritePaths")
    ok(rw == ["/var/lib/runnel"], "the unit's only writable path is /var/lib/runnel (%s)" % rw)

    tmp = tempfile.mkdtemp(prefix="runnel-sandbox.")
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        port = free_port()
        BROKER = "127.0.0.1:%d" % port
        lines = b"".join(b"message %d\n" % i for i in range(2000))
        results = {}

        def first_run():
            for codec in ("none", "lz4", "zstd", "gzip", "snappy"):
                results["p-" + codec] = kcat(["-P", "-t", "sandbox", "-z", codec], lines)
            results["c1"] = kcat(["-C", "-t", "sandbox", "-o", "beginning", "-e", "-q"])
            results["meta"] = kcat(["-L"])

        def second_run():
            results["p2"] = kcat(["-P", "-t", "sandbox"], b"after restart\n")
            results["c2"] = kcat(["-C", "-t", "sandbox", "-o", "beginning", "-e", "-q"])

        traces = [os.path.join(tmp, "trace1"), os.path.join(tmp, "trace2")]
        up1, rc1 = run_traced(tmp, data, port, traces[0], first_run)
        up2, rc2 = run_traced(tmp, data, port, traces[1], second_run)
        log = open(os.path.join(tmp, "runneld.log"), errors="replace").read()
        ok(up1 and up2, "runneld starts under strace with packaging/runnel.yaml", log)
        ok(rc1 == 0 and rc2 == 0, "runneld stops cleanly on SIGTERM (%s, %s)" % (rc1, rc2), log)
        got = results.get("c2")
        count = got.stdout.count(b"\n") if got else 0
        ok(count == 5 * 2000 + 1, "the workload produced and consumed %d messages" % count,
           got.stderr.decode(errors="replace") if got else "")
        segs = [f for f in os.listdir(os.path.join(data, "sandbox-0")) if f.endswith(".log")]
        ok(len(segs) >= 1, "the partition has %d segment(s)" % len(segs))

        calls, denied, bad_families, outside, inside = set(), {}, set(), {}, 0
        unfinished = {}  # pid -> the first half of a call strace split
        for trace in traces:
            with open(trace, errors="replace") as f:
                for line in f:
                    m = CALL.match(line)
                    if not m:
                        continue
                    name = m.group(1)
                    pid = line.split(None, 1)[0]
                    if " resumed>" in line[:60]:
                        # Another thread's call split this one in two: its result is here,
                        # its arguments on the "<unfinished ...>" line kept below.
                        first = unfinished.pop(pid, None)
                        if first is None or "= -1 " in line:
                            continue
                        line = first
                    elif line.rstrip().endswith("<unfinished ...>"):
                        unfinished[pid] = line
                        calls.add(name)
                        if name not in allowed:
                            denied.setdefault(name, line.strip())
                        continue
                    calls.add(name)
                    if name not in allowed:
                        denied.setdefault(name, line.strip())
                    if name == "socket":
                        fam = re.match(r"^\d+\s+socket\((\w+)", line)
                        if fam and fam.group(1) not in families:
                            bad_families.add(fam.group(1))
                    if "= -1 " in line:
                        continue  # a failed call changed nothing
                    for path in writes(line, data):
                        if path == data or path.startswith(data + "/"):
                            inside += 1
                        elif path != "/dev/null":
                            outside.setdefault(path, line.strip())
        ok(len(calls) > 20, "strace saw %d distinct syscalls" % len(calls))
        ok(not denied, "every syscall runneld makes is allowed by SystemCallFilter",
           "\n".join("%s: %s" % kv for kv in sorted(denied.items())))
        ok(not bad_families, "runneld opens sockets only of %s" % " ".join(sorted(families)),
           " ".join(sorted(bad_families)))
        # The writes the broker must make (segments, checkpoints) prove the parser works.
        ok(inside >= 10, "strace saw %d writes inside the data directory" % inside)
        ok(not outside, "runneld writes only inside its data directory",
           "\n".join("%s: %s" % kv for kv in sorted(outside.items())))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("1..%d" % T.count)
    sys.exit(1 if T.failed else 0)


if __name__ == "__main__":
    main()
