#!/usr/bin/env python3
"""gangsched against the real control plane in API mode (`serve --kubeconfig`): it lists and watches
nodes, pods, TFJobs and PodGroups, the real kube-scheduler calls it as its extender, and it binds
through the API server (Bindings with gangsched.io/gpu-ids). Python 3.11 standard library only.

Scenarios (each leaves the cluster empty of its pods; the suite's fake nodes are 2 racks x 4 nodes x
8 GPUs, tests/e2e/run.sh):
  tfjobs      the Kubeflow TFJob examples (manifests/examples/tfjob-v1-*.yaml); the real
              training-operator (tests/e2e/run.sh starts v1.7.0) creates their pods, or without it
              the test creates them as the operator would (lib/kubeflow_pods.py): each job bound
              whole in one rack, GPU ids and the placement annotated, no member bound before the
              last one existed, a GangPlaced event
  not_fit     a gang larger than the free GPUs: no member bound, a Warning GangWaiting event with the
              gang-level reason; after capacity is freed it is bound whole
  race        two gangs racing for the one free rack (the other holds pods of another scheduler):
              one bound whole, the other waits whole, then is bound when the first goes away
  podgroup    a coscheduling PodGroup's minMember: 2 of 3 pods wait, the third brings the gang
  sigkill     gangsched SIGKILLed while 3 of 4 members wait in its bind barrier (the 4th is held back
              by a scheduling gate), then restarted: no member is ever bound alone, the gang ends whole
  recover     a gang found with 2 of 4 members already bound: the other 2 go next to them
  replace     a member deleted and recreated while the others wait in the barrier, and a stray 8-GPU
              pod arriving meanwhile: the gang ends bound whole with the new pod, the stray pod never
              gets the gang's capacity
  preempt     every GPU taken by a low-priority gang (one rack) and four lone low-priority pods (the
              other): a high-priority gang evicts exactly the lone pods through kube-scheduler's own
              preemption (gangsched's FailedNodes and preempt answers) and is bound whole; the
              running gang is untouched
  drain       (gangsched restarted with --drain-after 2s) a gang waiting on a full cluster drains the
              rack where a node freed: a lone pod does not take the freed node, the gang is bound
              whole once the rack frees

Run alone: tests/e2e/run.sh api_gangs
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import Checks  # noqa: E402
from extenders import GangschedApi  # noqa: E402
from kubeapi import ApiError, Kube, wait_for  # noqa: E402
from kubeflow_pods import operator_pods  # noqa: E402
import pod_builder  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NS = "gang-e2e"
ML = "ml"  # the namespace of the TFJob examples
GATE = "gangsched.io/e2e-hold"

# Minimal CRDs for the job kinds gangsched reads (installed only when absent: the real ones, when
# training-operator or scheduler-plugins are installed, carry full schemas).
CRDS = [
    ("kubeflow.org", "TFJob", "tfjobs", "v1"),
    ("scheduling.x-k8s.io", "PodGroup", "podgroups", "v1alpha1"),
]

checks = Checks("api_gangs")
check = checks.check


def kubectl(*args: str) -> str:
    binary = os.path.join(os.environ["GANGSCHED_E2E_BIN"], "kubectl")
    proc = subprocess.run([binary, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def ensure_crds(kube: Kube) -> None:
    for group, kind, plural, version in CRDS:
        name = f"{plural}.{group}"
        if kube.exists(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"):
            continue
        kube.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                               "singular": kind.lower()},
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                                   "subresources": {"status": {}}}]},
        })
    for group, _, plural, version in CRDS:
        path = f"/apis/{group}/{version}/{plural}"
        wait_for(f"{plural}.{group} served", lambda p=path: kube.exists(p), 30)


def ensure_namespace(kube: Kube, ns: str) -> None:
    if not kube.exists(f"/api/v1/namespaces/{ns}"):
        kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})


def gpu_pod(name: str, gpus: int, **kw: Any) -> dict:
    """A pod of this test (lib/pod_builder.py, its keywords): in NS, cpu and memory requested (no
    limit), the GPU taint tolerated whatever its value."""
    return pod_builder.gpu_pod(NS, name, gpus, cpu="1", memory="1Gi", cpu_memory_in="requests",
                               tolerations=[pod_builder.TOLERATE_GPU_ANY_VALUE], **kw)


def pods(kube: Kube, ns: str, names: list[str] | None = None) -> dict[str, dict]:
    items = kube.get(f"/api/v1/namespaces/{ns}/pods")["items"]
    out = {p["metadata"]["name"]: p for p in items}
    return {n: p for n, p in out.items() if names is None or n in names}


def bound_nodes(kube: Kube, ns: str, names: list[str]) -> dict[str, str]:
    return {n: p["spec"]["nodeName"] for n, p in pods(kube, ns, names).items() if p["spec"].get("nodeName")}


def wait_bound(kube: Kube, ns: str, names: list[str], timeout: float) -> dict[str, str]:
    return wait_for(f"{ns}: {', '.join(names)} bound",
                    lambda: (b := bound_nodes(kube, ns, names)) and len(b) == len(names) and b, timeout)


def delete_all(kube: Kube, ns: str) -> None:
    for name in pods(kube, ns):
        kube.force_delete_pod(ns, name)
    wait_for(f"{ns} empty of pods", lambda: not pods(kube, ns), 30)


def racks(kube: Kube) -> dict[str, str]:
    return {n["metadata"]["name"]: n["metadata"]["labels"]["gangsched.io/rack"]
            for n in kube.get("/api/v1/nodes")["items"]}


def events(kube: Kube, ns: str, reason: str) -> list[dict]:
    return [e for e in kube.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
            if e.get("reason") == reason]


class Watcher:
    """Polls the bound members of a gang every 0.1 s and measures the longest stretch during which
    it was bound in part. Bindings are separate API calls, so a gang released by the barrier is
    bound in part for the milliseconds its Bindings take; a member bound alone for longer is a bug."""

    TOLERATED = 2.0  # seconds a gang may be seen bound in part (its Bindings in flight)

    def __init__(self, kube: Kube, ns: str, names: list[str]):
        self.kube, self.ns, self.names = kube, ns, names
        self.longest = 0.0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        since = None
        while not self.stop_flag.is_set():
            try:
                n = len(bound_nodes(self.kube, self.ns, self.names))
            except Exception:  # noqa: BLE001 - a transient API error is not a finding
                n = None
            now = time.monotonic()
            if n is not None and 0 < n < len(self.names):
                since = since if since is not None else now
                self.longest = max(self.longest, now - since)
            elif n is not None:
                since = None
            time.sleep(0.1)

    def whole(self) -> bool:
        """Stops watching; True when the gang was never bound in part for longer than TOLERATED."""
        self.stop_flag.set()
        self.thread.join()
        return self.longest <= self.TOLERATED

    def describe(self) -> str:
        return f"longest partly bound stretch {self.longest:.1f}s, tolerated {self.TOLERATED:.0f}s"


def gpu_ids_valid(kube: Kube) -> None:
    """No GPU id is annotated twice on one node, and each pod has as many ids as it asked for."""
    used: dict[str, set[int]] = {}
    bad = []
    for ns in (NS, ML):
        for name, p in pods(kube, ns).items():
            node = p["spec"].get("nodeName")
            want = int(p["spec"]["containers"][0].get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))
            if not node or want == 0 or p["spec"].get("schedulerName") != "gang-scheduler":
                continue  # pending, CPU-only, or placed by another scheduler (no gpu-ids)
            text = p["metadata"].get("annotations", {}).get("gangsched.io/gpu-ids", "")
            ids = [int(x) for x in text.split(",") if x]
            used.setdefault(node, set())
            if len(ids) != want or used[node] & set(ids):
                bad.append(f"{ns}/{name} on {node}: gpu-ids {text!r} for {want} GPUs")
            used[node] |= set(ids)
    check(not bad, "gpu-ids annotations: one id per requested GPU, none shared on a node" +
          (f" ({'; '.join(bad)})" if bad else ""))


# ---- scenarios ------------------------------------------------------------------------------------

def operator_running() -> bool:
    """tests/e2e/run.sh starts Kubeflow's training-operator (v1.7.0) unless told not to."""
    return os.environ.get("GANGSCHED_E2E_TRAINING_OPERATOR") == "1"


