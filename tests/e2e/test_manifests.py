#!/usr/bin/env python3
"""The deployment manifests (manifests/base, docs/operations.md "Deploying") are accepted by the real
kube-apiserver, and their RBAC is the documented least privilege. Python 3.11 standard library only.

1. Renders the base with the e2e's own kubectl (`kubectl kustomize manifests/base`) and checks what
   only the rendered objects show: the generated ConfigMaps hold manifests/base/kube-scheduler-config.yaml
   and manifests/gangsched.yaml byte for byte and both containers' --config point at them; the ports and
   the Lease agree between the two configs and the pod; the kube-scheduler image is the version this
   control plane runs; the pod does not tolerate the GPU-node taint.
2. Submits every object with server-side dry run and strict field validation (POST ...?dryRun=All),
   plus a Pod made from the Deployment's template (pod validation, the namespace's `restricted` Pod
   Security level, the priority class). The Namespace is created for real first: namespaced objects
   cannot be dry-run into a namespace that does not exist.
3. Creates the ServiceAccount and the RBAC objects for real and asks SubjectAccessReviews as the pod's
   ServiceAccount: what gangsched and kube-scheduler need is allowed, the rest is refused, and
   gangsched's ClusterRole equals the table in docs/operations.md "RBAC".
Everything created is deleted again, also on failure.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import Checks  # noqa: E402
from kubeapi import ApiError, Kube, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = os.path.join(ROOT, "manifests", "base")
SCHEDULER_CONFIG = os.path.join(BASE, "kube-scheduler-config.yaml")
GANGSCHED_CONFIG = os.path.join(ROOT, "manifests", "gangsched.yaml")
OPERATIONS_MD = os.path.join(ROOT, "docs", "operations.md")
KUBECTL = os.path.join(os.environ["GANGSCHED_E2E_BIN"], "kubectl")
GPU_TAINT_KEY = "gangsched.io/gpu"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def kubectl(*args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {shlex.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def render() -> list[dict[str, Any]]:
    """The base as kustomize renders it, as JSON objects (kubectl converts; the server validates)."""
    return as_objects(kubectl("kustomize", BASE))


def as_objects(yaml_text: str) -> list[dict[str, Any]]:
    """YAML documents as JSON objects, converted by kubectl on the client side (tests/e2e/test_chart.py
    reads `helm template` with it too)."""
    stream = kubectl("create", "--dry-run=client", "--validate=false", "-o", "json", "-f", "-", stdin=yaml_text)
    objs, dec, i = [], json.JSONDecoder(), 0
    while True:
        while i < len(stream) and stream[i].isspace():
            i += 1
        if i == len(stream):
            return objs
        obj, i = dec.raw_decode(stream, i)
        objs.extend(obj["items"] if obj.get("kind") == "List" else [obj])


def ident(obj: dict[str, Any]) -> str:
    md = obj.get("metadata", {})
    where = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj.get('kind')} {where}{md.get('name')}"


class Collections:
    """Maps an object to its collection path through the server's discovery (no hard-coded plurals)."""

    def __init__(self, kube: Kube):
        self.kube = kube
        self.lists: dict[str, list[dict[str, Any]]] = {}

    def collection(self, obj: dict[str, Any]) -> str:
        gv = obj["apiVersion"]
        prefix = "/api/v1" if gv == "v1" else f"/apis/{gv}"
        if gv not in self.lists:
            self.lists[gv] = self.kube.get(prefix)["resources"]
        for r in self.lists[gv]:
            if r["kind"] == obj["kind"] and "/" not in r["name"]:
                if r["namespaced"]:
                    return f"{prefix}/namespaces/{obj['metadata']['namespace']}/{r['name']}"
                return f"{prefix}/{r['name']}"
        raise LookupError(f"{ident(obj)}: the server serves no kind {obj['kind']} in {gv}")


def yaml_scalar(path: str, key: str) -> str:
    """A top-level or nested `key: value` of one of our YAML files, by its first occurrence."""
    text = open(path, encoding="utf-8").read()
    m = re.search(rf"(?m)^\s*{re.escape(key)}:[ \t]*(\S*)", text)
    if not m:
        raise LookupError(f"{path}: no {key}:")
    return m.group(1).strip("\"'")


