"""The pods the e2e tests create (Python 3.11 standard library only): one container `train` with an
image that is never pulled (no kubelet runs here), `nvidia.com/gpu` as a limit (an extended resource
needs no request), a grace period of 0 (a bound pod goes only by force deletion), and whatever makes
it a gang member or puts it somewhere:

    gpu_pod("default", "smoke-1", 2, cpu="1", memory="1Gi", labels={"app": "gangsched-e2e-smoke"})
    gpu_pod(NS, "big-0", 8, gang="big", min_members=5)                   # a gang member
    gpu_pod(NS, "other-n1", 8, node="gpu-b1-r1-n1", scheduler=None)      # placed by another scheduler
"""

from __future__ import annotations

from typing import Any, Iterable

IMAGE = "registry.invalid/gangsched/e2e-pause:never-pulled"
SCHEDULER = "gang-scheduler"  # the profile of the shipped KubeSchedulerConfiguration
# The fake GPU nodes' taint is gangsched.io/gpu=true:NoSchedule (lib/fake_nodes.py).
TOLERATE_GPU = {"key": "gangsched.io/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
TOLERATE_GPU_ANY_VALUE = {"key": "gangsched.io/gpu", "operator": "Exists", "effect": "NoSchedule"}


def gpu_pod(namespace: str, name: str, gpus: int, *,
            cpu: str | None = None, memory: str | None = None, cpu_memory_in: str = "limits",
            labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
            gang: str | None = None, min_members: int | None = None,
            scheduler: str | None = SCHEDULER, tolerations: Iterable[dict[str, str]] = (TOLERATE_GPU,),
            priority_class: str | None = None, gates: Iterable[str] = (),
            node: str | None = None, node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    """A v1 Pod manifest asking for `gpus` GPUs.

    cpu, memory      go into limits (requests default to them), or with cpu_memory_in="requests" into
                     requests only; left out when None
    labels, annotations
                     metadata as given (left out when empty)
    gang, min_members
                     the gangsched.io/gang and gangsched.io/min-members annotations
    scheduler        spec.schedulerName; None leaves it to the default scheduler
    tolerations      default: the fake GPU nodes' taint with its value
    priority_class   spec.priorityClassName
    gates            spec.schedulingGates, by name
    node             spec.nodeName: the pod is created bound, as if a scheduler had placed it
    node_selector    spec.nodeSelector
    """
    if cpu_memory_in not in ("limits", "requests"):
        raise ValueError(f"cpu_memory_in must be 'limits' or 'requests' (got {cpu_memory_in!r})")
    cpu_memory = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    resources: dict[str, dict[str, str]] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    if cpu_memory:
        resources.setdefault(cpu_memory_in, {}).update(cpu_memory)

    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    notes = dict(annotations or {})
    if gang is not None:
        notes["gangsched.io/gang"] = gang
    if min_members is not None:
        notes["gangsched.io/min-members"] = str(min_members)
    if notes:
        meta["annotations"] = notes

    spec: dict[str, Any] = {
        "tolerations": [dict(t) for t in tolerations],
        "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "train", "image": IMAGE, "resources": resources}],
    }
    if scheduler is not None:
        spec["schedulerName"] = scheduler
    if priority_class is not None:
        spec["priorityClassName"] = priority_class
    if gates:
        spec["schedulingGates"] = [{"name": g} for g in gates]
    if node is not None:
        spec["nodeName"] = node
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