def scenario_tfjobs(kube: Kube, gs: GangschedApi) -> None:
    rack_of = racks(kube)
    operator = operator_running()
    print(f"  pods made by {'the real training-operator' if operator else 'the test, as training-operator makes them'}",
          flush=True)
    for name in ("mycnnjob", "example-job"):
        kubectl("apply", "-f", os.path.join(ROOT, f"manifests/examples/tfjob-v1-{name}.yaml"))
        job = kube.get(f"/apis/kubeflow.org/v1/namespaces/{ML}/tfjobs/{name}")
        job["apiVersion"], job["kind"] = "kubeflow.org/v1", "TFJob"
        members = operator_pods(job, job["metadata"]["uid"])
        names = [p["metadata"]["name"] for p in members]
        wait_for(f"gangsched sees TFJob {name}", lambda n=name: gs.gang(ML, n), 30)
        early: list[str] = []
        if not operator:
            for i, pod in enumerate(members):
                if i:
                    time.sleep(0.3)
                    early += list(bound_nodes(kube, ML, names))
                kube.create(f"/api/v1/namespaces/{ML}/pods", pod)

        def all_bound() -> dict[str, str] | None:
            now = pods(kube, ML, names)
            bound = {n: p["spec"]["nodeName"] for n, p in now.items() if p["spec"].get("nodeName")}
            if bound and len(now) < len(names):
                early.extend(bound)  # bound while some member did not exist yet
            return bound if len(bound) == len(names) else None
        placed = wait_for(f"{name}: all {len(names)} pods bound", all_bound, 120, interval=0.1)
        print(f"  {name}: " + ", ".join(f"{p}->{n}" for p, n in sorted(placed.items())), flush=True)
        check(not early, f"{name}: no member bound before the last one existed ({sorted(set(early))})")
        job_racks = {rack_of[n] for n in placed.values()}
        check(len(job_racks) == 1, f"{name}: bound whole in one rack ({sorted(job_racks)})")
        got = pods(kube, ML, names)
        placement = {p["metadata"].get("annotations", {}).get("gangsched.io/placement") for p in got.values()}
        check(len(placement) == 1 and None not in placement,
              f"{name}: every member annotated with the gang's placement ({placement})")
        owned = all(p["metadata"]["labels"].get("training.kubeflow.org/job-name") == name and
                    p["metadata"].get("ownerReferences", [{}])[0].get("uid") == job["metadata"]["uid"]
                    for p in got.values())
        check(owned, f"{name}: pods carry training-operator's labels and the TFJob as owner")
    gpu_ids_valid(kube)
    placed_events = wait_for("GangPlaced events for both TFJobs",
                             lambda: (e := events(kube, ML, "GangPlaced")) and len(e) >= 2 and e, 15)
    check(any("mycnnjob" in e.get("note", "") and "span: rack" in e.get("note", "") for e in placed_events),
          "GangPlaced event for mycnnjob names its rack-level placement")


