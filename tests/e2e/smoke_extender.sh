#!/usr/bin/env bash
# Smoke test alone: a real kube-scheduler, run with manifests/base/kube-scheduler-config.yaml, calls the
# extender on the verb listener (127.0.0.1:8888) and the bind listener (127.0.0.1:8889), and a pod with
# schedulerName gang-scheduler ends bound. Starts and stops its own control plane (tests/e2e/run.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" smoke_extender "$@"
