#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the e2e tests: etcd, kube-apiserver and kube-scheduler
# (built by scripts/build-controlplane.sh), fake GPU nodes, no kubelet. See docs/e2e.md.
#
#   scripts/controlplane.sh start [--run-dir DIR] [--no-scheduler] [--layout BxRxN] [--training-operator]
#       Starts everything, then prints shell exports (eval them, or read DIR/env):
#         GANGSCHED_E2E_RUN_DIR, KUBECONFIG (admin, group system:masters), GANGSCHED_E2E_BIN, ...
#       The processes keep running after the script returns; stop them with `stop`.
#   scripts/controlplane.sh stop [--run-dir DIR]      stops what `start` started (pid files), keeps logs
#   scripts/controlplane.sh env  [--run-dir DIR]      prints the exports again
#   scripts/controlplane.sh status [--run-dir DIR]    which processes are alive
#   scripts/controlplane.sh restart-scheduler [--run-dir DIR]
#       stops kube-scheduler (if running) and starts it again with the same flags and port, its
#       config written anew (GANGSCHED_E2E_SCHEDULER_CONFIG, extender ports from the run's env);
#       waits for /healthz and for a new holder of the gang-scheduler Lease (benchmarks/e2e_throughput.py)
#   scripts/controlplane.sh run [start options] -- CMD [ARGS...]
#       start, run CMD with the exports in its environment, then stop (also on error or Ctrl-C);
#       exits with CMD's status; a run dir it made itself is removed after a passing CMD
#       (GANGSCHED_E2E_KEEP=1 keeps it).
#   The run dir defaults to $GANGSCHED_E2E_RUN_DIR, or for `start` a new /tmp/gangsched-e2e.XXXXXX.
#
# Environment:
#   GANGSCHED_CP_BIN          use these binaries instead of building/looking up the cache
#   GANGSCHED_E2E_LAYOUT      fake node layout BLOCKSxRACKSxNODES (default 1x2x2: 4 nodes, 2 racks)
#   GANGSCHED_E2E_TOPOLOGY    nvidia-smi topo -m matrix for the nodes' gangsched.io/gpu-topology annotation
#                             (default tests/fixtures/topology/hgx_h100_topo_m_gpu_rows.tsv, a copy of
#                             shared/data/topology/hgx_h100_topo_m_gpu_rows.tsv)
#   GANGSCHED_E2E_EXTENDER_PORT, GANGSCHED_E2E_BIND_PORT
#                             extender ports substituted into the shipped KubeSchedulerConfiguration
#                             (defaults 8888 and 8889, as shipped)
#   GANGSCHED_E2E_SCHEDULER_CONFIG  KubeSchedulerConfiguration to run (default
#                             manifests/base/kube-scheduler-config.yaml); only its kubeconfig path and the
#                             extender ports are substituted
#   GANGSCHED_E2E_SCHEDULER_V kube-scheduler log verbosity (default 2)
#   GANGSCHED_E2E_TRAINING_OPERATOR=1  same as --training-operator: apply the TFJob/PyTorchJob/MPIJob CRDs
#                             and run Kubeflow's training-operator v1 (built by scripts/build-controlplane.sh),
#                             which creates the pods of those jobs; no gang scheduler name, no webhooks
#   GANGSCHED_TRAINING_OPERATOR_DIR  use this training-operator (bin/training-operator, crds/) instead of
#                             scripts/build-controlplane.sh --training-operator
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$ROOT/tests/e2e/lib"

log() { echo "controlplane: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { sed -n '2,/^set -euo pipefail/{/^set /!p}' "$0" >&2; exit 2; }

CMD="${1:-}"; [[ -n "$CMD" ]] || usage; shift
RUN_DIR="${GANGSCHED_E2E_RUN_DIR:-}"
WITH_SCHEDULER=1
WITH_TRAINING_OPERATOR="${GANGSCHED_E2E_TRAINING_OPERATOR:-0}"
LAYOUT="${GANGSCHED_E2E_LAYOUT:-1x2x2}"
RUN_ARGV=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --run-dir) RUN_DIR="$2"; shift 2 ;;
    --no-scheduler) WITH_SCHEDULER=0; shift ;;
    --layout) LAYOUT="$2"; shift 2 ;;
    --training-operator) WITH_TRAINING_OPERATOR=1; shift ;;
    --) shift; RUN_ARGV=("$@"); break ;;
    -h|--help) usage ;;
    *) die "unknown argument $1" ;;
  esac