def scenario_not_fit(kube: Kube, gs: GangschedApi) -> None:
    # Another scheduler's pods take rack b1-r2 and 2 GPUs of b1-r1: 30 GPUs free, fewer than 40.
    rack_of = racks(kube)
    others = fill_rack(kube, "b1-r2", rack_of)
    kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod("other-small", 2, node=min(rack_of), scheduler=None))
    others.append("other-small")
    names = [f"big-{i}" for i in range(5)]
    watcher = Watcher(kube, NS, names)
    for name in names:
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(name, 8, gang="big", min_members=5))
    waiting = wait_for("a GangWaiting event for gang big",
                       lambda: [e for e in events(kube, NS, "GangWaiting") if f"{NS}/big" in e.get("note", "")],
                       30)
    note = waiting[0].get("note", "")
    print(f"  event: {waiting[0].get('type')} {waiting[0].get('reason')}: {note}", flush=True)
    check(waiting[0].get("type") == "Warning" and "GPU" in note, "Warning event with the gang-level reason")
    time.sleep(3)
    check(not bound_nodes(kube, NS, names), "no member of the gang that does not fit was bound")
    status = gs.gang(NS, "big") or {}
    check(status.get("phase") == "Waiting", f"gangsched reports gang big Waiting ({status.get('phase')})")
    t0 = time.monotonic()
    for name in others[:-1]:
        kube.force_delete_pod(NS, name)  # frees rack b1-r2
    placed = wait_bound(kube, NS, names, 90)
    print(f"  big bound {time.monotonic() - t0:.1f}s after capacity was freed: "
          + ", ".join(f"{p}->{n}" for p, n in sorted(placed.items())), flush=True)
    check(watcher.whole(), f"gang big was never left bound in part ({watcher.describe()})")
    check(len(set(placed.values())) == 5, "gang big bound whole on 5 whole nodes")
    gpu_ids_valid(kube)


