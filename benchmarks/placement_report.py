#!/usr/bin/env python3
"""Placement report (issues 5 and 12): runs `gangsched simulate` for every policy that
`--policy all` lists, on the report's clusters x the three public gavel traces x both pod shapes at
a stated offered load, runs `placement_gap` (gangsched's planner against CBC, small and large
instances), and writes docs/placement.md with tables, PNG plots and a verdict per run. Every number
comes from these runs; wins and losses are computed, not typed in.

The policy list is not written here: it is whatever `gangsched simulate --policy all` runs. Each
policy is judged as a topology-aware peer unless it is in TOPOLOGY_BLIND (extend that list when a
new baseline lands). Simulations run as separate processes, `--procs` at a time, the longest first.

Usage (make bench-placement does this):
  placement_report.py --gangsched build/gangsched --gap build/benchmarks/placement_gap \\
      --shared ../shared --out docs/placement.md --workdir build/placement
"""
import argparse
import concurrent.futures
import csv
import io
import json
import math
import os
import subprocess
import sys
import threading
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Baselines that know no topology: the floor, not the peers gangsched must beat. Every other
# policy `--policy all` gives, except gangsched itself, is a topology-aware peer.
TOPOLOGY_BLIND = ["gang-binpack", "gang-binpack-model", "binpack", "default-scheduler", "coscheduling"]
OURS = "gangsched"
TRACES = ["11cb48", "6c71a0", "7f04ca"]
SHAPES = ["packed", "ps-workers"]
# What the known policies are (docs/simulation.md); a policy not listed here is named as it is.
POLICY_NOTES = {
    "gangsched": "the real engine (`scheduler::GangScheduler`) as the extender of the modelled "
                 "kube-scheduler, with gangsched's nudges",
    "gang-binpack": "the planner-only replay: whole gang or nothing in arrival order, each pod on "
                    "the most-allocated node, no topology (Volcano gang + binpack; no kube-scheduler "
                    "model)",
    "binpack": "the kube-scheduler model without extender, pod by pod, NodeResourcesFit "
               "MostAllocated over cpu, memory and nvidia.com/gpu, no gang",
    "default-scheduler": "the same with LeastAllocated (kube-scheduler's default), no gang",
    "coscheduling": "kube-scheduler with scheduler-plugins' coscheduling and MostAllocated",
}
# Targets of issue 12.
TARGET_JCT_GAIN = 0.10
TARGET_MIN_SPAN = {"packed": 0.99, "ps-workers": 0.95}
# Differences this small are ties, not losses: under a minute, or under 0.5% of the best figure.
TIE_SECONDS = 60
TIE_SHARE = 0.005
# A run longer than this is stopped and reported as such (it would break the 10-minute budget).
RUN_TIMEOUT_S = 100


# Jobs replayed per run: enough that the replayed jobs ask JOBS_GPU_MULTIPLE x the cluster's GPUs
# (a job-count rule would give 7f04ca, 4.6 GPUs per job, twice the work of 11cb48, 2.2), and never
# fewer than the trace holds. More jobs keep the cluster at the load for longer, and cost wall time.
JOBS_GPU_MULTIPLE = 2


def clusters(shared):
    """(key, --cluster, extra flags, GPUs, description). The matrix the report runs; see the "What
    was left out" section it writes for why it is this one."""
    alibaba = os.path.join(shared, "data/alibaba-v2023/openb_node_list_gpu_node.csv")
    return [
        ("fat-1024", "fat:1024", [], 1024,
         "generated fat tree `fat:1024` = `gen:2x8x8x8+4`: 2 blocks x 8 racks of 64 GPUs, racks "
         "alternating 8 nodes x 8 GPUs and 16 nodes x 4 GPUs"),
        ("fat-4096", "fat:4096", [], 4096,
         "`fat:4096` = `gen:8x8x8x8+4`: 8 blocks of the same 8 racks"),
        ("fat-8192", "fat:8192", [], 8192,
         "`fat:8192` = `gen:16x8x8x8+4`: 16 blocks of the same 8 racks"),
        ("alibaba-6212", alibaba, ["--nodes-per-rack", "8", "--racks-per-block", "4"], 6212,
         "the full Alibaba v2023 GPU node list (1,213 nodes, 6,212 GPUs: 617 x 8, 54 x 4, "
         "518 x 2, 24 x 1 GPUs), racked by GPU model, 8 nodes per rack, 4 racks per block"),
    ]


def trace_gpus(shared, trace):
    """(jobs, GPUs) of a gavel trace: its 7th field is the job's GPU count."""
    with open(os.path.join(shared, "data/gavel/msr_seed0", trace + ".trace")) as f:
        gpus = [int(line.rstrip("\n").split("\t")[6]) for line in f if line.strip()]
    return len(gpus), sum(gpus)


