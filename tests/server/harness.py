"""A real ``memlayer serve`` process on 127.0.0.1 for the tests (and the benchmark).

``ServerProcess(path)`` starts the CLI in a fresh interpreter on a free port with the store at ``path``
(the hash embedder by default: the tests are not about embeddings), waits until ``/ready`` answers and
keeps its output in ``path/../server-<port>.log`` (shown when it fails to start).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
HASH_CONFIG: dict[str, Any] = {"embedder": {"provider": "hash", "config": {"dims": 64}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("MEMLAYER_API_KEY", None)
    env.update(extra or {})
    return env


def cli_command(*argv: str) -> list[str]:
    return [sys.executable, "-c", "from memlayer.cli import main; raise SystemExit(main())", *argv]


def create_key(path: Path, tenant: str, scopes: str = "read,write") -> str:
    """A key made with the real ``memlayer keys create`` command."""
    out = subprocess.run(cli_command("--path", str(path), "--json", "keys", "create", "--tenant", tenant,
                                     "--scopes", scopes), capture_output=True, text=True, env=child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["key"])


class ServerProcess:
    def __init__(self, path: Path, *, config: dict[str, Any] | None = None, args: tuple[str, ...] = (),
                 host: str = "127.0.0.1", port: int | None = None) -> None:
        self.path, self.host, self.args = Path(path), host, args
        self.port = port or free_port()
        self.config_file = self.path.parent / f"{self.path.name}-config.json"
        self.config_file.write_text(json.dumps(HASH_CONFIG if config is None else config))
        self.log = self.path.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return cli_command("--path", str(self.path), "--config", str(self.config_file), "serve", "--host", self.host,
                           "--port", str(self.port), "--log-level", "warning", *self.args)

    def start(self, timeout: float = 90.0) -> ServerProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=child_env(),
                                         cwd=str(ROOT), start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"memlayer serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"memlayer serve did not get ready in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (a graceful shutdown) and wait; the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the server and its workers (its whole process group)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(30)
