#!/usr/bin/env python3
"""Writes manifests/examples/cluster.yaml: the bundled example cluster, a NodeList as
`kubectl get nodes -o yaml` prints it.

Layout: 2 blocks x 4 racks x 8 nodes x 8 GPUs, plus a rack of 4 CPU-only nodes in block b1. Block b1 is HGX H100 (NV18, one NIC per GPU),
block b2 is DGX A100 (NV12, two GPUs per PCIe switch); each node carries its real
`nvidia-smi topo -m` matrix (from shared/data/topology/) in the gangsched.io/gpu-topology
annotation; GPU nodes carry the taint gangsched.io/gpu=true:NoSchedule (DESIGN.md §3, deployment
shape), so only pods that tolerate it land there. A few pods already run so the plan has to work around them.

Usage: scripts/gen-example-cluster.py [SHARED_DIR] > manifests/examples/cluster.yaml
"""
import os
import sys

shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared")
h100 = open(os.path.join(shared, "data/topology/hgx_h100_topo_m_gpu_rows.tsv")).read()
a100 = open(os.path.join(shared, "data/topology/dgx_a100_topo_m.tsv")).read()


def block_scalar(text, indent):
    pad = " " * indent
    return "|\n" + "".join(pad + line + "\n" for line in text.rstrip("\n").split("\n"))


out = ["apiVersion: v1", "kind: List", "metadata: {}", "items:"]
for b, (model, matrix, product) in enumerate(
        [("h100", h100, "NVIDIA-H100-80GB-HBM3"), ("a100", a100, "NVIDIA-A100-SXM4-40GB")], start=1):
    for r in range(1, 5):
        for n in range(1, 9):
            name = f"{model}-b{b}-r{r}-n{n}"
            out += [
                "- apiVersion: v1",
                "  kind: Node",
                "  metadata:",
                f"    name: {name}",
                "    labels:",
                f"      kubernetes.io/hostname: {name}",
                f"      gangsched.io/block: b{b}",
                f"      gangsched.io/rack: b{b}-r{r}",
                f"      nvidia.com/gpu.product: {product}",
                "    annotations:",
                "      gangsched.io/gpu-topology: " + block_scalar(matrix, 8).rstrip("\n"),
                "  spec:",
                "    taints:",
                "    - key: gangsched.io/gpu",
                "      value: \"true\"",
                "      effect: NoSchedule",
                "  status:",
                "    allocatable:",
                "      cpu: \"96\"",
                "      memory: 1000Gi",
                "      nvidia.com/gpu: \"8\"",
                "      pods: \"110\"",
                "    capacity:",
                "      cpu: \"128\"",
                "      memory: 1024Gi",
                "      nvidia.com/gpu: \"8\"",
                "      pods: \"110\"",
            ]
# CPU-only nodes (no taint) for pods that ask for no GPU, e.g. parameter servers of old examples.
for n in range(1, 5):
    name = f"cpu-b1-r5-n{n}"
    out += [
        "- apiVersion: v1",
        "  kind: Node",
        "  metadata:",
        f"    name: {name}",
        "    labels:",
        f"      kubernetes.io/hostname: {name}",
        "      gangsched.io/block: b1",
        "      gangsched.io/rack: b1-r5",
        "  status:",
        "    allocatable:",
        "      cpu: \"64\"",
        "      memory: 256Gi",
        "      pods: \"110\"",
        "    capacity:",
        "      cpu: \"64\"",
        "      memory: 256Gi",
        "      pods: \"110\"",
    ]
# Running pods: rack b1-r1 is half busy, so small jobs fill it and big ones go elsewhere.
busy = [("h100-b1-r1-n1", 8, "0,1,2,3,4,5,6,7"), ("h100-b1-r1-n2", 8, "0,1,2,3,4,5,6,7"),
        ("h100-b1-r1-n3", 6, "0,1,2,3,4,5"), ("h100-b1-r1-n4", 4, "0,1,2,3")]
for i, (node, gpus, ids) in enumerate(busy):
    out += [
        "- apiVersion: v1",
        "  kind: Pod",
        "  metadata:",
        f"    name: running-{i}",
        "    namespace: research",
        f"    uid: 00000000-0000-4000-8000-00000000000{i}",
        "    annotations:",
        f"      gangsched.io/gpu-ids: \"{ids}\"",
        "  spec:",
        f"    nodeName: {node}",
        "    schedulerName: gang-scheduler",
        "    containers:",
        "    - name: main",
        "      image: busybox",
        "      resources:",
        "        limits:",
        f"          nvidia.com/gpu: \"{gpus}\"",
        "  status:",
        "    phase: Running",
    ]
sys.stdout.write("\n".join(out) + "\n")
