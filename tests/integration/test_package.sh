#!/usr/bin/env bash
# The Debian package, end to end: build it (scripts/package.sh), lintian it, install it,
# run the broker the way the systemd unit does and produce/consume through it with kcat,
# run three nodes the way the template unit runnel@.service does (runnel-1..3.yaml) and
# use them as one cluster, then remove (data stays) and purge (data, config and user go).
#
# It installs a package system-wide and creates a user, so it runs only as root and only
# when RN_PACKAGE_TEST=1 (CI sets it); otherwise it skips. It refuses to run over a
# runnel package that is already installed rather than purge someone's broker.
set -uo pipefail
src=${RN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

if [ "$(id -u)" -ne 0 ] || [ "${RN_PACKAGE_TEST:-0}" != 1 ]; then
  echo "1..0 # skip the package test installs system-wide: run as root with RN_PACKAGE_TEST=1"
  exit 0
fi

n=0
failed=0
ok() { # ok CONDITION-STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    failed=$((failed + 1))
  fi
}
check() { # check DESCRIPTION COMMAND...: one test point from a command's exit status
  local desc=$1
  shift
  "$@"
  ok $? "$desc"
}
diag() { printf '# %s\n' "$@"; }
bail() {
  echo "Bail out! $*"
  exit 1
}

if dpkg-query -W -f='${db:Status-Status}' runnel 2>/dev/null | grep -qv '^not-installed$'; then
  bail "a runnel package is already installed here; purge it (dpkg -P runnel) to run this test"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/runnel-pkgtest.XXXXXX")
broker_pid=""
tri_pids=()
installed=0
cleanup() {
  for pid in $broker_pid "${tri_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      pkill -TERM -P "$pid" 2>/dev/null
      kill -TERM "$pid" 2>/dev/null
      sleep 1
      pkill -KILL -P "$pid" 2>/dev/null
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  if [ "$installed" = 1 ]; then
    dpkg -P runnel >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- build and lint ------------------------------------------------------------------
if ! deb=$(cd "$src" && RN_LINTIAN=0 scripts/package.sh 2>"$work/package.err"); then
  sed 's/^/# /' "$work/package.err"
  bail "scripts/package.sh failed"
fi
ok 0 "scripts/package.sh built $(basename "$deb")"
changes=$(ls "$(dirname "$deb")"/runnel_*.changes)

lintian --display-info "$changes" >"$work/lintian.txt" 2>&1
sed 's/^/# lintian: /' "$work/lintian.txt"
! grep -qE '^[EW]: ' "$work/lintian.txt"
ok $? "lintian reports no errors or warnings on $(basename "$changes")"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/runneld ./usr/bin/runnel-dump ./etc/runnel/runnel.yaml \
  ./usr/share/man/man8/runneld.8.gz ./usr/share/man/man1/runnel-dump.1.gz \
  ./usr/share/doc/runnel/copyright; do
  grep -qxF "$f" <<<"$contents"
  ok $? "package contains $f"
done
grep -qE '^\./(usr/)?lib/systemd/system/runnel\.service$' <<<"$contents"
ok $? "package contains the systemd unit runnel.service"
grep -qE '^\./(usr/)?lib/systemd/system/runnel@\.service$' <<<"$contents"
ok $? "package contains the template unit runnel@.service"
for i in 1 2 3; do
  grep -qxF "./etc/runnel/runnel-$i.yaml" <<<"$contents"
  ok $? "package contains /etc/runnel/runnel-$i.yaml"
done
# Every program has its manual page (runneld in section 8, the tools in section 1).
for prog in $(grep '^\./usr/bin/.' <<<"$contents" | sed 's|^\./usr/bin/||'); do
  grep -qE "^\./usr/share/man/man[18]/$prog\.[18]\.gz$" <<<"$contents"
  ok $? "/usr/bin/$prog has a manual page"
done

# --- install -------------------------------------------------------------------------
systemd_running=0
[ -d /run/systemd/system ] && systemd_running=1
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1
st=$?
sed 's/^/# /' "$work/dpkg-i.log"
[ $st -eq 0 ] && installed=1
ok $st "dpkg -i installs the package"
[ $installed = 1 ] || bail "cannot go on without the package installed"

# Reinstalling runs postinst again over an existing user and data directory.
dpkg -i "$deb" >"$work/dpkg-i2.log" 2>&1
ok $? "dpkg -i a second time (postinst is idempotent)"

for f in runnel runnel-1 runnel-2 runnel-3; do
  dpkg-query -W -f='${Conffiles}\n' runnel | grep -q "^ /etc/runnel/$f.yaml "
  ok $? "/etc/runnel/$f.yaml is a conffile"
done
uid=$(getent passwd runnel | cut -d: -f3)
shell=$(getent passwd runnel | cut -d: -f7)
home=$(getent passwd runnel | cut -d: -f6)
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/runnel ] &&
  [ "$shell" = /usr/sbin/nologin ]
ok $? "system user runnel exists (uid $uid, home $home, shell $shell)"
getent group runnel >/dev/null
ok $? "group runnel exists"
[ "$(stat -c '%U:%G %a' /var/lib/runnel 2>/dev/null)" = "runnel:runnel 750" ]
ok $? "/var/lib/runnel is owned by runnel, mode 750 ($(stat -c '%U:%G %a' /var/lib/runnel 2>&1))"
/usr/bin/runneld --help >"$work/help.txt" 2>&1
ok $? "the installed runneld runs (--help)"
unit=$(ls /usr/lib/systemd/system/runnel.service /lib/systemd/system/runnel.service 2>/dev/null | head -n 1)
tunit=$(ls /usr/lib/systemd/system/runnel@.service /lib/systemd/system/runnel@.service 2>/dev/null | head -n 1)
if command -v systemd-analyze >/dev/null 2>&1; then
  # man: references cannot be resolved when man-db is not installed; everything else must.
  # A template is verified through an instance of it.
  for u in "$unit" "$(dirname "$tunit")/runnel@1.service"; do
    systemd-analyze verify "$u" 2>&1 | grep -v "Command 'man " >"$work/verify.txt"
    sed 's/^/# /' "$work/verify.txt"
    [ ! -s "$work/verify.txt" ]
    ok $? "systemd-analyze verify accepts $(basename "$u")"
  done
fi
# The template's structure, checked without systemd: one [Unit], [Service] and [Install]
# each, every line a comment, a section or KEY=VALUE, and the instance's config file, data
# directory and sandbox named by %i.
unit_sections=$(grep -E '^\[' "$tunit" | tr '\n' ' ')
bad_lines=$(grep -vE '^(#.*|\[(Unit|Service|Install)\]|[A-Za-z]+=.*|)$' "$tunit")
[ "$unit_sections" = "[Unit] [Service] [Install] " ] && [ -z "$bad_lines" ]
ok $? "runnel@.service has sections $unit_sections and only KEY=VALUE lines${bad_lines:+: $bad_lines}"
key() { sed -n "s/^$1=//p" "$tunit"; }
[ "$(key ExecStart)" = "/usr/bin/runneld --config /etc/runnel/runnel-%i.yaml" ] &&
  [ "$(key User)" = runnel ] && [ "$(key StateDirectory)" = "runnel-%i" ] &&
  [ "$(key ReadWritePaths)" = "/var/lib/runnel-%i" ] &&
  [ "$(key WorkingDirectory)" = "/var/lib/runnel-%i" ] && [ "$(key WantedBy)" = multi-user.target ]
ok $? "runnel@N runs '$(key ExecStart)' as $(key User), writing only /var/lib/runnel-N"
# The three configurations agree with the unit and with each other.
voters=$(sed -n 's/^controller\.quorum\.voters: //p' /etc/runnel/runnel-1.yaml)
same=0
for i in 1 2 3; do
  f=/etc/runnel/runnel-$i.yaml
  [ "$(sed -n 's/^node\.id: //p' "$f")" = "$i" ] &&
    [ "$(sed -n 's/^log\.dirs: //p' "$f")" = "/var/lib/runnel-$i" ] &&
    [ "$(sed -n 's/^listeners: //p' "$f")" = "PLAINTEXT://127.0.0.1:$((9091 + i))" ] &&
    [ "$(sed -n 's/^controller\.quorum\.voters: //p' "$f")" = "$voters" ] || same=1
done
[ "$voters" = "1@127.0.0.1:9092,2@127.0.0.1:9093,3@127.0.0.1:9094" ]
ok $((same + $?)) "runnel-1..3.yaml: node ids 1-3 on 127.0.0.1:9092-9094, data in /var/lib/runnel-N, one voter list"

# --- run the broker as the unit does ---------------------------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
[ "$exec_start" = "/usr/bin/runneld --config /etc/runnel/runnel.yaml" ] && [ "$user" = runnel ]
ok $? "the unit runs '$exec_start' as $user"

port=9092
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
read -r -a cmd <<<"$exec_start"
if [ $systemd_running = 1 ]; then
  # dpkg -i enabled and started the service (dh_installsystemd).
  systemctl restart runnel
  check "systemctl starts runnel" systemctl is-active --quiet runnel
elif port_busy "$port"; then
  # A developer's broker holds the configured port; a flag overrides the file's
  # listeners, everything else stays as the unit has it.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  diag "port 9092 is in use here; adding --listen 127.0.0.1:$port"
  cmd+=(--listen "127.0.0.1:$port")
fi
if [ $systemd_running = 0 ]; then
  (cd "$workdir" && exec runuser -u "$user" -- "${cmd[@]}") >"$work/runneld.log" 2>&1 &
  broker_pid=$!
fi
for _ in $(seq 100); do
  port_busy "$port" && break
  sleep 0.1
done
port_busy "$port"
ok $? "runneld listens on 127.0.0.1:$port"

topic=pkgtest
printf 'one\ntwo\nthree\n' >"$work/sent"
# One message per line of standard input (a file argument would be one message).
timeout 30 kcat -P -b "127.0.0.1:$port" -t $topic -X request.required.acks=-1 \
  <"$work/sent" 2>"$work/kcat-p.err"
ok $? "kcat produces 3 messages to $topic"
sed 's/^/# kcat: /' "$work/kcat-p.err"
timeout 30 kcat -C -b "127.0.0.1:$port" -t $topic -o beginning -c 3 -e -q \
  >"$work/received" 2>"$work/kcat-c.err"
ok $? "kcat consumes from $topic"
sed 's/^/# kcat: /' "$work/kcat-c.err"
cmp -s "$work/sent" "$work/received"
ok $? "kcat reads back the 3 messages produced"
diff "$work/sent" "$work/received" | sed 's/^/# /'
if [ -x /usr/bin/runnel ]; then
  timeout 30 /usr/bin/runnel -b "127.0.0.1:$port" topic list >"$work/topics.txt" 2>&1
  st=$?
  sed 's/^/# runnel: /' "$work/topics.txt"
  [ $st -eq 0 ] && grep -qw $topic "$work/topics.txt"
  ok $? "the packaged runnel CLI lists $topic"
  timeout 30 /usr/bin/runnel -b "127.0.0.1:$port" consume $topic -o beginning -e \
    >"$work/received2" 2>"$work/runnel-c.err"
  st=$?
  sed 's/^/# runnel: /' "$work/runnel-c.err"
  [ $st -eq 0 ] && cmp -s "$work/sent" "$work/received2"
  ok $? "the packaged runnel CLI consumes the 3 messages"
fi
seg=/var/lib/runnel/$topic-0/00000000000000000000.log
[ "$(stat -c %U "$seg" 2>/dev/null)" = runnel ] && grep -q three "$seg"
ok $? "the records are in $seg, owned by runnel"

if [ $systemd_running = 1 ]; then
  systemctl stop runnel
  ! systemctl is-active --quiet runnel
  ok $? "systemctl stops runnel"
else
  # Signal runneld itself, as systemd does: runuser, signalled, would kill its child
  # and report the signal rather than runneld's own exit status, which it passes on.
  child=$(pgrep -P "$broker_pid" -x runneld)
  [ -n "$child" ] && [ "$(stat -c %U "/proc/$child")" = runnel ]
  ok $? "runneld runs as user runnel (pid ${child:-none})"
  kill -TERM "${child:-$broker_pid}"
  for _ in $(seq 100); do
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  ! kill -0 "$broker_pid" 2>/dev/null
  ok $? "runneld stops on SIGTERM"
  wait "$broker_pid"
  ok $? "runneld exits with status 0 on SIGTERM"
  broker_pid=""
fi
sed 's/^/# runneld: /' "$work/runneld.log" 2>/dev/null | tail -n 20

# The packaged inspector reads what the packaged broker wrote.
/usr/bin/runnel-dump --verify "$(dirname "$seg")" >"$work/dump.txt" 2>&1
st=$?
sed 's/^/# runnel-dump: /' "$work/dump.txt" | head -n 30
[ $st -eq 0 ] && grep -qE '^summary: [0-9]+ batches, 3 records' "$work/dump.txt"
ok $? "runnel-dump --verify finds 3 valid records in $(dirname "$seg") (exit $st)"

# --- three nodes from runnel@.service ---------------------------------------------------
# As the template runs them: runnel@1..3, each with its configuration and data directory.
# Without systemd, as its StateDirectory would, create /var/lib/runnel-N for runnel and run
# the ExecStart line as runnel there. Ports 9092-9094 busy here (a developer's brokers): the
# flags move the three elsewhere, keeping everything else the files say.
tri_ports=(9092 9093 9094)
tri_flags=()
if port_busy 9092 || port_busy 9093 || port_busy 9094; then
  read -r -a tri_ports <<<"$(python3 -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')"
  diag "ports 9092-9094 are in use here; running the three nodes on ${tri_ports[*]}"
  tri_flags=(--cluster "1@127.0.0.1:${tri_ports[0]},2@127.0.0.1:${tri_ports[1]},3@127.0.0.1:${tri_ports[2]}")
fi
tri_boot="127.0.0.1:${tri_ports[0]},127.0.0.1:${tri_ports[1]},127.0.0.1:${tri_ports[2]}"
tri_pids=()
if [ $systemd_running = 1 ] && [ ${#tri_flags[@]} -eq 0 ]; then
  systemctl stop runnel
  systemctl start runnel@1 runnel@2 runnel@3
  check "systemctl starts runnel@1, runnel@2 and runnel@3" systemctl is-active --quiet runnel@1 runnel@2 runnel@3
else
  for i in 1 2 3; do
    d=/var/lib/runnel-$i
    install -d -o runnel -g runnel -m 0750 "$d"
    read -r -a icmd <<<"$(key ExecStart | sed "s/%i/$i/g")"
    [ ${#tri_flags[@]} -eq 0 ] || icmd+=(--listen "127.0.0.1:${tri_ports[$((i - 1))]}" "${tri_flags[@]}")
    (cd "$d" && exec runuser -u runnel -- "${icmd[@]}") >"$work/runneld-$i.log" 2>&1 &
    tri_pids+=($!)
  done
fi
brokers=0
for _ in $(seq 150); do
  brokers=$(timeout 10 /usr/bin/runnel -b "$tri_boot" --json cluster info 2>/dev/null |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(len(d["brokers"]) if d["controller"] >= 0 else 0)' 2>/dev/null)
  [ "${brokers:-0}" = 3 ] && break
  sleep 0.2
done
[ "${brokers:-0}" = 3 ]
ok $? "the three nodes form one cluster: a controller and 3 brokers"
timeout 30 /usr/bin/runnel -b "$tri_boot" topic create tri -p 3 -r 3 >"$work/tri.txt" 2>&1
ok $? "a topic with 3 replicas is created ($(head -n 1 "$work/tri.txt"))"
timeout 30 kcat -P -b "$tri_boot" -t tri -X request.required.acks=-1 <"$work/sent" 2>"$work/kcat-tri.err"
ok $? "kcat produces 3 messages to the three nodes"
timeout 30 kcat -C -b "$tri_boot" -t tri -o beginning -e -q 2>/dev/null | sort >"$work/tri-received"
sort "$work/sent" | cmp -s - "$work/tri-received"
ok $? "kcat reads back the 3 messages from the three nodes"
owned=0
for i in 1 2 3; do
  [ "$(stat -c %U "/var/lib/runnel-$i/meta.properties" 2>/dev/null)" = runnel ] || owned=1
done
ok $owned "each node keeps its data in /var/lib/runnel-N, owned by runnel"
if [ ${#tri_pids[@]} -eq 0 ]; then
  systemctl stop runnel@1 runnel@2 runnel@3
  ! systemctl is-active --quiet runnel@1 runnel@2 runnel@3
  ok $? "systemctl stops the three nodes"
else
  for pid in "${tri_pids[@]}"; do
    child=$(pgrep -P "$pid" -x runneld)
    kill -TERM "${child:-$pid}" 2>/dev/null
  done
  stopped=0
  for pid in "${tri_pids[@]}"; do
    wait "$pid" || stopped=1
  done
  ok $stopped "the three nodes stop cleanly on SIGTERM"
  tri_pids=()
fi
for i in 1 2 3; do sed "s/^/# runneld-$i: /" "$work/runneld-$i.log" 2>/dev/null | tail -n 3; done

# --- remove and purge --------------------------------------------------------------------
dpkg -r runnel >"$work/dpkg-r.log" 2>&1
ok $? "dpkg -r removes the package"
[ ! -e /usr/bin/runneld ] && [ ! -e /usr/bin/runnel-dump ]
ok $? "remove deletes the programs"
[ -f /var/lib/runnel/meta.properties ] && [ -f "$seg" ]
ok $? "remove keeps the data (meta.properties, $seg)"
[ -f /etc/runnel/runnel.yaml ] && getent passwd runnel >/dev/null
ok $? "remove keeps the configuration and the user"

dpkg -P runnel >"$work/dpkg-p.log" 2>&1
st=$?
sed 's/^/# /' "$work/dpkg-p.log"
ok $st "dpkg -P purges the package"
installed=0
[ ! -e /var/lib/runnel ] && [ ! -e /var/lib/runnel-1 ] && [ ! -e /var/lib/runnel-3 ]
ok $? "purge deletes /var/lib/runnel and the nodes' /var/lib/runnel-N"
[ ! -e /etc/runnel ]
ok $? "purge deletes /etc/runnel"
! getent passwd runnel >/dev/null && ! getent group runnel >/dev/null
ok $? "purge deletes the runnel user and group"
left=""
for f in $(grep -v '/$' <<<"$contents" | sed 's|^\.||'); do
  [ -e "$f" ] && left="$left $f"
done
left="$left $(find /etc /var/lib /usr/lib/systemd /lib/systemd /usr/lib/sysusers.d /usr/share/doc \
  /usr/share/man -name '*runnel*' -not -path '/var/lib/dpkg/*' 2>/dev/null | tr '\n' ' ')"
left=$(tr -s " " <<<"$left" | sed "s/^ //; s/ $//")
[ -z "$left" ]
ok $? "nothing of the package is left${left:+: $left}"

echo "1..$n"
if [ $failed -ne 0 ]; then
  echo "# $failed of $n failed"
  exit 1
fi
exit 0
