#!/usr/bin/env bash
# `make image-test`: runs the image `make image` wrote under a real OCI runtime (docs/install.md
# "The image"). Needs root (runc creates namespaces and cgroups).
#
#   tests/image/run_image.sh [ARCHIVE]      default build/gangsched-image.oci.tar
#
# 1. Reads the archive back with skopeo (the image config: user 65532:65532, entrypoint, cmd, port).
# 2. Unpacks it with umoci into an OCI runtime bundle (rootfs + config.json from the image config) and
#    checks the root filesystem holds no shell.
# 3. `runc run`: the entrypoint with `version` prints gangsched's version.
# 4. `runc run -d`: `serve` as the deployment runs it (--config=/etc/gangsched/gangsched.yaml from
#    manifests/base, mounted read-only like the ConfigMap; read-only root filesystem; no capabilities;
#    no new privileges; user 65532) on the example cluster (--cluster, standalone) in the host's network
#    namespace on free loopback ports; /healthz answers 200, /readyz 200, /api/v1/state lists the
#    example cluster's nodes, and the process runs as uid 65532 with no effective capabilities. Then
#    SIGTERM, and the container must stop.
#
# Environment: OCI_RUNTIME (default runc; Debian's crun 1.8.1 refuses this machine's hybrid cgroup
# layout, docs/install.md), BUILD_DIR (default build).
# Prints "image: passed" or "image: FAILED (N failed checks)" last; exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
ARCHIVE="${1:-$BUILD_DIR/gangsched-image.oci.tar}"
RUNTIME="${OCI_RUNTIME:-runc}"

