#!/usr/bin/env python3
"""The running kube-scheduler uses the shipped KubeSchedulerConfiguration
(manifests/base/kube-scheduler-config.yaml), as DESIGN.md §3 item 6 ships it: read back from the
scheduler's own /configz (authorized by delegated SubjectAccessReview for the admin identity), after
kube-scheduler's strict decoding and defaulting. Python 3.11 standard library only.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import Checks  # noqa: E402

RUN_DIR = os.environ["GANGSCHED_E2E_RUN_DIR"]


def configz() -> dict:
    url = os.environ["GANGSCHED_E2E_SCHEDULER_HEALTHZ"].rsplit("/", 1)[0] + "/configz"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # kube-scheduler's self-signed loopback serving certificate
    ctx.load_cert_chain(os.path.join(RUN_DIR, "pki", "admin.crt"), os.path.join(RUN_DIR, "pki", "admin.key"))
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                         urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as r:
        return json.load(r)["componentconfig"]


def main() -> int:
    checks = Checks("scheduler_config")
    check = checks.check

    cfg = configz()
    verbs_port = os.environ["GANGSCHED_E2E_EXTENDER_PORT"]
    bind_port = os.environ["GANGSCHED_E2E_BIND_PORT"]
    check([p.get("schedulerName") for p in cfg.get("profiles", [])] == ["gang-scheduler"],
          "one profile, schedulerName gang-scheduler")
    check(cfg.get("percentageOfNodesToScore") == 100, "percentageOfNodesToScore 100")
    le = cfg.get("leaderElection", {})
    check(le.get("leaderElect") is True and le.get("resourceName") == "gang-scheduler"
          and le.get("resourceNamespace") == "kube-system" and le.get("resourceLock") == "leases",
          "leader election on its own Lease kube-system/gang-scheduler")
    check(cfg.get("clientConnection", {}).get("kubeconfig") == os.path.join(RUN_DIR, "scheduler.kubeconfig"),
          "clientConnection.kubeconfig is the generated kubeconfig (the only substitution besides ports)")
    ext = cfg.get("extenders") or []
    check(len(ext) == 2, f"two extender entries ({len(ext)})")
    if len(ext) == 2:
        verbs, bind = ext
        check(verbs.get("urlPrefix") == f"http://127.0.0.1:{verbs_port}"
              and verbs.get("filterVerb") == "filter" and verbs.get("prioritizeVerb") == "prioritize"
              and verbs.get("preemptVerb") == "preempt" and not verbs.get("bindVerb")
              and verbs.get("weight") == 1,
              f"first entry: filter/prioritize/preempt on 127.0.0.1:{verbs_port}, no bind, weight 1")
        check(bind.get("urlPrefix") == f"http://127.0.0.1:{bind_port}" and bind.get("bindVerb") == "bind"
              and not bind.get("filterVerb") and not bind.get("prioritizeVerb") and not bind.get("preemptVerb"),
              f"second entry: bind only, on 127.0.0.1:{bind_port}")
        check(verbs.get("httpTimeout") == "5s" and bind.get("httpTimeout") == "10m0s",
              f"httpTimeout 5s for the verbs, 10m for bind ({verbs.get('httpTimeout')}, {bind.get('httpTimeout')})")
        check(all(e.get("nodeCacheCapable") is True for e in ext), "both nodeCacheCapable")
        check(all(not e.get("managedResources") for e in ext), "managedResources empty: every pod is sent")
        check(all(not e.get("ignorable") and not e.get("enableHTTPS") for e in ext), "not ignorable, plain HTTP")
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
