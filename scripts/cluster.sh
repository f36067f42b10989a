#!/usr/bin/env bash
# Start a local runnel cluster of N nodes (default 3) on 127.0.0.1, in the foreground.
#
#   scripts/cluster.sh [-n NODES] [-p FIRST_PORT] [-d DIR]
#
# Node i listens on FIRST_PORT+i-1 (default 9092, 9093, 9094), keeps its data in DIR/node-i
# (default ./runnel-cluster) and logs to DIR/node-i.log. All nodes are voters of one metadata
# quorum (--cluster). The script waits until every node answers and the quorum has a leader,
# prints the bootstrap list, and stops the nodes cleanly (SIGTERM) on Ctrl-C. Data is kept
# between runs; delete DIR to start afresh. Uses build/broker/runneld (scripts/build.sh).
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
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
runneld=build/broker/runneld
[ -x "$runneld" ] || { echo "cluster.sh: $runneld not found; run scripts/build.sh first" >&2; exit 1; }
case "$nodes" in ''|*[!0-9]*) echo "cluster.sh: -n takes a number of nodes, not \"$nodes\"" >&2; exit 2 ;; esac
[ "$nodes" -ge 1 ] && [ "$nodes" -le 9 ] || { echo "cluster.sh: -n takes 1 to 9 nodes" >&2; exit 2; }

voters=""
for i in $(seq 1 "$nodes"); do
  voters+="${voters:+,}$i@127.0.0.1:$((port + i - 1))"
done
mkdir -p "$dir"
pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping ${#pids[@]} nodes"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop INT TERM EXIT
for i in $(seq 1 "$nodes"); do
  "$runneld" --node-id "$i" --listen "127.0.0.1:$((port + i - 1))" --data-dir "$dir/node-$i" \
    --cluster "$voters" >>"$dir/node-$i.log" 2>&1 &
  pids+=($!)
done

# Ready when every node listens and one of them names a controller in its log.
deadline=$((SECONDS + 30))
for i in $(seq 1 "$nodes"); do
  until (exec 3<>"/dev/tcp/127.0.0.1/$((port + i - 1))") 2>/dev/null; do
    if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
      echo "cluster.sh: node $i exited; its log:" >&2
      tail -20 "$dir/node-$i.log" >&2
      exit 1
    fi
    [ $SECONDS -lt $deadline ] || { echo "cluster.sh: node $i did not listen within 30 s" >&2; exit 1; }
    sleep 0.1
  done
done
until grep -qh "leads epoch" "$dir"/node-*.log 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || { echo "cluster.sh: no quorum leader within 30 s; see $dir/node-*.log" >&2; exit 1; }
  sleep 0.1
done
bootstrap=$(seq -s, "$port" $((port + nodes - 1)) | sed 's/\([0-9]*\)/127.0.0.1:\1/g')
echo "runnel cluster of $nodes nodes up: bootstrap $bootstrap (data and logs in $dir/)"
echo "try: kcat -b $bootstrap -L    Ctrl-C stops the cluster"
wait -n "${pids[@]}" || true
echo "cluster.sh: a node exited (see $dir/node-*.log); stopping the others" >&2
exit 1
