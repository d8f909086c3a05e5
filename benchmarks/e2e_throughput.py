#!/usr/bin/env python3
"""End-to-end scheduling throughput: kube-scheduler + gangsched (API mode) vs the same kube-scheduler
without the extender, on the real e2e control plane (docs/e2e.md) with fake 8-GPU nodes.
Python 3.11 standard library only. `make bench-e2e`; results in docs/benchmarks.md.

  benchmarks/e2e_throughput.py [--layout 5x10x10] [--pods 2000] [--reps 3] [--shape ps-workers] ...

Workload: gangs drawn from the Philly-derived gavel traces (/work/shared/data/gavel/msr_seed0/*.trace,
SOURCES.md; field 7 = the job's GPUs), shaped into pods as sim/trace.cc's ShapeGang does:
  ps-workers  one 1-GPU worker per GPU, plus ceil(GPUs/4) CPU-only parameter servers when GPUs > 1
  packed      ceil(GPUs/8) workers of up to 8 GPUs (the rest in one tail worker)
Jobs are drawn in a seeded random order from all twelve traces until --pods pods; jobs that would
take the workload over --max-gpu-fraction of the cluster's GPUs are skipped, so every gang fits at
once and nothing departs: the rate measured is the schedulers', not the workload's.

Phases, alternated per repetition (plain first), each on an empty cluster:
  plain     kube-scheduler with the shipped KubeSchedulerConfiguration minus its `extenders:`; the
            same pods without the gangsched.io/gang and gangsched.io/min-members annotations
  gangsched the shipped configuration (both extender entries) with `gangsched serve --kubeconfig`
            started fresh for the phase (binds through the API server); the pods carry the gang
            annotations (min-members = the gang's pod count)
Both configurations get the same clientConnection qps/burst (--qps/--burst, default 500/1000: the
default 50/100 would cap the rate) — the only other change from manifests/base/kube-scheduler-config.yaml.
kube-scheduler is restarted between phases (scripts/controlplane.sh restart-scheduler).

Measured per phase: the pods are created by --threads client threads, each on its own keep-alive
HTTPS connection, gang by gang; a watch on the namespace records when each pod is first seen with
spec.nodeName. pods/s = pods / (first create sent -> last pod seen bound); per-pod latency = create
sent -> seen bound (p50, p99). Clean-up: the pods are deleted with grace period 0 (no kubelet, no GC)
and the namespace is waited empty. Medians over the repetitions are printed last, with the load average.

gangsched phase diagnostics: filter/prioritize/bind took_us from its log, filter rejections, nudges,
and per pod how often the watch saw it PodScheduled=False (rejected before it was bound).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import queue
import random
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "lib"))
from extenders import GangschedApi, free_port  # noqa: E402
from kubeapi import ApiError, Kube, wait_for  # noqa: E402

NS = "bench-e2e"
TOLERATION = {"key": "gangsched.io/gpu", "operator": "Exists", "effect": "NoSchedule"}
POD_CPU, POD_MEMORY = "4", "16Gi"  # as sim/trace.h kPodMilliCpu / kPodMemoryBytes
SHIPPED_CONFIG = os.path.join(ROOT, "manifests", "base", "kube-scheduler-config.yaml")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- workload ------------------------------------------------------------------------------------

def read_gavel_traces(trace_dir: str) -> list[tuple[str, int]]:
    """(job id, GPUs) of every job of every *.trace file in trace_dir (7 tab-separated fields;
    scale_factor, the GPU count, is the 7th), in file order."""
    jobs = []
    files = sorted(f for f in os.listdir(trace_dir) if f.endswith(".trace"))
    if not files:
        raise SystemExit(f"no *.trace files in {trace_dir}")
    for name in files:
        with open(os.path.join(trace_dir, name), encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 7:
                    raise SystemExit(f"{name}:{line_no}: expected 7 tab-separated fields, got {len(fields)}")
                gpus = int(float(fields[6]))
                if gpus < 1:
                    raise SystemExit(f"{name}:{line_no}: scale_factor {fields[6]!r} is not a positive GPU count")
                jobs.append((f"{name.removesuffix('.trace')}-{line_no}", gpus))
    return jobs


def shape_gang(gpus: int, shape: str) -> list[tuple[str, int]]:
    """(role, GPUs) of each pod of a job of `gpus` GPUs (sim/trace.cc ShapeGang)."""
    if shape == "ps-workers":
        pods = [("worker", 1)] * gpus
        if gpus > 1:
            pods += [("ps", 0)] * ((gpus + 3) // 4)
        return pods
    n = (gpus + 7) // 8
    if gpus % n == 0:
        return [("worker", gpus // n)] * n
    return [("worker", 8)] * (n - 1) + [("worker-tail", gpus - 8 * (n - 1))]


def draw_gangs(jobs: list[tuple[str, int]], shape: str, pods: int, gpu_budget: int,
               seed: int) -> list[dict]:
    order = list(range(len(jobs)))
    random.Random(seed).shuffle(order)
    gangs, n_pods, n_gpus = [], 0, 0
    for i in order:
        if n_pods >= pods:
            break
        job_id, gpus = jobs[i]
        members = shape_gang(gpus, shape)
        if n_gpus + gpus > gpu_budget or n_pods + len(members) > pods * 1.05:
            continue
        gangs.append({"name": f"g{len(gangs):04d}", "job": job_id, "gpus": gpus, "members": members})
        n_pods += len(members)
        n_gpus += gpus
    return gangs


def pod_objects(gangs: list[dict], with_gang: bool) -> list[dict]:
    """The benchmark's pods, gang by gang; the same in both phases but for the gang annotations."""
    out = []
    for g in gangs:
        counts: dict[str, int] = {}
        for role, gpus in g["members"]:
            i = counts[role] = counts.get(role, -1) + 1
            resources = {"requests": {"cpu": POD_CPU, "memory": POD_MEMORY}}
            if gpus:
                resources["limits"] = {"nvidia.com/gpu": str(gpus)}
            annotations = {}
            if with_gang:
                annotations = {"gangsched.io/gang": g["name"], "gangsched.io/min-members": str(len(g["members"]))}
            out.append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{g['name']}-{role}-{i}", "namespace": NS,
                             "labels": {"gangsched.io/bench-gang": g["name"], "gangsched.io/bench-role": role},
                             "annotations": annotations},
                "spec": {"schedulerName": "gang-scheduler", "tolerations": [TOLERATION],
                         "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "train", "image": "registry.invalid/gangsched/bench:never-pulled",
                                         "resources": resources}]},
            })
    return out


