#!/usr/bin/env bash
# Builds the e2e control plane from the Go module proxy at pinned versions: etcd, kube-apiserver,
# kube-scheduler and kubectl, and Kubeflow's training-operator, through the wrapper modules in
# tests/e2e/controlplane/ (docs/e2e.md).
#
#   scripts/build-controlplane.sh            build both if needed; print the control plane's bin dir on
#                                            stdout (last line)
#   scripts/build-controlplane.sh --training-operator
#                                            only the training-operator: build if needed, print its
#                                            directory (bin/training-operator, crds/*.yaml) last
#   scripts/build-controlplane.sh --force    rebuild even if cached (with --training-operator: only it)
#   scripts/build-controlplane.sh --pin-kubernetes v1.N.M
#                                            rewrite tests/e2e/controlplane/kube/go.mod for another
#                                            release (one replace per staging module) and `go mod tidy`
#
# Cache (outside the clone, survives fresh CI clones on the same machine):
#   ${GANGSCHED_CACHE:-$HOME/.cache/gangsched}/controlplane/<version>/bin   the binaries
#   ${GANGSCHED_CACHE:-$HOME/.cache/gangsched}/controlplane/<to-version>/   bin/training-operator and the
#                                            TFJob/PyTorchJob/MPIJob CRDs from its module (crds/)
#   ${GANGSCHED_CACHE:-$HOME/.cache/gangsched}/controlplane/gomod           GOMODCACHE
#   ${GANGSCHED_CACHE:-$HOME/.cache/gangsched}/controlplane/gocache         GOCACHE
# <version> = k8s-<kubernetes version>-etcd-<etcd version>-<hash of the wrapper modules and this recipe>,
# so a changed go.mod/go.sum/main.go builds into a new directory and an unchanged one is reused at once.
# <to-version> = training-operator-<its version>-<hash of its wrapper module and this recipe>, likewise.
#
# Builds run under `nice -n 19` with GOFLAGS=-p=${GANGSCHED_GO_JOBS:-2} (the machine has 2 shared cores).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/e2e/controlplane"
CACHE_ROOT="${GANGSCHED_CACHE:-$HOME/.cache/gangsched}/controlplane"
GO_JOBS="${GANGSCHED_GO_JOBS:-2}"
# Bump when the build recipe below changes in a way that changes the binaries.
RECIPE=1

log() { echo "build-controlplane: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not installed (the machine image ships Go 1.26)"
export GOTOOLCHAIN=local
export GOMODCACHE="$CACHE_ROOT/gomod"
export GOCACHE="$CACHE_ROOT/gocache"
export GOFLAGS="-mod=readonly -p=$GO_JOBS -buildvcs=false"
export CGO_ENABLED=0

# The required version of module $1 in go.mod $2 (plain or block `require` syntax).
required_version() {
  awk -v m="$1" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v[0-9]/) { print $(i + 1); exit } }' "$2"
}
kube_version() { required_version k8s.io/kubernetes "$SRC/kube/go.mod"; }
etcd_version() { required_version go.etcd.io/etcd/server/v3 "$SRC/etcd/go.mod"; }
TO_MODULE=github.com/kubeflow/training-operator
TO_MAIN=$TO_MODULE/cmd/training-operator.v1
# The CRDs of the schemes scripts/controlplane.sh enables (--enable-scheme), from the module's manifests.
TO_CRDS=(kubeflow.org_tfjobs.yaml kubeflow.org_pytorchjobs.yaml kubeflow.org_mpijobs.yaml)