def fill_rack(kube: Kube, rack: str, rack_of: dict[str, str]) -> list[str]:
    """Pods of 'another scheduler' (spec.nodeName set directly) taking every GPU of `rack`."""
    names = []
    for node in sorted(n for n, r in rack_of.items() if r == rack):
        name = f"other-{node}"
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(name, 8, node=node, scheduler=None))
        names.append(name)
    return names


def wait_gang_state(gs: GangschedApi, gang: str, cond: Callable[[dict], bool], what: str, timeout: float) -> dict:
    return wait_for(what, lambda: (g := gs.gang(NS, gang)) and cond(g) and g, timeout)


def scenario_race(kube: Kube, gs: GangschedApi) -> None:
    rack_of = racks(kube)
    fill_rack(kube, "b1-r2", rack_of)
    a = [f"race-a-{i}" for i in range(4)]
    b = [f"race-b-{i}" for i in range(4)]
    wa, wb = Watcher(kube, NS, a), Watcher(kube, NS, b)
    for pa, pb in zip(a, b):
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(pa, 8, gang="race-a", min_members=4))
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(pb, 8, gang="race-b", min_members=4))
    winner = wait_for("one racing gang bound whole",
                      lambda: ("a" if len(bound_nodes(kube, NS, a)) == 4 else
                               "b" if len(bound_nodes(kube, NS, b)) == 4 else None), 90)
    win, lose = (a, b) if winner == "a" else (b, a)
    time.sleep(3)
    check(len(bound_nodes(kube, NS, win)) == 4 and not bound_nodes(kube, NS, lose),
          f"race-{winner} bound whole, the other gang waits whole with no member bound")
    check({rack_of[n] for n in bound_nodes(kube, NS, win).values()} == {"b1-r1"},
          "the winner is in the free rack (pods of another scheduler count against capacity)")
    loser = "race-b" if winner == "a" else "race-a"
    status = gs.gang(NS, loser) or {}
    print(f"  {loser}: phase {status.get('phase')}, reason: {status.get('reason')}", flush=True)
    check(status.get("phase") == "Waiting" and bool(status.get("reason")),
          f"gangsched says why {loser} waits")
    for name in win:
        kube.force_delete_pod(NS, name)
    placed = wait_bound(kube, NS, lose, 90)
    check({rack_of[n] for n in placed.values()} == {"b1-r1"}, f"{loser} bound whole in the freed rack")
    check(wa.whole() and wb.whole(), f"neither gang was left bound in part ({wa.describe()}; {wb.describe()})")
    delete_all(kube, NS)


