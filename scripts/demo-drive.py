#!/usr/bin/python3
"""Drives Kubeflow TFJob manifests through a running `gangsched serve` exactly as kube-scheduler would.

For every pod the training-operator would create for the jobs (`<job>-<replica type>-<index>`, its
labels, the replica template's spec, a fresh UID) this plays kube-scheduler's part
(reference/extender-protocol.md §2):
  * the in-tree filters first (node unschedulable, taints/tolerations, nodeSelector, and resource
    fit against its own cache: allocatable minus running and assumed pods); the surviving node names
    go to POST /filter in NodeNames mode (nodeCacheCapable: true, "Nodes": null, the Pod JSON
    without kind/apiVersion);
  * POST /prioritize on the nodes the extender kept — kube-scheduler skips scoring when only one
    node is left (§2.4), and so does this driver (gangsched narrows gang members to one node);
  * the pod is assumed on the chosen node and its POST /bind runs on its own thread (the
    asynchronous binding cycle, §2.5), so the binds of one gang are in flight concurrently and the
    barrier holds them until the whole gang has arrived; an unschedulable pod or a failed bind is
    requeued with backoff, as kube-scheduler does.
Then it prints where each job went (pod -> node, GPU ids from GET /api/v1/gangs).

With --gangsched BIN it starts the server itself on a generated cluster file (the --cluster file
followed by the job manifests, so `serve` knows the rosters) and either keeps it serving until
Ctrl-C (--keep-serving; when stdin is not a terminal it is left running in the background
and its PID printed) or stops it. --check exits 1 unless every job was placed whole.

Python 3 standard library plus PyYAML (Debian python3-yaml, scripts/install-deps.sh).
"""

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import yaml

GPU = "nvidia.com/gpu"
SCHEDULER_NAME = "gang-scheduler"  # the profile of the shipped KubeSchedulerConfiguration

# ---- Kubernetes objects ------------------------------------------------------------------------

_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": 10**-9, "u": 10**-6, "m": 10**-3, "": 1, "k": 10**3, "M": 10**6, "G": 10**9,
    "T": 10**12, "P": 10**15, "E": 10**18,
}


