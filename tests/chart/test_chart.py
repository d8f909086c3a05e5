#!/usr/bin/python3
"""charts/gangsched cannot drift from manifests/base (ctest `chart`; docs/install.md "Helm chart").

Uses helm and kustomize built by scripts/build-chart-tools.sh (cached; GANGSCHED_CHART_TOOLS=DIR
overrides). Checks:
1. the chart's files/ are links to manifests/base's files, not copies;
2. `helm lint --strict` passes, with default and with changed values;
3. with default values `helm template` renders exactly the objects `kustomize manifests/base` renders
   (same kinds, names, namespaces and content; the ConfigMaps byte for byte, with kustomize's
   hash-suffixed names);
4. changed values (extender timeouts, leader election, gangsched keys, image, resources, tolerations,
   ServiceMonitor) reach the objects, and the ConfigMap names stay the ones kustomize would give
   that content;
5. the packaged chart (`helm package`, which reads the links' targets) renders the same objects.
Python 3.11 standard library plus python3-yaml (scripts/install-deps.sh).
"""

from __future__ import annotations

import copy
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(ROOT, "charts", "gangsched")
BASE = os.path.join(ROOT, "manifests", "base")
LINKED = ("kube-scheduler-config.yaml", "gangsched.yaml")

failures: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> bool:
    print(f"  {'ok  ' if ok else 'FAIL'}  {what}" + (f"\n        {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(what)
    return ok


def tools() -> str:
    d = os.environ.get("GANGSCHED_CHART_TOOLS")
    if d:
        return d
    out = subprocess.run([os.path.join(ROOT, "scripts", "build-chart-tools.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1]


BIN = tools()
HELM = os.path.join(BIN, "helm")
KUSTOMIZE = os.path.join(BIN, "kustomize")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    # Helm keeps its own config/cache dirs; point them into a throwaway directory.
    env = dict(os.environ, HELM_CONFIG_HOME=SCRATCH, HELM_CACHE_HOME=SCRATCH, HELM_DATA_HOME=SCRATCH)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


def objects(text: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {}
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        md = doc.get("metadata", {})
        key = (doc.get("kind", ""), md.get("namespace", ""), md.get("name", ""))
        assert key not in out, f"{key} rendered twice"
        out[key] = doc
    return out


def helm_template(*sets: str, chart: str = CHART) -> dict[tuple[str, str, str], dict[str, Any]]:
    argv = [HELM, "template", "gangsched", chart]
    for s in sets:
        argv += ["--set", s]
    p = run(*argv)
    if p.returncode != 0:
        raise RuntimeError(f"helm template {' '.join(sets)} failed: {p.stderr.strip()}")
    return objects(p.stdout)


def kustomize(directory: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    p = run(KUSTOMIZE, directory)
    if p.returncode != 0:
        raise RuntimeError(f"kustomize {directory} failed: {p.stderr.strip()}")
    return objects(p.stdout)


def first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'chart' if k in a else 'kustomize'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return ""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items in the chart, {len(b)} in kustomize"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return ""
    return "" if a == b else f"{path}: chart {a!r}, kustomize {b!r}"


def by_kind(objs: dict[tuple[str, str, str], dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for (k, _, _), o in objs.items() if k == kind]


def configmap(objs: dict, prefix: str) -> dict[str, Any]:
    found = [o for o in by_kind(objs, "ConfigMap") if o["metadata"]["name"].startswith(prefix + "-")]
    assert len(found) == 1, f"{len(found)} ConfigMaps named {prefix}-*"
    return found[0]


def pod_spec(objs: dict) -> dict[str, Any]:
    return objs[("Deployment", "gangsched-system", "gang-scheduler")]["spec"]["template"]["spec"]


def container(objs: dict, name: str) -> dict[str, Any]:
    return next(c for c in pod_spec(objs)["containers"] if c["name"] == name)


def test_links() -> None:
    print("=== files/ are links into manifests/base")
    for f in LINKED:
        path = os.path.join(CHART, "files", f)
        check(os.path.islink(path) and os.path.realpath(path) == os.path.join(BASE, f),
              f"charts/gangsched/files/{f} -> manifests/base/{f}",
              f"{path} is {'a link to ' + os.path.realpath(path) if os.path.islink(path) else 'not a link'}")
    extra = sorted(set(os.listdir(os.path.join(CHART, "files"))) - set(LINKED))
    check(not extra, "files/ holds only those links", f"also: {extra}")


def test_lint() -> None:
    print("=== helm lint")
    for sets in ([], ["serviceMonitor.enabled=true", "extender.bindTimeout=900s",
                      "leaderElection.enabled=false"]):
        argv = [HELM, "lint", "--strict", CHART]
        for s in sets:
            argv += ["--set", s]
        p = run(*argv)
        check(p.returncode == 0, f"helm lint --strict {' '.join(sets) or '(defaults)'}",
              (p.stdout + p.stderr).strip())


def test_defaults_equal_kustomize() -> None:
    print("=== default values render exactly manifests/base")
    chart, base = helm_template(), kustomize(BASE)
    check(sorted(chart) == sorted(base), "the same objects (kind, namespace, name)",
          f"only in the chart: {sorted(set(chart) - set(base))}; "
          f"only in kustomize: {sorted(set(base) - set(chart))}")
    for key in sorted(set(chart) & set(base)):
        d = first_difference(chart[key], base[key])
        check(not d, f"{key[0]} {key[1] + '/' if key[1] else ''}{key[2]} is equal", d)
    for prefix, f in (("gang-scheduler-config", "kube-scheduler-config.yaml"), ("gangsched-config", "gangsched.yaml")):
        cm = configmap(chart, prefix)
        text = open(os.path.join(BASE, f), encoding="utf-8").read()
        check(cm["data"][f] == text, f"ConfigMap {cm['metadata']['name']} holds manifests/base/{f} byte for byte")


def kustomize_names(sched_text: str, gs_text: str) -> dict[str, str]:
    """The ConfigMap names kustomize gives manifests/base with these two files in it."""
    with tempfile.TemporaryDirectory(dir=SCRATCH) as d:
        for f in glob.glob(os.path.join(BASE, "*.yaml")):
            shutil.copyfile(f, os.path.join(d, os.path.basename(f)))
        open(os.path.join(d, "kube-scheduler-config.yaml"), "w", encoding="utf-8").write(sched_text)
        open(os.path.join(d, "gangsched.yaml"), "w", encoding="utf-8").write(gs_text)
        return {o["metadata"]["name"].rsplit("-", 1)[0]: o["metadata"]["name"]
                for o in by_kind(kustomize(d), "ConfigMap")}


def test_changed_values() -> None:
    print("=== changed values reach the objects")
    objs = helm_template(
        "extender.filterTimeout=3s", "extender.bindTimeout=900s",
        "leaderElection.resourceName=gs-lease", "leaderElection.resourceNamespace=sched",
        "gangschedConfig.barrier.hold_ttl=90s", "gangschedConfig.log_level=debug",
        "image.repository=registry.example/gangsched", "image.tag=0.1.0", "image.pullPolicy=IfNotPresent",
        "resources.requests.cpu=2", "kubeScheduler.image=registry.k8s.io/kube-scheduler:v1.36.2",
        "tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
        "serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom")
    shipped_sched = yaml.safe_load(open(os.path.join(BASE, "kube-scheduler-config.yaml"), encoding="utf-8"))
    shipped_gs = yaml.safe_load(open(os.path.join(BASE, "gangsched.yaml"), encoding="utf-8"))
    sched_cm, gs_cm = configmap(objs, "gang-scheduler-config"), configmap(objs, "gangsched-config")
    sched_text, gs_text = sched_cm["data"]["kube-scheduler-config.yaml"], gs_cm["data"]["gangsched.yaml"]
    sched, gs = yaml.safe_load(sched_text), yaml.safe_load(gs_text)

    timeouts = {("bind" if "bindVerb" in e else "filter"): e["httpTimeout"] for e in sched["extenders"]}
    check(timeouts == {"filter": "3s", "bind": "900s"}, "extender httpTimeouts are 3s and 900s", str(timeouts))
    le = sched["leaderElection"]
    check((le["leaderElect"], le["resourceName"], le["resourceNamespace"]) == (True, "gs-lease", "sched"),
          "leader election on Lease sched/gs-lease", str(le))
    expected = copy.deepcopy(shipped_sched)
    for e in expected["extenders"]:
        e["httpTimeout"] = "900s" if "bindVerb" in e else "3s"
    expected["leaderElection"].update(resourceName="gs-lease", resourceNamespace="sched")
    check(sched == expected, "nothing else of kube-scheduler-config.yaml changed", first_difference(sched, expected))
    check((gs["barrier"]["bind_timeout"], gs["barrier"]["hold_ttl"], gs["log_level"]) == ("900s", "90s", "debug"),
          "gangsched.yaml: barrier.bind_timeout follows the bind timeout; hold_ttl and log_level set",
          str(gs["barrier"]))
    expected_gs = copy.deepcopy(shipped_gs)
    expected_gs["barrier"].update(bind_timeout="900s", hold_ttl="90s")
    expected_gs["log_level"] = "debug"
    check(gs == expected_gs, "nothing else of gangsched.yaml changed", first_difference(gs, expected_gs))

    names = kustomize_names(sched_text, gs_text)
    check(sched_cm["metadata"]["name"] == names.get("gang-scheduler-config"),
          f"{sched_cm['metadata']['name']} is the name kustomize gives that content", str(names))
    check(gs_cm["metadata"]["name"] == names.get("gangsched-config"),
          f"{gs_cm['metadata']['name']} is the name kustomize gives that content", str(names))
    spec = pod_spec(objs)
    volumes = {v["name"]: v["configMap"]["name"] for v in spec["volumes"]}
    check(volumes == {"gang-scheduler-config": sched_cm["metadata"]["name"],
                      "gangsched-config": gs_cm["metadata"]["name"]},
          "the pod mounts the renamed ConfigMaps (a changed config rolls the Deployment)", str(volumes))

    gsc, ksc = container(objs, "gangsched"), container(objs, "kube-scheduler")
    check(gsc["image"] == "registry.example/gangsched:0.1.0" and gsc.get("imagePullPolicy") == "IfNotPresent",
          "gangsched image and pull policy", f"{gsc['image']} {gsc.get('imagePullPolicy')}")
    check(str(gsc["resources"]["requests"]["cpu"]) == "2" and gsc["resources"]["limits"]["memory"] == "2Gi",
          "gangsched resources: cpu request changed, memory limit kept", str(gsc["resources"]))
    check(ksc["image"] == "registry.k8s.io/kube-scheduler:v1.36.2", "kube-scheduler image", ksc["image"])
    check(spec.get("tolerations") == [{"key": "dedicated", "operator": "Exists"}], "pod tolerations",
          str(spec.get("tolerations")))

    role = objs.get(("Role", "sched", "gangsched:leader-election"))
    check(role is not None and role["rules"][0]["resourceNames"] == ["gs-lease"],
          "the leader-election Role grants exactly Lease sched/gs-lease", str(role))
    check(("RoleBinding", "sched", "gangsched:leader-election") in objs, "its RoleBinding is in sched")

    svc = objs.get(("Service", "gangsched-system", "gangsched-ops"))
    sm = objs.get(("ServiceMonitor", "gangsched-system", "gangsched"))
    pod_labels = objs[("Deployment", "gangsched-system", "gang-scheduler")]["spec"]["template"]["metadata"]["labels"]
    check(svc is not None and all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())
          and svc["spec"]["ports"][0]["targetPort"] in {p["name"] for p in gsc["ports"]},
          "the ops Service selects the pod and targets gangsched's ops port", str(svc))
    check(sm is not None and sm["spec"]["endpoints"][0]["port"] == "ops"
          and all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
          and sm["metadata"]["labels"].get("release") == "prom",
          "the ServiceMonitor selects that Service's ops port and carries the extra label", str(sm))


def test_leader_election_off() -> None:
    print("=== leaderElection.enabled=false")
    objs = helm_template("leaderElection.enabled=false")
    sched = yaml.safe_load(configmap(objs, "gang-scheduler-config")["data"]["kube-scheduler-config.yaml"])
    check(sched["leaderElection"]["leaderElect"] is False, "kube-scheduler does not elect")
    check(not [k for k in objs if k[2] == "gangsched:leader-election"], "no leader-election Role or RoleBinding")
    check(not by_kind(objs, "ServiceMonitor"), "no ServiceMonitor by default")


def test_gpu_taint_guard() -> None:
    print("=== the scheduler pod does not tolerate the GPU-node taint unless asked")
    argv = [HELM, "template", "gangsched", CHART, "--set", "tolerations[0].key=gangsched.io/gpu",
            "--set", "tolerations[0].operator=Exists"]
    p = run(*argv)
    check(p.returncode != 0 and "GPU-node taint" in p.stderr, "a toleration for gangsched.io/gpu is refused",
          p.stderr.strip() or "rendered")
    p = run(*argv, "--set", "gpuNodeTaint.schedulerMayRunOnGpuNodes=true")
    check(p.returncode == 0 and "gangsched.io/gpu" in p.stdout,
          "...and allowed with gpuNodeTaint.schedulerMayRunOnGpuNodes=true", p.stderr.strip())


def test_package() -> None:
    print("=== the packaged chart carries the linked files")
    p = run(HELM, "package", CHART, "--destination", SCRATCH)
    if not check(p.returncode == 0, "helm package", p.stderr.strip()):
        return
    tgz = glob.glob(os.path.join(SCRATCH, "gangsched-*.tgz"))[0]
    packaged, unpacked = helm_template(chart=tgz), helm_template()
    check(packaged == unpacked, f"{os.path.basename(tgz)} renders the same objects as the chart directory",
          first_difference(packaged, unpacked))


def main() -> int:
    for t in (test_links, test_lint, test_defaults_equal_kustomize, test_changed_values,
              test_leader_election_off, test_gpu_taint_guard, test_package):
        try:
            t()
        except Exception as e:  # a broken render fails this test and the run goes on
            check(False, f"{t.__name__} raised", repr(e))
    print(f"chart: {'passed' if not failures else f'FAILED ({len(failures)} failed checks)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="gangsched-chart.") as SCRATCH:
        sys.exit(main())