def scenario_podgroup(kube: Kube, gs: GangschedApi) -> None:
    kube.create(f"/apis/scheduling.x-k8s.io/v1alpha1/namespaces/{NS}/podgroups", {
        "apiVersion": "scheduling.x-k8s.io/v1alpha1", "kind": "PodGroup",
        "metadata": {"name": "pg", "namespace": NS}, "spec": {"minMember": 3}})
    names = [f"pg-{i}" for i in range(3)]
    label = {"scheduling.x-k8s.io/pod-group": "pg"}
    for name in names[:2]:
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(name, 4, labels=label))
    wait_gang_state(gs, "pg", lambda g: g.get("quorum") == 3, "gangsched reads PodGroup pg's minMember 3", 30)
    time.sleep(4)
    check(not bound_nodes(kube, NS, names), "2 of minMember 3 pods: none bound")
    status = gs.gang(NS, "pg") or {}
    check("1 more" in status.get("reason", ""), f"the gang waits for 1 more pod ({status.get('reason')})")
    kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(names[2], 4, labels=label))
    placed = wait_bound(kube, NS, names, 90)
    check(len(placed) == 3, "the third pod brings the gang: all 3 bound")


def ungate(kube: Kube, name: str) -> None:
    kube.request("PATCH", f"/api/v1/namespaces/{NS}/pods/{name}", {"spec": {"schedulingGates": None}},
                 content_type="application/merge-patch+json")


def held_gang(kube: Kube, gs: GangschedApi, gang: str, gpus: int) -> tuple[list[str], Watcher]:
    """Gang `gang` of 4 pods x `gpus` GPUs whose 4th member is held back by a scheduling gate; returns
    once the other 3 wait in gangsched's bind barrier, with a Watcher on the gang."""
    names = [f"{gang}-{i}" for i in range(4)]
    watcher = Watcher(kube, NS, names)
    for i, name in enumerate(names):
        kube.create(f"/api/v1/namespaces/{NS}/pods",
                    gpu_pod(name, gpus, gang=gang, min_members=4, gates=[GATE] if i == 3 else []))
    wait_gang_state(gs, gang, lambda g: g.get("members_arrived") == 3,
                    f"3 members of gang {gang} waiting in the barrier", 60)
    return names, watcher


def scenario_sigkill(kube: Kube, gs: GangschedApi) -> GangschedApi:
    names, watcher = held_gang(kube, gs, "kill", 4)
    check(not bound_nodes(kube, NS, names), "nothing bound while the 4th member is gated")
    gs.kill()
    print("  gangsched killed (SIGKILL) with 3 binds held", flush=True)
    time.sleep(3)
    check(not bound_nodes(kube, NS, names), "nothing bound after the kill")
    gs = GangschedApi().start()
    time.sleep(2)
    check(not bound_nodes(kube, NS, names), "nothing bound after the restart, 4th member still gated")
    ungate(kube, names[3])
    t0 = time.monotonic()
    placed = wait_bound(kube, NS, names, 90)
    print(f"  gang kill bound {time.monotonic() - t0:.1f}s after the gate was removed: "
          + ", ".join(f"{p}->{n}" for p, n in sorted(placed.items())), flush=True)
    check(watcher.whole(), f"no member of gang kill was left bound alone ({watcher.describe()})")
    delete_all(kube, NS)
    return gs


