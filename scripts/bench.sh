#!/usr/bin/env bash
# Throughput benchmark of runneld against librdkafka's in-memory mock cluster (issue 3).
#
#   scripts/bench.sh [--with-kafka] [--quick] [--no-build] [--small N] [--large N]
#                    [--partitions P] [--dir DIR] [--keep]
#
# Builds the release tree (build/), starts build/broker/runneld on a free port with a fresh
# data directory under build/bench/ (the repository's filesystem, so appends really go
# through a disk-backed page cache; the script prints the filesystem type and refuses tmpfs
# unless BENCH_ALLOW_TMPFS=1), and runs tests/bench/bench_rdkafka --both: for 100-byte and
# 1 KiB messages, acks=1 and acks=all, the same producer (linger.ms=5, batch.size 1 MB)
# and consumer (assign from the beginning) run first against the mock cluster inside the
# bench process and then against runneld. With --with-kafka the same workloads also run
# against Apache Kafka (scripts/kafka-ref.sh; needs a JVM and Maven, ~40 s more).
#
# Prints the raw bench lines, then a table per workload: produce msg/s and MB/s, delivery
# latency p50/p99 (flooding producer: mostly time queued in the client), consume msg/s and
# MB/s, CPU seconds of client and broker per phase, the runnel/mock ratios; then runneld's
# peak RSS (VmHWM) and total CPU time. The mock keeps only the newest 5 MB per partition,
# so its consume figure covers ~5 MB, not everything produced.
#
# Defaults: 2,000,000 x 100 B and 500,000 x 1 KiB per workload; about 1.5 minutes on the
# 2-core dev machine (--quick: 300,000 and 100,000, ~25 s). Not run in CI.
# Environment: BENCH_DIR (default build/bench), RUNNELD_ARGS (extra runneld flags).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

small=2000000
large=500000
partitions=1
with_kafka=0
build=1
keep=0
bench_root=${BENCH_DIR:-$ROOT/build/bench}
while [ $# -gt 0 ]; do
  case "$1" in
    --with-kafka) with_kafka=1; shift ;;
    --quick) small=300000; large=100000; shift ;;
    --no-build) build=0; shift ;;
    --small) small=$2; shift 2 ;;
    --large) large=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --dir) bench_root=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$build" = 1 ]; then
  echo "bench.sh: building release (build/)" >&2
  scripts/build.sh release >/dev/null
fi
runneld=$ROOT/build/broker/runneld
bench=$ROOT/build/tests/bench_rdkafka
for f in "$runneld" "$bench"; do
  [ -x "$f" ] || { echo "bench.sh: $f is missing; run scripts/build.sh release" >&2; exit 1; }
done

mkdir -p "$bench_root"
work=$(mktemp -d "$bench_root/run.XXXXXX")
fstype=$(df -PT "$work" | awk 'NR == 2 {print $2}')
fsdev=$(df -PT "$work" | awk 'NR == 2 {print $1}')
if [ "$fstype" = tmpfs ] && [ "${BENCH_ALLOW_TMPFS:-0}" != 1 ]; then
  echo "bench.sh: $work is on tmpfs; the benchmark must write to a disk-backed filesystem" \
    "(set BENCH_DIR, or BENCH_ALLOW_TMPFS=1 to measure anyway)" >&2
  exit 1
fi
tsv=$work/results.tsv
rn_pid=""
kafka_port=""

cleanup() {
  if [ -n "$rn_pid" ] && kill -0 "$rn_pid" 2>/dev/null; then
    kill "$rn_pid" 2>/dev/null || true
    wait "$rn_pid" 2>/dev/null || true
  fi
  if [ -n "$kafka_port" ]; then
    scripts/kafka-ref.sh stop "$kafka_port" >/dev/null 2>&1 || true
  fi
  if [ "$keep" = 0 ]; then
    rm -rf "$work"
  else
    echo "bench.sh: kept $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nobody listens on now (and, for Kafka, whose successor is free for its controller).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if ! port_open "$p" && ! port_open $((p + 1)); then
      echo "$p"
      return 0
    fi
  done
  echo "bench.sh: found no free port" >&2
  exit 1
}

# bench_rdkafka over both sizes; extra arguments name the target.
run_bench() {
  "$bench" --sizes 100 --messages "$small" --partitions "$partitions" --tsv "$tsv" "$@"
  "$bench" --sizes 1024 --messages "$large" --partitions "$partitions" --tsv "$tsv" "$@"
}

proc_field() { awk -v k="$2:" '$1 == k {print $2, $3}' "/proc/$1/status"; }
proc_cpu() { # user and system seconds of a running pid
  awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f %.2f", $12 / hz, $13 / hz}' \
    "/proc/$1/stat"
}

echo "# data dir $work on $fsdev ($fstype); $small x 100 B and $large x 1 KiB per workload," \
  "$partitions partition(s); $(nproc) CPUs"

