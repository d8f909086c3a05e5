#!/usr/bin/env bash
# Builds the chart tools from the Go module proxy at pinned versions, through the wrapper module in
# tests/chart/tools/ (docs/install.md "Chart tools"):
#   helm       helm.sh/helm/v4/cmd/helm (the upstream main, by import path), version-stamped as Helm's
#              Makefile does
#   kustomize  tests/chart/tools/cmd/kustomize: `kubectl kustomize DIR` with the same krusty library
#              (sigs.k8s.io/kustomize/api v0.21.1, as Kubernetes v1.36.3's kubectl), so `make test` can
#              render manifests/base without the e2e control plane's 40-minute kubectl build
#
#   scripts/build-chart-tools.sh          build if needed; print the bin dir on stdout (last line)
#   scripts/build-chart-tools.sh --force  rebuild even if cached
#
# Cache (outside the clone, like scripts/build-controlplane.sh, sharing its module and build caches):
#   ${GANGSCHED_CACHE:-$HOME/.cache/gangsched}/chart-tools/helm-<ver>-<hash>/bin/{helm,kustomize}
#   ${GANGSCHED_CACHE:-$HOME/.cache/gangsched}/controlplane/{gomod,gocache}   GOMODCACHE, GOCACHE
# <hash> covers the wrapper's go.mod, go.sum and main.go, the Go version and the recipe below.
# Builds run under `nice -n 19` with GOFLAGS=-p=${GANGSCHED_GO_JOBS:-2}, as build-controlplane.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/chart/tools"
CACHE="${GANGSCHED_CACHE:-$HOME/.cache/gangsched}"
CACHE_ROOT="$CACHE/chart-tools"
GO_JOBS="${GANGSCHED_GO_JOBS:-2}"
# Bump when the build recipe below changes in a way that changes the binaries.
RECIPE=1

log() { echo "build-chart-tools: $*" >&2; }
die() { log "error: $*"; exit 1; }

FORCE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,/^set -euo pipefail/{/^set /!p}' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done

command -v go >/dev/null || die "go is not installed (the machine image ships Go 1.26)"
export GOTOOLCHAIN=local
export GOMODCACHE="$CACHE/controlplane/gomod"
export GOCACHE="$CACHE/controlplane/gocache"
export GOFLAGS="-mod=readonly -p=$GO_JOBS -buildvcs=false"
export CGO_ENABLED=0

HELM_VERSION="$(awk '$1 == "helm.sh/helm/v4" && $2 ~ /^v[0-9]/ { print $2; exit }' "$SRC/go.mod")"
[[ -n "$HELM_VERSION" ]] || die "cannot read the helm.sh/helm/v4 version from $SRC/go.mod"
HASH="$( (echo "recipe=$RECIPE $(go env GOVERSION)"; cd "$SRC" && cat go.mod go.sum cmd/kustomize/main.go) |
  sha256sum | cut -c1-12)"
DIR="$CACHE_ROOT/helm-$HELM_VERSION-$HASH"
BIN="$DIR/bin"

complete() { [[ -f "$DIR/.complete" && -x "$BIN/helm" && -x "$BIN/kustomize" ]]; }

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
if ! flock -n 9; then
  log "another build holds $CACHE_ROOT/.build.lock; waiting"
  flock 9
fi

# Other pins no run has used for 7 days go (each is about 75 MB).
find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -name 'helm-*' ! -path "$DIR" ! -newermt '-7 days' \
  -exec rm -rf {} + 2>/dev/null || true

if [[ "$FORCE" == 0 ]] && complete; then
  touch "$DIR"
  log "cached: helm $HELM_VERSION and kustomize in $BIN"
  echo "$BIN"
  exit 0
fi

log "building helm $HELM_VERSION and kustomize (GOFLAGS=$GOFLAGS, nice -n 19)"
t0=$SECONDS
STAGE="$(mktemp -d "$CACHE_ROOT/.stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin"
# `go mod download` first so the download and the compile show separately in the log.
(cd "$SRC" && go mod download)
log "modules present after $((SECONDS - t0))s"
HELM_LDFLAGS="-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
HELM_LDFLAGS+=" -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
(cd "$SRC" && nice -n 19 go build -trimpath -ldflags "$HELM_LDFLAGS" -o "$STAGE/bin/helm" helm.sh/helm/v4/cmd/helm)
log "helm built after $((SECONDS - t0))s"
(cd "$SRC" && nice -n 19 go build -trimpath -ldflags "-s -w" -o "$STAGE/bin/kustomize" ./cmd/kustomize)
log "kustomize built after $((SECONDS - t0))s"
"$STAGE/bin/helm" version --template '{{.Version}}' | grep -qx "$HELM_VERSION" ||
  die "helm version does not report $HELM_VERSION"
chmod -R u+w "$STAGE"
rm -rf "$DIR"
mv "$STAGE" "$DIR"
trap - EXIT
chmod 755 "$DIR"
{
  echo "helm=$HELM_VERSION"
  echo "kustomize_api=$(cd "$SRC" && go list -m -f '{{.Version}}' sigs.k8s.io/kustomize/api)"
  echo "go=$(go env GOVERSION)"
  echo "hash=$HASH"
  echo "build_seconds=$((SECONDS - t0))"
  echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$DIR/.complete"
log "built in $((SECONDS - t0))s: $BIN"
echo "$BIN"