def scenario_replace(kube: Kube, gs: GangschedApi) -> None:
    rack_of = racks(kube)
    fill_rack(kube, "b1-r2", rack_of)
    names, watcher = held_gang(kube, gs, "swap", 8)
    old_uid = pods(kube, NS, ["swap-1"])["swap-1"]["metadata"]["uid"]
    kube.force_delete_pod(NS, "swap-1")
    wait_for("swap-1 gone", lambda: "swap-1" not in pods(kube, NS), 30)
    new = kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod("swap-1", 8, gang="swap", min_members=4))
    kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod("stray", 8))
    time.sleep(4)
    check(not bound_nodes(kube, NS, names + ["stray"]),
          "after the replacement: nothing bound, the stray pod did not take the gang's capacity")
    ungate(kube, "swap-3")
    placed = wait_bound(kube, NS, names, 90)
    now_uid = pods(kube, NS, ["swap-1"])["swap-1"]["metadata"]["uid"]
    check(now_uid == new["metadata"]["uid"] != old_uid, "the recreated swap-1 (new UID) is the one bound")
    check({rack_of[n] for n in placed.values()} == {"b1-r1"}, "gang swap bound whole in the free rack")
    check(watcher.whole(), f"gang swap was never left bound in part ({watcher.describe()})")
    time.sleep(2)
    check(not bound_nodes(kube, NS, ["stray"]), "the stray pod is still pending (no capacity left)")
    delete_all(kube, NS)


def clean(kube: Kube) -> None:
    """No TFJobs, pods, operator Services or PodGroup in the test namespaces: each scenario starts
    from an empty cluster. Jobs go first, or the operator would recreate their pods; no garbage
    collector runs here, so the pods and Services are deleted by hand."""
    for job in kube.get(f"/apis/kubeflow.org/v1/namespaces/{ML}/tfjobs")["items"]:
        try:
            kube.delete(f"/apis/kubeflow.org/v1/namespaces/{ML}/tfjobs/{job['metadata']['name']}")
        except ApiError as e:
            if e.status != 404:
                raise
    for svc in kube.get(f"/api/v1/namespaces/{ML}/services")["items"]:
        try:
            kube.delete(f"/api/v1/namespaces/{ML}/services/{svc['metadata']['name']}")
        except ApiError as e:
            if e.status != 404:
                raise
    for ns in (NS, ML):
        delete_all(kube, ns)
    try:
        kube.delete(f"/apis/scheduling.x-k8s.io/v1alpha1/namespaces/{NS}/podgroups/pg")
    except ApiError as e:
        if e.status != 404:
            raise


def scenario_recover(kube: Kube, gs: GangschedApi) -> None:
    """A gang found partly bound (an earlier gangsched bound 2 of its 4 members before it died, or
    2 Bindings failed): the remaining members go next to the bound ones, not to the emptier rack."""
    rack_of = racks(kube)
    r2 = sorted(n for n, r in rack_of.items() if r == "b1-r2")
    names = [f"rec-{i}" for i in range(4)]
    for name, node in zip(names[:2], r2[:2]):
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(name, 8, gang="rec", min_members=4, node=node))
    wait_gang_state(gs, "rec", lambda g: g.get("members_bound") == 2, "gangsched sees 2 bound members of rec", 30)
    for name in names[2:]:
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(name, 8, gang="rec", min_members=4))
    placed = wait_bound(kube, NS, names, 90)
    print("  rec: " + ", ".join(f"{p}->{n}" for p, n in sorted(placed.items())), flush=True)
    check({rack_of[placed[n]] for n in names[2:]} == {"b1-r2"},
          "the 2 pending members were placed in the rack of the 2 bound ones (b1-r2), not the free rack")
    status = gs.gang(NS, "rec") or {}
    check(status.get("phase") == "Bound", f"gang rec Bound ({status.get('phase')})")


LOW, HIGH = "gangsched-e2e-gang-low", "gangsched-e2e-gang-high"


def ensure_priority_classes(kube: Kube) -> None:
    for name, value in ((LOW, 100), (HIGH, 1000)):
        try:
            kube.create("/apis/scheduling.k8s.io/v1/priorityclasses", {
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                "value": value, "preemptionPolicy": "PreemptLowerPriority",
                "description": "gangsched e2e: gang preemption"})
        except ApiError as e:
            if e.status != 409:
                raise