def quantity(value, milli=False):
    """A resource.Quantity as an integer in base units (milli-units when `milli`), rounded up."""
    text = str(value).strip()
    match = re.fullmatch(r"([+-]?[0-9.]+)([eE][+-]?[0-9]+|[A-Za-z]*)", text)
    if not match or (match.group(2) and match.group(2)[0] not in "eE" and
                     match.group(2) not in _SUFFIX):
        raise ValueError(f"not a resource quantity: {text!r}")
    number, suffix = match.groups()
    scale = 10**int(suffix[1:]) if suffix[:1] in ("e", "E") else _SUFFIX[suffix]
    amount = float(number) * scale * (1000 if milli else 1)
    return int(-(-amount // 1))


def load_objects(path):
    """Every object of a YAML/JSON file; the items of List kinds flattened."""
    out = []
    with open(path, encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            if str(doc.get("kind", "")).endswith("List"):
                item_kind = doc["kind"][:-4]
                for item in doc.get("items") or []:
                    item.setdefault("kind", item_kind)
                    out.append(item)
            else:
                out.append(doc)
    return out


def pod_requests(spec):
    """Effective requests as kube-scheduler counts them (containers summed, init containers'
    maximum), after the API server's defaulting (a limit without a request is requested at it)."""
    def container(c):
        res = c.get("resources") or {}
        req = dict(res.get("limits") or {})
        req.update(res.get("requests") or {})
        return {
            "cpu": quantity(req.get("cpu", 0), milli=True),
            "memory": quantity(req.get("memory", 0)),
            GPU: quantity(req.get(GPU, 0)),
        }
    total = {"cpu": 0, "memory": 0, GPU: 0}
    for c in spec.get("containers") or []:
        for k, v in container(c).items():
            total[k] += v
    for c in spec.get("initContainers") or []:
        for k, v in container(c).items():
            total[k] = max(total[k], v)
    total["pods"] = 1
    return total


def default_resources(spec):
    """The API server's defaulting of container resources: requests default to limits."""
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources")
        if not res:
            continue
        for k in ("limits", "requests"):
            if res.get(k):
                res[k] = {name: str(v) for name, v in res[k].items()}
        if res.get("limits"):
            requests = res.setdefault("requests", {})
            for name, v in res["limits"].items():
                requests.setdefault(name, v)


class Cluster:
    """kube-scheduler's cache: nodes, and what running and assumed pods take on each."""

    def __init__(self, objects):
        self.nodes = {}
        self.order = []
        for o in objects:
            if o.get("kind") != "Node":
                continue
            name = o["metadata"]["name"]
            alloc = (o.get("status") or {}).get("allocatable") or {}
            self.nodes[name] = {
                "labels": (o["metadata"].get("labels") or {}),
                "taints": ((o.get("spec") or {}).get("taints") or []),
                "unschedulable": bool((o.get("spec") or {}).get("unschedulable")),
                "allocatable": {
                    "cpu": quantity(alloc.get("cpu", 0), milli=True),
                    "memory": quantity(alloc.get("memory", 0)),
                    GPU: quantity(alloc.get(GPU, 0)),
                    "pods": quantity(alloc.get("pods", 110)),
                },
                "used": {"cpu": 0, "memory": 0, GPU: 0, "pods": 0},
            }
            self.order.append(name)
        for o in objects:
            spec = o.get("spec") or {}
            phase = (o.get("status") or {}).get("phase", "")
            if o.get("kind") == "Pod" and spec.get("nodeName") in self.nodes and \
                    phase not in ("Succeeded", "Failed"):
                self.assume(spec["nodeName"], pod_requests(spec))
        self.lock = threading.Lock()

    def assume(self, node, requests, sign=1):
        for k, v in requests.items():
            self.nodes[node]["used"][k] += sign * v

    def feasible(self, pod):
        """The in-tree Filter plugins that apply to these pods: NodeUnschedulable, TaintToleration,
        NodeSelector (NodeAffinity), NodeResourcesFit."""
        spec = pod["spec"]
        requests = pod_requests(spec)
        tolerations = spec.get("tolerations") or []
        selector = spec.get("nodeSelector") or {}
        out = []
        with self.lock:
            for name in self.order:
                n = self.nodes[name]
                if n["unschedulable"]:
                    continue
                if any(n["labels"].get(k) != v for k, v in selector.items()):
                    continue
                if not all(tolerated(t, tolerations) for t in n["taints"]
                           if t.get("effect") in ("NoSchedule", "NoExecute")):
                    continue
                if all(n["used"][k] + requests[k] <= n["allocatable"][k] for k in requests):
                    out.append(name)
        return out


def tolerated(taint, tolerations):
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and str(t.get("value", "")) == \
                str(taint.get("value", "")):
            return True
    return False


# ---- TFJob -> pods (as training-operator creates them) -----------------------------------------

def replica_specs(job):
    """(replica type, replicas, replicaSpec) of a TFJob in any of its API versions."""
    spec = job.get("spec") or {}
    if isinstance(spec.get("replicaSpecs"), list):  # kubeflow.org/v1alpha1
        for r in spec["replicaSpecs"]:
            yield r.get("tfReplicaType", "MASTER"), int(r.get("replicas", 1)), r
    for rtype, r in (spec.get("tfReplicaSpecs") or {}).items():  # v1alpha2, v1
        yield rtype, int(r.get("replicas", 1) if r.get("replicas") is not None else 1), r


def job_pods(job):
    """The pods training-operator would create for `job`, in creation order. v1alpha2 pods carry
    that operator's labels (tf-job-name, tf-replica-type, tf-replica-index); v1 and v1alpha1 jobs
    get today's training.kubeflow.org/* labels (no operator serving v1alpha1 exists any more)."""
    meta = job["metadata"]
    name = meta["name"]
    namespace = meta.get("namespace", "default")
    api_version = job.get("apiVersion", "")
    legacy = api_version.endswith("/v1alpha2")
    job_uid = str(uuid.uuid4())
    pods = []
    for rtype, replicas, rspec in replica_specs(job):
        role = rtype.lower()
        for index in range(replicas):
            template = json.loads(json.dumps((rspec.get("template") or {})))
            spec = template.get("spec") or {}
            defaulted = "schedulerName" not in spec
            spec.setdefault("schedulerName", SCHEDULER_NAME)
            policy = rspec.get("restartPolicy")
            if policy:
                spec["restartPolicy"] = "Never" if policy == "ExitCode" else policy
            default_resources(spec)
            if legacy:
                labels = {"group-name": "kubeflow.org", "tf-job-name": name,
                          "tf-replica-type": role, "tf-replica-index": str(index)}
            else:
                labels = {"training.kubeflow.org/operator-name": "tfjob-controller",
                          "training.kubeflow.org/job-name": name,
                          "training.kubeflow.org/replica-type": role,
                          "training.kubeflow.org/replica-index": str(index)}
                if role in ("chief", "master"):
                    labels["training.kubeflow.org/job-role"] = "master"
            labels.update((template.get("metadata") or {}).get("labels") or {})
            pod_meta = {
                "name": f"{name}-{role}-{index}",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(1000 + len(pods)),
                "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "labels": labels,
                "ownerReferences": [{"apiVersion": api_version, "kind": job.get("kind", "TFJob"),
                                     "name": name, "uid": job_uid, "controller": True,
                                     "blockOwnerDeletion": True}],
            }
            annotations = (template.get("metadata") or {}).get("annotations")
            if annotations:
                pod_meta["annotations"] = annotations
            pods.append({"job": f"{namespace}/{name}", "kind": f"TFJob {api_version}",
                         "role": role, "scheduler_name_defaulted": defaulted,
                         "pod": {"metadata": pod_meta, "spec": spec,
                                 "status": {"phase": "Pending"}}})
    return pods


# ---- HTTP --------------------------------------------------------------------------------------

def post(url, body, timeout):
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


# ---- kube-scheduler's part ---------------------------------------------------------------------

class Scheduler:
    def __init__(self, cluster, verbs, binds, bind_timeout, log):
        self.cluster = cluster
        self.verbs = verbs.rstrip("/")
        self.binds = binds.rstrip("/")
        self.bind_timeout = bind_timeout
        self.log = log
        self.requeued = queue.Queue()
        self.results = {}  # pod name -> (node, error)
        self.in_flight = 0
        self.lock = threading.Lock()
        self.threads = []
        self.counts = {"filter": 0, "prioritize": 0, "bind": 0}

    def schedule_one(self, p):
        """One scheduling cycle; returns the reason when the pod is unschedulable."""
        pod = p["pod"]
        ref = f'{pod["metadata"]["namespace"]}/{pod["metadata"]["name"]}'
        offered = self.cluster.feasible(pod)
        if not offered:
            return "0 nodes pass kube-scheduler's own filters"
        args = {"Pod": pod, "Nodes": None, "NodeNames": offered}
        self.counts["filter"] += 1
        reply = post(self.verbs + "/filter", args, timeout=5)
        if reply.get("Error"):
            return "filter error: " + reply["Error"]
        kept = reply.get("NodeNames") or []
        if any(n not in offered for n in kept):
            raise RuntimeError(f"filter for {ref} claims a node not in the input list: {kept}")
        if not kept:
            reasons = reply.get("FailedAndUnresolvableNodes") or reply.get("FailedNodes") or {}
            return next(iter(reasons.values()), "no node kept by the extender")
        if len(kept) == 1:
            node, how = kept[0], "filter narrowed to 1 node; prioritize skipped (§2.4)"
        else:
            self.counts["prioritize"] += 1
            scores = post(self.verbs + "/prioritize", dict(args, NodeNames=kept), timeout=5)
            by_host = {s["Host"]: s["Score"] for s in scores}
            node = max(kept, key=lambda n: by_host.get(n, 0))  # first of the best: stable
            how = f"prioritize over {len(kept)} nodes, score {by_host.get(node, 0)}"
        with self.cluster.lock:
            self.cluster.assume(node, pod_requests(pod["spec"]))
        self.log(f"  {ref:<34} filter {len(offered):>2} offered -> {how}; bind {node}")
        with self.lock:
            self.in_flight += 1
        t = threading.Thread(target=self.bind, args=(p, node), daemon=True)
        t.start()
        self.threads.append(t)
        return None

    def bind(self, p, node):
        meta = p["pod"]["metadata"]
        args = {"PodName": meta["name"], "PodNamespace": meta["namespace"], "PodUID": meta["uid"],
                "Node": node}
        try:
            error = post(self.binds + "/bind", args, timeout=self.bind_timeout).get("Error", "")
        except (urllib.error.URLError, OSError, ValueError) as e:
            error = f"bind request failed: {e}"
        with self.lock:
            self.counts["bind"] += 1
            self.in_flight -= 1
            if error:
                with self.cluster.lock:
                    self.cluster.assume(node, pod_requests(p["pod"]["spec"]), sign=-1)
                self.requeued.put((p, "bind: " + error))
            else:
                self.results[meta["name"], meta["namespace"]] = node

    def run(self, pods, deadline):
        """Schedules every pod, requeueing with backoff, until all are bound or `deadline`."""
        pending = list(pods)
        reasons = {}
        backoff = 0.5
        while time.monotonic() < deadline:
            waiting = []
            for p in pending:
                why = self.schedule_one(p)
                if why:
                    waiting.append(p)
                    reasons[p["pod"]["metadata"]["name"]] = why
            pending = waiting
            if pending:
                self.log(f"  {len(pending)} pod(s) unschedulable, retry in {backoff:.1f}s: "
                         f'{reasons[pending[0]["pod"]["metadata"]["name"]]}')
            # kube-scheduler goes on scheduling while binds are in flight (its binding cycles are
            # asynchronous, and gangsched holds a member's bind until the whole gang arrives): a
            # rejected pod is retried after its backoff, and a pod whose bind failed joins it.
            retry_at = time.monotonic() + backoff
            while True:
                with self.lock:
                    idle = self.in_flight == 0
                try:
                    p, why = self.requeued.get(timeout=0.05)
                    pending.append(p)
                    reasons[p["pod"]["metadata"]["name"]] = why
                    self.log(f'  {p["pod"]["metadata"]["name"]} requeued: {why}')
                    continue
                except queue.Empty:
                    pass
                now = time.monotonic()
                if now >= deadline or (pending and now >= retry_at) or (not pending and idle):
                    break
            if not pending:
                return {}
            backoff = min(backoff * 2, 10)
        return {p["pod"]["metadata"]["name"]: reasons.get(p["pod"]["metadata"]["name"], "")
                for p in pending}


# ---- the server (optional) ---------------------------------------------------------------------

def start_server(args, log):
    combined = os.path.join(args.workdir, "demo-cluster.yaml")
    os.makedirs(args.workdir, exist_ok=True)
    with open(combined, "w", encoding="utf-8") as out:
        for path in [args.cluster] + args.jobs:
            out.write(f"# ---- {path}\n---\n")
            with open(path, encoding="utf-8") as f:
                out.write(f.read())
            out.write("\n")
    log_path = os.path.join(args.workdir, "gangsched-serve.log")
    cmd = [args.gangsched, "serve", "--cluster", combined, "--listen", args.listen,
           "--bind-listen", args.bind_listen, "--ops-listen", args.ops_listen]
    log(f"$ {' '.join(cmd)}\n  (log: {log_path})")
    # The server writes to its log file directly (not through a pipe), so it can outlive this
    # driver; its own session keeps a terminal's Ctrl-C for the driver, which then stops it.
    with open(log_path, "w", encoding="utf-8") as logfile:
        server = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    ports = None
    pattern = re.compile(r"gangsched serving: .*\(port (\d+)\), binds port (\d+), ops port (\d+)")
    while ports is None and server.poll() is None:
        with open(log_path, encoding="utf-8") as f:
            m = pattern.search(f.read())
        if m:
            ports = [int(x) for x in m.groups()]
        else:
            time.sleep(0.05)
    if ports is None:
        with open(log_path, encoding="utf-8") as f:
            sys.stderr.write(f.read())
        raise SystemExit(f"demo-drive: gangsched serve exited ({server.wait()}) before serving")
    host = lambda addr: addr.rsplit(":", 1)[0].replace("0.0.0.0", "127.0.0.1")
    args.verbs = f"http://{host(args.listen)}:{ports[0]}"
    args.binds = f"http://{host(args.bind_listen)}:{ports[1]}"
    args.ops = f"http://{host(args.ops_listen)}:{ports[2]}"
    log(f"gangsched serve pid {server.pid}: verbs {args.verbs}, binds {args.binds}, "
        f"ops {args.ops}")
    return server


def stop_server(server):
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ---- main --------------------------------------------------------------------------------------

def gpu_ids_by_pod(gang, bound):
    """Pod -> GPU ids from the gang's plan. Members of one role are interchangeable, so the plan
    lists (role, node) slots; each bound pod takes a slot of its role on its node."""
    slots = {}
    for s in ((gang or {}).get("plan") or {}).get("pods") or []:
        slots.setdefault((s["role"], s["node"]), []).append(s.get("gpu_ids") or [])
    out = {}
    for name, role, node in bound:
        ids = slots.get((role, node)) or []
        out[name] = ids.pop(0) if ids else None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cluster", required=True, help="the cluster inventory (NodeList [+ Pods])")
    ap.add_argument("jobs", nargs="+", help="TFJob manifests")
    ap.add_argument("--gangsched", help="start `BIN serve` on --cluster plus the jobs")
    ap.add_argument("--workdir", default="build/demo", help="where the generated file and log go")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--bind-listen", default="127.0.0.1:0")
    ap.add_argument("--ops-listen", default="127.0.0.1:0")
    ap.add_argument("--verbs", default="http://127.0.0.1:8888", help="a running server's verbs")
    ap.add_argument("--binds", default="http://127.0.0.1:8889", help="its bind listener")
    ap.add_argument("--ops", default="http://127.0.0.1:9464", help="its ops listener")
    ap.add_argument("--bind-timeout", type=float, default=90,
                    help="the bind extender's httpTimeout in seconds")
    ap.add_argument("--timeout", type=float, default=60, help="give up after this many seconds")
    ap.add_argument("--keep-serving", action="store_true",
                    help="after the demo, keep the started server running (until Ctrl-C at a "
                    "terminal; else in the background, PID printed)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every job was placed whole")
    ap.add_argument("--save-metrics", metavar="FILE",
                    help="after the drive, save the server's GET /metrics (ops listener) to FILE")
    args = ap.parse_args()
    log = lambda s: print(s, flush=True)

    objects = load_objects(args.cluster)
    cluster = Cluster(objects)
    pods = []
    for path in args.jobs:
        for job in load_objects(path):
            if job.get("kind") == "TFJob":
                pods.extend(job_pods(job))
    server = start_server(args, log) if args.gangsched else None
    try:
        for _ in range(100):  # readiness: the static inventory is loaded
            try:
                if get(args.ops + "/readyz").get("status") == "ready":
                    break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        log(f"\n{len(cluster.nodes)} nodes; {len(pods)} pods of "
            f"{len({p['job'] for p in pods})} TFJobs (as training-operator would create them):")
        for p in pods:
            if p["scheduler_name_defaulted"]:
                log(f'  note: {p["job"]} ({p["kind"]}) names no schedulerName; its pods are sent '
                    f"with schedulerName {SCHEDULER_NAME}")
                break
        sched = Scheduler(cluster, args.verbs, args.binds, args.bind_timeout, log)
        started = time.monotonic()
        unplaced = sched.run(pods, started + args.timeout)
        for t in sched.threads:
            t.join(timeout=args.bind_timeout)
        elapsed = time.monotonic() - started
        gangs = {f'{g["namespace"]}/{g["name"]}': g for g in get(args.ops + "/api/v1/gangs")["gangs"]}
        log(f"\nrequests: {sched.counts['filter']} filter, {sched.counts['prioritize']} "
            f"prioritize, {sched.counts['bind']} bind in {elapsed:.2f} s\n")
        whole = True
        for job in dict.fromkeys(p["job"] for p in pods):
            members = [p for p in pods if p["job"] == job]
            gang = gangs.get(job)
            bound = [(p["pod"]["metadata"]["name"], p["role"],
                      sched.results.get((p["pod"]["metadata"]["name"],
                                         p["pod"]["metadata"]["namespace"])))
                     for p in members]
            placed = sum(1 for _, _, node in bound if node)
            ok = placed == len(members) and gang is not None and gang["phase"] == "Bound" and \
                gang["members_bound"] == len(members)
            whole = whole and ok
            plan = (gang or {}).get("plan") or {}
            log(f'{job}  ({members[0]["kind"]})  phase {gang["phase"] if gang else "unknown"}, '
                f"{placed}/{len(members)} pods bound"
                + (f', span {plan.get("span")} {plan.get("span_domain")}' if plan else ""))
            ids = gpu_ids_by_pod(gang, [(n, r, node) for n, r, node in bound if node])
            for name, role, node in bound:
                if node:
                    gpus = ids.get(name)
                    log(f"  {name:<26} -> {node:<16} GPUs {gpus if gpus else '-'}")
                else:
                    log(f"  {name:<26} -> not placed: {unplaced.get(name, 'bind did not finish')}")
            if gang and gang.get("reason") and not ok:
                log(f'  gangsched says: {gang["reason"]}')
        if args.save_metrics:
            with urllib.request.urlopen(args.ops + "/metrics", timeout=10) as resp, \
                    open(args.save_metrics, "wb") as out:
                out.write(resp.read())
            log(f"\nmetrics saved to {args.save_metrics}")
        log(f"\nstate:   {args.ops}/api/v1/state\ngangs:   {args.ops}/api/v1/gangs\n"
            f"metrics: {args.ops}/metrics\nweb:     {args.ops}/\n"
            f"explain: {args.gangsched or 'gangsched'} explain NAMESPACE/NAME --server {args.ops}"
            f"  (and: get gangs)")
        if server and args.keep_serving and sys.stdin.isatty():
            log(f"gangsched serve (pid {server.pid}) keeps serving; Ctrl-C stops it.")
            try:
                server.wait()
            except KeyboardInterrupt:
                pass
        elif server and args.keep_serving:
            log(f"gangsched serve keeps serving in the background (not at a terminal): pid "
                f"{server.pid}; stop it with `kill {server.pid}`.")
            server = None  # left running
        if args.check and not whole:
            log("demo-drive: FAILED: not every job was placed whole")
            return 1
        return 0
    finally:
        if server:
            stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