pin_kubernetes() {
  local k="$1"
  [[ "$k" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "--pin-kubernetes wants v1.N.M, got $k"
  local s="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
  mkdir -p "$GOMODCACHE"
  local modfile
  modfile="$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$k" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [[ -f "$modfile" ]] || die "could not download k8s.io/kubernetes@$k"
  cd "$SRC/kube"
  # Drop every existing replace, then add one per staging module of that release.
  local old
  for old in $(go mod edit -json | python3 -c 'import json,sys; [print(r["Old"]["Path"]) for r in json.load(sys.stdin).get("Replace") or []]'); do
    go mod edit -dropreplace="$old"
  done
  go mod edit -require="k8s.io/kubernetes@$k"
  local m n=0
  for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$modfile"); do
    go mod edit -replace="$m=$m@$s"
    n=$((n + 1))
  done
  go mod edit -replace="k8s.io/kubernetes=k8s.io/kubernetes@$k"
  log "pinned k8s.io/kubernetes $k with $n staging replaces at $s; running go mod tidy"
  GOFLAGS=-mod=mod nice -n 19 go mod tidy
  log "done: review and commit tests/e2e/controlplane/kube/go.mod and go.sum"
}

FORCE=0
ONLY_TO=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pin-kubernetes) pin_kubernetes "${2:?version}"; exit 0 ;;
    --force) FORCE=1 ;;
    --training-operator) ONLY_TO=1 ;;
    -h|--help) sed -n '2,/^set -euo pipefail/{/^set /!p}' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done

KUBE_VERSION="$(kube_version)"
ETCD_VERSION="$(etcd_version)"
[[ -n "$KUBE_VERSION" && -n "$ETCD_VERSION" ]] || die "cannot read pinned versions from $SRC/*/go.mod"
HASH="$( (echo "recipe=$RECIPE $(go env GOVERSION)";
          cd "$SRC" && cat kube/go.mod kube/go.sum etcd/go.mod etcd/go.sum \
            kube/cmd/kube-apiserver/main.go kube/cmd/kube-scheduler/main.go kube/cmd/kubectl/main.go \
            etcd/main.go) | sha256sum | cut -c1-12)"
VERSION_DIR="$CACHE_ROOT/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-$HASH"
BIN="$VERSION_DIR/bin"
BINARIES=(etcd kube-apiserver kube-scheduler kubectl)
TO_VERSION="$(required_version "$TO_MODULE" "$SRC/training-operator/go.mod")"
[[ -n "$TO_VERSION" ]] || die "cannot read the $TO_MODULE version from $SRC/training-operator/go.mod"
TO_HASH="$( (echo "recipe=$RECIPE $(go env GOVERSION) crds=${TO_CRDS[*]}";
             cd "$SRC" && cat training-operator/go.mod training-operator/go.sum) | sha256sum | cut -c1-12)"
TO_DIR="$CACHE_ROOT/training-operator-$TO_VERSION-$TO_HASH"

