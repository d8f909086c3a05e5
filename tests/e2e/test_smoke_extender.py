#!/usr/bin/env python3
"""Smoke test: the real kube-scheduler, run with the shipped KubeSchedulerConfiguration, calls an extender
on the verb listener (filter, prioritize) and on the bind listener (bind), and the extender's Binding
lands in the API server. Python 3.11 standard library only.

Runs against a control plane started by scripts/controlplane.sh (environment from its `env`;
tests/e2e/run.sh sets it up) and starts tests/e2e/lib/logging_extender.py on the configured extender
ports for its duration.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import Checks  # noqa: E402
from extenders import logging_extender, read_log  # noqa: E402
from kubeapi import ApiError, Kube, wait_for  # noqa: E402
from pod_builder import gpu_pod  # noqa: E402

NS = "default"
LABELS = {"app": "gangsched-e2e-smoke"}


def entries_for(log: list[dict], pod: str) -> list[dict]:
    return [e for e in log if e.get("pod") == pod]


def main() -> int:
    with logging_extender("smoke-extender") as log_path:
        return run(log_path)


def run(log_path: str) -> int:
    kube = Kube()
    capture_dir = os.environ.get("GANGSCHED_E2E_CAPTURE_DIR")
    nodes = set(os.environ["GANGSCHED_E2E_NODES"].split())
    checks = Checks("smoke_extender")
    check = checks.check

    name = f"smoke-{uuid.uuid4().hex[:8]}"
    key = f"{NS}/{name}"
    t0 = time.monotonic()
    kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(NS, name, 2, cpu="1", memory="1Gi", labels=LABELS))
    try:
        pod = wait_for(f"pod {key} bound",
                       lambda: (p := kube.get(f"/api/v1/namespaces/{NS}/pods/{name}"))["spec"].get("nodeName") and p,
                       timeout=60)
        node = pod["spec"]["nodeName"]
        print(f"  pod {key} bound to {node} after {time.monotonic() - t0:.2f}s", flush=True)
        check(node in nodes, f"bound to one of the fake GPU nodes ({node})")
        conds = {c["type"]: c for c in pod.get("status", {}).get("conditions", [])}
        check(conds.get("PodScheduled", {}).get("status") == "True", "PodScheduled=True set by the binding")

        # The extender's log is written before it replies, and the bind reply comes before
        # kube-scheduler's Scheduled event, so by now every call is logged.
        log = entries_for(read_log(log_path), key)
        verbs = [(e["listener"], e["verb"]) for e in log]
        print(f"  extender calls for {key}: {verbs}", flush=True)
        filt = [e for e in log if e["verb"] == "filter"]
        check(any(e["listener"] == "main" for e in filt), "filter called on the verb listener")
        check(all(set(e["nodes"]) <= nodes for e in filt) and any(set(e["nodes"]) == nodes for e in filt),
              "filter offered all fake nodes by name (nodeCacheCapable, percentageOfNodesToScore 100)")
        check(any(e["listener"] == "main" and e["verb"] == "prioritize" for e in log),
              "prioritize called on the verb listener")
        binds = [e for e in log if e["verb"] == "bind"]
        check(len(binds) == 1 and binds[0]["listener"] == "bind",
              "bind called exactly once, on the bind listener")
        check(bool(binds) and binds[0]["nodes"] == [node] and not binds[0].get("error"),
              "the extender's Binding put the pod on the node kube-scheduler chose")

        # kube-scheduler reports the extender bind as a normal successful scheduling.
        def scheduled_event():
            evs = kube.get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
                           fieldSelector=f"regarding.name={name}")["items"]
            return [e for e in evs if e.get("reason") == "Scheduled"]
        try:
            evs = wait_for("Scheduled event", scheduled_event, timeout=20)
            check(evs[0].get("reportingController") == "gang-scheduler",
                  f"Scheduled event from the gang-scheduler profile ({evs[0].get('note', '')})")
        except TimeoutError as e:
            check(False, str(e))

        if capture_dir:
            for verb in ("filter", "prioritize", "bind"):
                path = os.path.join(capture_dir, f"{verb}-request.json")
                check(os.path.exists(path), f"captured {verb} request in {path}")
            with open(os.path.join(capture_dir, "filter-request.json"), "rb") as f:
                filt_req = json.loads(f.read())
            check(filt_req.get("Nodes") is None and isinstance(filt_req.get("NodeNames"), list),
                  "captured filter request carries NodeNames and a null Nodes")
            with open(os.path.join(capture_dir, "bind-request.json"), "rb") as f:
                bind_req = json.loads(f.read())
            check(sorted(bind_req) == ["Node", "PodName", "PodNamespace", "PodUID"],
                  f"captured bind request has exactly PodName/PodNamespace/PodUID/Node ({sorted(bind_req)})")
    finally:
        kube.force_delete_pod(NS, name)

    # Without a kubelet a bound pod goes only by force deletion (grace period 0).
    try:
        wait_for(f"pod {key} deleted", lambda: not kube.exists(f"/api/v1/namespaces/{NS}/pods/{name}"),
                 timeout=30)
        check(True, "bound pod removed by force deletion")
    except TimeoutError as e:
        check(False, str(e))

    # A pod no node can hold is never bound and never reaches the bind listener.
    big = f"smoke-big-{uuid.uuid4().hex[:8]}"
    kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(NS, big, 9, cpu="1", memory="1Gi", labels=LABELS))
    try:
        def failed_scheduling():
            pod = kube.get(f"/api/v1/namespaces/{NS}/pods/{big}")
            conds = {c["type"]: c for c in pod.get("status", {}).get("conditions", [])}
            c = conds.get("PodScheduled")
            return c if c and c.get("status") == "False" and c.get("reason") == "Unschedulable" else None
        cond = wait_for(f"pod {NS}/{big} reported Unschedulable", failed_scheduling, timeout=30)
        check(True, f"9-GPU pod Unschedulable: {cond.get('message', '')}")
        pod = kube.get(f"/api/v1/namespaces/{NS}/pods/{big}")
        check(not pod["spec"].get("nodeName"), "9-GPU pod not bound")
        check(not [e for e in read_log(log_path) if e.get("pod") == f"{NS}/{big}" and e["verb"] == "bind"],
              "no bind call for the 9-GPU pod")
    except ApiError as e:
        check(False, f"API error: {e}")
    except TimeoutError as e:
        check(False, str(e))
    finally:
        kube.force_delete_pod(NS, big)

    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
