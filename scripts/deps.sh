#!/usr/bin/env bash
# Install everything runnel needs to build and test on a fresh Debian 12 machine.
# runnel's own dependencies come from Debian; test clients come from Debian, PyPI and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

export DEBIAN_FRONTEND=noninteractive
APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libevent-dev libssl-dev openssl liblz4-dev libzstd-dev zlib1g-dev libsnappy-dev libyaml-dev
  clang libclang-rt-14-dev llvm clang-format
  lz4 zstd gzip xxd
  python3 python3-venv python3-snappy python3-lz4 python3-zstandard
  kcat librdkafka-dev python3-confluent-kafka python3-kafka
  maven openjdk-17-jdk-headless
  dpkg-dev debhelper lintian procps strace
  iproute2 nftables
  burrow
  chromium chromium-driver
  mariadb-server mariadb-client
)
if ! dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
fi

# Interop test clients from PyPI: a venv built from Debian's interpreter (not a pyenv one on
# PATH), isolated from Debian's site-packages so PyPI's confluent-kafka is what it imports.
# Reinstalled only when tests/interop/requirements.txt changes.
REQS=tests/interop/requirements.txt
stamp=$(sha256sum "$REQS" | cut -d' ' -f1)
if [ "$(cat .venv/.runnel-deps 2>/dev/null)" != "$stamp" ]; then
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r "$REQS"
  echo "$stamp" >.venv/.runnel-deps
fi

# kafkajs for the node interop tests, exactly as locked. Node and npm come with the machine.
lock=$(sha256sum tests/interop/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/interop/node_modules/.runnel-deps 2>/dev/null)" != "$lock" ]; then
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock" >tests/interop/node_modules/.runnel-deps
fi

# Kafka's own command-line tools (kafka-tools and, for the tools 3.9 and 4.x still keep in the
# broker, kafka_2.13, from Maven Central; ~55 MB a version), for the tests that run their
# classes against runneld (test_quorum_cluster.py uses 3.9.1; test_kafka_tools.py and
# test_cluster_kafka_tools.py both).
# Fetched once per version into a directory of its own; the stamp names the pom's hash, so a
# pom that gains a jar refetches.
kt_stamp=$(sha256sum tests/interop/kafka-tools/pom.xml | cut -d' ' -f1)
for KT_VERSION in 3.9.1 4.1.1; do
  KT_LIBS=${KAFKA_TOOLS_CACHE:-$HOME/.cache/runnel/kafka-tools}/$KT_VERSION/libs
  if [ "$(cat "$KT_LIBS/.complete" 2>/dev/null)" != "$kt_stamp" ]; then
    rm -rf "$KT_LIBS"
    mkdir -p "$KT_LIBS"
    (cd tests/interop/kafka-tools && mvn -B -q dependency:copy-dependencies \
      -Dkafka.version="$KT_VERSION" -DincludeScope=runtime -DoutputDirectory="$KT_LIBS")
    echo "$kt_stamp" >"$KT_LIBS/.complete"
  fi
done

# Apache Kafka 3.9's broker (scripts/kafka-ref.sh's jars) for test_way_out.py, which moves
# partition directories between runneld and a stopped Kafka 3.9, and for test_connect.py's
# --broker kafka run.
KAFKA_REF_VERSION=3.9.1 bash scripts/kafka-ref.sh fetch

# A Kafka Connect worker with the FileStream connectors and Debezium's MariaDB connector
# (tests/interop/connect/pom.xml) for test_connect.py, refetched when the pom changes.
cn_stamp=$(sha256sum tests/interop/connect/pom.xml | cut -d' ' -f1)
CN_LIBS=${CONNECT_CACHE:-$HOME/.cache/runnel/connect}/libs
if [ "$(cat "$CN_LIBS/.complete" 2>/dev/null)" != "$cn_stamp" ]; then
  rm -rf "$CN_LIBS"
  mkdir -p "$CN_LIBS"
  (cd tests/interop/connect && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$CN_LIBS")
  echo "$cn_stamp" >"$CN_LIBS/.complete"
fi