# ---- API client with keep-alive connections (kubeapi.Kube opens a connection per request) --------

class Conn:
    """One keep-alive HTTPS connection to the API server, with the admin kubeconfig's client
    certificate (scripts/controlplane.sh writes kubeconfigs as JSON with file paths)."""

    def __init__(self, kubeconfig: str, timeout: float = 60):
        with open(kubeconfig, encoding="utf-8") as f:
            cfg = json.load(f)
        ctx = next(c for c in cfg["contexts"] if c["name"] == cfg["current-context"])["context"]
        cluster = next(c for c in cfg["clusters"] if c["name"] == ctx["cluster"])["cluster"]
        user = next(u for u in cfg["users"] if u["name"] == ctx["user"])["user"]
        self.ssl = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ssl.load_cert_chain(user["client-certificate"], user["client-key"])
        url = urllib.parse.urlsplit(cluster["server"])
        self.host, self.port, self.timeout = url.hostname, url.port, timeout
        self.conn: http.client.HTTPSConnection | None = None

    def connect(self) -> http.client.HTTPSConnection:
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=self.timeout)
        return self.conn

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                c = self.connect()
                c.request(method, path, body=data, headers=headers)
                resp = c.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class PodWatch:
    """Watches the namespace's pods from a resourceVersion; records when each pod is first seen with
    spec.nodeName, its node, and how many times it was seen PodScheduled=False."""

    def __init__(self, kubeconfig: str, resource_version: str):
        self.conn = Conn(kubeconfig, timeout=600)
        self.rv = resource_version
        self.bound: dict[str, float] = {}
        self.bound_wall: dict[str, float] = {}
        self.node: dict[str, str] = {}
        self.rejected: dict[str, int] = {}
        self.nudged: set[str] = set()
        self.cond = threading.Condition()
        self.error: str | None = None
        self.stopping = False
        self.rewatches = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            while not self.stopping:
                self.watch_once()
        except Exception as e:  # noqa: BLE001 - reported by the waiter
            if not self.stopping:
                with self.cond:
                    self.error = f"{type(e).__name__}: {e}"
                    self.cond.notify_all()

    def watch_once(self) -> None:
        """One watch request from self.rv; returns when the server ends it (the API server closes
        watchers it finds slow to read: then the watch resumes from the last resourceVersion seen)."""
        c = self.conn.connect()
        c.request("GET", f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={self.rv}"
                         "&allowWatchBookmarks=true&timeoutSeconds=3600", headers={"Accept": "application/json"})
        resp = c.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"watch: HTTP {resp.status}: {resp.read()[:300]!r}")
        while True:
            line = resp.readline()
            if not line:
                self.conn.close()
                self.rewatches += 1
                return
            now = time.monotonic()
            ev = json.loads(line)
            if ev.get("type") == "ERROR":
                raise RuntimeError(f"watch error: {ev.get('object')}")
            pod = ev.get("object", {})
            md = pod.get("metadata", {})
            self.rv = md.get("resourceVersion", self.rv)
            if ev.get("type") == "BOOKMARK":
                continue
            name = md.get("name", "")
            node = pod.get("spec", {}).get("nodeName")
            with self.cond:
                if "gangsched.io/nudge" in (md.get("annotations") or {}):
                    self.nudged.add(name)
                if node and name not in self.bound:
                    self.bound[name] = now
                    self.bound_wall[name] = time.time()
                    self.node[name] = node
                    self.cond.notify_all()
                elif not node:
                    for cnd in pod.get("status", {}).get("conditions") or []:
                        if cnd.get("type") == "PodScheduled" and cnd.get("status") == "False":
                            self.rejected[name] = self.rejected.get(name, 0) + 1

    def wait_all(self, names: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not names <= self.bound.keys():
                if self.error:
                    raise RuntimeError(self.error)
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
        return True

    def stop(self) -> None:
        self.stopping = True
        if self.conn.conn is not None and self.conn.conn.sock is not None:
            try:
                self.conn.conn.sock.shutdown(2)
            except OSError:
                pass
        self.conn.close()


# ---- phases --------------------------------------------------------------------------------------

def scheduler_config(out: str, with_extenders: bool, qps: int, burst: int) -> str:
    """manifests/base/kube-scheduler-config.yaml with clientConnection qps/burst set and, for the plain
    phase, the `extenders:` list (the file's last top-level key) removed. Fails if the shipped file no
    longer has the shape this edits, rather than benchmark something else."""
    text = open(SHIPPED_CONFIG, encoding="utf-8").read()
    new, n = re.subn(r"(?m)^clientConnection:\n", f"clientConnection:\n  qps: {qps}\n  burst: {burst}\n", text)
    if n != 1 or re.search(r"(?m)^\s+(qps|burst):", text):
        raise SystemExit(f"{SHIPPED_CONFIG}: cannot set clientConnection qps/burst")
    if not with_extenders:
        m = re.search(r"(?m)^extenders:\n", new)
        if not m or re.search(r"(?m)^[A-Za-z]", new[m.end():]):
            raise SystemExit(f"{SHIPPED_CONFIG}: `extenders:` is not the last top-level key")
        new = new[:m.start()]
    with open(out, "w", encoding="utf-8") as f:
        f.write(new)
    return out


def controlplane(*args: str, env: dict | None = None) -> str:
    proc = subprocess.run([os.path.join(ROOT, "scripts", "controlplane.sh"), *args], env=env,
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"controlplane.sh {' '.join(args)} failed ({proc.returncode})")
    return proc.stdout


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def create_all(kubeconfig: str, pods: list[dict], threads: int) -> tuple[dict[str, float], float]:
    """Creates the pods with `threads` workers (keep-alive connection each), in order; returns the
    monotonic time each create was sent, and the time the last create returned."""
    q: queue.Queue = queue.Queue()
    for p in pods:
        q.put(p)
    sent: dict[str, float] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = Conn(kubeconfig)
        try:
            while True:
                try:
                    pod = q.get_nowait()
                except queue.Empty:
                    return
                name = pod["metadata"]["name"]
                t = time.monotonic()
                status, body = conn.request("POST", f"/api/v1/namespaces/{NS}/pods", pod)
                with lock:
                    sent[name] = t
                    if status != 201:
                        errors.append(f"{name}: HTTP {status}: {body[:200]!r}")
        finally:
            conn.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} creates failed, first: {errors[0]}")
    return sent, time.monotonic()