def scenario_preempt(kube: Kube, gs: GangschedApi) -> None:
    """DESIGN.md §3.9 through the real kube-scheduler: a high-priority gang that does not fit evicts
    exactly its victim plan. Rack b1-r1 runs a low-priority gang of 4 x 8 GPUs, rack b1-r2 four lone
    low-priority 8-GPU pods: every GPU is taken. A high-priority gang of 4 x 8 GPUs arrives. The least
    disruptive plan evicts the four lone pods (kube-scheduler's DefaultPreemption deletes them, one per
    member, guided by gangsched's FailedNodes and preempt answers), never the running gang; the high
    gang is then bound whole in b1-r2."""
    ensure_priority_classes(kube)
    rack_of = racks(kube)
    old = [f"old-{i}" for i in range(4)]
    for name in old:
        kube.create(f"/api/v1/namespaces/{NS}/pods",
                    gpu_pod(name, 8, gang="old", min_members=4, priority_class=LOW))
    old_nodes = wait_bound(kube, NS, old, 60)
    old_rack = {rack_of[n] for n in old_nodes.values()}
    check(len(old_rack) == 1, f"the low-priority gang old runs whole in one rack ({sorted(old_rack)})")
    other_rack = ({"b1-r1", "b1-r2"} - old_rack).pop()
    lone = []
    for node in sorted(n for n, r in rack_of.items() if r == other_rack):
        pod = gpu_pod(f"lone-{node}", 8, node=node, scheduler=None, priority_class=LOW)
        kube.create(f"/api/v1/namespaces/{NS}/pods", pod)
        lone.append(pod["metadata"]["name"])
    old_uids = {n: p["metadata"]["uid"] for n, p in pods(kube, NS, old).items()}
    urgent = [f"urgent-{i}" for i in range(4)]
    watcher = Watcher(kube, NS, urgent)
    t0 = time.monotonic()
    for name in urgent:
        kube.create(f"/api/v1/namespaces/{NS}/pods",
                    gpu_pod(name, 8, gang="urgent", min_members=4, priority_class=HIGH))
    placed = wait_bound(kube, NS, urgent, 120)
    print(f"  urgent bound {time.monotonic() - t0:.1f}s after it was created: "
          + ", ".join(f"{p}->{n}" for p, n in sorted(placed.items())), flush=True)
    check({rack_of[n] for n in placed.values()} == {other_rack},
          f"the high-priority gang urgent was bound whole in rack {other_rack}, the lone pods' rack")
    check(len(set(placed.values())) == 4, "urgent on 4 whole nodes")
    check(not pods(kube, NS, lone), "the four lone low-priority pods were preempted (deleted)")
    still = pods(kube, NS, old)
    check({n: p["metadata"]["uid"] for n, p in still.items()} == old_uids
          and bound_nodes(kube, NS, old) == old_nodes,
          "the running low-priority gang old was not touched (same pods, same nodes)")
    check(watcher.whole(), f"gang urgent was never left bound in part ({watcher.describe()})")
    gpu_ids_valid(kube)


