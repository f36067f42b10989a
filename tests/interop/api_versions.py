#!/usr/bin/env python3
"""Summarize which API keys and versions each client sent, from Kafka's request log.

  KAFKA_REF_REQUEST_LOG=1 RN_INTEROP_KEEP_LOGS=1 tests/interop/run.sh --broker kafka
  tests/interop/api_versions.py /tmp/runnel-kafka-ref-PORT/logs/requests.log

Prints one block per client (software name/version from ApiVersions v3+, else the client id)
listing "ApiName(key): versions". This is what runneld must serve for those clients.
"""

import json
import re
import sys
from collections import defaultdict


def client_of(entry):
    info = entry.get("clientInformation") or {}
    name, ver = info.get("softwareName", "unknown"), info.get("softwareVersion", "unknown")
    cid = entry["requestHeader"].get("clientId") or ""
    cid = re.sub(r"-\d+$", "", re.sub(r"^(producer|consumer|adminclient)-.*", r"java-\1", cid))
    if name != "unknown":
        return "%s %s (client.id %s)" % (name, ver, cid)
    return "client.id %s (no software name: ApiVersions < v3)" % cid


def main(path):
    seen = defaultdict(lambda: defaultdict(set))
    names = {}
    with open(path, errors="replace") as f:
        for line in f:
            i = line.find("Completed request:")
            if i < 0:
                continue
            try:
                entry = json.loads(line[i + len("Completed request:"):])
            except ValueError:
                continue
            if entry.get("listener") == "CONTROLLER":
                continue  # the broker talking to its own controller, not a client
            h = entry["requestHeader"]
            key = h["requestApiKey"]
            names[key] = h.get("requestApiKeyName", str(key))
            seen[client_of(entry)][key].add(h["requestApiVersion"])
    for client in sorted(seen):
        print(client)
        for key in sorted(seen[client]):
            vs = sorted(seen[client][key])
            print("  %-28s %s" % ("%s(%d)" % (names[key], key), ",".join(map(str, vs))))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: api_versions.py REQUESTS_LOG")
    main(sys.argv[1])
