#!/usr/bin/env bash
# Build runnel. Usage: scripts/build.sh [release|sanitize|fuzz] (default release).
#   release  -> build/          RelWithDebInfo, warnings as errors
#   sanitize -> build-asan/     ASan + UBSan
#   fuzz     -> build-fuzz/     clang libFuzzer targets
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build; flags=() ;;
  sanitize) dir=build-asan; flags=(-DRN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  fuzz) dir=build-fuzz; flags=(-DRN_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug) ;;
  *) echo "scripts/build.sh: unknown build kind \"$kind\"; use release, sanitize or fuzz" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
ninja -C "$dir"