def scenario_drain(kube: Kube, gs: GangschedApi) -> GangschedApi:
    """DESIGN.md §3.9 drain reservation (gangsched restarted with --drain-after 2s): every GPU is
    taken by pods of another scheduler; a gang of 4 x 8 GPUs waits. One node of rack b1-r2 frees:
    past 2 s of waiting the gang drains b1-r2 (the rack nearest to fitting it), so a lone 8-GPU pod
    that arrives does not get the freed node; when the rest of b1-r2 frees, the gang is bound whole
    there and the lone pod still waits."""
    gs.stop()
    gs = GangschedApi(extra=["--drain-after", "2s"]).start()
    try:
        rack_of = racks(kube)
        fill_rack(kube, "b1-r1", rack_of)
        fill_rack(kube, "b1-r2", rack_of)
        r2 = sorted(n for n, r in rack_of.items() if r == "b1-r2")
        big = [f"drain-{i}" for i in range(4)]
        watcher = Watcher(kube, NS, big)
        for name in big:
            kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(name, 8, gang="drain", min_members=4))
        wait_gang_state(gs, "drain", lambda g: g.get("phase") == "Waiting", "gang drain waiting", 30)
        # A full cluster: kube-scheduler's own filters reject every node and never ask gangsched.
        # A freed node of b1-r2 brings the gang's first filter calls (its wait starts there) ...
        kube.force_delete_pod(NS, f"other-{r2[0]}")
        wait_for("gang drain filtered by gangsched",
                 lambda: "free GPUs" in ((gs.gang(NS, "drain") or {}).get("reason") or ""), 30)
        time.sleep(2.5)  # ... past --drain-after; then any cluster event requeues it: a CPU-only pod
        poke = gpu_pod("poke", 0, node=sorted(n for n, r in rack_of.items() if r == "b1-r1")[0], scheduler=None)
        kube.create(f"/api/v1/namespaces/{NS}/pods", poke)
        status = wait_gang_state(gs, "drain", lambda g: "draining" in (g.get("reason") or ""),
                                 "gang drain drains a rack", 30)
        print(f"  drain: {status.get('reason')}", flush=True)
        check("b1-r2" in status.get("reason", ""), "the drain is on rack b1-r2, where a node freed")
        kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod("intruder", 8))
        time.sleep(3)
        check(not bound_nodes(kube, NS, ["intruder"]),
              f"a lone 8-GPU pod did not take the node freed in the drained rack ({r2[0]})")
        check(not bound_nodes(kube, NS, big), "no member of gang drain bound while it cannot fit whole")
        for node in r2[1:]:
            kube.force_delete_pod(NS, f"other-{node}")
        placed = wait_bound(kube, NS, big, 90)
        print("  drain: " + ", ".join(f"{p}->{n}" for p, n in sorted(placed.items())), flush=True)
        check({rack_of[n] for n in placed.values()} == {"b1-r2"}, "gang drain bound whole in rack b1-r2")
        check(watcher.whole(), f"gang drain was never left bound in part ({watcher.describe()})")
        time.sleep(1)
        check(not bound_nodes(kube, NS, ["intruder"]), "the lone pod still waits (nothing is free)")
        delete_all(kube, NS)
    finally:
        gs.stop()
    return GangschedApi().start()


def main() -> int:
    kube = Kube()
    ensure_crds(kube)
    ensure_namespace(kube, NS)
    ensure_namespace(kube, ML)
    gs = GangschedApi().start()
    only = os.environ.get("GANGSCHED_E2E_SCENARIOS", "").split(",")
    try:
        for name, fn in (("tfjobs", scenario_tfjobs), ("not_fit", scenario_not_fit), ("race", scenario_race),
                         ("podgroup", scenario_podgroup), ("sigkill", scenario_sigkill),
                         ("replace", scenario_replace), ("recover", scenario_recover),
                         ("preempt", scenario_preempt), ("drain", scenario_drain)):
            if only != [""] and name not in only:
                continue
            print(f"--- {name}", flush=True)
            t0 = time.monotonic()
            try:
                clean(kube)
                result = fn(kube, gs)
                if isinstance(result, GangschedApi):
                    gs = result
            except Exception as e:  # noqa: BLE001 - one failed scenario must not hide the others
                traceback.print_exc()
                check(False, f"{name}: {e}")
            print(f"    ({name}: {time.monotonic() - t0:.1f}s)", flush=True)
    finally:
        gs.stop()
        try:
            clean(kube)
        except (ApiError, TimeoutError) as e:
            print(f"  (clean-up failed: {e})", flush=True)
    rc = checks.summary()
    if rc:
        print(f"  gangsched log: {gs.log_file}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
