#!/usr/bin/env bash
# Interop: kcat (Debian's 1.7.1 on librdkafka 2.0.2) against the broker at RN_BOOTSTRAP.
# Covers metadata listing (-L, -J -L), producing lines (-P) into an auto-created topic,
# consuming from the beginning to the end (-C -o beginning -e), keys (-K:), headers (-H),
# JSON envelopes (-J), a compressed producer (-z), relative offsets and timestamp queries (-Q).
# Every kcat call runs under `timeout`, so a broker that never answers fails the test quickly.
set -uo pipefail
B=${RN_BOOTSTRAP:-127.0.0.1:9092}
T=12 # seconds per kcat call
n=0
failed=0
t0=$SECONDS

ok() { # ok COND-EXIT-STATUS DESCRIPTION [DETAIL]
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    failed=$((failed + 1))
    echo "not ok $n - $2"
    [ -n "${3:-}" ] && printf '%s\n' "$3" | head -20 | sed 's/^/# /'
  fi
}
is() { # is GOT WANT DESCRIPTION
  if [ "$1" == "$2" ]; then ok 0 "$3"; else ok 1 "$3" "got: $(printf '%q' "$1" | head -c 600)
want: $(printf '%q' "$2" | head -c 600)"; fi
}
kc() { timeout "$T" kcat -b "$B" -X socket.timeout.ms=10000 "$@"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
suffix=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')

echo "# kcat $(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*\(librdkafka [^ ]*\).*/\1 (\2)/p') against $B"

# Metadata: a listing names at least one broker; the JSON form parses.
out=$(kc -L 2>&1)
ok $? "kcat -L exits 0" "$out"
echo "$out" | grep -qE '^ *broker [0-9]+ at [^ ]+:[0-9]+'
ok $? "kcat -L lists a broker with host:port" "$out"
md=$(kc -L -J 2>/dev/null)
brokers=$(echo "$md" | json 'len(d["brokers"])' 2>&1)
ok $([ "${brokers:-0}" -ge 1 ] 2>/dev/null && echo 0 || echo 1) "kcat -L -J: brokers array ($brokers)" "$md"

# Lines into an auto-created topic, read back from the beginning to the end.
topic=rn-kcat-lines-$suffix
seq 1 500 | sed 's/^/line /' >/tmp/rn-kcat-$suffix.in
kc -P -t "$topic" </tmp/rn-kcat-$suffix.in
ok $? "kcat -P: 500 lines into auto-created $topic"
got=$(kc -C -t "$topic" -o beginning -e -q 2>&1)
is "$got" "$(cat /tmp/rn-kcat-$suffix.in)" "kcat -C -o beginning -e: the same 500 lines in order"
rm -f /tmp/rn-kcat-$suffix.in
tmd=$(kc -L -J -t "$topic" 2>/dev/null)
parts=$(echo "$tmd" | json '[len(t["partitions"]) for t in d["topics"] if t["topic"]=="'"$topic"'"][0]' 2>&1)
is "$parts" "1" "kcat -L -J -t: auto-created topic has num.partitions=1 partition"
ret=$(echo "$tmd" | json '[t["partitions"][0]["leader"] for t in d["topics"]][0] in [b["id"] for b in d["brokers"]]' 2>&1)
is "$ret" "True" "kcat -L -J -t: partition leader is a listed broker"

# Relative offsets: the last 3 messages only.
got=$(kc -C -t "$topic" -o -3 -e -q 2>&1)
is "$got" "$(printf 'line 498\nline 499\nline 500')" "kcat -C -o -3: the last three lines"
got=$(kc -C -t "$topic" -o 100 -c 2 -q 2>&1)
is "$got" "$(printf 'line 101\nline 102')" "kcat -C -o 100 -c 2: absolute offset 100"

# Keys with -K: and a format string.
topic=rn-kcat-keys-$suffix
printf 'k1:v1\nk2:v2\nk1:v3\n:no-key-value\n' | kc -P -t "$topic" -K:
ok $? "kcat -P -K: keyed messages"
got=$(kc -C -t "$topic" -o beginning -e -q -f '%k=%s@%o\n' 2>&1)
is "$got" "$(printf 'k1=v1@0\nk2=v2@1\nk1=v3@2\n=no-key-value@3')" "kcat -C -f %k=%s@%o: keys, values, offsets"

# Headers with -H; consumed back with %h.
topic=rn-kcat-hdr-$suffix
printf 'with headers\n' | kc -P -t "$topic" -H trace=abc123 -H empty= -H utf8=ünï
ok $? "kcat -P -H: message with three headers"
got=$(kc -C -t "$topic" -o beginning -e -q -f '%h|%s\n' 2>&1)
is "$got" "trace=abc123,empty=,utf8=ünï|with headers" "kcat -C -f %h: headers back in order"

# JSON envelope: partition, offset, key, payload, timestamp.
got=$(kc -C -t "$topic" -o beginning -e -q -J 2>&1)
fields=$(echo "$got" | json 'd["partition"], d["offset"], d["payload"], d["key"], d["tstype"], d["ts"] > 0')
is "$fields" "0 0 with headers None create True" "kcat -C -J: envelope fields"

# Compressed producer (snappy and zstd), then a timestamp query with -Q.
topic=rn-kcat-z-$suffix
before=$(($(date +%s%3N) - 1))
seq 1 200 | kc -P -t "$topic" -z snappy
ok $? "kcat -P -z snappy"
seq 201 400 | kc -P -t "$topic" -z zstd
ok $? "kcat -P -z zstd"
got=$(kc -C -t "$topic" -o beginning -e -q 2>&1 | tr '\n' ' ')
is "$got" "$(seq 1 400 | tr '\n' ' ')" "kcat -C: snappy then zstd batches read back"
q=$(kc -Q -t "$topic:0:$before" 2>&1)
echo "$q" | grep -qE "Partition 0 +Offset 0\b|offset 0\b"
ok $? "kcat -Q (timestamp before the first message) -> offset 0" "$q"
q=$(kc -Q -t "$topic:0:$(($(date +%s%3N) + 600000))" 2>&1)
echo "$q" | grep -qE "Offset -1\b|offset -1\b"
ok $? "kcat -Q (timestamp in the future) -> offset -1 (end)" "$q"

echo "1..$n"
echo "# kcat: $((n - failed)) passed, $failed failed in $((SECONDS - t0)) s"
[ "$failed" -eq 0 ]