def clean(kube: Kube) -> None:
    """Every pod of the namespace deleted with grace period 0, and its Events; waits until empty."""
    kube.request("DELETE", f"/api/v1/namespaces/{NS}/pods",
                 {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
    for path in (f"/api/v1/namespaces/{NS}/events", f"/apis/events.k8s.io/v1/namespaces/{NS}/events"):
        try:
            kube.request("DELETE", path)
        except ApiError:
            pass
    wait_for(f"{NS} empty of pods", lambda: not kube.get(f"/api/v1/namespaces/{NS}/pods", limit="1")["items"], 120, 0.5)


def log_stats(path: str, since: int) -> dict:
    """took_us per verb and decision counts from gangsched's log (bytes after `since`)."""
    took: dict[str, list[int]] = {}
    decisions: dict[str, int] = {}
    nudges = nudged_pods = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(since)
        for line in f:
            m = re.search(r"verb=(\w+)", line)
            if not m:
                continue
            verb = m.group(1)
            d = re.search(r"decision=(\w+)", line)
            key = f"{verb}:{d.group(1) if d else '-'}"
            decisions[key] = decisions.get(key, 0) + 1
            t = re.search(r"took_us=(\d+)", line)
            if t:
                took.setdefault(key, []).append(int(t.group(1)))
            if verb == "nudge" and not d:
                nudges += 1
                p = re.search(r"pods=(\d+)", line)
                nudged_pods += int(p.group(1)) if p else 0
    return {"decisions": decisions, "nudges": nudges, "nudged_pods": nudged_pods,
            "took_us": {k: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99),
                            "sum_ms": sum(v) / 1000} for k, v in sorted(took.items())}}


