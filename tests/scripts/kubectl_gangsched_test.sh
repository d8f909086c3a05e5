#!/bin/bash
# scripts/kubectl-gangsched (the kubectl plugin) without a cluster: KUBECTL is a stand-in whose
# `port-forward` serves canned ops views on a free port and prints kubectl's "Forwarding from" line,
# or fails as kubectl does without a context. Usage: kubectl_gangsched_test.sh PLUGIN GANGSCHED_BIN
set -u
plugin=$1
export GANGSCHED_BIN=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

# --server goes straight to gangsched: nothing listens there, so its error and exit code 3.
out=$("$plugin" get gangs --server http://127.0.0.1:1 2>&1)
code=$?
[[ $code == 3 ]] || fail "--server to a closed port: exit $code, not 3: $out"
[[ $out == *"cannot reach gangsched at http://127.0.0.1:1"* ]] || fail "no reach error: $out"

# Without --server it port-forwards; a kubectl that cannot is reported with kubectl's own words.
cat >"$work/kubectl-broken" <<'STUB'
#!/bin/bash
echo 'error: context "nope" does not exist' >&2
exit 1
STUB
chmod +x "$work/kubectl-broken"
out=$(KUBECTL=$work/kubectl-broken "$plugin" explain ml/bert 2>&1)
code=$?
[[ $code == 3 ]] || fail "broken port-forward: exit $code, not 3: $out"
[[ $out == *"port-forward -n gangsched-system deployment/gang-scheduler failed"* ]] ||
  fail "no port-forward error: $out"
[[ $out == *'context "nope" does not exist'* ]] || fail "kubectl's error not shown: $out"

# A port-forward that works: the stand-in checks its arguments, listens, then prints the line.
mkdir -p "$work/views/api/v1"
echo '{"gangs":[{"namespace":"ml","name":"bert","kind":"TFJob kubeflow.org/v1","phase":"Waiting",
  "quorum":4,"members_seen":4,"members_bound":0,"plan":null,"reason":"gang ml/bert waits"}]}' \
  >"$work/views/api/v1/gangs"
cat >"$work/kubectl" <<STUB
#!/bin/bash
[[ "\$*" == "port-forward -n gangsched-system deployment/gang-scheduler :9464" ]] ||
  { echo "unexpected kubectl \$*" >&2; exit 1; }
cd "$work/views"
exec python3 -c '
import http.server
server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
print(f"Forwarding from 127.0.0.1:{server.server_port} -> 9464", flush=True)
server.serve_forever()'
STUB
chmod +x "$work/kubectl"
out=$(KUBECTL=$work/kubectl "$plugin" get gangs 2>"$work/err")
code=$?
[[ $code == 0 ]] || fail "get gangs through the port-forward: exit $code: $(cat "$work/err")"
expected="NAMESPACE  NAME  KIND   PHASE    PODS  BOUND  SPAN  REASON
ml         bert  TFJob  Waiting  4/4   0      -     gang ml/bert waits"
[[ $out == "$expected" ]] || fail "get gangs printed: $out"
echo "kubectl-gangsched: ok"
