#!/usr/bin/env python3
"""gangsched itself behind the real kube-scheduler, standalone state source (`serve --cluster`).

The fake nodes are dumped from the API server into a NodeList file and gangsched serves the shipped
KubeSchedulerConfiguration's two listeners. A gang of 4 pods × 4 GPUs (gangsched.io/gang, min-members 4)
is created one pod at a time, 1.5 s apart. What must hold:
  - every member is filtered by gangsched and reported Scheduled by kube-scheduler;
  - all members land in one rack (2 nodes × 8 GPUs hold the gang exactly);
  - the bind barrier held the early members: no member was reported Scheduled before the last member
    even existed;
  - gangsched logged one gang-level bind decision for all 4 pods.

Standalone mode has no API client, so its binder records binds in its own state and posts no Binding:
kube-scheduler reports the pods Scheduled (the extender said the bind succeeded) while their
spec.nodeName stays empty. Once `serve` binds through the API (issue 4 parts 1-2), this test should also
assert spec.nodeName. Python 3.11 standard library only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import Checks  # noqa: E402
from extenders import Extender, ports  # noqa: E402
from kubeapi import Kube, wait_for  # noqa: E402
from pod_builder import gpu_pod  # noqa: E402

NS = "default"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def main() -> int:
    checks = Checks("gangsched_standalone")
    check = checks.check
    gangsched = os.environ.get("GANGSCHED_BIN", os.path.join(ROOT, "build", "gangsched"))
    if not os.access(gangsched, os.X_OK):
        check(False, f"no gangsched binary at {gangsched} (make build, or set GANGSCHED_BIN)")
        return 1
    proc = subprocess.run([gangsched, "help"], capture_output=True, text=True)
    usage = proc.stdout + proc.stderr
    if "serve" not in usage:
        check(False, f"{gangsched} has no serve command")
        return 1

    kube = Kube()
    run_dir = os.environ["GANGSCHED_E2E_RUN_DIR"]

    nodes = kube.get("/api/v1/nodes")
    nodes["apiVersion"], nodes["kind"] = "v1", "NodeList"
    rack_of = {n["metadata"]["name"]: n["metadata"]["labels"]["gangsched.io/rack"] for n in nodes["items"]}
    inventory = os.path.join(run_dir, "gangsched-cluster.json")
    with open(inventory, "w", encoding="utf-8") as f:
        json.dump(nodes, f)

    verbs, bind = ports()
    ext = Extender("gangsched", [gangsched, "serve", "--cluster", inventory,
                                 "--listen", f"127.0.0.1:{verbs}", "--bind-listen", f"127.0.0.1:{bind}",
                                 "--ops-listen", f"127.0.0.1:{free_port()}"], run_dir, [verbs])
    gang = f"g-{uuid.uuid4().hex[:6]}"
    names = [f"{gang}-{i}" for i in range(4)]
    try:
        created = {}
        for i, name in enumerate(names):
            if i:
                time.sleep(1.5)
            obj = kube.create(f"/api/v1/namespaces/{NS}/pods", gpu_pod(NS, name, 4, gang=gang, min_members=4))
            created[name] = parse_time(obj["metadata"]["creationTimestamp"])

        def scheduled():
            evs = kube.get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events")["items"]
            out = {}
            for e in evs:
                pod = e.get("regarding", {}).get("name")
                if pod in names and e.get("reason") == "Scheduled":
                    out[pod] = e
            return out if len(out) == len(names) else None
        events = wait_for(f"Scheduled events for all members of {gang}", scheduled, timeout=60)
        placed = {}
        for pod, e in sorted(events.items()):
            m = re.search(r" to (\S+)$", e.get("note", ""))
            placed[pod] = m.group(1) if m else None
            print(f"  {pod}: {e.get('note')} at {e.get('eventTime')}", flush=True)
        check(all(placed.values()), "kube-scheduler reported every member Scheduled to a node")
        racks = {rack_of.get(n) for n in placed.values()}
        check(len(racks) == 1 and None not in racks, f"the whole gang in one rack ({sorted(map(str, racks))})")
        first = min(parse_time(e["eventTime"]) for e in events.values())
        last_created = max(created.values())
        check(first >= last_created,
              f"barrier: first Scheduled at {first.time()} not before the last member was created "
              f"({last_created.time()})")
        with open(ext.log_file, encoding="utf-8") as f:
            text = f.read()
        decisions = [line for line in text.splitlines()
                     if f"gang={NS}/{gang} " in line and "decision=bind " in line and "pods=4" in line]
        check(len(decisions) == 1, "gangsched logged one gang-level bind decision for 4 pods")
        filtered = {p for p in names if re.search(rf"verb=filter pod={NS}/{p} ", text)}
        check(filtered == set(names), "gangsched filtered every member")
    finally:
        for name in names:
            kube.force_delete_pod(NS, name)
        ext.stop()

    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
