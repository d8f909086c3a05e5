#!/usr/bin/env bash
# `make image`: the gangsched OCI image, built with no registry access (docs/install.md "The image").
#
#   scripts/image/build.sh [--gangsched BIN] [--out FILE]
#       BIN default $BUILD_DIR/gangsched (`make image` builds it first), FILE default
#       $BUILD_DIR/gangsched-image.oci.tar
#
# 1. Takes the binary `make build` made (the one `make test` and `make e2e` run) and strips it; fails
#    if the stripped binary still names the clone's path.
# 2. Assembles the root filesystem from that binary plus exactly the shared libraries it links (ldd),
#    copied from this machine's Debian 12 packages, each package's copyright file and a list of the
#    packages and versions (/usr/share/doc/gangsched-image/packages.txt), /etc/passwd and /etc/group
#    with the non-root user 65532 ("nonroot"). Nothing else: no shell, no package manager.
# 3. Packages it with Debian's umoci as a one-layer OCI image (entrypoint gangsched, cmd serve, user
#    65532:65532, port 9464) and writes the OCI layout as a tar (an `oci-archive:`), tag `latest`.
#
# Reproducible: every file time, the layer's tar (GNU tar, sorted, numeric owner 0:0, no atime/ctime),
# the image's created and history times are SOURCE_DATE_EPOCH (default: the HEAD commit's time), so the
# same commit on a machine with the same Debian package versions gives the same bytes (the test
# tests/image/reproducible.sh builds a second time and compares).
#
# Environment: BUILD_DIR (default build), SOURCE_DATE_EPOCH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
OUT="$BUILD_DIR/gangsched-image.oci.tar"
GANGSCHED="$BUILD_DIR/gangsched"
TAG=latest

log() { echo "image: $*" >&2; }
die() { log "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="${2:?file}"; shift ;;
    --gangsched) GANGSCHED="${2:?binary}"; shift ;;
    -h|--help) sed -n '2,/^set -euo pipefail/{/^set /!p}' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac

t0=$SECONDS
"$ROOT/scripts/install-deps.sh"
# The image tools, from Debian: umoci builds the OCI layout; skopeo is what
# tests/image/run_image.sh reads the archive back with.
"$ROOT/scripts/install-deps.sh" umoci skopeo

if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)"
fi
export SOURCE_DATE_EPOCH
CREATED="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"

# 1. The binary the tests ran (`make build`), stripped. Debug info is what names the clone's path; the
# check keeps the image independent of where the clone is.
[[ -x "$GANGSCHED" ]] || die "no binary at $GANGSCHED (make image builds it)"
WORK="$BUILD_DIR/image"
rm -rf "$WORK"
mkdir -p "$WORK"
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/usr/lib/x86_64-linux-gnu" "$ROOTFS/usr/lib64" "$ROOTFS/etc" \
  "$ROOTFS/usr/share/doc/gangsched-image" "$ROOTFS/tmp"
strip --strip-all -o "$ROOTFS/usr/local/bin/gangsched" "$GANGSCHED"
if grep -q -F "$ROOT/" "$ROOTFS/usr/local/bin/gangsched"; then
  die "the stripped binary still names $ROOT/: the image would differ between clones"
fi
# Debian 12 is merged-/usr: /lib and /lib64 are links into /usr.
ln -s usr/lib "$ROOTFS/lib"
ln -s usr/lib64 "$ROOTFS/lib64"

# 2. Exactly the libraries the binary links, by the path the loader resolves them to, plus the loader.
# Each comes from a Debian package; the package, its version and its copyright file go with it.
: >"$WORK/packages"
add_file() {  # $1 = path on this machine (as the loader sees it)
  local path="$1" real pkg
  real="$(readlink -f "$path")"
  local dest="$ROOTFS/usr${path#/usr}"
  [[ "$path" == /usr/* ]] || dest="$ROOTFS/usr$path"
  mkdir -p "$(dirname "$dest")"
  cp "$real" "$dest"
  chmod 755 "$dest"
  # dpkg knows the /usr/lib/... or /lib/... spelling, depending on the package.
  pkg="$(dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "$real" 2>/dev/null ||
    dpkg-query -S "${real#/usr}" 2>/dev/null || true)"
  pkg="${pkg%%:*}"
  [[ -n "$pkg" ]] || die "$path ($real) belongs to no Debian package"
  echo "$pkg" >>"$WORK/packages"
}
mapfile -t libs < <(ldd "$GANGSCHED" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[[ ${#libs[@]} -gt 0 ]] || die "ldd found no libraries for $GANGSCHED"
for lib in "${libs[@]}"; do
  case "$lib" in
    /lib64/ld-linux-x86-64.so.2)  # the ELF interpreter: the real file, and the path the binary names
      add_file /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
      ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ROOTFS/usr/lib64/ld-linux-x86-64.so.2" ;;
    *) add_file "$lib" ;;
  esac
done
sort -u "$WORK/packages" | while read -r pkg; do
  dpkg-query -W -f='${Package} ${Version} ${Architecture}\n' "$pkg"
  if [[ -f "/usr/share/doc/$pkg/copyright" ]]; then
    mkdir -p "$ROOTFS/usr/share/doc/$pkg"
    cp "/usr/share/doc/$pkg/copyright" "$ROOTFS/usr/share/doc/$pkg/copyright"
  fi
done >"$ROOTFS/usr/share/doc/gangsched-image/packages.txt"
cp "$ROOT/scripts/image/README.image" "$ROOTFS/usr/share/doc/gangsched-image/README"

# Users: root and the non-root user the image runs as (the same id as distroless' nonroot).
cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
# glibc resolves host names itself (nss files/dns are inside libc.so.6 since 2.34).
echo "hosts: files dns" >"$ROOTFS/etc/nsswitch.conf"
chmod 1777 "$ROOTFS/tmp"

# Normalise what tar records: modes already set above; every time is SOURCE_DATE_EPOCH.
find "$ROOTFS" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$ROOTFS" -cf "$WORK/layer.tar" .

# 3. The OCI layout (umoci), then the archive.
LAYOUT="$WORK/oci"
VERSION="$("$GANGSCHED" version | awk 'NR == 1 { print $2 }')"
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:$TAG"
umoci raw add-layer --image "$LAYOUT:$TAG" \
  --history.created "$CREATED" --history.created_by "scripts/image/build.sh" \
  --history.comment "gangsched $VERSION and the Debian 12 libraries it links" "$WORK/layer.tar"
umoci config --image "$LAYOUT:$TAG" --created "$CREATED" --author "gangsched" \
  --architecture amd64 --os linux \
  --config.user 65532:65532 --config.entrypoint /usr/local/bin/gangsched --config.cmd serve \
  --config.exposedports 9464/tcp --config.workingdir / \
  --config.env PATH=/usr/local/bin:/usr/bin \
  --config.label "org.opencontainers.image.title=gangsched" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.created=$CREATED" \
  --manifest.annotation "org.opencontainers.image.version=$VERSION" \
  --manifest.annotation "org.opencontainers.image.created=$CREATED" \
  --no-history
umoci gc --layout "$LAYOUT"
find "$LAYOUT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$(dirname "$OUT")"
tar --sort=name --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -C "$LAYOUT" -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"

manifest="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$LAYOUT/index.json")"
log "$OUT: $(du -b "$OUT" | cut -f1) bytes, manifest $manifest, sha256 $(sha256sum "$OUT" | cut -c1-64)"
log "rootfs: $(du -sb "$ROOTFS" | cut -f1) bytes; built in $((SECONDS - t0))s"
echo "$OUT"
