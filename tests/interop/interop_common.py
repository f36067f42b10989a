"""Shared helpers for the Python interop tests: TAP output, a watchdog, unique names.

Each test is its own program (run by tests/interop/run.sh or by hand) that reads the broker
address from RN_BOOTSTRAP, prints TAP, and exits non-zero on any failure. The watchdog turns a
hung client (a broker that never answers) into a failed test instead of a stuck run.
"""

import os
import random
import string
import sys
import time

# The TAP producer is the integration tests' (tests/integration/rn_testlib.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rn_testlib  # noqa: E402

BOOTSTRAP = os.environ.get("RN_BOOTSTRAP", "127.0.0.1:9092")


def unique(prefix):
    """A topic/group name no other run uses: prefix, time, random suffix."""
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return "%s-%d-%s" % (prefix, int(time.time()), suffix)


class Tap(rn_testlib.Tap):
    """rn_testlib's TAP producer with a 55 s watchdog that names the broker and the Python it
    runs under first. ok() never raises; done() prints the plan and exits 0 only if all passed."""

    def __init__(self, name, timeout_s=55):
        print("# %s against %s (python %s)" % (name, BOOTSTRAP, sys.version.split()[0]), flush=True)
        super().__init__(name, timeout_s)
