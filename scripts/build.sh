#!/usr/bin/env bash
# Build runnel with warnings as errors. Usage: scripts/build.sh [KIND] (default release).
#   release  -> build/          RelWithDebInfo
#   sanitize -> build-asan/     ASan + UBSan
#   fuzz     -> build-fuzz/     clang libFuzzer targets
#   plain-release -> build-plain-release/  CMAKE_BUILD_TYPE=Release, as a user's plain build
#   plain-debug   -> build-plain-debug/    CMAKE_BUILD_TYPE=Debug
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build; flags=() ;;
  sanitize) dir=build-asan; flags=(-DRN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  fuzz) dir=build-fuzz; flags=(-DRN_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug) ;;
  plain-release) dir=build-plain-release; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  plain-debug) dir=build-plain-debug; flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
  *) echo "scripts/build.sh: unknown build kind \"$kind\"; use release, sanitize, fuzz, plain-release or plain-debug" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja -DRN_WERROR=ON "${flags[@]}" >/dev/null
ninja -C "$dir"