def jobs_for(shared, trace, cluster_gpus):
    jobs, gpus = trace_gpus(shared, trace)
    return max(jobs, math.ceil(JOBS_GPU_MULTIPLE * cluster_gpus * jobs / gpus))


def sim_command(args, cluster, extra, jobs, trace, shape, policy):
    cmd = [args.gangsched, "simulate", "--cluster", cluster, *extra, "--trace",
           os.path.join(args.shared, "data/gavel/msr_seed0", trace + ".trace"), "--durations",
           os.path.join(args.shared, "data/gavel/philly_job_distribution.csv"), "--shape", shape,
           "--policy", policy, "--seed", str(args.seed), "--output", "json",
           "--load", str(args.load), "--load-basis", args.load_basis]
    cmd += ["--jobs", str(jobs)]
    return cmd


def discover_policies(args):
    """The policies `--policy all` runs, in its order: one tiny run on one node."""
    cmd = [args.gangsched, "simulate", "--cluster", "gen:1x1x1x8", "--trace",
           os.path.join(args.shared, "data/gavel/msr_seed0/7f04ca.trace"), "--durations",
           os.path.join(args.shared, "data/gavel/philly_job_distribution.csv"), "--max-jobs", "2",
           "--policy", "all", "--output", "csv"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    names = [row["policy"] for row in csv.DictReader(io.StringIO(out))]
    if OURS not in names:
        sys.exit(f"placement_report: `--policy all` does not run {OURS}: {names}")
    return names


def hours(s):
    return s / 3600.0


def fmt(x, digits=1):
    return f"{x:.{digits}f}"


def pct(x):
    return f"{100 * x:.1f}%"


def cdf(values):
    v = sorted(values)
    n = len(v)
    return v, [(i + 1) / n for i in range(n)]


def plot_run(doc, key, plot_dir, policies):
    runs = {r["summary"]["policy"]: r for r in doc["runs"]}
    names = [p for p in policies if p in runs]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    end = max(r["summary"]["end_time_s"] for r in runs.values())
    for name in names:
        r = runs[name]
        q = []
        for j in r["jobs"]:
            if j["phase"] == "rejected":
                continue
            start = j["start_s"] if j["start_s"] >= 0 else r["summary"]["end_time_s"]
            q.append(hours(start - j["arrival_s"]))
        if q:
            x, y = cdf(q)
            axes[0].step(x, y, where="post", label=name, linewidth=0.9)
        cols = r["samples_columns"]
        t = [hours(s[cols.index("time_s")]) for s in r["samples"]]
        alloc = [s[cols.index("allocated_gpus")] / doc["cluster"]["gpus"] for s in r["samples"]]
        axes[1].plot(t, alloc, label=name, linewidth=0.8)
    axes[0].set_xscale("symlog", linthresh=1)
    axes[0].set_xlabel("queueing delay (h, symlog)")
    axes[0].set_ylabel("fraction of jobs")
    axes[0].set_title("queueing-delay CDF")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("simulated time (h)")
    axes[1].set_ylabel("allocated GPUs / total")
    axes[1].set_title("GPU allocation over time")
    axes[1].set_xlim(0, hours(end))
    spans = ["node", "rack", "block", "cross-block"]
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        h = runs[name]["summary"]["span_histogram"]
        total = max(1, sum(h.values()))
        axes[2].bar([k + i * width for k in range(4)], [h[s] / total for s in spans], width,
                    label=name)
    axes[2].set_xticks([k + 0.4 - width / 2 for k in range(4)])
    axes[2].set_xticklabels(spans)
    axes[2].set_ylabel("share of multi-GPU gangs")
    axes[2].set_title("span of multi-GPU gangs")
    fig.suptitle(key)
    fig.tight_layout()
    path = os.path.join(plot_dir, key + ".png")
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return path


def plot_overview(results, policies, path):
    """Mean JCT of every policy relative to gangsched's, per run."""
    keys = [r["key"] for r in results]
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * len(keys)), 4.5))
    width = 0.8 / max(1, len(policies))
    for i, name in enumerate(policies):
        ys = []
        for r in results:
            ours = r["summaries"].get(OURS)
            s = r["summaries"].get(name)
            ys.append(s["mean_jct_s"] / ours["mean_jct_s"] if s and ours and ours["mean_jct_s"]
                      else float("nan"))
        ax.bar([k + i * width for k in range(len(keys))], ys, width, label=name)
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.set_yscale("log")
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(keys))])
    ax.set_xticklabels(keys, rotation=70, fontsize=7, ha="right")
    ax.set_ylabel("mean JCT / gangsched's (log)")
    ax.set_title("mean JCT of each policy relative to gangsched (above 1: gangsched is faster)")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def git_head():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               check=True, capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class Runner:
    """Runs commands `procs` at a time, recording each one's wall time."""

    def __init__(self, procs):
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=procs)
        self.lock = threading.Lock()
        self.t0 = time.time()

    def submit(self, label, cmd, timeout=None):
        def run():
            start = time.time()
            try:
                proc = subprocess.run(["nice", "-n", "5", *cmd], capture_output=True, text=True,
                                      timeout=timeout)
                status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
                out, err = proc.stdout, proc.stderr
            except subprocess.TimeoutExpired:
                status, out, err = f"stopped after {timeout} s", "", ""
            wall = time.time() - start
            with self.lock:
                print(f"placement_report: {label}: {status}, {wall:.1f} s "
                      f"(at {time.time() - self.t0:.0f} s)", file=sys.stderr)
            return {"label": label, "cmd": cmd, "status": status, "wall": wall, "stdout": out,
                    "stderr": err}
        return self.pool.submit(run)


