"""What the Python integration and interop tests share: where the source and build trees are,
a free loopback port, and two TAP producers.

- Counter: ok() for tests that count their checks and print the plan at the end (the codec,
  dump and sandbox tests); finish() prints the plan and returns the exit status.
- Tap: ok()/eq()/step() with a watchdog alarm and cleanups; done() prints the plan and a
  summary and exits (the data-path, CLI, metrics and interop tests).

Not a test itself (no test_ prefix, so ctest does not run it)."""

import os
import signal
import socket
import sys
import time
import traceback

# ctest sets both; the defaults serve a run by hand from anywhere.
SRC = os.environ.get("RN_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("RN_BUILD_DIR") or os.path.join(SRC, "build")


_port_next = [os.getpid()]  # where in RN_TEST_PORTS this process starts looking


def free_port():
    """A loopback TCP port nothing listens on right now: any the kernel picks, or, when
    RN_TEST_PORTS=LO-HI is set (runs sharing a machine each keep to their own range), the
    next free one of that range."""
    span = os.environ.get("RN_TEST_PORTS", "")
    if span:
        lo, hi = (int(x) for x in span.split("-"))
        for _ in range(hi - lo + 1):
            port = lo + _port_next[0] % (hi - lo + 1)
            _port_next[0] += 1
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
        raise RuntimeError("RN_TEST_PORTS=%s: no free port" % span)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Counter:
    """Numbered ok/not ok lines. A failure's detail goes after it as comments: its first
    detail_lines lines, or (when detail_lines is None) its first detail_chars characters."""

    def __init__(self, detail_chars=800, detail_lines=None):
        self.count = 0
        self.failed = 0
        self.detail_chars = detail_chars
        self.detail_lines = detail_lines

    def ok(self, cond, name, detail=""):
        self.count += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (self.count, name))
        if not cond:
            self.failed += 1
            if self.detail_lines is not None:
                for line in str(detail).splitlines()[:self.detail_lines]:
                    print("# " + line)
            elif detail:
                print("#   " + str(detail)[:self.detail_chars].replace("\n", "\n#   "))
        sys.stdout.flush()

    def finish(self):
        """Print the plan (and how many failed); return the exit status."""
        print("1..%d" % self.count)
        if self.failed:
            print("# failed %d of %d" % (self.failed, self.count))
        return 1 if self.failed else 0


class Tap:
    """TAP output with a watchdog: after timeout_s seconds a failure with the stack is
    reported and done() runs. ok() never raises; done() runs the cleanups, prints the plan
    and exits non-zero when anything failed or nothing ran."""

    def __init__(self, name, timeout_s=240):
        self.name = name
        self.n = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self.cleanups = []
        signal.signal(signal.SIGALRM, self._timeout)
        signal.alarm(timeout_s)

    def _timeout(self, signum, frame):
        self.ok(False, "watchdog: %s still running after its time limit" % self.name,
                "".join(traceback.format_stack(frame)))
        self.done()

    def ok(self, cond, desc, detail=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc), flush=True)
        if not cond:
            self.failed += 1
            if detail is not None:
                self.diag(detail)
        return bool(cond)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, "got %r, want %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def step(self, desc, fn, *args):
        """Return fn(*args); an exception fails this step (with its traceback) instead of the
        program, and gives None."""
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - reported as a failed test
            self.ok(False, desc + " (raised)", traceback.format_exc())
            return None

    def done(self):
        signal.alarm(0)
        for fn in self.cleanups:
            try:
                fn()
            except Exception:  # noqa: BLE001
                pass
        print("1..%d" % self.n)
        print("# %s: %d passed, %d failed in %.1f s" % (
            self.name, self.n - self.failed, self.failed, time.monotonic() - self.t0), flush=True)
        os._exit(1 if self.failed or self.n == 0 else 0)
