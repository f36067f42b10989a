#!/usr/bin/env bash
# runneld's admin side against an independent client (kcat/librdkafka), and its command line:
#   - --help lists every key; bad flags and bad config files stop start-up naming the flag or
#     FILE:LINE, with exit status 2;
#   - `kcat -L` lists the broker (advertised address, controller) and topics; `kcat -L -t X`
#     auto-creates X; an invalid name is refused;
#   - SIGTERM stops it with exit status 0 and the clean-shutdown marker; a restart on the same
#     data dir lists the same topics; a second runneld on a locked data dir refuses to start.
# Prints TAP. Needs kcat (scripts/deps.sh).
set -uo pipefail
ROOT=${RN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
RUNNELD=${RN_BUILD_DIR:-$ROOT/build}/broker/runneld
n=0
failed=0
ok() { # ok COND-STATUS NAME
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
command -v kcat >/dev/null || { echo "1..0 # SKIP kcat not installed (scripts/deps.sh)"; exit 0; }
[ -x "$RUNNELD" ] || { echo "Bail out! $RUNNELD not built"; exit 1; }

TMP=$(mktemp -d /tmp/rn-test-admin.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # wait_port PORT PID
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
start() { # start LOG: runneld on $PORT with $TMP/data
  "$RUNNELD" --node-id 1 --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" >"$1" 2>&1 &
  PID=$!
  wait_port "$PORT" "$PID"
}
stop() { # stop: SIGTERM, wait, sets STATUS
  kill -TERM "$PID"
  wait "$PID"
  STATUS=$?
  PID=
}

# --- command line
"$RUNNELD" --help >"$TMP/help" 2>&1
ok $? "--help exits 0"
grep -q "log.retention.hours" "$TMP/help" && grep -q "default: 1048588" "$TMP/help"
ok $? "--help lists keys with defaults"
"$RUNNELD" --version | grep -q "^runneld "
ok $? "--version"
"$RUNNELD" --num.partitions zero >"$TMP/err" 2>&1
[ $? -eq 2 ] && grep -q -- '--num.partitions: "zero" is not an integer' "$TMP/err"
ok $? "bad flag value: exit 2 naming the flag ($(head -c 200 "$TMP/err"))"
printf 'num.partitions: 2\nlog.retention.hourz: 5\n' >"$TMP/bad.yaml"
"$RUNNELD" --config "$TMP/bad.yaml" >"$TMP/err" 2>&1
[ $? -eq 2 ] && grep -q "bad.yaml:2: unknown key \"log.retention.hourz\"" "$TMP/err"
ok $? "bad config key: exit 2 naming FILE:LINE ($(head -c 200 "$TMP/err"))"

# --- kcat
PORT=$(free_port)
start "$TMP/log1"
ok $? "runneld listens on 127.0.0.1:$PORT"
kcat -b "127.0.0.1:$PORT" -L -m 5 >"$TMP/L0" 2>&1
grep -q "broker 1 at 127.0.0.1:$PORT (controller)" "$TMP/L0" && grep -q " 0 topics" "$TMP/L0"
ok $? "kcat -L: broker 1 at the advertised address, controller, no topics"
kcat -b "127.0.0.1:$PORT" -L -t admin.auto -m 5 >"$TMP/L1" 2>&1
grep -q 'topic "admin.auto" with 1 partitions' "$TMP/L1" && grep -q "partition 0, leader 1, replicas: 1, isrs: 1" "$TMP/L1"
ok $? "kcat -L -t auto-creates a topic with leader 1"
kcat -b "127.0.0.1:$PORT" -L -t 'bad*name' -m 5 >"$TMP/L2" 2>&1
grep -q "Invalid topic" "$TMP/L2"
ok $? "invalid topic name refused"
kcat -b "127.0.0.1:$PORT" -L -m 5 >"$TMP/L3" 2>&1
grep -q 'topic "admin.auto"' "$TMP/L3"
ok $? "kcat -L lists the new topic"
"$RUNNELD" --node-id 1 --listen "127.0.0.1:$(free_port)" --data-dir "$TMP/data" >"$TMP/err" 2>&1
[ $? -ne 0 ] && grep -qi "lock" "$TMP/err"
ok $? "a second runneld on the same data dir refuses to start"
stop
[ "$STATUS" -eq 0 ] && grep -q "stopped cleanly" "$TMP/log1" && [ -e "$TMP/data/.kafka_cleanshutdown" ]
ok $? "SIGTERM: exit 0, clean-shutdown marker written"

printf 'log.level: info\n' >"$TMP/run.yaml"
"$RUNNELD" --config "$TMP/run.yaml" --node-id 1 --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" \
  >"$TMP/log2" 2>&1 &
PID=$!
wait_port "$PORT" "$PID"
ok $? "restart on the same data dir (with --config)"
grep -q "the previous run stopped cleanly" "$TMP/log2"
ok $? "restart saw the clean shutdown"
kcat -b "127.0.0.1:$PORT" -L -m 5 >"$TMP/L4" 2>&1
grep -q 'topic "admin.auto" with 1 partitions' "$TMP/L4"
ok $? "the topic survived the restart"
printf 'log.level: debug\n' >"$TMP/run.yaml"
kill -HUP "$PID"
for _ in $(seq 1 50); do grep -q "log.level is now debug" "$TMP/log2" && break; sleep 0.1; done
grep -q "log.level is now debug" "$TMP/log2"
ok $? "SIGHUP re-reads log.level from the config file"
stop
ok "$STATUS" "second stop exits 0"

echo "1..$n"
[ $failed -eq 0 ]