def scheduler_log_stats(path: str, since: int) -> dict:
    """What kube-scheduler (--v 2) logged for this phase: binds, scheduling failures."""
    out = {"bound": 0, "unschedulable": 0, "errors": 0}
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(since)
        for line in f:
            if "Successfully bound pod to node" in line:
                out["bound"] += 1
            elif "Unable to schedule pod" in line:
                out["unschedulable"] += 1
            elif line.startswith("E"):
                out["errors"] += 1
    return out


def stop_scheduler(run_dir: str) -> None:
    """Ends the kube-scheduler that scripts/controlplane.sh started for this run (its pid file)."""
    pid_file = os.path.join(run_dir, "pids", "kube-scheduler.pid")
    if not os.path.exists(pid_file):
        return
    pid = int(open(pid_file).read())
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.unlink(pid_file)


def lease_acquired(kube: Kube) -> float:
    """Wall-clock time the gang-scheduler Lease was acquired by its current holder."""
    lease = kube.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/gang-scheduler")
    return dt.datetime.fromisoformat(lease["spec"]["acquireTime"]).timestamp()


def start_gangsched(phase: str, rep: int, run_dir: str) -> GangschedApi:
    saved = os.environ.get("SSL_CERT_FILE")
    if phase == "gangsched-cafile":
        # Diagnostic (docs/benchmarks.md): OpenSSL's default verify paths = the cluster CA alone,
        # so each new API client does not parse the system CA bundle.
        os.environ["SSL_CERT_FILE"] = os.path.join(run_dir, "pki", "ca.crt")
    try:
        return GangschedApi(name=f"{phase}-{rep}").start()
    finally:
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved


