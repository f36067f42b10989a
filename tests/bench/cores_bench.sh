#!/usr/bin/env bash
# Produce throughput of runneld on 1 and 2 cores (docs/performance.md, "More than one core").
#
#   tests/bench/cores_bench.sh [--build DIR] [--messages N] [--port P] [--client-cpu C|any]
#                              [--cases "1:0 2:0 2:1 ..."] [--codecs "none lz4 zstd gzip"]
#                              [--broker-args "--compression.type zstd ..."] [--runs N]
#
# Each case BROKER_CPUS:WORKERS starts a fresh runneld pinned with taskset to the first
# BROKER_CPUS cores (1 = cpu 0, 2 = cpus 0,1) with produce.worker.threads=WORKERS, then
# for each codec runs build/tests/bench_rdkafka (1 KiB messages, acks=all, one partition,
# producer and consumer pinned to --client-cpu, default 1) and prints one line per run:
# produce MB/s, the broker's CPU seconds (utime+stime from /proc/PID/stat) in the produce
# phase (bench_rdkafka --broker-pid) and over the whole run (produce, then consume), and
# the event loop thread's own share of the latter (/proc/PID/task/PID/stat: the loop runs on
# runneld's main thread; the rest is the worker, offload, flush and quorum threads).
# --runs N repeats the whole set N times, round-robin (so a busy spell on a shared machine
# spreads over every case), and ends with the medians per case and codec.
# Not a test; not run in CI.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
build=$ROOT/build
messages=200000
port=39350
client_cpu=1
cases="1:0 2:0 2:1"
codecs="none lz4 zstd gzip"
broker_args=""
runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --codecs) codecs=$2; shift 2 ;;
    --broker-args) broker_args=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "cores_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
tck=$(getconf CLK_TCK)
cpu_s() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
loop_s() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/task/$1/stat"; }
client=()
[ "$client_cpu" != any ] && client=(taskset -c "$client_cpu")
work=$(mktemp -d "$build/cores-bench.XXXXXX")
echo "# $(nproc) cores; client cpu $client_cpu; $messages x 1 KiB, acks=all;" \
  "runneld ${broker_args:-(defaults)}; $work"
printf '%-6s %-8s %-6s %8s %14s %12s %11s\n' cpus workers codec "MB/s" "cpu s produce" \
  "cpu s total" "loop cpu s"
rows=$work/rows.txt
for _ in $(seq "$runs"); do
for c in $cases; do
  ncpu=${c%%:*}
  workers=${c##*:}
  cpus=0
  [ "$ncpu" = 2 ] && cpus=0,1
  rm -rf "$work/data"
  # shellcheck disable=SC2086 # broker_args is a list of flags
  taskset -c "$cpus" "$build/broker/runneld" --node-id 1 --listen "127.0.0.1:$port" \
    --data-dir "$work/data" --produce.worker.threads "$workers" \
    --group.initial.rebalance.delay.ms 0 $broker_args >"$work/runneld-$c.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  for codec in $codecs; do
    before=$(cpu_s "$pid")
    loop_before=$(loop_s "$pid")
    "${client[@]}" "$build/tests/bench_rdkafka" --bootstrap "127.0.0.1:$port" --sizes 1024 \
      --acks all --compression "$codec" --messages "$messages" --broker-pid "$pid" --tsv "$work/rows.tsv" \
      --target-name "$c-$codec" >"$work/bench-$c-$codec.log" 2>&1 || true
    after=$(cpu_s "$pid")
    loop_after=$(loop_s "$pid")
    col() {
      awk -F'\t' -v k="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i; next }
                           END { print $c }' "$work/rows.tsv"
    }
    printf '%-6s %-8s %-6s %8s %14s %12.2f %11.2f\n' "$cpus" "$workers" "$codec" \
      "$(col prod_mb_s)" "$(col prod_cpu_broker)" "$(echo "$after - $before" | bc)" \
      "$(echo "$loop_after - $loop_before" | bc)" | tee -a "$rows"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
done
rm -rf "$work/data"
[ "$runs" -gt 1 ] || exit 0
echo "# medians of $runs runs"
python3 - "$rows" <<'PY'
import statistics, sys
groups = {}
for line in open(sys.argv[1]):
    f = line.split()
    try:
        groups.setdefault(tuple(f[:3]), []).append([float(x) for x in f[3:]])
    except ValueError:  # a failed run
        pass
for key, vals in groups.items():
    med = [statistics.median(col) for col in zip(*vals)]
    print("%-6s %-8s %-6s %8.1f %14.2f %12.2f %11.2f" % (key + tuple(med)))
PY
