"""The pods Kubeflow's training-operator creates for a TFJob / PyTorchJob (Python 3.11 stdlib only).

Used when the e2e runs without the real operator: the pods carry what training-operator v1 gives them
(kubeflow/common pkg/apis/common/v1/constants.go and the job controllers):
  name         <job>-<replica type, lower case>-<index>
  labels       training.kubeflow.org/job-name, .../operator-name (tfjob-controller), .../replica-type
               (lower case), .../replica-index, .../job-role=master on the chief/master
  owner        the job (controller: true, blockOwnerDeletion: true)
  spec         the replica's template spec (schedulerName, tolerations, containers, resources)
"""

from __future__ import annotations

import copy
from typing import Any

SPEC_KEYS = {"TFJob": "tfReplicaSpecs", "PyTorchJob": "pytorchReplicaSpecs"}
OPERATORS = {"TFJob": "tfjob-controller", "PyTorchJob": "pytorchjob-controller"}


def operator_pods(job: dict[str, Any], uid: str) -> list[dict[str, Any]]:
    """Every pod of `job` (a kubeflow.org/v1 job object; `uid` its metadata.uid on the server)."""
    kind = job["kind"]
    meta = job["metadata"]
    pods = []
    for rtype, replica in job["spec"][SPEC_KEYS[kind]].items():
        for index in range(int(replica.get("replicas", 1))):
            template = copy.deepcopy(replica["template"])
            labels = dict(template.get("metadata", {}).get("labels", {}))
            labels.update({
                "training.kubeflow.org/job-name": meta["name"],
                "training.kubeflow.org/operator-name": OPERATORS[kind],
                "training.kubeflow.org/replica-type": rtype.lower(),
                "training.kubeflow.org/replica-index": str(index),
            })
            if rtype.lower() in ("master", "chief"):
                labels["training.kubeflow.org/job-role"] = "master"
            spec = template["spec"]
            spec.setdefault("terminationGracePeriodSeconds", 0)
            pods.append({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{meta['name']}-{rtype.lower()}-{index}",
                    "namespace": meta["namespace"],
                    "labels": labels,
                    "annotations": dict(template.get("metadata", {}).get("annotations", {})),
                    "ownerReferences": [{
                        "apiVersion": job["apiVersion"], "kind": kind, "name": meta["name"],
                        "uid": uid, "controller": True, "blockOwnerDeletion": True,
                    }],
                },
                "spec": spec,
            })
    return pods