def run_phase(phase: str, rep: int, args, run_dir: str, gangs: list[dict], kube: Kube) -> dict:
    """stream: scheduler (and gangsched) running, then the pods are created; timed from the first
    create. backlog: no scheduler while the pods are created; then gangsched (which lists them) and
    kube-scheduler start; timed from kube-scheduler taking the Lease."""
    kubeconfig = os.path.join(run_dir, "admin.kubeconfig")
    with_gang = phase.startswith("gangsched")
    cfg = scheduler_config(os.path.join(run_dir, f"bench-{phase}-config.yaml"), with_gang, args.qps, args.burst)
    env = dict(os.environ, GANGSCHED_E2E_RUN_DIR=run_dir, GANGSCHED_E2E_SCHEDULER_CONFIG=cfg)
    sched_log = os.path.join(run_dir, "logs", "kube-scheduler.log")
    gs = None
    if args.mode == "stream":
        controlplane("restart-scheduler", "--run-dir", run_dir, env=env)
        if with_gang:
            gs = start_gangsched(phase, rep, run_dir)
    else:
        stop_scheduler(run_dir)
    pods = pod_objects(gangs, with_gang)
    names = {p["metadata"]["name"] for p in pods}
    rv = kube.get(f"/api/v1/namespaces/{NS}/pods")["metadata"]["resourceVersion"]
    watch = PodWatch(kubeconfig, rv)
    time.sleep(0.3)  # the watch is established
    sched_log_start = os.path.getsize(sched_log) if os.path.exists(sched_log) else 0
    load_before = loadavg()
    t_wall = dt.datetime.now().strftime("%H:%M:%S")
    try:
        sent, created_at = create_all(kubeconfig, pods, args.threads)
        t0 = min(sent.values())
        create_s = created_at - t0
        if args.mode == "backlog":
            if with_gang:
                gs = start_gangsched(phase, rep, run_dir)
            sched_log_start = 0  # controlplane.sh starts kube-scheduler on a truncated log
            load_before = loadavg()
            controlplane("restart-scheduler", "--run-dir", run_dir, env=env)
            # Same clock as the watch's wall times (one machine); monotonic times re-based on it.
            acquired = lease_acquired(kube)
            t0 = time.monotonic() - (time.time() - acquired)
            sent = {n: t0 for n in sent}
        ok = watch.wait_all(names, args.timeout)
        t_end = max(watch.bound.values()) if watch.bound else time.monotonic()
        load_after = loadavg()
        n_bound = len(names & watch.bound.keys())
        lat = [watch.bound[n] - sent[n] for n in names if n in watch.bound]
        result = {
            "phase": phase, "mode": args.mode, "rep": rep, "pods": len(pods), "gangs": len(gangs),
            "bound": n_bound, "complete": ok, "started": t_wall,
            "elapsed_s": t_end - t0, "pods_per_s": n_bound / (t_end - t0) if ok else float("nan"),
            "create_s": create_s, "create_per_s": len(pods) / create_s,
            "lat_p50_s": percentile(lat, 50), "lat_p99_s": percentile(lat, 99), "lat_max_s": max(lat or [0]),
            "pods_rejected_before_bound": sum(1 for n in names if watch.rejected.get(n)),
            "pods_nudged": len(watch.nudged & names), "rewatches": watch.rewatches,
            "load_before": load_before, "load_after": load_after,
        }
        if ok and with_gang:
            # Each gang bound whole, on as many nodes as gangsched chose (sanity, not the point here).
            split = 0
            for g in gangs:
                t = [watch.bound[p["metadata"]["name"]] for p in pods
                     if p["metadata"]["labels"]["gangsched.io/bench-gang"] == g["name"]]
                split += (max(t) - min(t)) > 2.0
            result["gangs_bound_over_2s_apart"] = split
        # Cross-check with the server's clock (PodScheduled=True lastTransitionTime, 1 s resolution):
        # a watch that lagged (or was re-established by a slow reader) would show later bound times.
        last = max((dt.datetime.fromisoformat(c["lastTransitionTime"]).timestamp()
                    for p in kube.get(f"/api/v1/namespaces/{NS}/pods")["items"]
                    for c in p.get("status", {}).get("conditions") or []
                    if c.get("type") == "PodScheduled" and c.get("status") == "True"), default=0.0)
        result["server_last_bound_s"] = last - (time.time() - (time.monotonic() - t0))
    finally:
        watch.stop()
        if gs is not None:
            gs.stop()
    result["kube_scheduler"] = scheduler_log_stats(sched_log, sched_log_start)
    if gs is not None:
        result["gangsched"] = log_stats(gs.log_file, 0)
    clean(kube)
    return result


