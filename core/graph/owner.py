"""Who holds an on-disk Oxigraph store, so that a refused open can name it.

Only one process at a time can open an Oxigraph (RocksDB) directory: it holds the directory's ``LOCK``
file. Once memlayer has the lock it notes itself in the directory, in ``memlayer-owner.json`` (pid, host,
command line, and on Linux the process's start time, which tells a later process with the same pid
apart; RocksDB ignores files it does not know, and a rewrite notes the holder again in the new directory). A process refused the lock reads the note and checks that the process it names is still running
and is the same one; failing that, on Linux, it looks for the process that has the ``LOCK`` file open
(any program: ``oxigraph serve`` too). :func:`lock_message` words the error.

The note is not removed at close: a note whose process has ended is simply stale, and the next process to
get the lock writes its own.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("memlayer.graph")
NOTE = "memlayer-owner.json"
MAX_COMMAND = 300  # characters of a command line shown in a message


@dataclass(frozen=True)
class Holder:
    """A process holding a store: ``checked`` is False when it could only be taken from the note (another
    host, or a system where memlayer cannot look at other processes)."""

    pid: int
    command: str
    host: str
    since: str | None = None
    checked: bool = True

    @property
    def is_this_process(self) -> bool:
        return self.pid == os.getpid() and self.host == socket.gethostname()


def note_path(location: Path) -> Path:
    return location / NOTE


def record(location: Path) -> None:
    """Note this process as the holder of the store at ``location`` (call once its lock is held)."""
    note = {"pid": os.getpid(), "host": socket.gethostname(), "command": _own_command(),
            "started": _start_ticks(os.getpid()), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = note_path(location)
    scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        scratch.write_text(json.dumps(note), encoding="utf-8")
        os.replace(scratch, path)
    except OSError as exc:  # only a nicer error message depends on it
        logger.debug("could not note the holder of %s: %s", location, exc)
        scratch.unlink(missing_ok=True)


def holder(location: Path) -> Holder | None:
    """The process holding the store at ``location`` as far as can be told, else None."""
    noted = _read_note(location)
    if noted is not None:
        return noted
    return _lock_file_holder(location)


def lock_message(location: Path, error: BaseException) -> str:
    """The StoreError text for a refused open of the store at ``location``: who holds it, what to do."""
    found = holder(location)
    if found is not None and found.is_this_process:
        return (f"cannot open the oxigraph graph store at {location}: this same process (pid {found.pid}) already "
                "has it open, not another process: an earlier Memory, AsyncMemory or graph store on this path "
                "was not closed. Use that one, or close it first (close(), or a `with` block), or open this "
                'one with graph="memory"')
    if found is None:
        who = ("another process has it open (memlayer found no live process of its own noted as the holder: a "
               "program that is not memlayer, such as `oxigraph serve`, or one run by another user)")
    else:
        where = "" if found.host == socket.gethostname() else f" on host {found.host}"
        since = f", since {found.since}" if found.since else ""
        unchecked = " (as it noted when it opened the store; memlayer cannot check it from here)"
        who = (f"another process has it open: pid {found.pid}{where} ({found.command}){since}"
               f"{'' if found.checked else unchecked}")
    server = "`memlayer serve` and its client, " if importlib.util.find_spec("memlayer.server") else ""
    return (f"cannot open the oxigraph graph store at {location}: {who}. Only one process at a time can open "
            "the on-disk graph. Close memlayer in that process (or stop it); or give every process that "
            'shares this store graph="memory" (each rebuilds the graph from the store when it opens); or serve '
            f"the graph to all of them from one place ({server}or `oxigraph serve --location {location}` with "
            "graph={'provider': 'rdf', 'config': {'store': 'sparql', 'query_endpoint': ...}}). "
            f"({error})")


def _read_note(location: Path) -> Holder | None:
    try:
        note: Any = json.loads(note_path(location).read_text(encoding="utf-8"))
        pid, host = int(note["pid"]), str(note["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    since = note.get("since") if isinstance(note.get("since"), str) else None
    command = _command(pid) if host == socket.gethostname() else None
    if host != socket.gethostname() or os.name != "posix":
        return Holder(pid, _short(str(note.get("command", "?"))), host, since, checked=False)
    if not _running(pid, note.get("started")) or _holds(pid, location) is False:
        return None
    return Holder(pid, _short(command or str(note.get("command", "?"))), host, since)


def _running(pid: int, started: Any) -> bool:
    """Whether ``pid`` runs and, where start times are known, is the process that wrote the note."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        pass
    except OSError:
        return False
    now = _start_ticks(pid)
    return started is None or now is None or now == started


def _lock_file_holder(location: Path) -> Holder | None:
    """On Linux: the process that has ``location/LOCK`` open (other users' processes only when root)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        if entry.name.isdigit() and _holds(int(entry.name), location):
            pid = int(entry.name)
            return Holder(pid, _short(_command(pid) or "?"), socket.gethostname())
    return None


def _holds(pid: int, location: Path) -> bool | None:
    """Whether process ``pid`` has the store's ``LOCK`` file open; None when that cannot be seen."""
    target = os.path.realpath(location / "LOCK")
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue
    return False


def _start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the command name may hold spaces or ')'
    except (OSError, IndexError, ValueError):
        return None


def _command(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    words = [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
    return shlex.join(words) if words else None


def _own_command() -> str:
    return _short(shlex.join(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]))


def _short(command: str) -> str:
    """One line of at most MAX_COMMAND characters (a message about the holder stays one line)."""
    command = " ".join(command.split())
    return command if len(command) <= MAX_COMMAND else command[: MAX_COMMAND - 1] + "…"
