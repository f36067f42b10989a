#!/usr/bin/env bash
# A local runnel cluster of N nodes (default 3) on 127.0.0.1, in the foreground.
#
#   scripts/cluster.sh [-n NODES] [-p FIRST_PORT] [-d DIR]
#
# The same cluster as `build/tools/runnel cluster up` (which starts it in the background and
# returns; see `runnel cluster up --help`), held in the foreground: node i listens on
# FIRST_PORT+i-1 (default 9092, 9093, 9094), keeps its data in DIR/node-i (default
# ./runnel-cluster) and logs to DIR/node-i.log. Once every node serves, the bootstrap list
# is printed; Ctrl-C (or SIGTERM) stops the nodes cleanly with `runnel cluster down`, and so
# does one node exiting. Data is kept between runs; delete DIR to start afresh. Uses the
# build tree's runnel and runneld (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=3
port=9092
dir=runnel-cluster
while getopts "n:p:d:h" opt; do
  case "$opt" in
    n) nodes=$OPTARG ;;
    p) port=$OPTARG ;;
    d) dir=$OPTARG ;;
    *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
runnel=build/tools/runnel
[ -x "$runnel" ] || { echo "cluster.sh: $runnel not found; run scripts/build.sh first" >&2; exit 1; }

bootstrap=$("$runnel" cluster up -n "$nodes" --port "$port" --dir "$dir") || exit
stopping=0
stop() {
  trap - INT TERM
  stopping=1
  "$runnel" cluster down --dir "$dir" || true
}
trap 'stop; exit 0' INT TERM
echo "bootstrap: $bootstrap"
echo "try: kcat -b $bootstrap -L    Ctrl-C stops the cluster"
# Watch the nodes; sleep in the background so a signal is handled at once.
while [ $stopping -eq 0 ]; do
  sleep 1 &
  wait $! || true
  state=$("$runnel" cluster status --dir "$dir" --json 2>/dev/null || true)
  if [[ $state == *'"state":"stopped"'* ]]; then
    echo "cluster.sh: a node exited (see $dir/node-*.log); stopping the others" >&2
    stop
    exit 1
  fi
done