def documented_rbac() -> set[tuple[str, str, str]]:
    """(group, resource, verb) triples of the first table under docs/operations.md "## RBAC"."""
    text = open(OPERATIONS_MD, encoding="utf-8").read()
    section = text.split("\n## RBAC\n", 1)[1].split("\n## ", 1)[0]
    table = re.search(r"(?m)^\|.*\|\n(?:^\|.*\|\n)+", section)
    triples: set[tuple[str, str, str]] = set()
    for line in (table.group(0).splitlines()[2:] if table else []):  # after header and separator
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3:
            return set()  # not the table this test reads: fail the comparison
        groups, resources, verbs = (re.findall(r"`([^`]*)`", c) for c in cells)
        groups = ["" if g == '""' else g for g in groups]
        triples |= {(g, r, v) for g in groups for r in resources for v in verbs}
    return triples


def role_triples(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in role.get("rules", []) for g in rule.get("apiGroups", [])
            for r in rule.get("resources", []) for v in rule.get("verbs", [])}


def config_source(container: dict[str, Any], pod_spec: dict[str, Any],
                  by_name: dict[tuple[str, str], dict[str, Any]], namespace: str) -> dict[str, Any] | None:
    """The ConfigMap entry a container's --config=PATH reads: {'configmap', 'key', 'text'}, or None."""
    argv = container.get("command", []) + container.get("args", [])
    path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if path is None and "--config" in argv[:-1]:
        path = argv[argv.index("--config") + 1]
    if path is None:
        return None
    for mount in container.get("volumeMounts", []):
        if os.path.dirname(path) != mount["mountPath"].rstrip("/"):
            continue
        vol = next(v for v in pod_spec.get("volumes", []) if v["name"] == mount["name"])
        cm_name = vol.get("configMap", {}).get("name")
        cm = by_name.get(("ConfigMap", cm_name), {})
        key = os.path.basename(path)
        if cm.get("metadata", {}).get("namespace") == namespace and key in cm.get("data", {}):
            return {"configmap": cm_name, "key": key, "text": cm["data"][key]}
    return None


def port_number(container: dict[str, Any], port: Any) -> Any:
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    return port


Check = Callable[[bool, str], None]


def main() -> int:
    checks = Checks("manifests")
    run(Kube(), checks.check)
    return checks.summary()