def run_gap_csv(result):
    if result["status"] != "ok":
        return []
    return list(csv.DictReader(io.StringIO(result["stdout"])))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gangsched", required=True)
    p.add_argument("--gap", required=True)
    p.add_argument("--shared", required=True)
    p.add_argument("--out", default="docs/placement.md")
    p.add_argument("--workdir", default="build/placement")
    p.add_argument("--cbc", default="cbc")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--load", type=float, default=0.75)
    p.add_argument("--load-basis", default="span", choices=["span", "window"])
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--gap-instances", type=int, default=60)
    p.add_argument("--gap-large-instances", type=int, default=16)
    p.add_argument("--gap-time-limit", type=int, default=8)
    p.add_argument("--only", default="",
                   help="comma-separated cluster keys to run (default: all of the matrix)")
    args = p.parse_args()
    t0 = time.time()
    os.makedirs(args.workdir, exist_ok=True)
    plot_dir = os.path.join(os.path.dirname(args.out) or ".", "placement")
    os.makedirs(plot_dir, exist_ok=True)
    policies = discover_policies(args)
    matrix = [c for c in clusters(args.shared)
              if not args.only or c[0] in args.only.split(",")]

    runner = Runner(args.procs)
    gap_dir = os.path.join(args.workdir, "gap")
    # The large CBC instances first: the longest single task.
    gap_large = runner.submit("placement_gap large", [
        args.gap, "--size", "large", "--instances", str(args.gap_large_instances), "--seed",
        str(args.seed), "--time-limit", str(args.gap_time_limit), "--workdir", gap_dir, "--cbc",
        args.cbc])
    tasks = []  # (cluster, trace, shape, policy, future)
    order = []
    for ckey, cluster, extra, gpus, desc in matrix:
        for trace in TRACES:
            jobs = jobs_for(args.shared, trace, gpus)
            for shape in SHAPES:
                for policy in policies:
                    # Longest first: more GPUs, ps-workers and the engine take longest.
                    weight = gpus * (2 if shape == "ps-workers" else 1) * (
                        3 if policy == OURS else 1)
                    order.append((weight, ckey, cluster, extra, jobs, trace, shape, policy))
    order.sort(key=lambda o: -o[0])
    for _, ckey, cluster, extra, jobs, trace, shape, policy in order:
        cmd = sim_command(args, cluster, extra, jobs, trace, shape, policy)
        fut = runner.submit(f"{trace}-{ckey}-{shape} {policy}", cmd, timeout=RUN_TIMEOUT_S)
        tasks.append((ckey, trace, shape, policy, fut))
    gap_small = runner.submit("placement_gap small", [
        args.gap, "--size", "small", "--instances", str(args.gap_instances), "--seed",
        str(args.seed), "--time-limit", str(args.gap_time_limit), "--workdir", gap_dir, "--cbc",
        args.cbc])

    results = []
    descs = {c[0]: c[4] for c in matrix}
    walls = []  # (cluster, trace, shape, policy, wall, status, command)
    for ckey, cluster, extra, gpus, desc in matrix:
        for trace in TRACES:
            for shape in SHAPES:
                key = f"{trace}-{ckey}-{shape}"
                doc = None
                runs = []
                for c, t, s, policy, fut in tasks:
                    if (c, t, s) != (ckey, trace, shape):
                        continue
                    res = fut.result()
                    walls.append((ckey, trace, shape, policy, res["wall"], res["status"],
                                  " ".join(res["cmd"])))
                    if res["status"] != "ok":
                        continue
                    part = json.loads(res["stdout"])
                    doc = doc or part
                    runs.extend(part["runs"])
                if doc is None:
                    results.append({"key": key, "cluster": ckey, "trace": trace, "shape": shape,
                                    "doc": None, "summaries": {}, "plot": None})
                    continue
                doc = dict(doc)
                doc["runs"] = runs
                with open(os.path.join(args.workdir, key + ".json"), "w") as f:
                    json.dump(doc, f)
                plot = plot_run(doc, key, plot_dir, policies)
                results.append({"key": key, "cluster": ckey, "trace": trace, "shape": shape,
                                "doc": doc, "plot": plot,
                                "summaries": {r["summary"]["policy"]: r["summary"]
                                              for r in runs},
                                "speeds": {r["summary"]["policy"]: r["speed"] for r in runs}})
    gap = {"small": gap_small.result(), "large": gap_large.result()}
    plot_overview([r for r in results if r["doc"]], policies,
                  os.path.join(plot_dir, "overview.png"))
    elapsed = time.time() - t0
    write_report(args, policies, matrix, descs, results, walls, gap, elapsed)