port=$(free_port)
# shellcheck disable=SC2086 # RUNNELD_ARGS is a list of flags
"$runneld" --node-id 1 --listen "127.0.0.1:$port" --data-dir "$work/data" \
  ${RUNNELD_ARGS:-} >"$work/runneld.log" 2>&1 &
rn_pid=$!
for _ in $(seq 1 100); do
  port_open "$port" && break
  kill -0 "$rn_pid" 2>/dev/null || { cat "$work/runneld.log" >&2; exit 1; }
  sleep 0.1
done
port_open "$port" || { echo "bench.sh: runneld did not listen on $port" >&2; exit 1; }

run_bench --both --bootstrap "127.0.0.1:$port" --broker-pid "$rn_pid" --target-name runnel \
  2>"$work/bench.stderr"
rn_hwm=$(proc_field "$rn_pid" VmHWM)
rn_rss=$(proc_field "$rn_pid" VmRSS)
read -r rn_user rn_sys <<<"$(proc_cpu "$rn_pid")"
kill "$rn_pid"
wait "$rn_pid" 2>/dev/null || true
rn_pid=""
data_mb=$(du -sm "$work/data" | cut -f1)

kafka_line=""
if [ "$with_kafka" = 1 ]; then
  kafka_port=$(free_port)
  scripts/kafka-ref.sh start "$kafka_port"
  kpid=$(cat "${TMPDIR:-/tmp}/runnel-kafka-ref-$kafka_port/pid")
  run_bench --bootstrap "127.0.0.1:$kafka_port" --broker-pid "$kpid" --target-name kafka \
    2>>"$work/bench.stderr"
  read -r k_user k_sys <<<"$(proc_cpu "$kpid")"
  kafka_line="kafka (JVM) peak RSS $(proc_field "$kpid" VmHWM), CPU ${k_user} s user + ${k_sys} s sys (includes startup)"
  scripts/kafka-ref.sh stop "$kafka_port" >/dev/null 2>&1
  kafka_port=""
fi

if grep -q . "$work/bench.stderr"; then
  echo "# client messages (first 10 lines of $work/bench.stderr):"
  head -10 "$work/bench.stderr" | sed 's/^/#   /'
fi

echo
awk -F'\t' '
NR == 1 { next }
{
  w = $2 " B acks=" $3
  if (!(w in seen)) { seen[w] = 1; order[++n] = w }
  key = w SUBSEP $1
  pm[key] = $5; pmb[key] = $6; p50[key] = $7; p99[key] = $8
  cm[key] = $10; cmb[key] = $11; got[key] = $12; want[key] = $13; fail[key] = $14
  pc[key] = $17; pb[key] = $18; cc[key] = $19; cb[key] = $20
  targets[$1] = 1
}
function row(w, t,   k, note) {
  k = w SUBSEP t
  if (!(k in pm)) return
  note = ""
  if (fail[k] > 0 || got[k] != want[k]) note = " INCOMPLETE"
  else if (t == "mock") note = " (newest " got[k] " msgs)"
  printf "%-16s %-11s %10.0f %8.1f %8.2f %8.2f | %10.0f %8.1f | %6.2f %6s | %6.2f %6s%s\n",
    w, t, pm[k], pmb[k], p50[k], p99[k], cm[k], cmb[k], pc[k], (pb[k] < 0 ? "-" : sprintf("%.2f", pb[k])),
    cc[k], (cb[k] < 0 ? "-" : sprintf("%.2f", cb[k])), note
}
function ratio(w, t,   a, b) {
  a = w SUBSEP t; b = w SUBSEP "mock"
  if (!(a in pm) || !(b in pm) || pm[b] == 0 || cm[b] == 0 || cmb[b] == 0) return
  printf "%-16s %-11s %9.2fx %8s %8s %7.2fx | %9.2fx %7.2fx |\n", "", t "/mock", pm[a] / pm[b],
    "", "", (p99[b] > 0 ? p99[a] / p99[b] : 0), cm[a] / cm[b], cmb[a] / cmb[b]
}
END {
  printf "%-16s %-11s %10s %8s %8s %8s | %10s %8s | %13s | %13s\n", "", "", "produce", "", "lat p50",
    "lat p99", "consume", "", "produce cpu s", "consume cpu s"
  printf "%-16s %-11s %10s %8s %8s %8s | %10s %8s | %6s %6s | %6s %6s\n", "workload", "target",
    "msg/s", "MB/s", "ms", "ms", "msg/s", "MB/s", "client", "broker", "client", "broker"
  for (i = 1; i <= n; i++) {
    w = order[i]
    row(w, "mock"); row(w, "runnel"); row(w, "kafka")
    ratio(w, "runnel"); ratio(w, "kafka")
  }
}' "$tsv"
echo
echo "runneld peak RSS (VmHWM) $rn_hwm, RSS at end $rn_rss; CPU ${rn_user} s user + ${rn_sys} s sys;" \
  "data written ${data_mb} MB"
[ -n "$kafka_line" ] && echo "$kafka_line"
echo "(mock: client CPU includes the mock broker's threads, which run inside the bench process)"