def run(kube: Kube, check: Check) -> None:
    objs = render()
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    print(f"  rendered {len(objs)} objects: {', '.join(ident(o) for o in objs)}", flush=True)

    # --- 1. What the rendered objects must say -------------------------------------------------------
    namespaces = [o for o in objs if o["kind"] == "Namespace"]
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    check(len(namespaces) == 1 and len(deployments) == 1, "one Namespace, one Deployment")
    ns = namespaces[0]["metadata"]["name"]
    dep = deployments[0]
    pod_spec = dep["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod_spec["containers"]}
    check(set(containers) == {"kube-scheduler", "gangsched"}, "the pod runs kube-scheduler and gangsched")
    ks, gs = containers["kube-scheduler"], containers["gangsched"]
    sa = pod_spec.get("serviceAccountName", "")
    check(("ServiceAccount", sa) in by_name and by_name[("ServiceAccount", sa)]["metadata"]["namespace"] == ns,
          f"the pod's ServiceAccount {ns}/{sa} is in the base")

    shipped_ks = open(SCHEDULER_CONFIG, encoding="utf-8").read()
    shipped_gs = open(GANGSCHED_CONFIG, encoding="utf-8").read()
    ks_src = config_source(ks, pod_spec, by_name, ns)
    gs_src = config_source(gs, pod_spec, by_name, ns)
    check(ks_src is not None and ks_src["text"] == shipped_ks,
          f"kube-scheduler --config reads manifests/base/kube-scheduler-config.yaml byte for byte "
          f"(ConfigMap {ks_src and ks_src['configmap']})")
    check(gs_src is not None and gs_src["text"] == shipped_gs,
          f"gangsched --config reads manifests/gangsched.yaml byte for byte "
          f"(ConfigMap {gs_src and gs_src['configmap']})")
    kubeconfig = yaml_scalar(SCHEDULER_CONFIG, "kubeconfig")
    mounts = [m["mountPath"].rstrip("/") + "/" for m in ks.get("volumeMounts", [])]
    check(kubeconfig == "" or any(kubeconfig.startswith(m) for m in mounts),
          f"clientConnection.kubeconfig works in the pod: empty (in-cluster) or mounted ({kubeconfig!r})")

    lease = yaml_scalar(SCHEDULER_CONFIG, "resourceName")
    lease_ns = yaml_scalar(SCHEDULER_CONFIG, "resourceNamespace")
    ext_ports = re.findall(r"(?m)^\s*-?\s*urlPrefix:\s*http://127\.0\.0\.1:(\d+)", shipped_ks)
    gs_ports = [yaml_scalar(GANGSCHED_CONFIG, k).rsplit(":", 1)[1] for k in ("listen", "bind_listen")]
    check(ext_ports == gs_ports, f"extender urlPrefixes call gangsched's listen and bind_listen ports {gs_ports}")
    ops_port = int(yaml_scalar(GANGSCHED_CONFIG, "ops_listen").rsplit(":", 1)[1])
    probes = {(k, p["httpGet"]["path"], port_number(gs, p["httpGet"]["port"]))
              for k in ("readinessProbe", "livenessProbe") if (p := gs.get(k))}
    check(probes == {("readinessProbe", "/readyz", ops_port), ("livenessProbe", "/healthz", ops_port)},
          f"gangsched: readiness /readyz and liveness /healthz on ops port {ops_port} ({sorted(probes)})")
    live = ks.get("livenessProbe", {}).get("httpGet", {})
    check((live.get("path"), port_number(ks, live.get("port")), live.get("scheme")) == ("/healthz", 10259, "HTTPS"),
          "kube-scheduler: liveness /healthz on the secure port 10259 (HTTPS)")
    check(all(c.get("resources", {}).get("requests", {}).keys() >= {"cpu", "memory"} for c in containers.values()),
          "both containers request cpu and memory")
    version = kube.get("/version")["gitVersion"]
    check(ks["image"] == f"registry.k8s.io/kube-scheduler:{version}",
          f"kube-scheduler image is the version the e2e runs ({ks['image']}, server {version})")
    tolerates_gpu = [t for t in pod_spec.get("tolerations", [])
                     if t.get("key") == GPU_TAINT_KEY or (not t.get("key") and t.get("operator") == "Exists")]
    check(not tolerates_gpu, f"the scheduler pod does not tolerate {GPU_TAINT_KEY}: it stays off GPU nodes")

    role = by_name.get(("ClusterRole", "gangsched"), {})
    documented, granted = documented_rbac(), role_triples(role)
    check(bool(documented) and granted == documented,
          "ClusterRole gangsched grants exactly docs/operations.md's RBAC table"
          + ("" if granted == documented else
             f" (not documented: {sorted(granted - documented)}; missing: {sorted(documented - granted)})"))

    # --- 2 and 3 against the API server ------------------------------------------------------------
    paths = Collections(kube)
    created: list[tuple[str, str]] = []  # (ident, object path), deleted in reverse order
    try:
        clashes = [ident(o) for o in objs if o["kind"] in ("Namespace",) + RBAC_KINDS
                   and kube.exists(f"{paths.collection(o)}/{o['metadata']['name']}")]
        if clashes:
            check(False, f"objects to create do not exist yet (refusing to touch {clashes})")
            return

        def submit(obj: dict[str, Any], dry_run: bool) -> bool:
            params = {"fieldValidation": "Strict"} | ({"dryRun": "All"} if dry_run else {})
            try:
                kube.create(paths.collection(obj), obj, **params)
            except (ApiError, LookupError) as e:
                check(False, f"{'dry run' if dry_run else 'create'} {ident(obj)} accepted: {e}")
                print(f"        object: {json.dumps(obj)}", flush=True)
                return False
            if not dry_run:
                created.append((ident(obj), f"{paths.collection(obj)}/{obj['metadata']['name']}"))
            return True

        ns_obj = namespaces[0]
        if not (submit(ns_obj, dry_run=True) and submit(ns_obj, dry_run=False)):
            return
        rejected = [ident(o) for o in objs if o is not ns_obj and not submit(o, dry_run=True)]
        check(not rejected, f"every rendered object passes server-side dry run (refused: {rejected})")
        template = dep["spec"]["template"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{dep['metadata']['name']}-template", "namespace": ns,
                            "labels": template["metadata"].get("labels", {}),
                            "annotations": template["metadata"].get("annotations", {})},
               "spec": pod_spec}
        check(submit(pod, dry_run=True),
              f"a Pod from the Deployment's template passes admission in {ns} (Pod Security "
              f"{namespaces[0]['metadata'].get('labels', {}).get('pod-security.kubernetes.io/enforce')})")

        for o in objs:
            if o["kind"] in RBAC_KINDS and not submit(o, dry_run=False):
                return
        run_rbac_checks(kube, check, ns, sa, lease_ns, lease)
    finally:
        cleanup(kube, created)


