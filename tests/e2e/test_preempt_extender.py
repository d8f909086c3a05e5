#!/usr/bin/env python3
"""Preemption through the extender: with every fake GPU node full of low-priority 8-GPU pods, a
high-priority 8-GPU pod makes kube-scheduler's DefaultPreemption call the extender's preempt verb on the
verb listener (nodeCacheCapable: victims as UIDs in NodeNameToMetaVictims); kube-scheduler then deletes the
victim, nominates the node, and the pod ends bound through the bind listener. Python 3.11 stdlib only.

Same environment as test_smoke_extender.py (tests/e2e/run.sh sets it up); runs its own
tests/e2e/lib/logging_extender.py.
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
HIGH = "gangsched-e2e-high"
LABELS = {"app": "gangsched-e2e-preempt"}


def main() -> int:
    with logging_extender("preempt-extender") as log_path:
        return run(log_path)


def run(log_path: str) -> int:
    kube = Kube()
    capture_dir = os.environ.get("GANGSCHED_E2E_CAPTURE_DIR")
    nodes = sorted(os.environ["GANGSCHED_E2E_NODES"].split())
    checks = Checks("preempt_extender")
    check = checks.check

    try:
        kube.create("/apis/scheduling.k8s.io/v1/priorityclasses", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": HIGH}, "value": 1000, "preemptionPolicy": "PreemptLowerPriority",
            "description": "gangsched e2e: a pod that preempts",
        })
    except ApiError as e:
        if e.status != 409:
            raise

    run = uuid.uuid4().hex[:6]
    low = [f"low-{run}-{i}" for i in range(len(nodes))]
    high = f"high-{run}"
    created = list(low)
    try:
        for name in low:
            kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(NS, name, 8, cpu="1", memory="1Gi", labels=LABELS))

        def all_bound():
            placed = {}
            for name in low:
                node = kube.get(f"/api/v1/namespaces/{NS}/pods/{name}")["spec"].get("nodeName")
                if not node:
                    return None
                placed[name] = node
            return placed
        placed = wait_for("low-priority pods bound", all_bound, timeout=60)
        check(sorted(placed.values()) == nodes, "one 8-GPU low-priority pod on each fake node")

        created.append(high)
        t0 = time.monotonic()
        kube.create(f"/api/v1/namespaces/{NS}/pods",
                    gpu_pod(NS, high, 8, cpu="1", memory="1Gi", labels=LABELS, priority_class=HIGH))

        # Without a kubelet a victim that kube-scheduler deleted gracefully would stay Terminating (its
        # grace period is 0 here, so the API server removes it at once; force-delete any left over).
        def high_bound():
            for name in low:
                try:
                    p = kube.get(f"/api/v1/namespaces/{NS}/pods/{name}")
                except ApiError as e:
                    if e.status == 404:
                        continue
                    raise
                if p["metadata"].get("deletionTimestamp"):
                    kube.force_delete_pod(NS, name)
            return kube.get(f"/api/v1/namespaces/{NS}/pods/{high}")["spec"].get("nodeName")
        node = wait_for(f"pod {NS}/{high} bound after preemption", high_bound, timeout=90)
        print(f"  {NS}/{high} bound to {node} after {time.monotonic() - t0:.2f}s", flush=True)

        # The extender logs a bind after it has posted the Binding, so the pod can be seen bound a
        # moment before its bind call is in the log: wait for the entry, not only for the pod.
        def logged_bind():
            entries = [e for e in read_log(log_path) if e.get("pod") == f"{NS}/{high}"]
            return entries if any(e["verb"] == "bind" for e in entries) else None

        try:
            log = wait_for(f"the bind call of {NS}/{high} in the extender's log", logged_bind,
                           timeout=10)
        except TimeoutError:
            log = [e for e in read_log(log_path) if e.get("pod") == f"{NS}/{high}"]
        calls = [(e["listener"], e["verb"], len(e.get("nodes", []))) for e in log]
        print(f"  extender calls for {NS}/{high}: {calls}", flush=True)
        pre = [e for e in log if e["verb"] == "preempt"]
        check(bool(pre) and all(e["listener"] == "main" for e in pre), "preempt called on the verb listener")
        check(bool(pre) and sorted(pre[0]["nodes"]) == nodes,
              "preempt offered every full node as a candidate")
        gone = [n for n in low if not kube.exists(f"/api/v1/namespaces/{NS}/pods/{n}")]
        victims_on_node = [n for n in low if placed[n] == node]
        check(gone == victims_on_node, f"exactly the victim on {node} was deleted ({gone})")
        binds = [e for e in log if e["verb"] == "bind"]
        check(len(binds) == 1 and binds[0]["listener"] == "bind" and binds[0]["nodes"] == [node],
              "high-priority pod bound through the bind listener")
        if capture_dir:
            path = os.path.join(capture_dir, "preempt-request.json")
            check(os.path.exists(path), f"captured preempt request in {path}")
            with open(path, "rb") as f:
                req = json.loads(f.read())
            meta = req.get("NodeNameToMetaVictims") or {}
            check(req.get("NodeNameToVictims") is None and sorted(meta) == nodes and
                  all(len(v["Pods"]) == 1 and set(v["Pods"][0]) == {"UID"} for v in meta.values()),
                  "captured preempt request: victims by UID only (nodeCacheCapable)")
    finally:
        for name in created:
            kube.force_delete_pod(NS, name)
        try:
            kube.delete(f"/apis/scheduling.k8s.io/v1/priorityclasses/{HIGH}")
        except ApiError:
            pass

    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
