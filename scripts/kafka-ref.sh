#!/usr/bin/env bash
# Run Apache Kafka as a single-node KRaft reference broker for interop and differential
# tests, from Maven Central jars (no tarball, no ZooKeeper).
#
#   scripts/kafka-ref.sh fetch            download the jars (once; cached)
#   scripts/kafka-ref.sh start [PORT]     start a broker on 127.0.0.1:PORT (default 9092)
#   scripts/kafka-ref.sh stop [PORT]      stop it and delete its data
#   scripts/kafka-ref.sh status [PORT]
#   scripts/kafka-ref.sh crash [PORT]     SIGKILL it, keeping its data (crash tests)
#   scripts/kafka-ref.sh resume [PORT]    start it again on the data it had
#   scripts/kafka-ref.sh as-runneld --node-id N --listen HOST:PORT --data-dir DIR [--cluster LIST]
#       run Kafka in the foreground (exec: the pid is the JVM's) with runneld's command-line
#       contract, formatting DIR on first use; a stand-in to check tests/interop/run.sh, the
#       crash test and the multi-node tests themselves (tests/integration/
#       test_replication_faults.py --broker kafka). With --cluster ID@HOST:PORT,... (runneld's
#       form: each node's client address) the node is one of a combined broker+controller
#       quorum whose controllers listen on PORT+1; every node derives one cluster id from LIST.
#
# A three-node cluster on 127.0.0.1 (node N: clients on BASE+2(N-1), its controller one above):
#   scripts/kafka-ref.sh cluster-start [BASE]      start nodes 1-3 (default BASE 19400)
#   scripts/kafka-ref.sh cluster-stop [BASE]       stop them and delete their data
#   scripts/kafka-ref.sh cluster-status [BASE]     one line per node; fails unless all run
#   scripts/kafka-ref.sh node-kill BASE N          SIGKILL node N, keeping its data
#   scripts/kafka-ref.sh node-start BASE N         start node N again on the data it had
#   scripts/kafka-ref.sh node-stop BASE N          SIGSTOP node N (frozen, its sockets open)
#   scripts/kafka-ref.sh node-cont BASE N          SIGCONT it
#
# Environment: KAFKA_REF_VERSION (default 4.1.1), KAFKA_REF_CACHE (default
# ~/.cache/runnel/kafka-ref), KAFKA_REF_REQUEST_LOG=1 logs every request header (api key,
# version, client) to <state>/logs/requests.log, to see which versions clients send;
# KAFKA_REF_HEAP is the JVM's -Xmx (default 1g, 512m for a cluster node); KAFKA_REF_CONFIG
# holds extra server.properties lines appended to each node's (e.g.
# "broker.session.timeout.ms=3000").
# Per-port state (pid, config, logs, data) lives in ${TMPDIR:-/tmp}/runnel-kafka-ref-PORT, a
# cluster's in ${TMPDIR:-/tmp}/runnel-kafka-ref-cluster-BASE/node-N.
# The controller listens on PORT+1. Not run in CI: it needs ~50 MB of jars and a JVM.
# Timing on the 2-core dev machine: fetch ~12 s the first time; start ~6-8 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${KAFKA_REF_VERSION:-4.1.1}
CACHE=${KAFKA_REF_CACHE:-$HOME/.cache/runnel/kafka-ref}
LIBS=$CACHE/$VERSION/libs

usage() {
  echo "usage: $0 fetch | start [PORT] | stop [PORT] | status [PORT] | crash [PORT] | resume [PORT]" >&2
  echo "       $0 as-runneld --node-id N --listen HOST:PORT --data-dir DIR [--cluster LIST]" >&2
  echo "       $0 cluster-start [BASE] | cluster-stop [BASE] | cluster-status [BASE]" >&2
  echo "       $0 node-kill | node-start | node-stop | node-cont BASE N" >&2
  exit 2
}

fetch() {
  if [ -f "$LIBS/.complete" ]; then
    return 0
  fi
  command -v mvn >/dev/null || { echo "kafka-ref: mvn not found; install maven" >&2; exit 1; }
  command -v java >/dev/null || { echo "kafka-ref: java not found; install a JDK 17+" >&2; exit 1; }
  echo "kafka-ref: fetching Kafka $VERSION jars into $LIBS" >&2
  rm -rf "$LIBS"
  mkdir -p "$LIBS"
  (cd "$ROOT/tests/interop/kafka-ref" &&
    mvn -B -q dependency:copy-dependencies -Dkafka.version="$VERSION" -DincludeScope=runtime \
      -DoutputDirectory="$LIBS") >&2
  touch "$LIBS/.complete"
}