def run_rbac_checks(kube: Kube, check: Check, ns: str, sa: str, lease_ns: str, lease: str) -> None:
    user = f"system:serviceaccount:{ns}:{sa}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]

    def review(verb: str, resource: str, group: str = "", namespace: str = "", name: str = "",
               subresource: str = "") -> dict[str, Any]:
        attrs = {"verb": verb, "group": group, "resource": resource, "namespace": namespace,
                 "name": name, "subresource": subresource}
        sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
               "spec": {"user": user, "groups": groups, "resourceAttributes": attrs}}
        return kube.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)["status"]

    def what(verb: str, resource: str, group: str = "", namespace: str = "", name: str = "",
             subresource: str = "") -> str:
        res = f"{resource}/{subresource}" if subresource else resource
        res = f"{res}.{group}" if group else res
        where = f" {namespace}/{name or '*'}" if namespace else (f" {name}" if name else "")
        return f"{verb} {res}{where}"

    allowed = [
        # gangsched (docs/operations.md "RBAC")
        ("list", "nodes"), ("watch", "nodes"),
        ("list", "pods"), ("watch", "pods"), ("patch", "pods", "", "ml", "w-0"),
        ("create", "pods", "", "ml", "w-0", "binding"),
        ("create", "events", "events.k8s.io", "ml"),
        ("list", "podgroups", "scheduling.x-k8s.io"), ("watch", "podgroups", "scheduling.volcano.sh"),
        ("list", "tfjobs", "kubeflow.org"), ("watch", "pytorchjobs", "kubeflow.org"),
        ("watch", "mpijobs", "kubeflow.org"),
        # kube-scheduler: its own Lease, delegated authentication and authorization, volume binding
        ("get", "leases", "coordination.k8s.io", lease_ns, lease),
        ("update", "leases", "coordination.k8s.io", lease_ns, lease),
        ("create", "leases", "coordination.k8s.io", lease_ns),
        ("get", "configmaps", "", "kube-system", "extension-apiserver-authentication"),
        ("create", "tokenreviews", "authentication.k8s.io"),
        ("create", "subjectaccessreviews", "authorization.k8s.io"),
        ("update", "persistentvolumes"),
    ]
    denied = [
        ("update", "nodes", "", "", "gpu-1"), ("patch", "nodes", "", "", "gpu-1"),
        ("delete", "nodes", "", "", "gpu-1"),
        ("get", "secrets", "", ns), ("list", "secrets"), ("get", "secrets", "", "kube-system", "any"),
        ("create", "pods", "", "ml"), ("update", "pods", "", "ml", "w-0"),
        ("create", "pods", "", "ml", "w-0", "exec"),
        ("update", "leases", "coordination.k8s.io", lease_ns, "kube-controller-manager"),
        ("update", "leases", "coordination.k8s.io", "default", lease),
        ("get", "configmaps", "", "kube-system", "kube-root-ca.crt"),
        ("create", "tfjobs", "kubeflow.org", "ml"), ("delete", "pytorchjobs", "kubeflow.org", "ml", "j"),
        ("patch", "podgroups", "scheduling.x-k8s.io", "ml", "g"),
        ("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
        ("create", "serviceaccounts", "", ns, sa, "token"),
    ]
    # RBAC objects reach the authorizer through its informers: wait until every grant is visible.
    try:
        wait_for("every expected permission to be granted", lambda: all(review(*a)["allowed"] for a in allowed), 20)
    except TimeoutError:
        pass  # the checks below name what is missing
    for a in allowed:
        check(review(*a)["allowed"], f"{sa} may {what(*a)}")
    for d in denied:
        check(not review(*d)["allowed"], f"{sa} may not {what(*d)}")
    # kube-scheduler's bootstrap role allows deleting pods (preemption evicts its victims); gangsched's
    # own role must not be the reason.
    st = review("delete", "pods", "", "ml", "w-0")
    check(st["allowed"] and 'ClusterRole "system:kube-scheduler"' in st.get("reason", ""),
          f"delete pods is allowed only through system:kube-scheduler (preemption): {st.get('reason')!r}")


def cleanup(kube: Kube, created: list[tuple[str, str]]) -> None:
    for name, path in reversed(created):
        try:
            kube.delete(path)
        except ApiError as e:
            if e.status != 404:
                print(f"  cleanup: delete {name}: {e}", flush=True)
                continue
        if name.startswith("Namespace "):
            finalize_namespace(kube, path)
        print(f"  cleanup: deleted {name}", flush=True)


def finalize_namespace(kube: Kube, path: str) -> None:
    """No kube-controller-manager runs here, so nothing would ever finish a namespace's deletion. Its
    contents were deleted above; drop the `kubernetes` finalizer as the namespace controller does."""
    try:
        ns = kube.get(path)
        ns["spec"]["finalizers"] = []
        kube.request("PUT", f"{path}/finalize", ns)
        wait_for(f"{path} to go", lambda: not kube.exists(path), 20)
    except ApiError as e:
        if e.status != 404:
            raise


if __name__ == "__main__":
    sys.exit(main())
