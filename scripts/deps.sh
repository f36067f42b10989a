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
  libevent-dev liblz4-dev libzstd-dev zlib1g-dev libsnappy-dev libyaml-dev
  clang libclang-rt-14-dev llvm clang-format
  lz4 zstd gzip xxd
  python3 python3-venv python3-snappy python3-lz4 python3-zstandard
  kcat librdkafka-dev python3-confluent-kafka python3-kafka
  dpkg-dev debhelper lintian
)
if ! dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
fi
