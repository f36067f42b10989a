#!/usr/bin/env bash
# runneld against Apache Kafka's recorded answers, without a JVM: tests/interop/differential.py
# --expected starts $RN_BUILD_DIR/broker/runneld, sends it the differential scenarios (the
# same requests that were sent to Kafka 4.1.1 when tests/interop/differential-kafka-4.1.1.json
# was recorded) and compares every normalized answer field by field. Prints TAP; documented
# differences still open are TODO lines. Re-record after changing a scenario:
#   tests/interop/differential.py --start-kafka --record
set -uo pipefail
ROOT=${RN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export RN_BUILD_DIR=${RN_BUILD_DIR:-$ROOT/build}
[ -x "$RN_BUILD_DIR/broker/runneld" ] || { echo "Bail out! $RN_BUILD_DIR/broker/runneld not built"; exit 1; }
exec /usr/bin/python3 "$ROOT/tests/interop/differential.py" \
  --expected "$ROOT/tests/interop/differential-kafka-4.1.1.json"