complete() {
  [[ -f "$VERSION_DIR/.complete" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
if ! flock -n 9; then
  log "another build holds $CACHE_ROOT/.build.lock; waiting"
  flock 9
fi

# Binaries of other pins that no run has used for 7 days go (each set is about 265 MB, a
# training-operator 45 MB); Go trims GOCACHE itself.
find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 \( -name 'k8s-*' -o -name 'training-operator-*' \) \
  ! -path "$VERSION_DIR" ! -path "$TO_DIR" ! -newermt '-7 days' -exec rm -rf {} + 2>/dev/null || true

# Kubeflow's training-operator (the real TFJob/PyTorchJob/MPIJob controllers): the upstream main, built
# by import path (the wrapper module lists it as a `tool`), plus the CRDs from the same module zip.
to_complete() {
  [[ -f "$TO_DIR/.complete" && -x "$TO_DIR/bin/training-operator" ]] || return 1
  local c
  for c in "${TO_CRDS[@]}"; do [[ -s "$TO_DIR/crds/$c" ]] || return 1; done
}
build_training_operator() {
  if [[ "$FORCE" == 0 ]] && to_complete; then
    touch "$TO_DIR"
    log "cached: training-operator $TO_VERSION in $TO_DIR"
    return 0
  fi
  log "building training-operator $TO_VERSION ($TO_MAIN)"
  local t0=$SECONDS stage
  stage="$(mktemp -d "$CACHE_ROOT/.stage.XXXXXX")"
  TO_STAGE="$stage"
  trap 'rm -rf "$TO_STAGE"' EXIT
  mkdir -p "$stage/bin" "$stage/crds"
  (cd "$SRC/training-operator" && nice -n 19 go build -trimpath -ldflags "-s -w" \
    -o "$stage/bin/training-operator" "$TO_MAIN")
  # No version variable upstream; the module version is in the build info (`go version -m`).
  go version -m "$stage/bin/training-operator" | grep -qE "^[[:space:]]+mod[[:space:]]+$TO_MODULE[[:space:]]+$TO_VERSION[[:space:]]" \
    || die "training-operator build info does not name $TO_MODULE $TO_VERSION"
  "$stage/bin/training-operator" --help >/dev/null 2>&1 || die "training-operator --help failed"
  local moddir c
  moddir="$(cd "$SRC/training-operator" && go list -m -f '{{.Dir}}' "$TO_MODULE")"
  for c in "${TO_CRDS[@]}"; do
    cp "$moddir/manifests/base/crds/$c" "$stage/crds/$c" || die "no $c in $moddir/manifests/base/crds"
  done
  chmod -R u+w "$stage"
  rm -rf "$TO_DIR"
  mv "$stage" "$TO_DIR"
  trap - EXIT
  chmod 755 "$TO_DIR"
  {
    echo "training-operator=$TO_VERSION"
    echo "go=$(go env GOVERSION)"
    echo "hash=$TO_HASH"
    echo "crds_from=$TO_MODULE@$TO_VERSION/manifests/base/crds"
    echo "build_seconds=$((SECONDS - t0))"
    echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$TO_DIR/.complete"
  log "training-operator built in $((SECONDS - t0))s: $TO_DIR"
}

if [[ "$ONLY_TO" == 1 ]]; then
  build_training_operator
  echo "$TO_DIR"
  exit 0
fi
build_training_operator

if [[ "$FORCE" == 0 ]] && complete; then
  touch "$VERSION_DIR"  # last use, for the pruning above
  log "cached: kubernetes $KUBE_VERSION, etcd $ETCD_VERSION in $BIN"
  echo "$BIN"
  exit 0
fi

log "building kubernetes $KUBE_VERSION (kube-apiserver, kube-scheduler, kubectl) and etcd $ETCD_VERSION"
log "GOMODCACHE=$GOMODCACHE GOCACHE=$GOCACHE GOFLAGS=$GOFLAGS (nice -n 19)"
STAGE="$(mktemp -d "$CACHE_ROOT/.stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
start=$(date +%s)

# Version stamping as hack/lib/version.sh does, so `--version` and /version report the release.
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
KUBE_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KUBE_LDFLAGS+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  KUBE_LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

(cd "$SRC/etcd" && nice -n 19 go build -trimpath -ldflags "-s -w" -o "$STAGE/etcd" .)
log "etcd built after $(($(date +%s) - start))s"
(cd "$SRC/kube" && nice -n 19 go build -trimpath -ldflags "$KUBE_LDFLAGS" -o "$STAGE/" \
  ./cmd/kube-apiserver ./cmd/kube-scheduler ./cmd/kubectl)
log "kubernetes built after $(($(date +%s) - start))s"

for b in etcd kube-apiserver kube-scheduler; do "$STAGE/$b" --version >/dev/null || die "$b --version failed"; done
"$STAGE/kubectl" version --client >/dev/null || die "kubectl version --client failed"
mkdir -p "$VERSION_DIR"
rm -rf "$BIN"
mv "$STAGE" "$BIN"
trap - EXIT
chmod 755 "$BIN"
elapsed=$(($(date +%s) - start))
{
  echo "kubernetes=$KUBE_VERSION"
  echo "etcd=$ETCD_VERSION"
  echo "go=$(go env GOVERSION)"
  echo "hash=$HASH"
  echo "build_seconds=$elapsed"
  echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$VERSION_DIR/.complete"
log "built in ${elapsed}s: $BIN"
echo "$BIN"