done

need_run_dir() {
  [[ -n "$RUN_DIR" ]] || die "no run dir: pass --run-dir DIR or set GANGSCHED_E2E_RUN_DIR"
  [[ -d "$RUN_DIR" ]] || die "run dir $RUN_DIR does not exist"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts a daemon in its own session; its pid goes to $RUN_DIR/pids/NAME.pid, output to logs/NAME.log.
spawn() {
  local name="$1"; shift
  setsid "$@" >"$RUN_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/pids/$name.pid"
}

alive() { local f="$RUN_DIR/pids/$1.pid"; [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null; }

# wait_until NAME SECONDS CMD...: polls CMD until it succeeds; fails early if the process NAME died.
wait_until() {
  local name="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      tail -n 30 "$RUN_DIR/logs/$name.log" >&2 || true
      die "$name exited during start-up (log: $RUN_DIR/logs/$name.log)"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$RUN_DIR/logs/$name.log" >&2 || true; die "$name not ready after ${secs}s"; }
    sleep 0.2
  done
}

stop_one() {
  local name="$1" f="$RUN_DIR/pids/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for 10s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

do_stop() {
  need_run_dir
  # Reverse start order: the training-operator and the scheduler first, etcd last (a client still
  # watching keeps kube-apiserver from exiting on SIGTERM).
  local name
  for name in training-operator kube-scheduler kube-apiserver etcd; do stop_one "$name"; done
  # Anything else a test registered in pids/ (extenders, gangsched) is stopped too.
  for f in "$RUN_DIR"/pids/*.pid; do [[ -e "$f" ]] && stop_one "$(basename "$f" .pid)"; done
  log "stopped the processes of $RUN_DIR"
}

print_env() {
  need_run_dir
  cat "$RUN_DIR/env"
}

gen_certs() {
  local d="$RUN_DIR/pki"
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=gangsched-e2e-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    cat >serving.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    cat >client.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
    issue() { # NAME SUBJECT EXTFILE
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$3" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr"
    }
    issue apiserver "/CN=kube-apiserver" serving.ext
    issue admin "/O=system:masters/CN=gangsched-e2e-admin" client.ext
    # kube-scheduler runs as the identity real clusters give it (bootstrap RBAC: system:kube-scheduler).
    issue scheduler "/CN=system:kube-scheduler" client.ext
    # Service-account token signing keys.
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
}

write_kubeconfig() { # FILE USER CERT KEY
  python3 - "$@" "$RUN_DIR/pki/ca.crt" "$APISERVER_URL" <<'EOF'
import json, sys
path, user, cert, key, ca, server = sys.argv[1:]
cfg = {
    "apiVersion": "v1", "kind": "Config", "preferences": {},
    "clusters": [{"name": "gangsched-e2e", "cluster": {"server": server, "certificate-authority": ca}}],
    "users": [{"name": user, "user": {"client-certificate": cert, "client-key": key}}],
    "contexts": [{"name": "gangsched-e2e", "context": {"cluster": "gangsched-e2e", "user": user}}],
    "current-context": "gangsched-e2e",
}
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
EOF
}

# The shipped KubeSchedulerConfiguration with only the kubeconfig path (and, if asked, the extender
# ports) substituted. Fails if the substitution did not apply, so a changed file cannot silently diverge.
write_scheduler_config() {
  local src="${GANGSCHED_E2E_SCHEDULER_CONFIG:-$ROOT/manifests/base/kube-scheduler-config.yaml}"
  local out="$RUN_DIR/kube-scheduler-config.yaml"
  python3 - "$src" "$out" "$RUN_DIR/scheduler.kubeconfig" "$EXTENDER_PORT" "$BIND_PORT" <<'EOF'
import re, sys
src, out, kubeconfig, ext_port, bind_port = sys.argv[1:]
text = open(src).read()
new, n = re.subn(r"(?m)^(\s*kubeconfig:\s*).*$", lambda m: m.group(1) + kubeconfig, text, count=1)
if n != 1:
    sys.exit(f"{src}: no clientConnection.kubeconfig line to substitute")
new = new.replace("http://127.0.0.1:8888", f"http://127.0.0.1:{ext_port}")
new = new.replace("http://127.0.0.1:8889", f"http://127.0.0.1:{bind_port}")
open(out, "w").write(new)
EOF
}

# Kubeflow's training-operator v1 (docs/e2e.md): its CRDs, then the manager with the admin kubeconfig,
# only the TFJob/PyTorchJob/MPIJob controllers, no gang scheduler (no PodGroups: the pods keep the
# schedulerName of their templates), no leader election, no metrics/probe/webhook listeners.
start_training_operator() {
  local bin="$1" dir="${GANGSCHED_TRAINING_OPERATOR_DIR:-}"
  if [[ -z "$dir" ]]; then dir="$("$ROOT/scripts/build-controlplane.sh" --training-operator | tail -n 1)"; fi
  [[ -x "$dir/bin/training-operator" ]] || die "missing $dir/bin/training-operator"
  [[ -x "$bin/kubectl" ]] || die "missing $bin/kubectl"
  local kubectl=("$bin/kubectl" --cache-dir "$RUN_DIR/kubectl-cache")
  # Server-side: the CRDs (about 550 KB each) exceed the client-side last-applied annotation limit.
  "${kubectl[@]}" apply --server-side -f "$dir/crds/" >&2
  # (Polled: `kubectl wait` fails outright while a new CRD has no status.conditions yet.)
  crds_established() {
    local c
    for c in tfjobs pytorchjobs mpijobs; do
      [[ "$("${kubectl[@]}" get crd "$c.kubeflow.org" \
        -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" == True ]] || return 1
    done
  }
  wait_until kube-apiserver 60 crds_established
  spawn training-operator "$dir/bin/training-operator" --kubeconfig "$RUN_DIR/admin.kubeconfig" \
    --enable-scheme=tfjob --enable-scheme=pytorchjob --enable-scheme=mpijob \
    --gang-scheduler-name= --leader-elect=false \
    --metrics-bind-address=0 --health-probe-bind-address=0 --monitoring-port=0 --zap-devel=false
  # Ready when all three controllers run their workers (the manager sets them up in a goroutine).
  to_workers() { [[ "$(grep -c '"msg":"Starting workers"' "$RUN_DIR/logs/training-operator.log")" -ge 3 ]]; }
  wait_until training-operator 60 to_workers
  log "training-operator: TFJob, PyTorchJob and MPIJob controllers running ($dir)"
}

# start_scheduler BIN PORT [OLD_HOLDER]: kube-scheduler with the config in the run dir; ready when
# /healthz answers and the gang-scheduler Lease has a holder (other than OLD_HOLDER: a restarted
# scheduler whose predecessor did not release the Lease takes it over after its lease duration).
start_scheduler() {
  local bin="$1" port="$2" old="${3:-}"
  spawn kube-scheduler "$bin/kube-scheduler" --config "$RUN_DIR/kube-scheduler-config.yaml" \
    --bind-address 127.0.0.1 --secure-port "$port" \
    --authentication-kubeconfig "$RUN_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$RUN_DIR/scheduler.kubeconfig" \
    --v "${GANGSCHED_E2E_SCHEDULER_V:-2}"
  wait_until kube-scheduler 120 curl -skf "https://127.0.0.1:$port/healthz"
  # Leader: the profile schedules nothing until it holds the gang-scheduler Lease.
  new_holder() { local h; h="$(python3 "$LIB/cp_setup.py" lease-holder gang-scheduler)" && [[ "$h" != "$old" ]]; }
  wait_until kube-scheduler 60 new_holder
}

# restart-scheduler: the bin dir, kubeconfig, ports and extender ports come from the run's env file.
do_restart_scheduler() {
  need_run_dir
  [[ -f "$RUN_DIR/env" ]] || die "$RUN_DIR/env missing: was the control plane started?"
  local bin port old
  bin="$(sed -n "s/^export GANGSCHED_E2E_BIN='\(.*\)'$/\1/p" "$RUN_DIR/env")"
  port="$(sed -n "s|^export GANGSCHED_E2E_SCHEDULER_HEALTHZ='https://127.0.0.1:\([0-9]*\)/healthz'$|\1|p" "$RUN_DIR/env")"
  EXTENDER_PORT="$(sed -n "s/^export GANGSCHED_E2E_EXTENDER_PORT='\(.*\)'$/\1/p" "$RUN_DIR/env")"
  BIND_PORT="$(sed -n "s/^export GANGSCHED_E2E_BIND_PORT='\(.*\)'$/\1/p" "$RUN_DIR/env")"
  [[ -n "$bin" && -n "$port" && -n "$EXTENDER_PORT" && -n "$BIND_PORT" ]] || die "$RUN_DIR/env lacks the bin dir or ports"
  export KUBECONFIG="$RUN_DIR/admin.kubeconfig"
  old="$(python3 "$LIB/cp_setup.py" lease-holder gang-scheduler || true)"
  stop_one kube-scheduler
  write_scheduler_config
  start_scheduler "$bin" "$port" "$old"
  log "kube-scheduler restarted (config ${GANGSCHED_E2E_SCHEDULER_CONFIG:-$ROOT/manifests/base/kube-scheduler-config.yaml})"
}

do_start() {
  if [[ -z "$RUN_DIR" ]]; then
    RUN_DIR="$(mktemp -d /tmp/gangsched-e2e.XXXXXX)"
  fi
  mkdir -p "$RUN_DIR"/{logs,pids}
  RUN_DIR="$(cd "$RUN_DIR" && pwd)"
  for f in "$RUN_DIR"/pids/*.pid; do
    [[ -e "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null && die "$RUN_DIR already runs $(basename "$f" .pid); stop it first"
  done
  # Partial start-up never leaves processes behind.
  trap 'rc=$?; if [[ $rc -ne 0 ]]; then log "start failed; stopping what was started"; do_stop || true; fi' EXIT
  trap 'exit 130' INT TERM

  local bin="${GANGSCHED_CP_BIN:-}"
  if [[ -z "$bin" ]]; then bin="$("$ROOT/scripts/build-controlplane.sh" | tail -n 1)"; fi
  local b
  for b in etcd kube-apiserver kube-scheduler; do [[ -x "$bin/$b" ]] || die "missing $bin/$b"; done

  EXTENDER_PORT="${GANGSCHED_E2E_EXTENDER_PORT:-8888}"
  BIND_PORT="${GANGSCHED_E2E_BIND_PORT:-8889}"
  local etcd_port etcd_peer_port api_port sched_port
  etcd_port="$(free_port)"; etcd_peer_port="$(free_port)"; api_port="$(free_port)"; sched_port="$(free_port)"
  APISERVER_URL="https://127.0.0.1:$api_port"
  local t0=$SECONDS

  gen_certs
  log "run dir $RUN_DIR; etcd :$etcd_port, kube-apiserver :$api_port, kube-scheduler :$sched_port"

  spawn etcd "$bin/etcd" --name gangsched-e2e --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "gangsched-e2e=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level warn
  wait_until etcd 60 curl -sf "http://127.0.0.1:$etcd_port/health"

  local pki="$RUN_DIR/pki"
  spawn kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --secure-port "$api_port" \
    --cert-dir "$RUN_DIR/apiserver-certs" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --requestheader-client-ca-file "$pki/ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --authorization-mode RBAC \
    --service-cluster-ip-range 10.0.0.0/24 \
    --service-account-issuer "https://kubernetes.default.svc.cluster.local" \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --disable-admission-plugins ServiceAccount \
    --allow-privileged=true \
    --endpoint-reconciler-type none \
    --profiling=false
  local curl_admin=(curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
  wait_until kube-apiserver 180 "${curl_admin[@]}" "$APISERVER_URL/readyz"

  write_kubeconfig "$RUN_DIR/admin.kubeconfig" gangsched-e2e-admin "$pki/admin.crt" "$pki/admin.key"
  write_kubeconfig "$RUN_DIR/scheduler.kubeconfig" system:kube-scheduler "$pki/scheduler.crt" "$pki/scheduler.key"
  export KUBECONFIG="$RUN_DIR/admin.kubeconfig"

  # The bootstrap system:kube-scheduler role may get/update only the Lease named kube-scheduler; the
  # gang-scheduler profile elects on its own Lease, so grant exactly that one.
  python3 "$LIB/cp_setup.py" lease-rbac

  local topology="${GANGSCHED_E2E_TOPOLOGY:-$ROOT/tests/fixtures/topology/hgx_h100_topo_m_gpu_rows.tsv}"
  local nodes
  nodes="$(python3 "$LIB/fake_nodes.py" --layout "$LAYOUT" --topology "$topology")"
  log "fake GPU nodes: $nodes"

  write_scheduler_config
  if [[ "$WITH_SCHEDULER" == 1 ]]; then start_scheduler "$bin" "$sched_port"; fi

  if [[ "$WITH_TRAINING_OPERATOR" == 1 ]]; then start_training_operator "$bin"; fi

  cat >"$RUN_DIR/env" <<EOF
export GANGSCHED_E2E_RUN_DIR='$RUN_DIR'
export KUBECONFIG='$RUN_DIR/admin.kubeconfig'
export GANGSCHED_E2E_BIN='$bin'
export GANGSCHED_E2E_APISERVER='$APISERVER_URL'
export GANGSCHED_E2E_SCHEDULER_KUBECONFIG='$RUN_DIR/scheduler.kubeconfig'
export GANGSCHED_E2E_SCHEDULER_HEALTHZ='https://127.0.0.1:$sched_port/healthz'
export GANGSCHED_E2E_EXTENDER_PORT='$EXTENDER_PORT'
export GANGSCHED_E2E_BIND_PORT='$BIND_PORT'
export GANGSCHED_E2E_NODES='$nodes'
export GANGSCHED_E2E_TRAINING_OPERATOR='$WITH_TRAINING_OPERATOR'
EOF
  trap - EXIT INT TERM
  log "ready in $((SECONDS - t0))s"
  print_env
}

case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  env) print_env ;;
  restart-scheduler) do_restart_scheduler ;;
  status)
    need_run_dir
    for f in "$RUN_DIR"/pids/*.pid; do
      [[ -e "$f" ]] || continue
      n="$(basename "$f" .pid)"
      if alive "$n"; then echo "$n running (pid $(cat "$f"))"; else echo "$n dead"; fi
    done ;;
  run)
    [[ ${#RUN_ARGV[@]} -gt 0 ]] || die "run needs -- CMD"
    own_dir=0; [[ -z "$RUN_DIR" ]] && own_dir=1
    envfile="$(do_start)"
    eval "$envfile"
    RUN_DIR="$GANGSCHED_E2E_RUN_DIR"
    rc=1
    # A run dir this command made is removed after a passing CMD unless GANGSCHED_E2E_KEEP=1.
    finish_run() {
      do_stop
      if [[ $own_dir == 1 && $rc == 0 && "${GANGSCHED_E2E_KEEP:-0}" != 1 ]]; then rm -rf "$RUN_DIR"
      else log "run dir kept: $RUN_DIR"; fi
    }
    trap finish_run EXIT
    trap 'exit 130' INT TERM
    set +e
    "${RUN_ARGV[@]}"
    rc=$?
    set -e
    exit "$rc" ;;
  *) usage ;;
esac