def fmt(r: dict) -> str:
    return (f"{r['phase']:9s} rep {r['rep']}: {r['bound']}/{r['pods']} pods bound in {r['elapsed_s']:.1f}s = "
            f"{r['pods_per_s']:.1f} pods/s; create {r['create_per_s']:.0f} pods/s ({r['create_s']:.1f}s); "
            f"{'create' if r['mode'] == 'stream' else 'leader'}->bound p50 {r['lat_p50_s']:.2f}s "
            f"p99 {r['lat_p99_s']:.2f}s max {r['lat_max_s']:.2f}s; "
            f"last PodScheduled (server clock, 1 s resolution) at {r.get('server_last_bound_s', math.nan):.0f}s; "
            f"rejected before bound {r['pods_rejected_before_bound']}, nudged {r['pods_nudged']}; "
            f"watch re-established {r['rewatches']}x; "
            f"load {r['load_before']} -> {r['load_after']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", default="5x10x10", help="fake nodes BLOCKSxRACKSxNODES, 8 GPUs each (500)")
    ap.add_argument("--pods", type=int, default=2000, help="about this many pods per phase")
    ap.add_argument("--shape", choices=("ps-workers", "packed"), default="ps-workers")
    ap.add_argument("--max-gpu-fraction", type=float, default=0.8,
                    help="at most this share of the cluster's GPUs requested")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mode", choices=("stream", "backlog"), default="stream",
                    help="stream: timed from the first pod created while the schedulers run (default); "
                         "backlog: pods created first, timed from kube-scheduler taking its Lease")
    ap.add_argument("--phases", default="plain,gangsched",
                    help="order within a repetition; also gangsched-cafile: gangsched with SSL_CERT_FILE "
                         "= the cluster CA (a diagnostic, docs/benchmarks.md)")
    ap.add_argument("--threads", type=int, default=16, help="client threads creating pods")
    ap.add_argument("--qps", type=int, default=500, help="kube-scheduler clientConnection.qps (both phases)")
    ap.add_argument("--burst", type=int, default=1000, help="kube-scheduler clientConnection.burst (both phases)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trace-dir", default=os.environ.get(
        "GANGSCHED_TRACE_DIR", os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "gavel", "msr_seed0"))))
    ap.add_argument("--timeout", type=float, default=600, help="seconds a phase may take to bind everything")
    ap.add_argument("--gangsched", default=None, help="gangsched binary (copied to the run dir first; "
                    "default $GANGSCHED_BIN or build/gangsched)")
    ap.add_argument("--run-dir", default=None, help="run dir (default a new /tmp/gangsched-bench.XXXXXX)")
    ap.add_argument("--keep", action="store_true", help="keep the run dir (always kept on failure)")
    ap.add_argument("--json", default=None, help="write every phase's result here")
    args = ap.parse_args()

    blocks, racks, per = (int(x) for x in args.layout.lower().split("x"))
    nodes = blocks * racks * per
    jobs = read_gavel_traces(args.trace_dir)
    gangs = draw_gangs(jobs, args.shape, args.pods, int(nodes * 8 * args.max_gpu_fraction), args.seed)
    n_pods = sum(len(g["members"]) for g in gangs)
    sizes: dict[int, int] = {}
    for g in gangs:
        sizes[len(g["members"])] = sizes.get(len(g["members"]), 0) + 1
    log(f"workload: {len(gangs)} gangs, {n_pods} pods, {sum(g['gpus'] for g in gangs)} of {nodes * 8} GPUs, "
        f"shape {args.shape}, seed {args.seed}, from {len(jobs)} jobs in {args.trace_dir}")
    log("gangs by pod count: " + ", ".join(f"{k}:{v}" for k, v in sorted(sizes.items())))

    run_dir = args.run_dir or tempfile.mkdtemp(prefix="gangsched-bench.")
    os.makedirs(run_dir, exist_ok=True)
    # A private copy: a concurrent rebuild of build/gangsched must not swap the binary mid-run.
    src = args.gangsched or os.environ.get("GANGSCHED_BIN") or os.path.join(ROOT, "build", "gangsched")
    os.environ["GANGSCHED_BIN"] = shutil.copy2(src, os.path.join(run_dir, "gangsched"))
    for var in ("GANGSCHED_E2E_EXTENDER_PORT", "GANGSCHED_E2E_BIND_PORT"):
        os.environ.setdefault(var, str(free_port()))
    log(f"run dir {run_dir}; extender ports {os.environ['GANGSCHED_E2E_EXTENDER_PORT']}/"
        f"{os.environ['GANGSCHED_E2E_BIND_PORT']}; load {loadavg()}")
    t_cp = time.monotonic()
    out = controlplane("start", "--run-dir", run_dir, "--no-scheduler", "--layout", args.layout,
                       env=dict(os.environ, GANGSCHED_E2E_TRAINING_OPERATOR="0"))
    for m in re.finditer(r"^export (\w+)='(.*)'$", out, re.M):
        os.environ[m.group(1)] = m.group(2)
    log(f"control plane with {nodes} fake nodes up in {time.monotonic() - t_cp:.0f}s")

    results: list[dict] = []
    failed = False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        kube = Kube(os.environ["KUBECONFIG"])
        if not kube.exists(f"/api/v1/namespaces/{NS}"):
            kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        for rep in range(1, args.reps + 1):
            for phase in args.phases.split(","):
                r = run_phase(phase, rep, args, run_dir, gangs, kube)
                results.append(r)
                log(fmt(r))
                if "gangsched" in r:
                    g = r["gangsched"]
                    log("  gangsched: " + ", ".join(f"{k} n={v['n']} p50 {v['p50'] / 1000:.2f}ms p99 "
                                                    f"{v['p99'] / 1000:.2f}ms sum {v['sum_ms'] / 1000:.1f}s"
                                                    for k, v in g["took_us"].items())
                        + f"; decisions {g['decisions']}; nudges {g['nudges']} ({g['nudged_pods']} pods)")
                log(f"  kube-scheduler log: {r['kube_scheduler']}")
                if not r["complete"]:
                    failed = True
                    raise RuntimeError(f"{phase} rep {rep}: only {r['bound']}/{r['pods']} bound in {args.timeout:.0f}s")
    except BaseException:
        failed = True
        raise
    finally:
        controlplane("stop", "--run-dir", run_dir)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"args": vars(args), "gangs": len(gangs), "pods": n_pods, "results": results}, f, indent=1)
        if failed or args.keep:
            log(f"run dir kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)

    print()
    print(f"medians over {args.reps} repetitions, mode {args.mode} ({n_pods} pods in {len(gangs)} gangs, {nodes} nodes, "
          f"kube-scheduler qps {args.qps} / burst {args.burst}, {args.threads} client threads):")
    med = {}
    for phase in args.phases.split(","):
        rs = [r for r in results if r["phase"] == phase]
        med[phase] = {k: statistics.median(r[k] for r in rs)
                      for k in ("pods_per_s", "elapsed_s", "lat_p50_s", "lat_p99_s", "create_per_s")}
        m = med[phase]
        print(f"  {phase:9s} {m['pods_per_s']:7.1f} pods/s  ({m['elapsed_s']:.1f}s; "
              f"{'create' if args.mode == 'stream' else 'leader'}->bound p50 "
              f"{m['lat_p50_s']:.2f}s p99 {m['lat_p99_s']:.2f}s; pods created at {m['create_per_s']:.0f}/s)")
    for phase in ("gangsched", "gangsched-cafile"):
        if "plain" in med and phase in med:
            ratio = med[phase]["pods_per_s"] / med["plain"]["pods_per_s"]
            print(f"  {phase} / plain = {ratio:.0%}  (targets: >= 100 pods/s "
                  f"{'met' if med[phase]['pods_per_s'] >= 100 else 'NOT met'}, >= 80% of plain "
                  f"{'met' if ratio >= 0.8 else 'NOT met'})")
    print(f"  load average at the end: {loadavg()} (2 cores shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