# A Kafka cluster id is a UUID in URL-safe base64 without padding (22 characters); made here
# rather than by `StorageTool random-uuid`, which costs a JVM start.
new_cluster_id() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22; }

# The same id on every node given one --cluster list: the list's first 16 bytes of SHA-256.
cluster_id_of() {
  local hex
  hex=$(printf '%s' "$1" | sha256sum | head -c 32)
  # shellcheck disable=SC2059 # the format is the \xNN escapes of those bytes
  printf "$(echo "$hex" | sed 's/../\\x&/g')" | base64 | tr '+/' '-_' | cut -c1-22
}

state_dir() { echo "${TMPDIR:-/tmp}/runnel-kafka-ref-$1"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# write_config DIR PORT CPORT [NODE_ID VOTERS HOST]: one node's server.properties and log4j2
# configuration. VOTERS (Kafka's ID@HOST:CPORT,...) defaults to the node alone; with more
# than one voter the internal topics get replication factor min(3, voters) and min ISR 2.
write_config() {
  local dir=$1 port=$2 cport=$3 id=${4:-1} voters=${5:-} host=${6:-127.0.0.1}
  [ -n "$voters" ] || voters="$id@$host:$cport"
  local n rf=1 misr=1
  n=$(echo "$voters" | tr ',' '\n' | grep -c .)
  if [ "$n" -gt 1 ]; then
    rf=$((n < 3 ? n : 3))
    misr=2
  fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$cport
advertised.listeners=PLAINTEXT://$host:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$rf
auto.create.topics.enable=true
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$misr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$misr
group.initial.rebalance.delay.ms=0
log.segment.bytes=67108864
EOF
  [ -z "${KAFKA_REF_CONFIG:-}" ] || printf '%s\n' "$KAFKA_REF_CONFIG" >>"$dir/server.properties"
  local reqlevel=OFF
  [ "${KAFKA_REF_REQUEST_LOG:-0}" = 1 ] && reqlevel=DEBUG
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.main.type = File
appender.main.name = MAIN
appender.main.fileName = $dir/logs/server.log
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = [%d] %p %m (%c)%n
appender.req.type = File
appender.req.name = REQ
appender.req.fileName = $dir/logs/requests.log
appender.req.layout.type = PatternLayout
appender.req.layout.pattern = [%d] %m%n
rootLogger.level = INFO
rootLogger.appenderRef.main.ref = MAIN
logger.req.name = kafka.request.logger
logger.req.level = $reqlevel
logger.req.additivity = false
logger.req.appenderRef.req.ref = REQ
EOF
}

start() { # start PORT [resume]
  local port=${1:-9092}
  local resume=${2:-}
  local cport=$((port + 1))
  local dir
  dir=$(state_dir "$port")
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "kafka-ref: already running on 127.0.0.1:$port (pid $(cat "$dir/pid"))" >&2
    return 0
  fi
  for p in "$port" "$cport"; do
    if port_open "$p"; then
      echo "kafka-ref: port $p is in use; pick another: $0 start PORT" >&2
      exit 1
    fi
  done
  fetch
  if [ -n "$resume" ]; then
    [ -f "$dir/server.properties" ] || { echo "kafka-ref: nothing to resume in $dir" >&2; exit 1; }
  else
    rm -rf "$dir"
    mkdir -p "$dir/data" "$dir/logs"
    write_config "$dir" "$port" "$cport"
  fi
  local t0=$SECONDS
  local cp="$LIBS/*"
  local jvm=(java -Xms256m -Xmx"${KAFKA_REF_HEAP:-1g}" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$cp")
  # A fresh KRaft log dir must be formatted with a cluster id before the first start.
  if [ -z "$resume" ]; then
    "${jvm[@]}" kafka.tools.StorageTool format --config "$dir/server.properties" \
      --cluster-id "$(new_cluster_id)" --ignore-formatted >"$dir/logs/format.log" 2>&1 ||
      { cat "$dir/logs/format.log" >&2; exit 1; }
  fi
  # The readiness check below greps the server log, so start each run with a fresh one.
  [ -f "$dir/logs/server.log" ] && mv "$dir/logs/server.log" "$dir/logs/server.log.prev"
  nohup "${jvm[@]}" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 &
  echo $! >"$dir/pid"
  # Ready when the client port accepts and the broker logged that it started.
  local deadline=$((SECONDS + 90))
  until port_open "$port" && grep -q 'Kafka Server started' "$dir/logs/server.log" 2>/dev/null; do
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "kafka-ref: broker exited during start; see $dir/logs" >&2
      tail -20 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "kafka-ref: broker not ready after 90 s; see $dir/logs" >&2
      exit 1
    fi
    sleep 0.3
  done
  echo "kafka-ref: Kafka $VERSION on 127.0.0.1:$port (pid $(cat "$dir/pid"), ready in $((SECONDS - t0)) s, state $dir)" >&2
}

stop() {
  local port=${1:-9092}
  local dir
  dir=$(state_dir "$port")
  if [ ! -f "$dir/pid" ]; then
    echo "kafka-ref: nothing running on port $port" >&2
    return 0
  fi
  local pid
  pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  if [ "${KAFKA_REF_KEEP:-0}" = 1 ]; then
    rm -f "$dir/pid"
    echo "kafka-ref: stopped; kept $dir" >&2
  else
    rm -rf "$dir"
    echo "kafka-ref: stopped" >&2
  fi
}

crash() {
  local port=${1:-9092}
  local dir
  dir=$(state_dir "$port")
  [ -f "$dir/pid" ] || { echo "kafka-ref: nothing running on port $port" >&2; exit 1; }
  local pid
  pid=$(cat "$dir/pid")
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$dir/pid"
}

status() {
  local port=${1:-9092}
  local dir
  dir=$(state_dir "$port")
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "running on 127.0.0.1:$port (pid $(cat "$dir/pid"), state $dir)"
  else
    echo "not running on port $port"
    return 1
  fi
}

as_runneld() {
  local id=1 listen="" dir="" cluster=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --node-id) id=$2; shift 2 ;;
      --listen) listen=$2; shift 2 ;;
      --data-dir) dir=$2; shift 2 ;;
      --cluster) cluster=$2; shift 2 ;;
      *) echo "kafka-ref as-runneld: unsupported argument $1" >&2; exit 2 ;;
    esac
  done
  [ -n "$listen" ] && [ -n "$dir" ] || { echo "kafka-ref as-runneld: need --listen and --data-dir" >&2; exit 2; }
  local port=${listen##*:} host=${listen%:*} voters="" cid heap=${KAFKA_REF_HEAP:-1g} v
  if [ -n "$cluster" ]; then
    # runneld's ID@HOST:PORT client addresses become Kafka's ID@HOST:PORT+1 controllers.
    for v in ${cluster//,/ }; do
      voters="$voters${voters:+,}${v%:*}:$((${v##*:} + 1))"
    done
    cid=$(cluster_id_of "$cluster")
    heap=${KAFKA_REF_HEAP:-512m}
  else
    id=1 # a single-node stand-in is always node 1
    cid=$(new_cluster_id)
  fi
  fetch
  mkdir -p "$dir/data" "$dir/logs"
  write_config "$dir" "$port" $((port + 1)) "$id" "$voters" "$host"
  local jvm=(java -Xms128m -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$LIBS/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    "${jvm[@]}" kafka.tools.StorageTool format --config "$dir/server.properties" \
      --cluster-id "$cid" \
      >"$dir/logs/format.log" 2>&1 || { cat "$dir/logs/format.log" >&2; exit 1; }
  fi
  # A readiness check greps the server log for this run's start, so each run has a fresh one.
  [ ! -f "$dir/logs/server.log" ] || mv "$dir/logs/server.log" "$dir/logs/server.log.prev"
  exec "${jvm[@]}" kafka.Kafka "$dir/server.properties"
}

# ---- a three-node cluster on 127.0.0.1 -------------------------------------------------------

cluster_dir() { echo "${TMPDIR:-/tmp}/runnel-kafka-ref-cluster-$1"; }
node_port() { echo $(($1 + 2 * ($2 - 1))); }
cluster_list() {
  echo "1@127.0.0.1:$(node_port "$1" 1),2@127.0.0.1:$(node_port "$1" 2),3@127.0.0.1:$(node_port "$1" 3)"
}

node_pid() { # BASE N: the running node's pid, or nothing
  local f
  f="$(cluster_dir "$1")/node-$2/pid"
  if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then cat "$f"; fi
}

node_launch() { # BASE N: start node N in the background on the data it has, without waiting
  local base=$1 n=$2 dir port p
  dir="$(cluster_dir "$base")/node-$n"
  port=$(node_port "$base" "$n")
  if [ -n "$(node_pid "$base" "$n")" ]; then
    echo "kafka-ref: node $n is already running (pid $(node_pid "$base" "$n"))" >&2
    return 0
  fi
  for p in "$port" $((port + 1)); do
    if port_open "$p"; then
      echo "kafka-ref: port $p is in use; pick another BASE" >&2
      exit 1
    fi
  done
  mkdir -p "$dir/logs"
  # as-runneld execs the JVM, so $! is the broker's own pid.
  nohup "$0" as-runneld --node-id "$n" --listen "127.0.0.1:$port" --data-dir "$dir" \
    --cluster "$(cluster_list "$base")" >>"$dir/logs/stdout.log" 2>&1 &
  echo $! >"$dir/pid"
}

node_wait() { # BASE N: until node N accepts clients and has logged that it started
  local base=$1 n=$2 dir port deadline=$((SECONDS + 120))
  dir="$(cluster_dir "$base")/node-$n"
  port=$(node_port "$base" "$n")
  until port_open "$port" && grep -q 'Kafka Server started' "$dir/logs/server.log" 2>/dev/null; do
    if [ -z "$(node_pid "$base" "$n")" ]; then
      echo "kafka-ref: node $n exited during start; see $dir/logs" >&2
      tail -20 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "kafka-ref: node $n not ready after 120 s; see $dir/logs" >&2
      exit 1
    fi
    sleep 0.3
  done
}

cluster_start() {
  local base=$1 t0=$SECONDS n
  if [ -n "$(node_pid "$base" 1)$(node_pid "$base" 2)$(node_pid "$base" 3)" ]; then
    echo "kafka-ref: a cluster on BASE $base is running; $0 cluster-stop $base first" >&2
    exit 1
  fi
  fetch
  rm -rf "$(cluster_dir "$base")"
  for n in 1 2 3; do node_launch "$base" "$n"; done
  for n in 1 2 3; do node_wait "$base" "$n"; done
  echo "kafka-ref: Kafka $VERSION, three nodes ready in $((SECONDS - t0)) s; bootstrap" \
    "127.0.0.1:$(node_port "$base" 1),127.0.0.1:$(node_port "$base" 2),127.0.0.1:$(node_port "$base" 3)" \
    "(state $(cluster_dir "$base"))" >&2
}

node_signal() { # BASE N SIGNAL
  local pid
  pid=$(node_pid "$1" "$2")
  [ -n "$pid" ] || { echo "kafka-ref: node $2 is not running" >&2; exit 1; }
  kill -"$3" "$pid"
  if [ "$3" = KILL ]; then
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$(cluster_dir "$1")/node-$2/pid"
  fi
}

cluster_stop() {
  local base=$1 n pid
  for n in 1 2 3; do
    pid=$(node_pid "$base" "$n")
    [ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null || true
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  done
  for n in 1 2 3; do
    pid=$(node_pid "$base" "$n")
    [ -n "$pid" ] || continue
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  done
  if [ "${KAFKA_REF_KEEP:-0}" = 1 ]; then
    rm -f "$(cluster_dir "$base")"/node-*/pid
    echo "kafka-ref: cluster stopped; kept $(cluster_dir "$base")" >&2
  else
    rm -rf "$(cluster_dir "$base")"
    echo "kafka-ref: cluster stopped" >&2
  fi
}

cluster_status() {
  local base=$1 n pid bad=0
  for n in 1 2 3; do
    pid=$(node_pid "$base" "$n")
    if [ -n "$pid" ]; then
      echo "node $n: running on 127.0.0.1:$(node_port "$base" "$n") (pid $pid)"
    else
      echo "node $n: not running"
      bad=1
    fi
  done
  return $bad
}

node_cmd() { # ACTION BASE N
  [ -n "${2:-}" ] && [ -n "${3:-}" ] || usage
  case "$1" in
    node-kill) node_signal "$2" "$3" KILL ;;
    node-stop) node_signal "$2" "$3" STOP ;;
    node-cont) node_signal "$2" "$3" CONT ;;
    node-start) node_launch "$2" "$3"; node_wait "$2" "$3" ;;
  esac
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:-9092}" ;;
  stop) stop "${2:-9092}" ;;
  status) status "${2:-9092}" ;;
  crash) crash "${2:-9092}" ;;
  resume) start "${2:-9092}" resume ;;
  as-runneld) shift; as_runneld "$@" ;;
  cluster-start) cluster_start "${2:-19400}" ;;
  cluster-stop) cluster_stop "${2:-19400}" ;;
  cluster-status) cluster_status "${2:-19400}" ;;
  node-kill | node-stop | node-cont | node-start) node_cmd "$@" ;;
  *) usage ;;
esac
