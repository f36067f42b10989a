#!/usr/bin/env bash
# Throughput benchmark of runneld against librdkafka's in-memory mock cluster (issue 3).
#
#   scripts/bench.sh --suite [SUITE OPTIONS]   every workload of the performance suite
#       (P1-P3, C1-C2, L1, Kafka's perf tools, M, S and the machine's limits) against
#       runneld, Apache Kafka 3.9 and the mock in one run, with ratios: tests/bench/suite.py
#       (--help there); docs/performance.md has the latest figures.
#   scripts/bench.sh [--with-kafka] [--runs N] [--quick] [--no-build] [--small N] [--large N]
#                    [--partitions P] [--keep]
#
# Builds the release tree (build/), starts build/broker/runneld on a free port with a fresh
# data directory under build/bench/ (the repository's filesystem, so appends really go
# through a disk-backed page cache; the script prints the filesystem type and refuses tmpfs
# unless BENCH_ALLOW_TMPFS=1), and runs tests/bench/bench_rdkafka --both: for 100-byte and
# 1 KiB messages, acks=1 and acks=all, the same producer (linger.ms=5, batch.size 1 MB)
# and consumer (assign from the beginning) run first against the mock cluster inside the
# bench process and then against runneld. With --with-kafka the same workloads also run
# against Apache Kafka (scripts/kafka-ref.sh; needs a JVM and Maven, ~40 s more per run).
# --runs N repeats everything N times (one runneld throughout) and reports medians: on a
# shared machine single runs vary by 2x.
#
# Prints the raw bench lines, then a table per workload: produce msg/s and MB/s, delivery
# latency p50/p99 (flooding producer: mostly time queued in the client), consume msg/s and
# MB/s, CPU seconds of client and broker per phase, the runnel/mock ratios; then runneld's
# peak RSS (VmHWM) and total CPU time, and the file system's own write rate into a new file
# (dd, 1 MB writes, no fsync) right after the run: the ceiling for any broker that writes
# what it is sent. The mock keeps only the newest 5 MB per partition, so its consume figure
# covers ~5 MB, not everything produced.
#
# Defaults: 2,000,000 x 100 B and 500,000 x 1 KiB per workload, about 40 s per run on the
# 2-core dev machine (--quick: 300,000 and 100,000). Not run in CI.
# Environment: BENCH_DIR (default build/bench), RUNNELD_ARGS (extra runneld flags).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "${1:-}" = --suite ]; then
  shift
  scripts/build.sh release >/dev/null
  py=python3
  [ -x "$ROOT/.venv/bin/python3" ] && py=$ROOT/.venv/bin/python3
  exec "$py" tests/bench/suite.py "$@"
fi

small=2000000
large=500000
partitions=1
runs=1
with_kafka=0
build=1
keep=0
bench_root=${BENCH_DIR:-$ROOT/build/bench}
while [ $# -gt 0 ]; do
  case "$1" in
    --with-kafka) with_kafka=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --quick) small=300000; large=100000; shift ;;
    --no-build) build=0; shift ;;
    --small) small=$2; shift 2 ;;
    --large) large=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
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
  "$partitions partition(s), $runs run(s); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

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

for r in $(seq 1 "$runs"); do
  [ "$runs" -gt 1 ] && echo "# run $r of $runs"
  run_bench --both --bootstrap "127.0.0.1:$port" --broker-pid "$rn_pid" --target-name runnel \
    2>>"$work/bench.stderr"
done
rn_hwm=$(proc_field "$rn_pid" VmHWM)
rn_rss=$(proc_field "$rn_pid" VmRSS)
read -r rn_user rn_sys <<<"$(proc_cpu "$rn_pid")"
kill "$rn_pid"
wait "$rn_pid" 2>/dev/null || true
rn_pid=""
data_mb=$(du -sm "$work/data" | cut -f1)

# The file system's own rate for new data, measured now, before the data above is deleted
# (freed page-cache pages are reused at a very different speed on some VMs).
ceiling_mb=$((large * 1024 * 2 / 1000000))
ceiling=$(dd if=/dev/zero of="$work/ceiling" bs=1M count="$ceiling_mb" 2>&1 |
  awk '/copied/ {print $(NF-1), $NF}')
rm -f "$work/ceiling"

kafka_line=""
if [ "$with_kafka" = 1 ]; then
  kafka_port=$(free_port)
  scripts/kafka-ref.sh start "$kafka_port"
  kpid=$(cat "${TMPDIR:-/tmp}/runnel-kafka-ref-$kafka_port/pid")
  for r in $(seq 1 "$runs"); do
    run_bench --bootstrap "127.0.0.1:$kafka_port" --broker-pid "$kpid" --target-name kafka \
      2>>"$work/bench.stderr"
  done
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
[ "$runs" -gt 1 ] && echo "medians of $runs runs:"
awk -F'\t' '
NR == 1 { next }
{
  w = $2 " B acks=" $3
  if (!(w in seen)) { seen[w] = 1; order[++n] = w }
  k = w SUBSEP $1
  i = ++cnt[k]
  for (f = 5; f <= NF; f++) v[k, f, i] = $f
  if ($14 > 0 || $12 != $13) bad[k] = 1
  got[k] = $12
}
# Median of field f over the runs of key k.
function med(k, f,   i, j, m, t, a) {
  m = cnt[k]
  for (i = 1; i <= m; i++) a[i] = v[k, f, i] + 0
  for (i = 2; i <= m; i++)
    for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
  return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
function cpu(k, f,   x) { x = med(k, f); return x < 0 ? "-" : sprintf("%.2f", x) }
function row(w, t,   k, note) {
  k = w SUBSEP t
  if (!(k in cnt)) return
  note = bad[k] ? " INCOMPLETE" : t == "mock" ? " (newest " got[k] " msgs)" : ""
  printf "%-16s %-11s %10.0f %8.1f %8.2f %8.2f | %10.0f %8.1f | %6.2f %6s | %6.2f %6s%s\n",
    w, t, med(k, 5), med(k, 6), med(k, 7), med(k, 8), med(k, 10), med(k, 11),
    med(k, 17), cpu(k, 18), med(k, 19), cpu(k, 20), note
}
function ratio(w, t,   a, b) {
  a = w SUBSEP t; b = w SUBSEP "mock"
  if (!(a in cnt) || !(b in cnt) || med(b, 5) == 0 || med(b, 10) == 0) return
  printf "%-16s %-11s %9.2fx %8s %8s %7.2fx | %9.2fx %7.2fx |\n", "", t "/mock",
    med(a, 5) / med(b, 5), "", "", (med(b, 8) > 0 ? med(a, 8) / med(b, 8) : 0),
    med(a, 10) / med(b, 10), med(a, 11) / med(b, 11)
}
END {
  printf "%-16s %-11s %10s %8s %8s %8s | %10s %8s | %13s | %13s\n", "", "", "produce", "",
    "lat p50", "lat p99", "consume", "", "produce cpu s", "consume cpu s"
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
echo "file system write rate into a new file after the run: $ceiling (dd, $ceiling_mb x 1 MB, no fsync)"
echo "(mock: client CPU includes the mock broker's threads, which run inside the bench process)"
