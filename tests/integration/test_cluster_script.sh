#!/usr/bin/env bash
# scripts/cluster.sh, `runnel cluster up` held in the foreground: three nodes come up on free ports, kcat
# sees three brokers and a controller through any of them, a topic produced through one node
# is consumed through another, and SIGTERM (the script traps it as it traps Ctrl-C's SIGINT,
# which a non-interactive shell's background job would ignore) stops every node cleanly.
# Prints TAP.
set -uo pipefail
ROOT=${RN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${RN_BUILD_DIR:-$ROOT/build}
TMP=$(mktemp -d)
n=0
failed=0
ok() { # ok STATUS NAME
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null
  sleep 1
  pkill -f "runneld --node-id [0-9] --listen 127.0.0.1:$port" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
command -v kcat >/dev/null || { echo "1..0 # SKIP kcat not installed"; exit 0; }
# Three consecutive free ports from a random start.
while :; do
  port=$((20000 + RANDOM % 20000))
  free=1
  for p in $port $((port + 1)) $((port + 2)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && free=0
  done
  [ $free -eq 1 ] && break
done
# cluster.sh uses build/tools/runnel of the source tree (which finds build/broker/runneld
# beside it); point it at this build.
mkdir -p "$TMP/src/scripts" "$TMP/src/build/tools"
cp "$ROOT/scripts/cluster.sh" "$TMP/src/scripts/"
ln -s "$BUILD/tools/runnel" "$TMP/src/build/tools/runnel"
bash "$TMP/src/scripts/cluster.sh" -p "$port" -d "$TMP/data" >"$TMP/out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "cluster of 3 nodes up" "$TMP/out" && break; sleep 0.1; done
grep -q "cluster of 3 nodes up" "$TMP/out"
ok $? "cluster.sh reports three nodes up"
boot="127.0.0.1:$port,127.0.0.1:$((port + 1)),127.0.0.1:$((port + 2))"
# "up" means every node listens and the quorum has a leader; brokers register just after.
seen=1
for _ in $(seq 1 100); do
  meta=$(timeout 5 kcat -b "127.0.0.1:$((port + 2))" -L -m 2 2>&1)
  if echo "$meta" | grep -q " 3 brokers:" && echo "$meta" | grep -q "(controller)"; then
    seen=0
    break
  fi
  sleep 0.1
done
ok $seen "kcat through node 3 sees three brokers and a controller"
seq 1 50 | sed "s/^/v/" | timeout 60 kcat -P -b "127.0.0.1:$port" -t script-topic -X topic.metadata.refresh.interval.ms=200 2>"$TMP/perr"
ok $? "50 records produced through node 1"
got=$(timeout 60 kcat -C -b "127.0.0.1:$((port + 1))" -t script-topic -o beginning -e -q 2>/dev/null | wc -l)
[ "$got" -eq 50 ]
ok $? "50 records consumed through node 2 (got $got)"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
left=$(pgrep -f "runneld --node-id [0-9] --listen 127.0.0.1:$port" | wc -l)
[ "$left" -eq 0 ] && [ "$rc" -eq 0 ]
ok $? "SIGTERM stops every node (exit $rc, $left left)"
grep -q "stopped cleanly\|clean shutdown" "$TMP"/data/node-1.log
ok $? "node 1 logs a clean shutdown"
echo "1..$n"
[ $failed -eq 0 ]
