"""Shared helpers for the Python interop tests: TAP output, a watchdog, unique names.

Each test is its own program (run by tests/interop/run.sh or by hand) that reads the broker
address from RN_BOOTSTRAP, prints TAP, and exits non-zero on any failure. The watchdog turns a
hung client (a broker that never answers) into a failed test instead of a stuck run.
"""

import os
import random
import signal
import string
import sys
import time
import traceback

BOOTSTRAP = os.environ.get("RN_BOOTSTRAP", "127.0.0.1:9092")


def unique(prefix):
    """A topic/group name no other run uses: prefix, time, random suffix."""
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return "%s-%d-%s" % (prefix, int(time.time()), suffix)


class Tap:
    """TAP producer. ok() never raises; done() prints the plan and exits 0 only if all passed."""

    def __init__(self, name, timeout_s=55):
        self.name = name
        self.n = 0
        self.failed = 0
        self.t0 = time.monotonic()
        print("# %s against %s (python %s)" % (name, BOOTSTRAP, sys.version.split()[0]), flush=True)
        signal.signal(signal.SIGALRM, self._timeout)
        signal.alarm(timeout_s)

    def _timeout(self, signum, frame):
        self.n += 1
        self.failed += 1
        print("not ok %d - watchdog: %s still running after its time limit" % (self.n, self.name))
        traceback.print_stack(frame, file=sys.stdout)
        self.done()

    def ok(self, cond, desc, detail=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, desc), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc), flush=True)
            if detail is not None:
                self.diag(detail)
        return bool(cond)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, "got %r, want %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def step(self, desc, fn):
        """Run fn(); an exception fails this step (with its traceback) instead of the program."""
        try:
            fn()
        except Exception:  # noqa: BLE001 - any client error is a test failure, reported as such
            self.ok(False, desc + " (raised)", traceback.format_exc())

    def done(self):
        signal.alarm(0)
        print("1..%d" % self.n)
        print("# %s: %d passed, %d failed in %.1f s" % (self.name, self.n - self.failed, self.failed,
                                                      time.monotonic() - self.t0), flush=True)
        os._exit(1 if self.failed or self.n == 0 else 0)
