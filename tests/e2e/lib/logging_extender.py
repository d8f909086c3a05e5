#!/usr/bin/env python3
"""A tiny scheduler extender that logs what kube-scheduler sends (Python 3.11 standard library only).

It stands in for `gangsched serve` in the smoke test, to prove the wiring of the shipped
KubeSchedulerConfiguration and to capture kube-scheduler's exact wire format:

  --listen ADDR:PORT       filter / prioritize / preempt (the first extender entry)
  --bind-listen ADDR:PORT  bind (the second, bind-only entry)

Behaviour (no scheduling policy of its own):
  filter      passes every offered node: NodeNames (nodeCacheCapable) or Nodes echoed back
  prioritize  scores the offered nodes 10, 9, 8, ... in the order given (clamped at 0)
  preempt     returns the candidate victims unchanged (NodeNameToMetaVictims)
  bind        POSTs the Binding to the API server with the pod UID as precondition, as gangsched's
              binder does (reference/extender-protocol.md §4.2); a failure is returned in Error

Every request is appended to --log as one JSON line {"listener","verb","pod","nodes","status"};
the first request of each verb is saved byte-for-byte to --capture-dir/<verb>-request.json (and the
request line and headers to <verb>-request.headers).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubeapi import ApiError, Kube  # noqa: E402

VERBS = {"filter", "prioritize", "preempt", "bind"}


class State:
    def __init__(self, kube: Kube | None, log_path: str, capture_dir: str | None):
        self.kube = kube
        self.log_path = log_path
        self.capture_dir = capture_dir
        self.lock = threading.Lock()
        self.captured: set[str] = set()

    def record(self, entry: dict) -> None:
        with self.lock, open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def capture(self, verb: str, request_line: str, headers: str, body: bytes) -> None:
        if not self.capture_dir:
            return
        with self.lock:
            if verb in self.captured:
                return
            self.captured.add(verb)
        os.makedirs(self.capture_dir, exist_ok=True)
        with open(os.path.join(self.capture_dir, f"{verb}-request.json"), "wb") as f:
            f.write(body)
        with open(os.path.join(self.capture_dir, f"{verb}-request.headers"), "w", encoding="utf-8") as f:
            f.write(request_line + "\n" + headers)


def pod_key(pod: dict | None) -> str:
    md = (pod or {}).get("metadata", {})
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


def handle_filter(args: dict) -> tuple[dict, str, list[str]]:
    pod = args.get("Pod")
    if args.get("NodeNames") is not None:
        names = list(args["NodeNames"])
        return {"NodeNames": names, "FailedNodes": {}, "FailedAndUnresolvableNodes": {}, "Error": ""}, \
            pod_key(pod), names
    items = (args.get("Nodes") or {}).get("items") or []
    names = [n["metadata"]["name"] for n in items]
    return {"Nodes": {"metadata": {}, "items": items}, "FailedNodes": {},
            "FailedAndUnresolvableNodes": {}, "Error": ""}, pod_key(pod), names


def handle_prioritize(args: dict) -> tuple[list, str, list[str]]:
    if args.get("NodeNames") is not None:
        names = list(args["NodeNames"])
    else:
        names = [n["metadata"]["name"] for n in ((args.get("Nodes") or {}).get("items") or [])]
    return [{"Host": n, "Score": max(0, 10 - i)} for i, n in enumerate(names)], pod_key(args.get("Pod")), names


def handle_preempt(args: dict) -> tuple[dict, str, list[str]]:
    victims = args.get("NodeNameToMetaVictims") or {}
    return {"NodeNameToMetaVictims": victims}, pod_key(args.get("Pod")), sorted(victims)


def handle_bind(state: State, args: dict) -> tuple[dict, str, list[str]]:
    ns, name, uid, node = args["PodNamespace"], args["PodName"], args["PodUID"], args["Node"]
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": ns, "uid": uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }
    err = ""
    try:
        state.kube.create(f"/api/v1/namespaces/{ns}/pods/{name}/binding", binding)
    except ApiError as e:
        err = str(e)
    except OSError as e:
        err = f"bind {ns}/{name}: {e}"
    return {"Error": err}, f"{ns}/{name}", [node]


def make_handler(state: State, listener: str, allowed: set[str]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as kube-scheduler's transport expects

        def log_message(self, fmt: str, *a) -> None:  # quiet: we keep our own log
            pass

        def reply(self, status: int, payload) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path in ("/healthz", "/readyz"):
                self.reply(200, {"status": "ok"})
            else:
                self.reply(404, {"Error": "not found"})

        def do_POST(self) -> None:
            verb = self.path.strip("/").split("?")[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if verb not in VERBS or verb not in allowed:
                state.record({"listener": listener, "verb": verb, "status": 404, "time": time.time()})
                self.reply(404, {"Error": f"verb {verb!r} not served on the {listener} listener"})
                return
            state.capture(verb, self.requestline, str(self.headers), body)
            try:
                args = json.loads(body)
                if verb == "filter":
                    out, pod, nodes = handle_filter(args)
                elif verb == "prioritize":
                    out, pod, nodes = handle_prioritize(args)
                elif verb == "preempt":
                    out, pod, nodes = handle_preempt(args)
                else:
                    out, pod, nodes = handle_bind(state, args)
            except (ValueError, KeyError, TypeError) as e:
                state.record({"listener": listener, "verb": verb, "status": 400, "error": str(e),
                              "time": time.time()})
                self.reply(400, {"Error": f"bad {verb} request: {e}"})
                return
            entry = {"listener": listener, "verb": verb, "pod": pod, "nodes": nodes, "status": 200,
                     "time": time.time()}
            if isinstance(out, dict) and out.get("Error"):
                entry["error"] = out["Error"]
            state.record(entry)
            self.reply(200, out)

    return Handler


def parse_addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:8888")
    ap.add_argument("--bind-listen", default="127.0.0.1:8889")
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    ap.add_argument("--log", required=True, help="JSON-lines request log")
    ap.add_argument("--capture-dir", help="save the first request of each verb here")
    args = ap.parse_args()

    state = State(Kube(args.kubeconfig) if args.kubeconfig else None, args.log, args.capture_dir)
    servers = [
        ThreadingHTTPServer(parse_addr(args.listen), make_handler(state, "main", {"filter", "prioritize", "preempt", "bind"})),
        ThreadingHTTPServer(parse_addr(args.bind_listen), make_handler(state, "bind", {"bind"})),
    ]
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"logging extender on {args.listen} (verbs) and {args.bind_listen} (bind)", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