failed=0
ok() { echo "  ok    $*"; }
fail() { echo "  FAIL  $*"; failed=$((failed + 1)); }
check() {  # check DESCRIPTION CMD...
  local what="$1"; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
die() { echo "image-test: error: $*" >&2; exit 1; }

[[ -f "$ARCHIVE" ]] || die "no image archive at $ARCHIVE (make image writes it)"
[[ "$(id -u)" -eq 0 ]] || die "needs root: $RUNTIME creates namespaces and cgroups"
"$ROOT/scripts/install-deps.sh" umoci skopeo "$RUNTIME" curl

WORK="$(mktemp -d /tmp/gangsched-image-test.XXXXXX)"
ID="gangsched-image-test-$$"
cleanup() {
  "$RUNTIME" delete -f "$ID-version" >/dev/null 2>&1 || true
  "$RUNTIME" delete -f "$ID" >/dev/null 2>&1 || true
  if [[ $failed -eq 0 ]]; then rm -rf "$WORK"; else echo "image-test: work dir kept: $WORK" >&2; fi
}
trap cleanup EXIT

echo "=== the image config (skopeo inspect)"
skopeo inspect --config "oci-archive:$ARCHIVE:latest" >"$WORK/config.json"
cfg() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; print(json.dumps(c.get(sys.argv[2])))' "$WORK/config.json" "$1"; }
check "runs as 65532:65532" test "$(cfg User)" = '"65532:65532"'
check "entrypoint /usr/local/bin/gangsched" test "$(cfg Entrypoint)" = '["/usr/local/bin/gangsched"]'
check "cmd serve" test "$(cfg Cmd)" = '["serve"]'
check "exposes 9464/tcp (ops)" test "$(cfg ExposedPorts)" = '{"9464/tcp": {}}'

echo "=== unpack into a runtime bundle (umoci)"
mkdir -p "$WORK/layout"
tar -xf "$ARCHIVE" -C "$WORK/layout"
umoci unpack --image "$WORK/layout:latest" "$WORK/bundle" >/dev/null
R="$WORK/bundle/rootfs"
check "the root filesystem has gangsched and no shell" \
  test -x "$R/usr/local/bin/gangsched" -a ! -e "$R/bin/sh" -a ! -e "$R/usr/bin/bash"
echo "  rootfs: $(du -sb "$R" | cut -f1) bytes, $(find "$R" -type f | wc -l) files"

# config.json from the image; $1 = container id suffix, rest = python edits applied to it.
edit_config() {
  python3 - "$WORK/bundle/config.json" "$@" <<'EOF'
import json, sys
path, mode = sys.argv[1], sys.argv[2]
c = json.load(open(path))
p = c["process"]
p["terminal"] = False
if mode == "version":
    p["args"] = ["/usr/local/bin/gangsched", "version"]
else:
    _, _, conf, cluster, listen, bind, ops = sys.argv[1:]
    # As the deployment's command: `gangsched` found through the image's PATH.
    p["args"] = ["gangsched", "serve", "--config=/etc/gangsched/gangsched.yaml",
                 "--cluster=/etc/gangsched/cluster.yaml", f"--listen=127.0.0.1:{listen}",
                 f"--bind-listen=127.0.0.1:{bind}", f"--ops-listen=127.0.0.1:{ops}"]
    # As the deployment: read-only root, no capabilities, no new privileges, config mounted read-only.
    c["root"]["readonly"] = True
    p["capabilities"] = {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
    p["noNewPrivileges"] = True
    c["mounts"] += [
        {"destination": "/etc/gangsched/gangsched.yaml", "type": "bind", "source": conf,
         "options": ["rbind", "ro"]},
        {"destination": "/etc/gangsched/cluster.yaml", "type": "bind", "source": cluster,
         "options": ["rbind", "ro"]},
    ]
    # The host's network namespace (as hostNetwork), so this script reaches the loopback ports.
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
json.dump(c, open(path, "w"), indent=1)
EOF
}
cp "$WORK/bundle/config.json" "$WORK/config.orig.json"

echo "=== $RUNTIME run: gangsched version"
uid_in_config="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["process"]["user"]["uid"])' "$WORK/bundle/config.json")"
check "the bundle's process user is 65532 (from the image config)" test "$uid_in_config" = 65532
edit_config version
if "$RUNTIME" run -b "$WORK/bundle" "$ID-version" >"$WORK/version.out" 2>"$WORK/version.err"; then
  ok "$RUNTIME run exited 0"
else
  fail "$RUNTIME run exited $?: $(cat "$WORK/version.err")"
fi
sed 's/^/        /' "$WORK/version.out"
check "prints 'gangsched <version>'" grep -qE '^gangsched [0-9]+\.[0-9]+\.[0-9]+' "$WORK/version.out"

echo "=== $RUNTIME run -d: gangsched serve (standalone, example cluster)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P_LISTEN="$(free_port)"; P_BIND="$(free_port)"; P_OPS="$(free_port)"
cp "$WORK/config.orig.json" "$WORK/bundle/config.json"
edit_config serve "$ROOT/manifests/base/gangsched.yaml" "$ROOT/manifests/examples/cluster.yaml" \
  "$P_LISTEN" "$P_BIND" "$P_OPS"
"$RUNTIME" run -d -b "$WORK/bundle" "$ID" >"$WORK/serve.log" 2>&1 </dev/null ||
  { cat "$WORK/serve.log"; die "$RUNTIME run -d failed"; }
PID="$("$RUNTIME" state "$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')"
url="http://127.0.0.1:$P_OPS"
healthy=0
for _ in $(seq 1 100); do  # up to 20 s for the listeners
  if curl -fsS -o "$WORK/healthz" "$url/healthz" 2>/dev/null; then healthy=1; break; fi
  sleep 0.2
done
check "GET /healthz answers 200 ($(cat "$WORK/healthz" 2>/dev/null | head -c 40))" test "$healthy" = 1
ready=0
for _ in $(seq 1 100); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz" || true)"
  if [[ "$code" == 200 ]]; then ready=1; break; fi
  sleep 0.2
done
check "GET /readyz answers 200 (the example cluster is loaded)" test "$ready" = 1
curl -fsS "$url/api/v1/state" >"$WORK/state.json" 2>/dev/null || true
# Nodes in the example cluster file: a NodeList's items, a List's Node items, or Node documents.
want_nodes="$(/usr/bin/python3 -c 'import sys, yaml
n = 0
for d in (x for x in yaml.safe_load_all(open(sys.argv[1])) if x):
    items = d.get("items") or []
    n += {"NodeList": len(items), "List": sum(i.get("kind") == "Node" for i in items), "Node": 1}.get(d.get("kind"), 0)
print(n)' "$ROOT/manifests/examples/cluster.yaml")"
got_nodes="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["nodes"]))' "$WORK/state.json" 2>/dev/null || echo "none")"
check "GET /api/v1/state lists the example cluster's $want_nodes nodes (got $got_nodes)" test "$got_nodes" = "$want_nodes"
status="$(cat "/proc/$PID/status" 2>/dev/null || true)"
check "the process runs as uid 65532 ($(echo "$status" | awk '/^Uid:/ {print $2}'))" \
  test "$(echo "$status" | awk '/^Uid:/ {print $2 ":" $3}')" = "65532:65532"
check "with no effective capabilities" test "$(echo "$status" | awk '/^CapEff:/ {print $2}')" = 0000000000000000
"$RUNTIME" kill "$ID" TERM
stopped=0
for _ in $(seq 1 150); do  # up to 30 s (gangsched drains its listeners on SIGTERM)
  st="$("$RUNTIME" state "$ID" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo gone)"
  if [[ "$st" == stopped || "$st" == gone ]]; then stopped=1; break; fi
  sleep 0.2
done
check "SIGTERM stops the container" test "$stopped" = 1
"$RUNTIME" delete -f "$ID" >/dev/null 2>&1 || true
if [[ $failed -ne 0 ]]; then echo "--- serve log:"; tail -n 30 "$WORK/serve.log"; fi

if [[ $failed -eq 0 ]]; then echo "image: passed"; else echo "image: FAILED ($failed failed checks)"; fi
[[ $failed -eq 0 ]]
