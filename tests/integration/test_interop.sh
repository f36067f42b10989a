#!/usr/bin/env bash
# Every real-client interop test (kcat, confluent-kafka 1.7 and current, kafka-python,
# kafkajs, the Java client 3.9 and 4.x, SIGKILL restart) against a fresh runneld.
set -euo pipefail
export RN_BUILD_DIR=${RN_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
exec bash "$(dirname "$0")/../interop/run.sh" --broker runneld
