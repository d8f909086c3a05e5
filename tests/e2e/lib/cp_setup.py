#!/usr/bin/env python3
"""Control-plane set-up steps for scripts/controlplane.sh (Python 3.11 standard library only).

  cp_setup.py lease-rbac           Role + RoleBinding: system:kube-scheduler may get/update the Lease
                                   kube-system/gang-scheduler (the bootstrap role covers only the
                                   Lease named kube-scheduler)
  cp_setup.py lease-holder NAME    exit 0 when Lease kube-system/NAME has a holder (prints it)
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubeapi import ApiError, Kube  # noqa: E402

RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system"
ROLE = "gang-scheduler:leader-election"


def create_or_replace(kube: Kube, collection: str, obj: dict) -> None:
    try:
        kube.create(collection, obj)
    except ApiError as e:
        if e.status != 409:
            raise
        kube.request("PUT", f"{collection}/{obj['metadata']['name']}", obj)


def lease_rbac(kube: Kube) -> None:
    create_or_replace(kube, f"{RBAC}/roles", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": ROLE, "namespace": "kube-system"},
        "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                   "resourceNames": ["gang-scheduler"], "verbs": ["get", "update"]}],
    })
    create_or_replace(kube, f"{RBAC}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": ROLE, "namespace": "kube-system"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                      "name": "system:kube-scheduler"}],
    })


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    kube = Kube()
    if sys.argv[1] == "lease-rbac":
        lease_rbac(kube)
        return 0
    if sys.argv[1] == "lease-holder" and len(sys.argv) == 3:
        try:
            lease = kube.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{sys.argv[2]}")
        except ApiError as e:
            if e.status == 404:
                return 1
            raise
        holder = lease.get("spec", {}).get("holderIdentity")
        if holder:
            print(holder)
            return 0
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
