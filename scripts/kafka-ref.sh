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
#   scripts/kafka-ref.sh as-runneld --node-id 1 --listen HOST:PORT --data-dir DIR
#       run Kafka in the foreground (exec: the pid is the JVM's) with runneld's command-line
#       contract, formatting DIR on first use; a stand-in to check tests/interop/run.sh and
#       the crash test themselves: put a two-line wrapper at $RN_BUILD_DIR/broker/runneld.
#
# Environment: KAFKA_REF_VERSION (default 4.1.1), KAFKA_REF_CACHE (default
# ~/.cache/runnel/kafka-ref), KAFKA_REF_REQUEST_LOG=1 logs every request header (api key,
# version, client) to <state>/logs/requests.log, to see which versions clients send.
# Per-port state (pid, config, logs, data) lives in ${TMPDIR:-/tmp}/runnel-kafka-ref-PORT.
# The controller listens on PORT+1. Not run in CI: it needs ~50 MB of jars and a JVM.
# Timing on the 2-core dev machine: fetch ~12 s the first time; start ~6-8 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${KAFKA_REF_VERSION:-4.1.1}
CACHE=${KAFKA_REF_CACHE:-$HOME/.cache/runnel/kafka-ref}
LIBS=$CACHE/$VERSION/libs

usage() {
  echo "usage: $0 fetch | start [PORT] | stop [PORT] | status [PORT] | crash [PORT] | resume [PORT]" >&2
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

state_dir() { echo "${TMPDIR:-/tmp}/runnel-kafka-ref-$1"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() {
  local dir=$1 port=$2 cport=$3
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=67108864
EOF
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
  local jvm=(java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
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
  local listen="" dir=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --node-id) shift 2 ;; # always node 1: a single-node stand-in
      --listen) listen=$2; shift 2 ;;
      --data-dir) dir=$2; shift 2 ;;
      *) echo "kafka-ref as-runneld: unsupported argument $1" >&2; exit 2 ;;
    esac
  done
  [ -n "$listen" ] && [ -n "$dir" ] || { echo "kafka-ref as-runneld: need --listen and --data-dir" >&2; exit 2; }
  local port=${listen##*:}
  fetch
  mkdir -p "$dir/data" "$dir/logs"
  write_config "$dir" "$port" $((port + 1))
  local jvm=(java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$LIBS/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    "${jvm[@]}" kafka.tools.StorageTool format --config "$dir/server.properties" \
      --cluster-id "$(new_cluster_id)" \
      >"$dir/logs/format.log" 2>&1 || { cat "$dir/logs/format.log" >&2; exit 1; }
  fi
  exec "${jvm[@]}" kafka.Kafka "$dir/server.properties"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:-9092}" ;;
  stop) stop "${2:-9092}" ;;
  status) status "${2:-9092}" ;;
  crash) crash "${2:-9092}" ;;
  resume) start "${2:-9092}" resume ;;
  as-runneld) shift; as_runneld "$@" ;;
  *) usage ;;
esac
