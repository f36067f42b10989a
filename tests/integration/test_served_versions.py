"""The served versions are written once, as serve= in client/defs/<api>.def. This checks
that the two places that repeat them agree with it:

  - the README's "Kafka APIs served" table lists exactly the served APIs, with the same key
    and the same min-max range;
  - a running runneld's ApiVersions v3 answer lists exactly the same APIs and ranges (the
    dispatch table must not serve anything its definition does not, and must not miss a
    served definition).
Prints TAP."""

import os
import re
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
from datapath_common import Broker, Tap  # noqa: E402
import diffwire  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
API_CELL = re.compile(r"([A-Za-z]+) (\d+)")
RANGE_CELL = re.compile(r"(\d+)(?:-(\d+))?")  # "0-9", or "0" for one version


def defs_served():
    """{api key: (name, min, max)} for every definition with a serve= range."""
    return {a.key: (a.name, a.serve[0], a.serve[1]) for a in diffwire.APIS.values() if a.serve}


def readme_served():
    """{api key: (name, min, max)} from the README's table, and the keys listed twice."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    start = text.index("### Kafka APIs served")
    table = text[start:text.index("\n\n", text.index("|", start))]
    rows, twice = {}, []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for api, rng in zip(cells[0::2], cells[1::2]):  # | API key | versions | API key | ...
            a, r = API_CELL.fullmatch(api), RANGE_CELL.fullmatch(rng)
            if a is None or r is None:
                continue
            key = int(a.group(2))
            if key in rows:
                twice.append(key)
            rows[key] = (a.group(1), int(r.group(1)), int(r.group(2) or r.group(1)))
    return rows, twice


def main():
    t = Tap("served versions")
    want = defs_served()
    t.ok(len(want) > 20, "the definitions serve %d apis" % len(want))
    readme, twice = readme_served()
    t.eq(twice, [], "no api is listed twice in the README")
    t.eq(sorted(readme.items()), sorted(want.items()), "README table == serve= of client/defs")

    broker = Broker()
    t.cleanups.append(broker.cleanup)
    conn = diffwire.Conn("127.0.0.1", broker.port)
    resp = t.step("ApiVersions v3", conn.call, "ApiVersions", 3,
                  {"ClientSoftwareName": "runnel-test", "ClientSoftwareVersion": "1.0"})
    conn.close()
    if resp is not None:
        t.eq(resp["ErrorCode"], 0, "ApiVersions v3 answers without error")
        got = {k["ApiKey"]: (k["MinVersion"], k["MaxVersion"]) for k in resp["ApiKeys"]}
        t.eq(sorted(got.items()), sorted((k, v[1:]) for k, v in want.items()),
             "runneld's ApiVersions == serve= of client/defs")
    broker.finish(t)
    t.done()


if __name__ == "__main__":
    main()
