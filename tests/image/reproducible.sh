#!/usr/bin/env bash
# The image is reproducible: a second `scripts/image/build.sh` from the same binary, in another work
# directory and a second later, must write the same bytes as the archive `make image` wrote (every time
# in it is SOURCE_DATE_EPOCH; tar entries sorted, numeric owners). Part of `make image-test`.
#
#   tests/image/reproducible.sh [ARCHIVE]     default build/gangsched-image.oci.tar
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
FIRST="${1:-$BUILD_DIR/gangsched-image.oci.tar}"
[[ -f "$FIRST" ]] || { echo "reproducible: no image archive at $FIRST (make image writes it)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/gangsched-image-repro.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
sleep 1  # a different wall-clock second than the first build
BUILD_DIR="$WORK" "$ROOT/scripts/image/build.sh" --gangsched "$BUILD_DIR/gangsched" \
  --out "$WORK/second.oci.tar" >/dev/null 2>"$WORK/build.log" || { cat "$WORK/build.log"; exit 1; }
a="$(sha256sum "$FIRST" | cut -c1-64)"
b="$(sha256sum "$WORK/second.oci.tar" | cut -c1-64)"
if [[ "$a" == "$b" ]]; then
  echo "  ok    a second build gives the same archive (sha256 $a)"
  echo "reproducible: passed"
else
  echo "  FAIL  a second build differs: $a vs $b"
  diff <(tar -tvf "$FIRST") <(tar -tvf "$WORK/second.oci.tar") | head -n 20 || true
  echo "reproducible: FAILED (1 failed check)"
  exit 1
fi