def peers_of(policies):
    return [p for p in policies if p != OURS and p not in TOPOLOGY_BLIND]


def best_of(summaries, names, metric):
    cands = [(summaries[n][metric], n) for n in names if n in summaries]
    return min(cands) if cands else (None, None)


def verdict(r, policies):
    """gangsched against the best peer (the best topology-blind baseline when `all` has no peer)
    on mean and p99 JCT and queueing delay."""
    s = r["summaries"]
    peers = [n for n in peers_of(policies) if n in s]
    against = peers or [n for n in policies if n != OURS and n in s]
    out = {"against": "peer" if peers else "baseline", "metrics": {}}
    ours = s.get(OURS)
    for metric in ("mean_jct_s", "p99_jct_s", "mean_queue_s", "p99_queue_s"):
        best, name = best_of(s, against, metric)
        out["metrics"][metric] = (ours[metric] if ours else None, best, name)
    return out


def metric_cell(ours, best, name):
    if ours is None or best is None:
        return "-"
    if ours <= best:
        mark = "ok"
    elif ours <= best * (1 + TIE_SHARE) + TIE_SECONDS:
        mark = "ok (tie)"
    else:
        mark = "**loses**"
    return f"{fmt(hours(ours))} vs {fmt(hours(best))} ({name}) {mark}"


