#!/usr/bin/env bash
# Run every real-client interop test against one broker and print a summary.
#
#   tests/interop/run.sh [--broker runneld|kafka|external] [--groups|--no-groups] [--only REGEX]
#
#   runneld   (default) starts $RN_BUILD_DIR/broker/runneld (RN_BUILD_DIR defaults to build/)
#             on a free loopback port with a fresh data dir, per the command-line contract
#             `runneld --node-id 1 --listen 127.0.0.1:PORT --data-dir DIR`; also runs the
#             SIGKILL/restart test against its own runneld.
#   kafka     starts Apache Kafka with scripts/kafka-ref.sh on a free port (reference broker).
#   external  uses the broker already at RN_BOOTSTRAP (default 127.0.0.1:9092).
#
# Consumer-group tests (tests/interop/groups/) run by default against kafka and external,
# and against runneld only with --groups (runnel gets groups in a later issue).
# Set RN_INTEROP_KEEP_LOGS=1 to keep the broker's log; every test's output is printed as it runs.
# Exit status 0 only if every test passed. Prerequisites: scripts/deps.sh.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BROKER=runneld
WITH_GROUPS=auto
ONLY=.
while [ $# -gt 0 ]; do
  case "$1" in
    --broker) BROKER=$2; shift 2 ;;
    --broker=*) BROKER=${1#*=}; shift ;;
    --groups) WITH_GROUPS=yes; shift ;;
    --no-groups) WITH_GROUPS=no; shift ;;
    --only) ONLY=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$WITH_GROUPS" = auto ] && { [ "$BROKER" = runneld ] && WITH_GROUPS=no || WITH_GROUPS=yes; }

VENV_PY=$ROOT/.venv/bin/python
for need in /usr/bin/python3 "$VENV_PY" kcat node "$HERE/node_modules/kafkajs/package.json"; do
  if [ ! -e "$need" ] && ! command -v "$need" >/dev/null; then
    echo "run.sh: $need is missing; run scripts/deps.sh first" >&2
    exit 1
  fi
done

free_port() { # a loopback port that is free, and so is the next one (Kafka's controller)
  /usr/bin/python3 - <<'EOF'
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        continue
    finally:
        b.close(); a.close()
    print(p); break
EOF
}
wait_port() { # wait_port PORT SECONDS PID
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || return 1
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

PORT=$(free_port)
BROKER_PID=
DATA_DIR=
BROKER_LOG=
cleanup() {
  if [ "$BROKER" = runneld ] && [ -n "$BROKER_PID" ]; then
    kill "$BROKER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
    rm -rf "$DATA_DIR"
    [ "${RN_INTEROP_KEEP_LOGS:-0}" = 1 ] && echo "broker log kept: $BROKER_LOG" || rm -f "$BROKER_LOG"
  elif [ "$BROKER" = kafka ]; then
    KAFKA_REF_KEEP=${RN_INTEROP_KEEP_LOGS:-0} "$ROOT/scripts/kafka-ref.sh" stop "$PORT"
  fi
}
trap cleanup EXIT

case "$BROKER" in
  runneld)
    RUNNELD=${RN_BUILD_DIR:-$ROOT/build}/broker/runneld
    if [ ! -x "$RUNNELD" ]; then
      echo "run.sh: $RUNNELD not found; build it (scripts/build.sh release) or set RN_BUILD_DIR" >&2
      exit 1
    fi
    export RN_RUNNELD=$RUNNELD
    DATA_DIR=$(mktemp -d /tmp/rn-interop-data.XXXXXX)
    BROKER_LOG=$(mktemp /tmp/rn-interop-runneld.XXXXXX.log)
    "$RUNNELD" --node-id 1 --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR" >"$BROKER_LOG" 2>&1 &
    BROKER_PID=$!
    if ! wait_port "$PORT" 30 "$BROKER_PID"; then
      echo "run.sh: runneld did not listen on 127.0.0.1:$PORT within 30 s; its log:" >&2
      tail -30 "$BROKER_LOG" >&2
      exit 1
    fi
    ;;
  kafka)
    "$ROOT/scripts/kafka-ref.sh" start "$PORT" || exit 1
    ;;
  external)
    PORT=${RN_BOOTSTRAP:-127.0.0.1:9092}
    PORT=${PORT##*:}
    ;;
  *) echo "run.sh: --broker must be runneld, kafka or external" >&2; exit 2 ;;
