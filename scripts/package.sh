#!/usr/bin/env bash
# Build the Debian package of runnel into build-deb/ and check it with lintian.
#
# Usage: scripts/package.sh
#   RN_LINTIAN=0    skip the lintian check (default: run it; errors or warnings fail)
#   DEB_BUILD_OPTIONS is passed on (default adds parallel=2; "nocheck" skips unit tests)
#
# debian/ sits in packaging/debian in this tree, but dpkg-buildpackage wants it at the
# top of the source. So the source is copied to a temporary directory, packaging/debian
# is copied to debian/ there, and the package is built in that copy; the tree itself is
# never touched. The copy holds the files git knows of, as they are in the work tree
# (committed or not, plus new files not ignored), so what you see is what is packaged;
# in a clean clone that is exactly HEAD. Outside a git checkout the whole tree is copied
# except build directories.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

for tool in dpkg-buildpackage dpkg-parsechangelog dh; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "scripts/package.sh: $tool not found; install the packaging tools with" \
      "scripts/deps.sh (dpkg-dev, debhelper)" >&2
    exit 1
  fi
done

version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
upstream=${version%-*}
work=$(mktemp -d "${TMPDIR:-/tmp}/runnel-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/runnel-$upstream"
mkdir -p "$src"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked files (work-tree content) and untracked files not ignored; deleted files
  # that are still in the index are skipped.
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$src"
else
  tar --exclude='./build*' --exclude='./.venv' --exclude='./node_modules' -cf - . |
    tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a packaging/debian "$src/debian"

echo "scripts/package.sh: building runnel $version in $src" >&2
(
  cd "$src"
  export DEB_BUILD_OPTIONS="parallel=2${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
  dpkg-buildpackage -us -uc -b
) >"$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2
  echo "scripts/package.sh: dpkg-buildpackage failed (last 60 lines above)" >&2
  exit 1
}

mkdir -p build-deb
rm -f build-deb/runnel_* build-deb/runnel-dbgsym_*
cp "$work"/runnel_"$version"_* "$work"/runnel-dbgsym_"$version"_* build-deb/ 2>/dev/null || true
cp "$work/build.log" build-deb/build.log
changes=$(ls build-deb/runnel_"$version"_*.changes)
ls -l build-deb/ >&2

if [ "${RN_LINTIAN:-1}" != 0 ]; then
  if ! command -v lintian >/dev/null 2>&1; then
    echo "scripts/package.sh: lintian not found; install it (scripts/deps.sh) or set RN_LINTIAN=0" >&2
    exit 1
  fi
  # --fail-on error,warning: any E: or W: line fails the build of the package.
  lintian --fail-on error,warning --display-info "$changes" | tee build-deb/lintian.txt
  echo "scripts/package.sh: lintian: no errors or warnings" >&2
fi
# The one line on stdout: the package to install.
echo "$root/build-deb/runnel_${version}_$(dpkg --print-architecture).deb"
