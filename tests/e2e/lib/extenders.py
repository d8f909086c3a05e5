"""Starts and stops the extender a test runs behind the real kube-scheduler (Python 3.11 stdlib only).

kube-scheduler (scripts/controlplane.sh) calls the extender on 127.0.0.1:$GANGSCHED_E2E_EXTENDER_PORT
(verbs) and 127.0.0.1:$GANGSCHED_E2E_BIND_PORT (bind), as the shipped KubeSchedulerConfiguration says.
Each test starts the extender it needs on those ports and stops it when done. The process is registered
in $GANGSCHED_E2E_RUN_DIR/pids/, so `scripts/controlplane.sh stop` ends it even if the test dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from typing import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))


class Extender:
    def __init__(self, name: str, argv: list[str], run_dir: str, health_ports: list[int]):
        self.name = name
        self.run_dir = run_dir
        self.log_file = os.path.join(run_dir, "logs", f"{name}.log")
        self.pid_file = os.path.join(run_dir, "pids", f"{name}.pid")
        with open(self.log_file, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        with open(self.pid_file, "w") as f:
            f.write(str(self.proc.pid))
        deadline = time.monotonic() + 20
        for port in health_ports:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {self.proc.returncode}; log: {self.log_file}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"{name} not healthy on :{port} after 20s; log: {self.log_file}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
                print(f"  ({self.name} exited {time.monotonic() - t0:.1f}s after SIGTERM)", flush=True)
            except subprocess.TimeoutExpired:
                print(f"  ({self.name} still running 10s after SIGTERM: SIGKILL)", flush=True)
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pid_file)


def ports() -> tuple[int, int]:
    return int(os.environ["GANGSCHED_E2E_EXTENDER_PORT"]), int(os.environ["GANGSCHED_E2E_BIND_PORT"])


@contextlib.contextmanager
def logging_extender(name: str) -> Iterator[str]:
    """tests/e2e/lib/logging_extender.py on the configured ports; yields the path of its request log."""
    run_dir = os.environ["GANGSCHED_E2E_RUN_DIR"]
    verbs, bind = ports()
    log = os.path.join(run_dir, "logs", f"{name}-requests.jsonl")
    argv = ["python3", os.path.join(HERE, "logging_extender.py"),
            "--listen", f"127.0.0.1:{verbs}", "--bind-listen", f"127.0.0.1:{bind}",
            "--kubeconfig", os.environ["KUBECONFIG"], "--log", log]
    if os.environ.get("GANGSCHED_E2E_CAPTURE_DIR"):
        argv += ["--capture-dir", os.environ["GANGSCHED_E2E_CAPTURE_DIR"]]
    ext = Extender(name, argv, run_dir, [verbs, bind])
    try:
        yield log
    finally:
        ext.stop()


def read_log(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gangsched_binary() -> str:
    root = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
    path = os.environ.get("GANGSCHED_BIN", os.path.join(root, "build", "gangsched"))
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"no gangsched binary at {path} (make build, or set GANGSCHED_BIN)")
    return path


class GangschedApi:
    """`gangsched serve --kubeconfig` on the configured extender ports (API-server state source).

    `ops` is its ops port (GET /readyz, /api/v1/gangs). start() waits until /readyz says ready
    (nodes and pods listed); kill() is SIGKILL, stop() SIGTERM.
    """

    def __init__(self, name: str = "gangsched-api", extra: list[str] | None = None):
        self.name = name
        self.extra = extra or []
        self.ops = free_port()
        self.ext: Extender | None = None

    def start(self) -> "GangschedApi":
        verbs, bind = ports()
        argv = [gangsched_binary(), "serve", "--kubeconfig", os.environ["KUBECONFIG"],
                "--listen", f"127.0.0.1:{verbs}", "--bind-listen", f"127.0.0.1:{bind}",
                "--ops-listen", f"127.0.0.1:{self.ops}", *self.extra]
        self.ext = Extender(self.name, argv, os.environ["GANGSCHED_E2E_RUN_DIR"], [verbs, self.ops])
        deadline = time.monotonic() + 30
        while self.get("/readyz") is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready after 30s; log: {self.ext.log_file}")
            time.sleep(0.1)
        return self

    def get(self, path: str):
        """The ops listener's JSON answer, or None unless 200."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ops}{path}", timeout=2) as r:
                return json.loads(r.read()) if r.status == 200 else None
        except (OSError, ValueError):
            return None

    def gang(self, ns: str, name: str) -> dict | None:
        return self.get(f"/api/v1/gangs/{ns}/{name}")

    def kill(self) -> None:
        assert self.ext is not None
        self.ext.proc.kill()
        self.ext.proc.wait()
        self.ext.stop()  # removes the pid file

    def stop(self) -> None:
        if self.ext is not None:
            self.ext.stop()

    @property
    def log_file(self) -> str:
        assert self.ext is not None
        return self.ext.log_file
