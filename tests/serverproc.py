"""``cinepass-server`` as a real process tree (the tests and bench/load.py start it so).

With ``--workers N`` uvicorn's supervisor spawns N processes; :meth:`workers`
finds them among the supervisor's children (``spawn_main`` in their command
line), so a test can kill one and watch it come back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from waitfor import wait_for

from sync.server.embedded import free_port

ROOT = Path(__file__).resolve().parents[1]


class ServerProcess:
    """``python -m sync.server.main --db URL --port P [extra...]`` on loopback."""

    def __init__(self, db_url: str, *extra: str, log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "sync.server.main", "--db", db_url, "--port", str(self.port)]
        self._log = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*cmd, "--log-level", "warning", *extra],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )

    def ready(self) -> bool:
        try:
            return requests.get(self.url + "/api/v1/ready", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def start(self, workers: int = 1, timeout: float = 90) -> ServerProcess:
        wait_for(lambda: self.proc.poll() is not None or self.ready(), timeout=timeout, step=0.2)
        assert self.proc.poll() is None, f"cinepass-server exited {self.proc.returncode}"
        if workers > 1:
            wait_for(lambda: len(self.workers()) == workers, timeout=timeout, step=0.2)
        return self

    def workers(self) -> list[int]:
        """The pids of the worker processes (children running multiprocessing's spawn_main)."""
        out = []
        for pid in children(self.proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmd:
                out.append(pid)
        return out

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log is not subprocess.DEVNULL:
            self._log.close()  # type: ignore[union-attr]
        return int(self.proc.returncode)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return found
