"""Minimal Kubernetes API client for the e2e scripts (Python 3.11 standard library only).

Reads a kubeconfig of the shape scripts/controlplane.sh writes (current context; server; CA and client
certificate given as file paths or as base64 *-data; or a bearer token) and talks JSON over HTTPS.
Not a general client: no exec plugins, no proxies, no YAML.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable


class ApiError(Exception):
    def __init__(self, status: int, body: Any, method: str, path: str):
        self.status = status
        self.body = body
        msg = body.get("message") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path}: HTTP {status}: {msg}")


def _parse_kubeconfig(path: str) -> dict[str, Any]:
    """Parses the small JSON-or-YAML subset used by our generated kubeconfigs.

    scripts/controlplane.sh writes kubeconfigs as JSON (valid YAML, readable by kubectl), so JSON is
    all this needs.
    """
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _named(items: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return item
    raise ValueError(f"kubeconfig: no {what} named {name!r}")


class Kube:
    def __init__(self, kubeconfig: str | None = None, timeout: float = 30.0):
        kubeconfig = kubeconfig or os.environ.get("KUBECONFIG")
        if not kubeconfig:
            raise ValueError("no kubeconfig: pass one or set KUBECONFIG")
        cfg = _parse_kubeconfig(kubeconfig)
        base = os.path.dirname(os.path.abspath(kubeconfig))
        ctx = _named(cfg.get("contexts", []), cfg["current-context"], "context")["context"]
        cluster = _named(cfg.get("clusters", []), ctx["cluster"], "cluster")["cluster"]
        user = _named(cfg.get("users", []), ctx["user"], "user")["user"]
        self.server = cluster["server"].rstrip("/")
        self.timeout = timeout
        self._tmp: list[str] = []

        def path_or_data(d: dict[str, Any], key: str) -> str | None:
            if d.get(key):
                p = d[key]
                return p if os.path.isabs(p) else os.path.join(base, p)
            if d.get(key + "-data"):
                fd, p = tempfile.mkstemp(prefix="kubeapi-", suffix=".pem")
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64decode(d[key + "-data"]))
                self._tmp.append(p)
                return p
            return None

        ctx_ssl = ssl.create_default_context()
        if cluster.get("insecure-skip-tls-verify"):
            ctx_ssl.check_hostname = False
            ctx_ssl.verify_mode = ssl.CERT_NONE
        else:
            ca = path_or_data(cluster, "certificate-authority")
            if ca:
                ctx_ssl.load_verify_locations(cafile=ca)
        cert = path_or_data(user, "client-certificate")
        key = path_or_data(user, "client-key")
        if cert and key:
            ctx_ssl.load_cert_chain(cert, key)
        self._headers = {"Accept": "application/json"}
        if user.get("token"):
            self._headers["Authorization"] = "Bearer " + user["token"]
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx_ssl), urllib.request.ProxyHandler({})
        )

    def close(self) -> None:
        for p in self._tmp:
            try:
                os.unlink(p)
            except OSError:
                pass

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> Any:
        url = self.server + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                text = resp.read()
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text.decode(errors="replace")
            raise ApiError(e.code, parsed, method, path) from None
        return json.loads(text) if text else None

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params or None)

    def create(self, path: str, obj: dict[str, Any], **params: str) -> Any:
        return self.request("POST", path, obj, params=params or None)

    def delete(self, path: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        return self.request("DELETE", path, body, params=params or None)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
            return True
        except ApiError as e:
            if e.status == 404:
                return False
            raise

    def force_delete_pod(self, namespace: str, name: str) -> None:
        """Deletes a pod with grace period 0: without a kubelet nothing else would ever remove it."""
        try:
            self.delete(
                f"/api/v1/namespaces/{namespace}/pods/{name}",
                {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0},
            )
        except ApiError as e:
            if e.status != 404:
                raise


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Polls check() until it returns a truthy value; raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - remembered and reported on timeout
            last_error = e
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{suffix}")
        time.sleep(interval)
