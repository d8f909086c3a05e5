#!/usr/bin/python3
"""Checks that every series the Grafana dashboard and the PrometheusRule query exists in /metrics.

Runs the demo drive (scripts/demo-drive.py --check) against a gangsched binary, which saves the
server's GET /metrics after the drive, or reads a saved scrape (--metrics-file). Then it takes every
PromQL expression of manifests/monitoring/ (the dashboard's targets and template queries, the
rules' `expr`), extracts each metric it selects with the selector's equality matchers
(`gangsched_gpus{state="held"}`), and fails, naming them, unless each has at least one sample in
the scrape with those label values. Extra expressions can be given with --expr (the test that shows
this check fails on a name that does not exist uses it).

With promtool installed (Debian package prometheus) it also checks that every expression parses
as PromQL and runs the rules' unit tests (tests/fixtures/monitoring/alerts_test.yaml: each alert
fires on its series after its `for`, with its annotations); without it, it says so and skips them.

Python 3 standard library plus PyYAML (Debian python3-yaml).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_JOBS = ["manifests/examples/tfjob-v1alpha1-example-job.yaml",
                "manifests/examples/tfjob-v1alpha2-mycnnjob.yaml",
                "manifests/examples/tfjob-v1-example-job.yaml",
                "manifests/examples/tfjob-v1-mycnnjob.yaml"]

# PromQL words that are not metric names when not followed by "(".
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2"}
IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"


def dashboard_exprs(dashboard):
    """Every PromQL expression of a Grafana dashboard: panel targets (rows' panels too) and the
    `label_values(METRIC, label)` / `query_result(...)` template queries."""
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(dashboard.get("panels", []))
    for var in (dashboard.get("templating") or {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else str(query or "")
        m = re.fullmatch(r"\s*(label_values|query_result)\((.*)\)\s*", query, re.S)
        if m and m.group(1) == "query_result":
            out.append(m.group(2))
        elif m:
            out.append(m.group(2).rsplit(",", 1)[0] if "," in m.group(2) else m.group(2))
    return out


def rule_exprs(documents):
    out = []
    for doc in documents:
        if not doc or doc.get("kind") != "PrometheusRule":
            continue
        for group in (doc.get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if "expr" in rule:
                    out.append(str(rule["expr"]))
    return out


def selectors(expr):
    """(metric name, {label: value} of the equality matchers) for each metric an expression
    selects."""
    text = re.sub(r"\$\{[^}]*\}|\$" + IDENT, "x", expr)          # Grafana variables
    found = []

    def selector(m):
        matchers = {}
        for label, op, value in re.findall(r'(' + IDENT + r')\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"',
                                           m.group(2)):
            if op == "=":
                matchers[label] = value
        found.append((m.group(1), matchers))
        return " "
    text = re.sub(r"(" + IDENT + r")\s*\{([^}]*)\}", selector, text)
    text = re.sub(r"\{[^}]*\}", " ", text)                        # {__name__=...} alone
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", text)                # strings (label_replace args)
    text = re.sub(r"\[[^\]]*\]", " ", text)                       # ranges, subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    for m in re.finditer(r"(?<![\w.:])(" + IDENT + r")(?![\w:])(?!\s*\()", text):
        name = m.group(1)
        if name.lower() not in KEYWORDS:
            found.append((name, {}))
    return found


def parse_scrape(text):
    """Metric name -> list of label dicts, one per sample of the Prometheus text format."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"(" + IDENT + r")(?:\{(.*)\})?\s+\S+", line)
        if not m:
            continue
        labels = dict(re.findall(r'(' + IDENT + r')="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples.setdefault(m.group(1), []).append(labels)
    return samples


def scrape_after_demo(gangsched, workdir):
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "metrics.txt")
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "demo-drive.py"), "--gangsched", gangsched,
           "--workdir", workdir, "--check", "--timeout", "60", "--save-metrics", path,
           "--cluster", "manifests/examples/cluster.yaml"] + EXAMPLE_JOBS
    print("$ " + " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, check=False)
    if result.returncode != 0:
        sys.stdout.write(result.stdout)
        raise SystemExit(f"check-monitoring: the demo drive failed ({result.returncode})")
    return path


def promtool_check(dashboard_exprs_, rules_docs, alert_tests):
    """With promtool (Debian package prometheus) installed: `promtool check rules` over the rules
    and, as recording rules, the dashboard's expressions (Grafana's variables replaced by values),
    so every expression must parse as PromQL; then `promtool test rules` on `alert_tests`, whose
    rule file is the PrometheusRule's groups as gangsched-rules.yaml. Returns the problems, or None
    when promtool is not installed."""
    promtool = shutil.which("promtool")
    if not promtool:
        return None
    groups = []
    for doc in rules_docs:
        if doc and doc.get("kind") == "PrometheusRule":
            groups += (doc.get("spec") or {}).get("groups") or []
    recorded = []
    for i, expr in enumerate(dashboard_exprs_):
        expr = expr.replace("$__rate_interval", "5m").replace("$__range", "1h")
        expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
        recorded.append({"record": f"dashboard:expr_{i}:check", "expr": expr})
    problems = []
    with tempfile.TemporaryDirectory() as work:
        checked = os.path.join(work, "check.yaml")
        with open(checked, "w", encoding="utf-8") as f:
            yaml.safe_dump({"groups": groups + [{"name": "dashboard", "rules": recorded}]}, f)
        with open(os.path.join(work, "gangsched-rules.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump({"groups": groups}, f)
        shutil.copy(alert_tests, os.path.join(work, "alerts_test.yaml"))
        for cmd, what in (([promtool, "check", "rules", checked], "promtool check rules"),
                          ([promtool, "test", "rules", os.path.join(work, "alerts_test.yaml")],
                           "promtool test rules " + alert_tests)):
            result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, check=False)
            if result.returncode != 0:
                print(result.stdout)
                problems.append(f"{what} failed")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gangsched", help="run the demo drive with this binary and scrape it")
    ap.add_argument("--metrics-file", help="a saved scrape to check instead")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "monitoring-check"))
    ap.add_argument("--dashboard",
                    default=os.path.join(ROOT, "manifests/monitoring/grafana-dashboard.json"))
    ap.add_argument("--rules",
                    default=os.path.join(ROOT, "manifests/monitoring/prometheus-rule.yaml"))
    ap.add_argument("--alert-tests",
                    default=os.path.join(ROOT, "tests/fixtures/monitoring/alerts_test.yaml"),
                    help="promtool unit tests of the rules (run when promtool is installed)")
    ap.add_argument("--expr", action="append", default=[], help="another expression to check")
    args = ap.parse_args()
    if bool(args.gangsched) == bool(args.metrics_file):
        ap.error("give either --gangsched BIN or --metrics-file FILE")

    with open(args.dashboard, encoding="utf-8") as f:
        exprs = [("dashboard", e) for e in dashboard_exprs(json.load(f))]
    with open(args.rules, encoding="utf-8") as f:
        rules_docs = list(yaml.safe_load_all(f))
    exprs += [("rules", e) for e in rule_exprs(rules_docs)]
    exprs += [("--expr", e) for e in args.expr]
    if not exprs:
        raise SystemExit("check-monitoring: no expressions found")

    path = args.metrics_file or scrape_after_demo(args.gangsched, args.workdir)
    with open(path, encoding="utf-8") as f:
        samples = parse_scrape(f.read())

    missing = []
    checked = set()
    for source, expr in exprs:
        sels = selectors(expr)
        if not sels:
            missing.append(f"{source}: no metric in expression {expr!r}")
        for name, matchers in sels:
            key = (name, tuple(sorted(matchers.items())))
            checked.add(key)
            series = samples.get(name, [])
            if not any(all(s.get(k) == v for k, v in matchers.items()) for s in series):
                shown = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(matchers.items()))
                                + "}" if matchers else "")
                missing.append(f"{source}: missing from /metrics: {shown}  (in {expr!r})")
    print(f"check-monitoring: {len(exprs)} expressions, {len(checked)} series checked against "
          f"{path}")
    for line in missing:
        print(line)
    problems = promtool_check([e for source, e in exprs if source == "dashboard"], rules_docs,
                              args.alert_tests)
    if problems is None:
        print("check-monitoring: promtool not installed: PromQL syntax and alert tests not run")
    elif problems:
        missing += problems
    else:
        print("check-monitoring: promtool: every expression parses; the alert tests pass")
    if missing:
        print(f"check-monitoring: FAILED: {len(missing)} problem(s)")
        return 1
    print("check-monitoring: every series exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
