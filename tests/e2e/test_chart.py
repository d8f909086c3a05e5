#!/usr/bin/env python3
"""The Helm chart (charts/gangsched, docs/install.md "Helm chart") is accepted by the real
kube-apiserver: `helm template … | kubectl apply --dry-run=server --validate=strict -f -`, with default
values and with changed ones. Python 3.11 standard library only.

1. With default values the chart renders the same objects as this control plane's own
   `kubectl kustomize manifests/base` (tests/chart/test_chart.py compares with the kustomize library in
   `make test`; this is the real kubectl of the version the e2e runs).
2. The Namespace is created for real (namespaced objects cannot be dry-run into a namespace that does
   not exist), then every rendered object goes through `kubectl apply --dry-run=server
   --validate=strict`: strict field validation, admission, RBAC escalation checks (the ClusterRoles'
   bindings name roles that must exist), the namespace's Pod Security level on the Deployment.
3. The same with changed values (extender timeouts, leader election Lease, gangsched keys, image,
   resources, tolerations, and the ops Service of serviceMonitor.enabled; the ServiceMonitor itself
   is left out, since this control plane has no Prometheus Operator CRDs).
The Namespace is deleted again, also on failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import Checks  # noqa: E402
from kubeapi import ApiError, Kube  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_manifests import as_objects, finalize_namespace  # noqa: E402

CHART = os.path.join(ROOT, "charts", "gangsched")
BASE = os.path.join(ROOT, "manifests", "base")
KUBECTL = os.path.join(os.environ["GANGSCHED_E2E_BIN"], "kubectl")
CHANGED = ["extender.filterTimeout=3s", "extender.bindTimeout=900s", "leaderElection.resourceName=gs-e2e",
           "gangschedConfig.barrier.hold_ttl=90s", "image.tag=0.1.0", "resources.requests.cpu=1",
           "tolerations[0].key=dedicated", "tolerations[0].operator=Exists", "serviceMonitor.enabled=true"]


def tool(*argv: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    if p.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[0])} {' '.join(argv[1:])} exited {p.returncode}: "
                           f"{p.stderr.strip()}")
    return p.stdout


def key(o: dict[str, Any]) -> tuple[str, str, str]:
    md = o["metadata"]
    return (o["kind"], md.get("namespace", ""), md["name"])


def main() -> int:
    checks = Checks("chart")
    bindir = tool(os.path.join(ROOT, "scripts", "build-chart-tools.sh")).strip().splitlines()[-1]
    helm = os.path.join(bindir, "helm")
    kube = Kube()
    with tempfile.TemporaryDirectory(prefix="gangsched-e2e-chart.") as scratch:
        env = {"HELM_CONFIG_HOME": scratch, "HELM_CACHE_HOME": scratch, "HELM_DATA_HOME": scratch}

        def template(*sets: str) -> str:
            argv = [helm, "template", "gangsched", CHART]
            for s in sets:
                argv += ["--set", s]
            return tool(*argv, env=env)

        default = template()
        chart_objs = {key(o): o for o in as_objects(default)}
        base_objs = {key(o): o for o in as_objects(tool(KUBECTL, "kustomize", BASE))}
        checks.check(chart_objs == base_objs,
                     f"default values render the same {len(chart_objs)} objects as `kubectl kustomize "
                     f"manifests/base` ({sorted(set(chart_objs) ^ set(base_objs)) or 'same names'})")

        namespaces = [o for o in chart_objs.values() if o["kind"] == "Namespace"]
        checks.check(len(namespaces) == 1, "the chart renders one Namespace")
        ns = namespaces[0]["metadata"]["name"]
        ns_path = f"/api/v1/namespaces/{ns}"
        try:
            if not kube.exists(ns_path):
                kube.create("/api/v1/namespaces", namespaces[0])
            # Helm writes each object as its own "---" document; kubectl cannot even convert a
            # ServiceMonitor without its CRD, so that document is set aside as text.
            docs = [d for d in re.split(r"(?m)^---\n", template(*CHANGED)) if d.strip()]
            monitors = [d for d in docs if re.search(r"(?m)^kind: ServiceMonitor$", d)]
            changed_yaml = "---\n".join(d for d in docs if d not in monitors)
            changed_objs = as_objects(changed_yaml)
            for what, text, objs in (("default values", default, list(chart_objs.values())),
                                     ("changed values", changed_yaml, changed_objs)):
                try:
                    out = tool(KUBECTL, "apply", "--dry-run=server", "--validate=strict", "-f", "-", stdin=text)
                    accepted = [line for line in out.splitlines() if line.endswith("(server dry run)")]
                    checks.check(len(accepted) == len(objs),
                                 f"{what}: `helm template | kubectl apply --dry-run=server --validate=strict` "
                                 f"accepts all {len(objs)} objects ({len(accepted)} answered)")
                except RuntimeError as e:
                    checks.check(False, f"{what}: server-side dry run: {e}")
            checks.check(len(monitors) == 1 and any(o["kind"] == "Service" for o in changed_objs),
                         "serviceMonitor.enabled renders the ops Service (dry-run above) and one ServiceMonitor")
        finally:
            try:
                kube.delete(ns_path)
                finalize_namespace(kube, ns_path)
                print(f"  cleanup: deleted Namespace {ns}", flush=True)
            except ApiError as e:
                if e.status != 404:
                    print(f"  cleanup: delete Namespace {ns}: {e}", flush=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
