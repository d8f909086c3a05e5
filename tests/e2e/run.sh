#!/usr/bin/env bash
# The e2e suite (`make e2e`): builds the control plane (cached, scripts/build-controlplane.sh), starts it
# (scripts/controlplane.sh) with the extender ports of the shipped KubeSchedulerConfiguration and with
# Kubeflow's training-operator (it creates the pods of TFJobs/PyTorchJobs/MPIJobs), runs every
# tests/e2e/test_*.py against it (each starts the extender it needs on those ports: tests/e2e/lib/
# extenders.py) and stops everything, also on failure or Ctrl-C.
#
#   tests/e2e/run.sh [TEST_NAME_SUBSTRING...]
#
# Environment:
#   GANGSCHED_CP_BIN=DIR          use the control-plane binaries in DIR instead of scripts/build-controlplane.sh
#   GANGSCHED_E2E_KEEP=1          keep the run dir (logs, certs, etcd data) after a passing run
#                                 (a failing run always keeps it and prints where)
#   GANGSCHED_E2E_CAPTURE_DIR=DIR save the first filter/prioritize/bind request kube-scheduler sends,
#                                 byte for byte (tests/fixtures/extender/captured/ holds such a capture)
#   GANGSCHED_E2E_TRAINING_OPERATOR=0  start the control plane without the training-operator (tests
#                                 that need it skip)
#   GANGSCHED_E2E_LAYOUT=BxRxN    fake node layout (default 1x2x4: 2 racks of 4 nodes, 8 GPUs each)
#   GANGSCHED_E2E_EXTENDER_PORT / GANGSCHED_E2E_BIND_PORT
#                                 default 8888 / 8889 as shipped; when one is taken (another engineer's
#                                 gangsched), free ports are used and substituted into the config copy
# Prints "N passed, M failed" last; exits non-zero if any test failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
E2E="$ROOT/tests/e2e"
log() { echo "e2e: $*" >&2; }

t_start=$SECONDS
if [[ -z "${GANGSCHED_CP_BIN:-}" ]]; then
  GANGSCHED_CP_BIN="$("$ROOT/scripts/build-controlplane.sh" | tail -n 1)"
fi
export GANGSCHED_CP_BIN
log "control plane binaries: $GANGSCHED_CP_BIN ($((SECONDS - t_start))s)"

port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()' "$1" 2>/dev/null
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
if [[ -z "${GANGSCHED_E2E_EXTENDER_PORT:-}" ]]; then
  if port_free 8888; then GANGSCHED_E2E_EXTENDER_PORT=8888; else
    GANGSCHED_E2E_EXTENDER_PORT="$(free_port)"; log "127.0.0.1:8888 is taken; extender verbs on :$GANGSCHED_E2E_EXTENDER_PORT"
  fi
fi
if [[ -z "${GANGSCHED_E2E_BIND_PORT:-}" ]]; then
  if port_free 8889; then GANGSCHED_E2E_BIND_PORT=8889; else
    GANGSCHED_E2E_BIND_PORT="$(free_port)"; log "127.0.0.1:8889 is taken; extender bind on :$GANGSCHED_E2E_BIND_PORT"
  fi
fi
export GANGSCHED_E2E_EXTENDER_PORT GANGSCHED_E2E_BIND_PORT

export GANGSCHED_E2E_TRAINING_OPERATOR="${GANGSCHED_E2E_TRAINING_OPERATOR:-1}"
# 2 racks x 4 nodes x 8 GPUs: a rack holds mycnnjob's 32 GPUs (test_api_gangs.py).
export GANGSCHED_E2E_LAYOUT="${GANGSCHED_E2E_LAYOUT:-1x2x4}"

RUN_DIR="$(mktemp -d /tmp/gangsched-e2e.XXXXXX)"
export GANGSCHED_E2E_RUN_DIR="$RUN_DIR"
passed=0
failed=0
finish() {
  local rc=$?
  "$ROOT/scripts/controlplane.sh" stop --run-dir "$RUN_DIR" || true
  if [[ $failed -eq 0 && $rc -eq 0 && "${GANGSCHED_E2E_KEEP:-0}" != 1 ]]; then
    rm -rf "$RUN_DIR"
  else
    log "run dir kept: $RUN_DIR (logs/ has etcd, kube-apiserver, kube-scheduler, training-operator and extender logs)"
  fi
  # The suite's closing line, last so CI reads it as the result.
  if [[ -n "${summary:-}" ]]; then echo "$summary"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

eval "$("$ROOT/scripts/controlplane.sh" start --run-dir "$RUN_DIR")"

log "control plane up after $((SECONDS - t_start))s"

tests=()
for t in "$E2E"/test_*.py; do
  if [[ $# -eq 0 ]]; then tests+=("$t"); continue; fi
  for pat in "$@"; do [[ "$(basename "$t")" == *"$pat"* ]] && { tests+=("$t"); break; }; done
done
[[ ${#tests[@]} -gt 0 ]] || { log "no test matches: $*"; exit 1; }

for t in "${tests[@]}"; do
  name="$(basename "$t" .py)"
  echo "=== $name"
  t0=$SECONDS
  if python3 "$t"; then
    passed=$((passed + 1)); echo "--- PASS $name ($((SECONDS - t0))s)"
  else
    failed=$((failed + 1)); echo "--- FAIL $name ($((SECONDS - t0))s)"
    echo "--- kube-scheduler log (last 40 lines, client-ca noise dropped):"
    grep -v configmap_cafile_content "$RUN_DIR/logs/kube-scheduler.log" | tail -n 40 || true
  fi
done
log "suite took $((SECONDS - t_start))s"
summary="$passed passed, $failed failed"  # printed last, after the control plane stopped (finish)
[[ $failed -eq 0 ]]
