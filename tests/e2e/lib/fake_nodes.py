#!/usr/bin/env python3
"""Creates fake GPU nodes in a kubelet-less test cluster (Python 3.11 standard library only).

Nodes are created WITH status (the API server accepts every field, status included, on create —
pkg/registry/core/node/strategy.go): nvidia.com/gpu capacity/allocatable, cpu, memory, pods, and a
Ready=True condition. No node lifecycle controller runs in the e2e control plane, so nothing ever marks
them NotReady or adds the unreachable taints, and kube-scheduler (which filters on taints, not on the
Ready condition) considers them. The not-ready taint that the TaintNodesByCondition admission plugin puts
on every new node is removed right after create (nothing else would remove it without a kubelet). Each node carries:
  labels       gangsched.io/block, gangsched.io/rack, nvidia.com/gpu.product, nvidia.com/gpu.count,
               kubernetes.io/hostname/os/arch
  annotation   gangsched.io/gpu-topology: the `nvidia-smi topo -m` matrix read from --topology
  taint        gangsched.io/gpu=true:NoSchedule (gang pods carry the toleration)

Names: <prefix>-b<block>-r<rack>-n<node>, racks labelled b<block>-r<rack> (as manifests/examples/cluster.yaml).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubeapi import ApiError, Kube  # noqa: E402


def build_nodes(
    layout: str, gpus: int, topology: str, product: str, prefix: str, cpu: str, memory: str
) -> list[dict]:
    try:
        blocks, racks, nodes = (int(x) for x in layout.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--layout must be BLOCKSxRACKSxNODES, e.g. 1x2x2 (got {layout!r})")
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for b in range(1, blocks + 1):
        for r in range(1, racks + 1):
            for n in range(1, nodes + 1):
                name = f"{prefix}-b{b}-r{r}-n{n}"
                resources = {"cpu": cpu, "memory": memory, "pods": "110", "nvidia.com/gpu": str(gpus)}
                conditions = [
                    {"type": t, "status": "False", "reason": f"Kubelet{reason}",
                     "message": "fake node (gangsched e2e)", "lastHeartbeatTime": now,
                     "lastTransitionTime": now}
                    for t, reason in (("MemoryPressure", "HasSufficientMemory"),
                                      ("DiskPressure", "HasNoDiskPressure"),
                                      ("PIDPressure", "HasSufficientPID"))
                ]
                conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "fake node (gangsched e2e): no kubelet",
                                   "lastHeartbeatTime": now, "lastTransitionTime": now})
                out.append({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "labels": {
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "gangsched.io/block": f"b{b}",
                            "gangsched.io/rack": f"b{b}-r{r}",
                            "nvidia.com/gpu.product": product,
                            "nvidia.com/gpu.count": str(gpus),
                            "gangsched.io/fake-node": "true",
                        },
                        "annotations": {"gangsched.io/gpu-topology": topology},
                    },
                    "spec": {"taints": [{"key": "gangsched.io/gpu", "value": "true",
                                         "effect": "NoSchedule"}]},
                    "status": {
                        "capacity": dict(resources),
                        "allocatable": dict(resources),
                        "conditions": conditions,
                        "addresses": [{"type": "Hostname", "address": name}],
                        "nodeInfo": {
                            "architecture": "amd64", "operatingSystem": "linux",
                            "kubeletVersion": "fake", "kubeProxyVersion": "", "osImage": "fake",
                            "kernelVersion": "fake", "containerRuntimeVersion": "fake://0",
                            "machineID": "", "systemUUID": "", "bootID": "",
                        },
                    },
                })
    return out


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    default_topo = os.path.normpath(os.path.join(here, "..", "..", "fixtures", "topology",
                                                 "hgx_h100_topo_m_gpu_rows.tsv"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    ap.add_argument("--layout", default="1x2x2", help="BLOCKSxRACKSxNODES (default 1x2x2)")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--topology", default=default_topo, help="nvidia-smi topo -m matrix file")
    ap.add_argument("--product", default="NVIDIA-H100-80GB-HBM3")
    ap.add_argument("--prefix", default="gpu")
    ap.add_argument("--cpu", default="96")
    ap.add_argument("--memory", default="1000Gi")
    ap.add_argument("--print", action="store_true", help="print the NodeList as JSON, create nothing")
    args = ap.parse_args()

    with open(args.topology, encoding="utf-8") as f:
        topology = f.read()
    nodes = build_nodes(args.layout, args.gpus, topology, args.product, args.prefix, args.cpu, args.memory)
    if args.print:
        json.dump({"apiVersion": "v1", "kind": "NodeList", "items": nodes}, sys.stdout, indent=2)
        print()
        return 0
    kube = Kube(args.kubeconfig)
    for node in nodes:
        try:
            kube.create("/api/v1/nodes", node)
        except ApiError as e:
            if e.status != 409:
                raise
            # Already there (a re-run): replace it so status and labels are as requested.
            kube.delete(f"/api/v1/nodes/{node['metadata']['name']}")
            kube.create("/api/v1/nodes", node)
    for node in nodes:
        name = node["metadata"]["name"]
        # The TaintNodesByCondition admission plugin adds node.kubernetes.io/not-ready:NoSchedule to every
        # node on create; the node lifecycle controller would remove it once the kubelet reports Ready, but
        # neither runs here. Put back exactly the intended taints (admission acts on create only).
        kube.request("PATCH", f"/api/v1/nodes/{name}", {"spec": {"taints": node["spec"]["taints"]}},
                     content_type="application/merge-patch+json")
        got = kube.get(f"/api/v1/nodes/{name}")
        # Status must have survived the create: that is what kube-scheduler reads.
        alloc = got.get("status", {}).get("allocatable", {})
        if alloc.get("nvidia.com/gpu") != str(args.gpus):
            raise SystemExit(f"node {name}: status not kept on create: {alloc}")
        taints = got.get("spec", {}).get("taints", [])
        if taints != node["spec"]["taints"]:
            raise SystemExit(f"node {name}: unexpected taints {taints}")
    print(" ".join(n["metadata"]["name"] for n in nodes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
