#!/usr/bin/env python3
"""Kubeflow's real training-operator (v1.7.0, started by scripts/controlplane.sh --training-operator)
creates the pods of a TFJob: the shipped manifests/examples/tfjob-v1-mycnnjob.yaml (2 PS + 4 workers),
in a namespace of its own, becomes six pods `mycnnjob-<type>-<i>` with the `training.kubeflow.org/*`
labels, the TFJob as controller owner, the template's schedulerName and tolerations and TF_CONFIG,
plus one headless Service per pod. No extender runs during this test, so the pods stay unbound; the
test deletes the job, then the pods and Services (no garbage collector runs here). Python 3.11 standard
library only; the YAML is turned into JSON by `kubectl create --dry-run=client -o json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import Checks  # noqa: E402
from kubeapi import ApiError, Kube, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "manifests", "examples", "tfjob-v1-mycnnjob.yaml")
NS = "e2e-training-operator"
JOB = "mycnnjob"
JOBS = f"/apis/kubeflow.org/v1/namespaces/{NS}/tfjobs"
SELECTOR = f"training.kubeflow.org/job-name={JOB}"


def load_example() -> dict:
    out = subprocess.run(
        [os.path.join(os.environ["GANGSCHED_E2E_BIN"], "kubectl"), "create", "--dry-run=client",
         "-o", "json", "-f", EXAMPLE],
        check=True, capture_output=True, text=True).stdout
    job = json.loads(out)
    job["metadata"]["namespace"] = NS
    return job


def cleanup(kube: Kube) -> None:
    # The job first, so the operator does not recreate what goes next. Background propagation (the
    # default): a Foreground delete would wait forever for a garbage collector that does not run here.
    try:
        kube.delete(f"{JOBS}/{JOB}")
    except ApiError as e:
        if e.status != 404:
            raise
    wait_for("the TFJob to be gone", lambda: not kube.exists(f"{JOBS}/{JOB}"), 30)
    grace0 = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
    kube.delete(f"/api/v1/namespaces/{NS}/pods", grace0, labelSelector=SELECTOR)
    for svc in kube.get(f"/api/v1/namespaces/{NS}/services", labelSelector=SELECTOR)["items"]:
        kube.delete(f"/api/v1/namespaces/{NS}/services/{svc['metadata']['name']}")
    wait_for("the job's pods to be gone",
             lambda: not kube.get(f"/api/v1/namespaces/{NS}/pods", labelSelector=SELECTOR)["items"], 30)


def main() -> int:
    if os.environ.get("GANGSCHED_E2E_TRAINING_OPERATOR") != "1":
        print("training_operator: skipped (the control plane runs without --training-operator)", flush=True)
        return 0
    kube = Kube()
    checks = Checks("training_operator")
    check = checks.check

    try:
        kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    except ApiError as e:
        if e.status != 409:
            raise
    cleanup(kube)  # leftovers of an interrupted run
    example = load_example()
    try:
        job = kube.create(JOBS, example)
        uid = job["metadata"]["uid"]
        expected = {f"{JOB}-ps-{i}": ("ps", i) for i in range(2)}
        expected.update({f"{JOB}-worker-{i}": ("worker", i) for i in range(4)})

        def all_pods() -> list[dict] | None:
            items = kube.get(f"/api/v1/namespaces/{NS}/pods", labelSelector=SELECTOR)["items"]
            return items if len(items) >= len(expected) else None

        pods = {p["metadata"]["name"]: p for p in wait_for("the operator to create 6 pods", all_pods, 60)}
        check(set(pods) == set(expected), f"pods {sorted(pods)} are {JOB}-ps-0..1 and {JOB}-worker-0..3")
        templates = {rt.lower(): spec["template"]["spec"]
                     for rt, spec in example["spec"]["tfReplicaSpecs"].items()}
        for name, (rtype, index) in sorted(expected.items()):
            pod = pods.get(name)
            if pod is None:
                continue
            meta, spec = pod["metadata"], pod["spec"]
            want_labels = {
                "training.kubeflow.org/job-name": JOB,
                "training.kubeflow.org/operator-name": "tfjob-controller",
                "training.kubeflow.org/replica-type": rtype,
                "training.kubeflow.org/replica-index": str(index),
            }
            # No Chief/Master replica: worker 0 is the chief, and only it carries job-role=master.
            if (rtype, index) == ("worker", 0):
                want_labels["training.kubeflow.org/job-role"] = "master"
            check(meta.get("labels") == want_labels, f"{name}: labels {meta.get('labels')}")
            check(meta.get("ownerReferences") == [{
                "apiVersion": "kubeflow.org/v1", "kind": "TFJob", "name": JOB, "uid": uid,
                "controller": True, "blockOwnerDeletion": True}],
                f"{name}: owned by TFJob {JOB} (controller, blockOwnerDeletion)")
            template = templates[rtype]
            check(spec.get("schedulerName") == "gang-scheduler", f"{name}: schedulerName gang-scheduler")
            check(all(t in spec.get("tolerations", []) for t in template["tolerations"]),
                  f"{name}: the template's GPU toleration")
            check(spec.get("restartPolicy") == "OnFailure", f"{name}: restartPolicy from the replica spec")
            container = spec["containers"][0]
            want_limits = template["containers"][0]["resources"].get("limits", {})
            check(all(container["resources"].get("limits", {}).get(k) == str(v) for k, v in want_limits.items()),
                  f"{name}: limits {want_limits}")
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            tf_config = json.loads(env.get("TF_CONFIG", "{}"))
            check(tf_config.get("task") == {"type": rtype, "index": index}
                  and len(tf_config.get("cluster", {}).get("worker", [])) == 4
                  and len(tf_config.get("cluster", {}).get("ps", [])) == 2,
                  f"{name}: TF_CONFIG task {tf_config.get('task')}, 2 ps + 4 workers")
            check(not spec.get("nodeName"), f"{name}: unbound (no extender runs in this test)")

        def services() -> list[dict] | None:
            items = kube.get(f"/api/v1/namespaces/{NS}/services", labelSelector=SELECTOR)["items"]
            return items if len(items) >= len(expected) else None

        svcs = wait_for("the operator to create 6 Services", services, 30)
        check(sorted(s["metadata"]["name"] for s in svcs) == sorted(expected)
              and all(s["spec"].get("clusterIP") == "None" for s in svcs),
              "one headless Service per pod, named like it")
        status = kube.get(f"{JOBS}/{JOB}").get("status", {})
        check(any(c.get("type") == "Created" and c.get("status") == "True" for c in status.get("conditions", [])),
              "TFJob condition Created=True")
    finally:
        cleanup(kube)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
