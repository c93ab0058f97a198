"""One server process in a temporary directory on a free loopback port: the part every server shares."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

_S = TypeVar("_S", bound="ServerProcess")


class ServerError(RuntimeError):
    """A server answered a request with an error."""


class ServerUnavailable(ServerError):
    """A server could not be found, started or reached; the message says why and what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One server process in a temporary directory: start, stop (graceful), kill (SIGKILL), restart."""

    name = "server"
    _stop_signal = signal.SIGTERM

    def __init__(self, *, dir: str | os.PathLike[str] | None = None, startup_timeout: float = 60.0) -> None:
        self._parent_dir = dir
        self.startup_timeout = startup_timeout
        self.root: Path | None = None  # the temporary directory (data, log, socket)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None  # the first start, set-up included

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def log_path(self) -> Path:
        return self._dir / "server.log"

    def start(self) -> None:
        """Start the server (a no-op when it runs). After stop() or kill() it comes back on the same
        port with the same data."""
        if self.running:
            return
        if self.root is not None:
            try:
                self._launch(self.port)  # the same port: the URLs handed out stay valid
            except _PortTaken:
                raise ServerUnavailable(f"{self.name} cannot restart: port {self.port} was taken meanwhile") from None
            return
        began = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix=f"memlayer-{self.name}-", dir=self._parent_dir))
        atexit.register(self.close)
        try:
            self._set_up()
            for attempt in range(5):  # another process may take the free port before we bind it
                try:
                    self._launch(free_port())
                    break
                except _PortTaken:
                    if attempt == 4:
                        raise ServerUnavailable(f"{self.name}: no free port after 5 attempts") from None
            self._after_first_start()
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown; kill() if it takes longer than ``timeout`` seconds."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(self._stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the server and every process it started, at once, as when its host dies.

        Its children may lead process groups of their own (PostgreSQL's backends call setsid), so they are
        killed by pid too: left alone, a backend would serve a query or two before it noticed that its
        postmaster had died. The server is stopped first, so that it starts no new child meanwhile."""
        if self.process is None or self.process.poll() is not None:
            return
        pid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGSTOP)  # started in its own session: pgid == pid
        children = _children(pid)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # children exit (and detach shared memory) asynchronously
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                if not any(_alive(child) for child in children):
                    break
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop (gracefully) if running, then start on the same port with the same data."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        atexit.unregister(self.close)
        try:
            self.stop()
        finally:
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None

    # -- for subclasses ------------------------------------------------------------------------
    def _set_up(self) -> None:
        """Prepare the directory before the first start."""

    def _after_first_start(self) -> None:
        """Initialise the running server once."""

    def _command(self, port: int) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _popen_kwargs(self) -> dict[str, Any]:
        return {}

    # -- internals -----------------------------------------------------------------------------
    @property
    def _dir(self) -> Path:
        if self.root is None:
            raise ServerUnavailable(f"the {self.name} server was not started (use it in a `with` block)")
        return self.root

    def _launch(self, port: int) -> None:
        self.port = port
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self._command(port), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self._dir, start_new_session=True, **self._popen_kwargs(),
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self.process.poll()
            if code is not None:
                if "Address already in use" in self._log_since(log_start):
                    raise _PortTaken
                raise ServerUnavailable(f"{self.name} exited with code {code} while starting{self._log_tail()}")
            if self._ready() and self.process.poll() is None:
                return
            if time.monotonic() > deadline:
                self.kill()
                raise ServerUnavailable(
                    f"{self.name} did not answer on 127.0.0.1:{port} within {self.startup_timeout:g}s"
                    f"{self._log_tail()}"
                )
            time.sleep(0.05)

    def _log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "; the end of its log:\n" + "\n".join(tail) if tail else ""


class _PortTaken(Exception):
    pass


def _children(pid: int) -> list[int]:
    """The ids of ``pid``'s child processes (from /proc; none where there is no /proc)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = entry.read_text().rsplit(")", 1)[1].split()  # after "pid (command)": state, ppid, ...
            if int(fields[1]) == pid:
                found.append(int(entry.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