esac
if [ "$BROKER" = external ]; then
  export RN_BOOTSTRAP=${RN_BOOTSTRAP:-127.0.0.1:9092}
else
  export RN_BOOTSTRAP=127.0.0.1:$PORT
fi
echo "# interop against $BROKER at $RN_BOOTSTRAP"

# name | command (run from tests/interop)
TESTS=(
  "kcat|bash test_kcat.sh"
  "confluent-1.7-debian|/usr/bin/python3 test_confluent.py"
  "confluent-pypi|$VENV_PY test_confluent.py"
  "kafka-python-debian|/usr/bin/python3 test_kafka_python.py"
  "kafka-python-pypi|$VENV_PY test_kafka_python.py"
  "kafkajs|node test_kafkajs.js"
)
if [ -n "$(command -v mvn)" ] && [ "${RN_INTEROP_JAVA:-1}" = 1 ]; then
  # 4.x clients dropped the oldest request versions (KIP-896); 3.9 still sends some of them.
  TESTS+=("java-clients-4.1|bash java/run.sh" "java-clients-3.9|KAFKA_CLIENTS_VERSION=3.9.1 bash java/run.sh")
fi
if [ "$WITH_GROUPS" = yes ]; then
  TESTS+=(
    "groups-kafka-python|$VENV_PY groups/test_groups_kafka_python.py"
    "groups-confluent|$VENV_PY groups/test_groups_confluent.py"
    "groups-confluent-1.7|/usr/bin/python3 groups/test_groups_confluent.py"
    "groups-kafkajs|node groups/test_groups_kafkajs.js"
    "groups-sync-commit|$VENV_PY groups/test_groups_sync_commit.py"
    "groups-sync-commit-1.7|/usr/bin/python3 groups/test_groups_sync_commit.py"
    "groups-admin|$VENV_PY groups/test_groups_admin.py"
    "groups-admin-1.7|/usr/bin/python3 groups/test_groups_admin.py"
    "groups-kafkajs-keyed|node groups/test_groups_keyed_kafkajs.js"
  )
fi
# The crash test drives its own broker (it must SIGKILL and restart it).
case "$BROKER" in
  runneld) TESTS+=("restart-sigkill|$VENV_PY test_restart.py --broker runneld") ;;
  kafka) TESTS+=("restart-sigkill|$VENV_PY test_restart.py --broker kafka") ;;
esac
if [ "$WITH_GROUPS" = yes ] && [ "$BROKER" != external ]; then
  TESTS+=("groups-restart-sigkill|$VENV_PY groups/test_groups_restart.py --broker $BROKER")
fi

pass=0
fail=0
summary=()
cd "$HERE"
for entry in "${TESTS[@]}"; do
  name=${entry%%|*}
  cmd=${entry#*|}
  [[ $name =~ $ONLY ]] || continue
  echo "# ---- $name: $cmd"
  start=$EPOCHREALTIME
  timeout 120 bash -c "$cmd"
  rc=$?
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1))
    summary+=("PASS $name (${secs}s)")
  else
    fail=$((fail + 1))
    summary+=("FAIL $name (${secs}s, exit $rc)")
  fi
  if [ "$BROKER" = runneld ] && ! kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "# runneld died during $name; its log:"
    tail -30 "$BROKER_LOG" | sed 's/^/# /'
    summary+=("FAIL runneld exited during $name")
    fail=$((fail + 1))
    break
  fi
done

echo "# ---- summary ($BROKER)"
printf '%s\n' "${summary[@]}"
echo "interop: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
