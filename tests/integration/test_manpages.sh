#!/usr/bin/env bash
# Keeps the manual pages and the packaged configuration honest against the programs:
# every program the build makes has a page in packaging/man; every --flag a program's
# --help prints is named in its page; every configuration key the runneld page or
# packaging/runnel.yaml or packaging/runnel-node.yaml.in names (the commented examples too)
# is a key runneld accepts; and runneld starts with the packaged configuration, with its
# three-node example, and with runnel-1..3.yaml of the template unit runnel@.service.
set -uo pipefail
src=${RN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RN_BUILD_DIR:-$src/build}
man=$src/packaging/man
conf=$src/packaging/runnel.yaml

n=0
failed=0
ok() {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    failed=$((failed + 1))
  fi
}

runneld=$build/broker/runneld
if [ ! -x "$runneld" ] && [ ! -x "$build/tools/runnel-dump" ]; then
  echo "1..0 # skip neither runneld nor runnel-dump is built in $build"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/runnel-mantest.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# A page's text with roff escapes for '-' undone, so "\-\-node\-id" reads "--node-id".
page_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }

for entry in broker/runneld:runneld.8 tools/runnel-dump:runnel-dump.1 tools/runnel:runnel.1; do
  prog=$build/${entry%%:*}
  page=$man/${entry#*:}
  [ -x "$prog" ] || continue
  name=$(basename "$prog")
  [ -f "$page" ]
  ok $? "$name has a manual page packaging/man/$(basename "$page")"
  [ -f "$page" ] || continue
  if command -v man >/dev/null 2>&1; then
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ]
    ok $? "$(basename "$page") formats without warnings${warnings:+: $warnings}"
  fi
  "$prog" --help >"$work/$name.help" 2>&1
  ok $? "$name --help exits 0"
  if [ "$name" = runnel ]; then
    # The CLI's commands have help of their own: "runnel topic create --help" and so on.
    cmds=$(sed -n '/^commands:/,/^$/p' "$work/$name.help" | sed -nE 's/^  ([a-z-]+( [a-z-]+)?)  .*/\1/p')
    [ -n "$cmds" ]
    ok $? "runnel --help lists its commands ($(echo "$cmds" | tr '\n' ' '))"
    while read -r cmd; do
      [ -n "$cmd" ] || continue
      # shellcheck disable=SC2086 # the command's words are separate arguments
      "$prog" $cmd --help >>"$work/$name.help" 2>&1 || echo "runnel $cmd --help: failed" >&2
    done <<<"$cmds"
  fi
  missing=""
  text=$(page_text "$page")
  for flag in $(grep -oE -- '--[a-z][a-z0-9-]*' "$work/$name.help" | sort -u); do
    grep -qE -- "(^|[^a-z-])$flag([^a-z-]|$)" <<<"$text" || missing="$missing $flag"
  done
  [ -z "$missing" ]
  ok $? "every flag of $name --help is in its page${missing:+; missing:$missing}"
done

if [ ! -x "$runneld" ]; then
  echo "1..$n # runneld is not built: its keys and the packaged configuration are not checked"
  [ $failed -eq 0 ]
  exit
fi

# The keys runneld accepts: its --help lists one per line as "  KEY  TYPE  default: ...".
"$runneld" --help 2>/dev/null | sed -nE 's/^  ([a-z][a-z0-9.]*[a-z0-9]) +(int|long|bool|string|list|enum) +default:.*/\1/p' |
  sort -u >"$work/keys"
[ "$(wc -l <"$work/keys")" -ge 10 ]
ok $? "runneld --help lists its configuration keys ($(wc -l <"$work/keys") keys)"

# Keys the page sets in bold (.B/.BR lines): dotted lower-case words that are not files.
unknown=""
for key in $(grep -E '^\.(B|BR|TP) ' "$man/runneld.8" | page_text /dev/stdin |
  grep -oE '[a-z]+(\.[a-z]+)+' | grep -vE '\.(properties|yaml|service|log|index|timeindex)$' |
  sort -u); do
  grep -qxF "$key" "$work/keys" || unknown="$unknown $key"
done
[ -z "$unknown" ]
ok $? "every key named in runneld.8 is a runneld key${unknown:+; unknown:$unknown}"

for cfg in "$conf" "$src/packaging/runnel-node.yaml.in"; do
  unknown=""
  for key in $(sed -nE 's/^#?([a-z][a-z0-9]*(\.[a-z0-9]+)+):( .*)?$/\1/p' "$cfg" | sort -u); do
    grep -qxF "$key" "$work/keys" || unknown="$unknown $key"
  done
  [ -z "$unknown" ]
  ok $? "every key in packaging/$(basename "$cfg") is a runneld key${unknown:+; unknown:$unknown}"
done

# Start runneld with a configuration file and a few flags; it must still be running a
# second later (a bad key or value makes it exit at once). The flags move the listener
# to an ephemeral port and the data to a temporary directory.
starts() { # starts NAME CONFIG
  local name=$1 cfg=$2
  "$runneld" --config "$cfg" --listen 127.0.0.1:0 --data-dir "$work/data-$name" \
    >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  sleep 1
  if ! kill -0 "$pid" 2>/dev/null; then
    sed 's/^/# runneld: /' "$work/$name.log"
    return 1
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null
  return 0
}
starts single "$conf"
ok $? "runneld starts with packaging/runnel.yaml"

# The three-node example: the file with its example lines uncommented, replacing the
# single-node lines they redefine.
example=$(sed -n '/^#node\.id:/,$p' "$conf" | sed 's/^#//')
redefined=$(sed -nE 's/^([a-z][a-z0-9.]*):.*/\1/p' <<<"$example")
grep -vE "^($(tr '\n' '|' <<<"$redefined" | sed 's/|$//')):" "$conf" >"$work/cluster.yaml"
printf '%s\n' "$example" >>"$work/cluster.yaml"
starts cluster "$work/cluster.yaml"
ok $? "runneld starts with the three-node example of packaging/runnel.yaml"

# The configurations of runnel@1..3 (packaging/runnel-node.yaml.in, made by the build).
for i in 1 2 3; do
  node_conf=$build/packaging/runnel-$i.yaml
  [ -f "$node_conf" ] && starts "node-$i" "$node_conf"
  ok $? "runneld starts with runnel-$i.yaml, the configuration of runnel@$i.service"
done

echo "1..$n"
[ $failed -eq 0 ]
