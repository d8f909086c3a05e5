"""The e2e tests' assertions (Python 3.11 standard library only): each check prints one line,
`  ok    <what>` or `  FAIL  <what>`, and a failed one is remembered, so a test goes on after a
failure and reports all of them; summary() prints the test's closing line and gives its exit code
(tests/e2e/run.sh counts a test as failed by that code).

    checks = Checks("smoke_extender")
    checks.check(node in nodes, f"bound to one of the fake GPU nodes ({node})")
    ...
    return checks.summary()   # "smoke_extender: passed (0 failed checks)", 0
"""

from __future__ import annotations


class Checks:
    def __init__(self, name: str):
        self.name = name
        self.failures: list[str] = []

    def check(self, cond: bool, what: str) -> None:
        print(("  ok    " if cond else "  FAIL  ") + what, flush=True)
        if not cond:
            self.failures.append(what)

    def summary(self) -> int:
        """Prints `<name>: passed|FAILED (<n> failed checks)`; returns the exit code, 1 on any failure."""
        print(f"{self.name}: {'FAILED' if self.failures else 'passed'} ({len(self.failures)} failed checks)",
              flush=True)
        return 1 if self.failures else 0