def gap_section(w, rows, size, args):
    n = len(rows)
    if n == 0:
        w(f"placement_gap --size {size} failed or was not run.")
        w("")
        return None
    proved = [r for r in rows if r["cbc_status"] == "optimal"]
    same = [r for r in rows if r["gangsched_admitted_gpus"] == r["cbc_admitted_gpus"]]
    fewer = [r for r in rows if int(r["gangsched_admitted_gpus"]) < int(r["cbc_admitted_gpus"])]
    cbc_time = sum(float(r["cbc_seconds"]) for r in rows)
    ours = sum(int(r["gangsched_cost"]) for r in same)
    best = sum(int(r["cbc_cost"]) for r in same)
    bounded = [r for r in same if r["cbc_bound"] != ""]
    ours_b = sum(int(r["gangsched_cost"]) for r in bounded)
    bound = sum(int(r["cbc_bound"]) for r in bounded)
    gpus = sorted(int(r["gpus"]) for r in rows)
    w(f"* {n} instances of {gpus[0]} to {gpus[-1]} GPUs, {sum(int(r['gangs']) for r in rows)} "
      f"gangs in all; CBC proved optimality on {len(proved)} within its {args.gap_time_limit} s "
      f"limit ({cbc_time:.0f} s of CBC in all).")
    w(f"* Same GPUs admitted as CBC's best: {len(same)} of {n}; fewer: {len(fewer)}"
      + (f" ({', '.join(r['instance'] for r in fewer)})" if fewer else "") + ".")
    agg = None
    if same and best:
        gaps = sorted(int(r["gangsched_cost"]) / int(r["cbc_cost"]) - 1 for r in same)
        optimal = sum(1 for g in gaps if g <= 1e-9)
        agg = ours / best - 1
        w(f"* On those: total span cost {ours} vs CBC's best {best}: **{pct(agg)} above** in "
          f"aggregate; gangsched as good as CBC's best on {optimal} ({pct(optimal / len(gaps))}); "
          f"per instance mean {pct(sum(gaps) / len(gaps))}, median {pct(gaps[len(gaps) // 2])}, "
          f"worst {pct(gaps[-1])}.")
        if bounded and bound:
            w(f"* Against the bound CBC proved (equal to its best where it proved optimality): "
              f"{ours_b} vs {bound}, so the true aggregate gap on these {len(bounded)} instances "
              f"is between {pct(ours_b / best - 1 if len(bounded) == len(same) else agg)} and "
              f"{pct(ours_b / bound - 1)}.")
    w("")
    w("| instance | GPUs | gangs | gang GPUs | gangsched GPUs | gangsched cost (nodes/racks/"
      "blocks) | CBC GPUs | CBC cost (nodes/racks/blocks) | CBC status | CBC bound | gap | "
      "CBC s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        g = int(r["gangsched_cost"]) / int(r["cbc_cost"]) - 1 if int(r["cbc_cost"]) else 0
        if r["gangsched_admitted_gpus"] != r["cbc_admitted_gpus"]:
            gtxt = "admitted fewer GPUs"
        elif g <= 1e-9 and r["cbc_status"] == "optimal":
            continue
        else:
            gtxt = pct(g)
        w(f"| {r['instance']} | {r['gpus']} | {r['gangs']} | {r['gang_gpus']} | "
          f"{r['gangsched_admitted_gpus']} | {r['gangsched_cost']} ({r['gangsched_nodes']}/"
          f"{r['gangsched_racks']}/{r['gangsched_blocks']}) | {r['cbc_admitted_gpus']} | "
          f"{r['cbc_cost']} ({r['cbc_nodes']}/{r['cbc_racks']}/{r['cbc_blocks']}) | "
          f"{r['cbc_status']} | {r['cbc_bound'] or '-'} | {gtxt} | {float(r['cbc_seconds']):.1f} |")
    w("")
    w(f"(Listed: the instances where gangsched is above CBC's best, admits fewer GPUs, or CBC "
      f"stopped on its limit; every row is in `{args.workdir}/gap-{size}.csv`.)")
    w("")
    above = [r for r in same if int(r["gangsched_cost"]) > int(r["cbc_cost"])]
    if above or fewer:
        more = {k: sum(1 for r in above if int(r[f"gangsched_{k}"]) > int(r[f"cbc_{k}"]))
                for k in ("nodes", "racks", "blocks")}
        w(f"Where gangsched is above: of the {len(above)} instances where it costs more at the "
          f"same GPUs, it uses more racks than CBC on {more['racks']}, more blocks on "
          f"{more['blocks']}, more nodes on {more['nodes']}. It plans gang after gang, each "
          "placed as well as it can be on what is left; CBC places all of them at once. Both "
          "kinds of loss are choices made for the gang in hand that cost a later one: a rack or "
          "node taken that a later gang needed whole, so the later gang spans more racks or "
          "(the admitted-fewer rows) does not fit at all. What the planner would need: to look at "
          "the gangs still waiting when it chooses among equally narrow placements (keep whole "
          "free nodes and racks for the queued gangs that need them), as issue 12 proposes.")
        w("")
    with open(os.path.join(args.workdir, f"gap-{size}.csv"), "w") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        wr.writeheader()
        wr.writerows(rows)
    return agg


def write_report(args, policies, matrix, descs, results, walls, gap, elapsed):
    lines = []
    w = lines.append
    peers = peers_of(policies)
    blind = [p for p in policies if p in TOPOLOGY_BLIND]
    done = [r for r in results if r["doc"]]
    w("# Placement quality: gangsched against the peers' strategies")
    w("")
    w(f"Generated by `make bench-placement` (benchmarks/placement_report.py) at commit "
      f"{git_head()}: the simulations, plots and CBC runs took {elapsed:.0f} s on this machine (2 "
      f"shared cores, {args.procs} processes at a time), on top of building the binaries. Do not "
      f"edit by hand. Seed {args.seed}. Every figure comes from `gangsched simulate` (the real "
      "engine behind a model of kube-scheduler, sim/kube_scheduler_model.h, for the policies the "
      "`engine` column names `kube-scheduler-model`; the planner-only replay for `planner`) and "
      "from `placement_gap` (the planner against CBC). The commands are listed at the end.")
    w("")
    w("![mean JCT relative to gangsched](placement/overview.png)")
    w("")
    w("## Set-up (fixed before any run)")
    w("")
    w("* **Traces**: gavel's Philly-derived per-VC traces `shared/data/gavel/msr_seed0/"
      "{11cb48,6c71a0,7f04ca}.trace` (2,000, 2,000 and 972 jobs; arrival time and GPU count are "
      "Philly's).")
    w("* **Durations**: sampled (seeded mt19937) from `philly_job_distribution.csv` by GPU count; "
      "jobs above 8 GPUs draw from the 8-GPU jobs (the file holds jobs of at most 8 GPUs).")
    w(f"* **Offered load {pct(args.load)}, basis `{args.load_basis}`** (`gangsched simulate "
      f"--load {args.load} --load-basis {args.load_basis}`, sim/trace.h `ScaleToLoad`): every "
      "arrival a becomes first + round((a - first) x f), the one f that gives the target, so "
      "the gaps between arrivals keep their pattern and only the rate changes; durations (the "
      "sampled Philly ones, at the best span) and gangs are untouched. Basis `span`: offered "
      "load = sum(GPUs x duration) / (cluster GPUs x (last arrival - first arrival)), f = the "
      "trace's load / the target. Basis `window`: only the work inside the arrival window "
      "counts (GPUs x min(duration, last arrival - own arrival)). Philly's durations are heavy-"
      "tailed (mean 25-60 h by gang size, up to ~1,500 h), so by the `span` basis much of the "
      "work runs after the last arrival and the cluster is far less busy than the figure while "
      "jobs arrive; each run below gives both figures. Why the report uses the basis it does: "
      "\"What was left out, and why\".")
    w("* **Repeated traces** (`--jobs N`, sim/trace.h `RepeatTrace`): at the target load a "
      "cluster runs about load x GPUs / (mean GPUs per job) jobs at once (11cb48: 2.2 GPUs per "
      "job, so ~2,800 jobs at once on 8,192 GPUs at 75%), more than a 2,000-job trace holds. So "
      "the trace is replayed again as often as needed to reach N jobs, each copy one arrival "
      "span (plus the mean gap) after the one before, with its own sampled durations. N = the "
      f"jobs whose GPUs add up to {JOBS_GPU_MULTIPLE} x the cluster's GPUs, at least the "
      "trace's own count (each run's header gives N).")
    w("* **Job -> pods**, two settings: `packed` = ceil(g/8) pods of g/pods GPUs (all-reduce "
      "ring); `ps-workers` = g one-GPU workers plus ceil(g/4) CPU-only parameter servers (PS "
      "pattern; a 1-GPU job is one pod). Every pod asks 4 CPUs and 16 GiB besides its GPUs. A "
      "job needs all its pods to run (quorum = all).")
    w("* **Clusters** (racks of one node shape: servers are bought and racked by model, as the "
      "Alibaba list is racked here; every rack of a generated tree holds 64 GPUs, a leaf switch "
      "serving a fixed number of GPU NICs, so a rack of 4-GPU nodes has twice the nodes; 8-GPU "
      "pods fit only the 8-GPU racks, half the GPUs):")
    for ckey, cluster, extra, gpus, desc in matrix:
        w(f"  * `{ckey}`: {desc}.")
    w(f"* **Policies**: whatever `gangsched simulate --policy all` runs: {', '.join(policies)}. "
      f"Topology-aware peers: {', '.join(peers) if peers else 'none in `all` yet'}; "
      f"topology-blind baselines (the floor): {', '.join(blind)}. Grouping: TOPOLOGY_BLIND in "
      "benchmarks/placement_report.py; every other policy is a peer.")
    for name in policies:
        if name in POLICY_NOTES:
            w(f"  * `{name}`: {POLICY_NOTES[name]}.")
        else:
            w(f"  * `{name}`: see docs/simulation.md and sim/.")
    w("* **Queue**: on the model, kube-scheduler's own queue (activeQ by priority then time, "
      "backoff 1-10 s, unschedulable pods moved on cluster events and flushed after 5 minutes), "
      "one pod per scheduling cycle (2 ms), asynchronous binding; an operator creates a job's "
      "parameter servers first, its workers 500 ms later, 20 ms apart. A job whose pods are "
      "partly bound holds those GPUs idle until its last pod is bound (`idle GPUs`).")
    w("* **Communication model** (run-time multiplier by span; `sim/placement_measure.h` "
      "`CommModel`): all-reduce 1.00 / 1.10 / 1.25 / 1.50 and PS 1.00 / 1.20 / 1.50 / 2.00 for one "
      "node / one rack / one block / across blocks; assumptions inside the range of published "
      "measurements (reference/placement-quality.md), the same for every policy.")
    w("* **Metrics**: queueing delay = start - arrival, JCT = finish - arrival (hours; jobs not "
      "started/finished when no event is left are censored at the end and counted in "
      "`unfinished`). `alloc` = time-weighted allocated GPUs / total; `busy` = the same without "
      "GPUs held by partial gangs. `min span` = share of started multi-GPU gangs on the fewest "
      "nodes and fewest racks an empty cluster could give them (largest nodes and racks first). "
      "`frag` = mean free GPUs on nodes with fewer than 8 free.")
    w("")

    # Verdicts.
    w("## Verdict per run")
    w("")
    against_peers = bool(peers)
    w(("gangsched against the best topology-aware peer of each run" if against_peers else
       "No topology-aware peer is in `--policy all` on this commit, so gangsched is judged "
       "against the best topology-blind baseline of each run instead")
      + ": each cell is gangsched's figure vs the best other one (hours), `ok` when gangsched's "
      f"is at most that, `ok (tie)` when it is above by less than {TIE_SECONDS} s or "
      f"{pct(TIE_SHARE)}. Min span target: 99% packed, 95% ps-workers.")
    w("")
    w("| run | load (span / window) | mean JCT | p99 JCT | mean queue | p99 queue | min span | all met |")
    w("|---|---|---|---|---|---|---|---|")
    ratios = []
    met_runs = 0
    span_met = {"packed": [0, 0], "ps-workers": [0, 0]}
    for r in results:
        if not r["doc"]:
            w(f"| {r['key']} | - | not run (see wall times) | | | | | |")
            continue
        v = verdict(r, policies)
        cells = [metric_cell(*v["metrics"][m])
                 for m in ("mean_jct_s", "p99_jct_s", "mean_queue_s", "p99_queue_s")]
        ours = r["summaries"].get(OURS)
        if ours is None:
            span_met[r["shape"]][1] += 1
            w(f"| {r['key']} | | {OURS} did not finish (see wall times) | | | | | no |")
            continue
        share = ours["min_span_share"]
        span_ok = share >= TARGET_MIN_SPAN[r["shape"]]
        span_met[r["shape"]][0] += span_ok
        span_met[r["shape"]][1] += 1
        all_ok = all(" ok" in c for c in cells) and span_ok
        met_runs += all_ok
        o, b, _ = v["metrics"]["mean_jct_s"]
        if o and b:
            ratios.append(o / b)
        tr = r["doc"]["trace"]
        load = f"{pct(tr.get('offered_load_span', 0))} / {pct(tr.get('offered_load_window', 0))}"
        w(f"| {r['key']} | {load} | " + " | ".join(cells) +
          f" | {pct(share)} {'ok' if span_ok else '**below**'} | {'yes' if all_ok else 'no'} |")
    w("")
    w("## Targets (issue 12)")
    w("")
    who = "best peer" if against_peers else "best topology-blind baseline (no peer in `all`)"
    w(f"* Every run at least as good as the {who} on mean and p99 JCT and queueing delay, with "
      f"the min-span target: {met_runs} of {len(done)} runs.")
    if ratios:
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        w(f"* Aggregate mean-JCT improvement over the {who}: **{pct(1 - geo)}** (1 - the "
          f"geometric mean over runs of gangsched's mean JCT / the best other one's; target "
          f"{pct(TARGET_JCT_GAIN)}): {'met' if 1 - geo >= TARGET_JCT_GAIN else 'not met'}.")
    for shape in SHAPES:
        ok, total = span_met[shape]
        w(f"* Min span at least {pct(TARGET_MIN_SPAN[shape])} ({shape}): {ok} of {total} runs.")
    w("")

    # Per-run tables.
    w("## Results")
    w("")
    for r in results:
        if not r["doc"]:
            continue
        doc = r["doc"]
        tr = doc["trace"]
        w(f"### {r['trace']} on {r['cluster']}, {r['shape']} ({tr['jobs']} jobs, "
          f"{doc['cluster']['gpus']} GPUs)")
        w("")
        w(f"Offered load {pct(tr.get('offered_load', 0))} by the `{tr.get('load_basis')}` basis "
          f"({pct(tr.get('offered_load_span', 0))} span, {pct(tr.get('offered_load_window', 0))} "
          f"window): the replayed trace's own was {pct(tr.get('trace_offered_load', 0))}, "
          f"arrivals scaled by {tr.get('arrival_scale', 1):.4f} to an arrival span of "
          f"{fmt(hours(tr.get('arrival_span_s', 0)))} h.")
        w("")
        w("| policy | kind | engine | mean queue h | p99 queue h | mean JCT h | p99 JCT h | "
          "unfinished | alloc | busy | idle GPUs (mean/max) | min span | mean nodes / racks / "
          "blocks | frag | gang bound p50/p99 s | holds expired / re-plans / nudges | wall s |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name in policies:
            s = r["summaries"].get(name)
            if s is None:
                w(f"| {name} | | | not run | | | | | | | | | | | | | |")
                continue
            kind = ("ours" if name == OURS else "baseline" if name in TOPOLOGY_BLIND else "peer")
            engine = s.get("engine", "planner")
            bound = (f"{fmt(s['p50_gang_bound_s'], 2)}/{fmt(s['p99_gang_bound_s'], 2)}"
                     if engine != "planner" else "-")
            c = s.get("counters", {})
            counts = " / ".join("-" if c.get(k) is None else str(c[k])
                                for k in ("hold_expiries", "replans", "nudges"))
            wall = r["speeds"][name]["wall_seconds"]
            w(f"| {name} | {kind} | {engine} | {fmt(hours(s['mean_queue_s']))} | "
              f"{fmt(hours(s['p99_queue_s']))} | {fmt(hours(s['mean_jct_s']))} | "
              f"{fmt(hours(s['p99_jct_s']))} | {s['unfinished']} | "
              f"{pct(s['allocation_rate'])} | {pct(s['busy_rate'])} | "
              f"{fmt(s['mean_idle_partial_gpus'])}/{s['max_idle_partial_gpus']} | "
              f"{pct(s['min_span_share'])} | {fmt(s['mean_nodes'], 2)} / "
              f"{fmt(s['mean_racks'], 2)} / {fmt(s['mean_blocks'], 2)} | "
              f"{fmt(s['mean_fragmented_gpus'])} | {bound} | {counts} | {wall:.1f} |")
        w("")
        w(f"![{r['key']}](placement/{os.path.basename(r['plot'])})")
        w("")

    # CBC.
    w("## Optimality gap against CBC")
    w("")
    w("Random instances (sim/optimality.h): a generated cluster of 8-GPU nodes, each busy with a "
      "random 1-8 GPUs with probability 0.6, and gangs of one role (pods of 1 to 2^k GPUs) that "
      "fit in 90% of the free GPUs. Span cost = nodes + 8 x racks + 32 x blocks touched, summed "
      "over gangs; the ILP first maximises admitted GPUs (1000 per GPU), then minimises span "
      "(when gangsched admits every gang, admission is fixed, which is exact). gangsched plans the "
      "gangs one after the other in instance order, each held before the next (as it does "
      f"online). CBC has {args.gap_time_limit} s of wall time per instance; where it stops there, "
      "its best solution and proved bound bracket the optimum.")
    w("")
    w("### Small: 32 to 128 GPUs (1-2 blocks x 2 racks x 2-4 nodes, 2-5 gangs of up to 16 GPUs)")
    w("")
    small = run_gap_csv(gap["small"])
    agg_small = gap_section(w, small, "small", args)
    w("### Large: 128 to 512 GPUs (1-2 blocks x 4 racks x 4 or 8 nodes, 3-8 gangs of up to 64 "
      "GPUs)")
    w("")
    large = run_gap_csv(gap["large"])
    agg_large = gap_section(w, large, "large", args)
    for name, agg in (("small", agg_small), ("large", agg_large)):
        if agg is not None:
            w(f"* Target (at most 1% above the optimum in aggregate), {name}: "
              f"{'met' if agg <= 0.01 else 'not met'} ({pct(agg)} against CBC's best).")
    w("")

    # Wall times.
    w("## Wall time of each run")
    w("")
    w(f"Seconds of wall time per `gangsched simulate --policy NAME` process (trace loading "
      f"included), {args.procs} at a time under `nice` on the 2 shared cores, so each figure "
      "includes waiting for a core. CBC: "
      f"{gap['small']['wall']:.0f} s (small), {gap['large']['wall']:.0f} s (large).")
    w("")
    w("| run | " + " | ".join(policies) + " |")
    w("|---|" + "---|" * len(policies))
    by_run = {}
    for ckey, trace, shape, policy, wall, status, cmd in walls:
        by_run.setdefault(f"{trace}-{ckey}-{shape}", {})[policy] = (
            f"{wall:.1f}" if status == "ok" else f"{status}")
    for key, cells in by_run.items():
        w(f"| {key} | " + " | ".join(cells.get(p, "-") for p in policies) + " |")
    w("")
    totals = {}
    for ckey, trace, shape, policy, wall, status, cmd in walls:
        totals[ckey] = totals.get(ckey, 0) + wall
    w("Summed per cluster: " + ", ".join(f"{k} {v:.0f} s" for k, v in totals.items()) + ".")
    w("")
    w("## What was left out, and why")
    w("")
    w("* The 128- and 192-GPU runs of earlier versions of this page: the 10-minute budget goes to "
      "the 1,024- to 8,192-GPU clusters issue 12 asks for, and on those small clusters the "
      "traces are overloaded (offered load above 100%), which made a single gangsched run take "
      "up to 7 minutes on its own (docs/simulation.md \"Speed\").")
    w("* `coscheduling` unless `all` includes it: it is slow with a long backlog "
      "(docs/simulation.md).")
    failed = [(k, t, s, p, st) for k, t, s, p, _, st, _ in walls if st != "ok"]
    if failed:
        w("* Runs that did not finish (stopped at the per-run limit of "
          f"{RUN_TIMEOUT_S} s, or failed): " +
          ", ".join(f"{t}-{k}-{s} {p} ({st})" for k, t, s, p, st in failed) + ".")
    w("")
    w("## Commands")
    w("")
    for ckey, trace, shape, policy, wall, status, cmd in walls:
        w(f"    {cmd}")
    for size in ("small", "large"):
        w(f"    {' '.join(gap[size]['cmd'])}")
    w("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"placement_report: wrote {args.out} in {elapsed:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
