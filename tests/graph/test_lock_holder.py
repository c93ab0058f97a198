"""A refused open of an on-disk Oxigraph store names what holds it (pid, command line) and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memlayer.errors import StoreError
from memlayer.graph import owner
from memlayer.graph.rdf import RDFGraphStore

pytest.importorskip("oxrdflib")

HOLD = """
import sys
from memlayer.graph.rdf import RDFGraphStore
store = RDFGraphStore(sys.argv[1], store="oxigraph")
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
store.close()
"""


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A store directory another process holds open (its script's name marks its command line)."""
    path = tmp_path / "graph"
    script = tmp_path / "hold_q7x.py"
    script.write_text(HOLD)
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    yield path, proc
    proc.communicate("", timeout=60)


def refusal(path: Path) -> str:
    with pytest.raises(StoreError) as caught:
        RDFGraphStore(path, store="oxigraph")
    text = str(caught.value)
    assert len(text.splitlines()) == 1
    return text


def test_another_process_is_named_with_its_command_line(held: tuple[Path, subprocess.Popen[str]]) -> None:
    path, proc = held
    text = refusal(path)
    assert f"another process has it open: pid {proc.pid} (" in text and "hold_q7x.py" in text
    assert 'graph="memory"' in text and f"or `oxigraph serve --location {path}` with graph=" in text
    assert "Close memlayer in that process" in text
    assert json.loads(owner.note_path(path).read_text())["pid"] == proc.pid  # the holder's note: left alone


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finding a holder without its note needs /proc")
def test_a_stale_or_wrong_note_does_not_mislead(held: tuple[Path, subprocess.Popen[str]]) -> None:
    path, proc = held
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for note in ({"pid": int(ended.stdout), "host": os.uname().nodename, "command": "gone"},  # ended since
                 {"pid": os.getpid(), "host": os.uname().nodename, "command": "pytest"},  # runs, holds nothing
                 None):  # no note at all (a holder that is not memlayer)
        if note is None:
            owner.note_path(path).unlink()
        else:
            owner.note_path(path).write_text(json.dumps(note))
        text = refusal(path)
        assert f"another process has it open: pid {proc.pid} (" in text and "hold_q7x.py" in text


def test_this_same_process_is_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with RDFGraphStore(path, store="oxigraph"):
        text = refusal(path)
    assert f"this same process (pid {os.getpid()}) already has it open" in text
    assert "was not closed" in text and 'graph="memory"' in text
    with RDFGraphStore(path, store="oxigraph"):  # closed: it opens again
        pass


def test_what_cannot_be_checked_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    location = tmp_path / "graph"
    location.mkdir()
    error = OSError("IO error: While lock file: LOCK: Resource temporarily unavailable")
    owner.note_path(location).write_text(json.dumps(
        {"pid": 4321, "host": "elsewhere.example", "command": "python app.py", "since": "2026-01-02T03:04:05+0000"}))
    text = owner.lock_message(location, error)
    assert "pid 4321 on host elsewhere.example (python app.py), since 2026-01-02T03:04:05+0000" in text
    assert "memlayer cannot check it from here" in text and "Resource temporarily unavailable" in text
    owner.note_path(location).write_text("{not json")
    monkeypatch.setattr(owner, "_lock_file_holder", lambda location: None)
    text = owner.lock_message(location, error)
    assert "another process has it open (memlayer found no live process of its own noted as the holder" in text


def test_the_note_is_written_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    RDFGraphStore(path, store="oxigraph").close()
    note = json.loads(owner.note_path(path).read_text())
    assert note["pid"] == os.getpid() and note["host"] == os.uname().nodename and note["command"]
    assert [p.name for p in tmp_path.iterdir()] == ["graph"]  # nothing beside the directory
    assert [p.name for p in path.iterdir() if p.name.startswith("memlayer-owner")] == [owner.NOTE]  # no scratch file


def test_a_rewrite_notes_the_holder_in_the_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with RDFGraphStore(path, store="oxigraph") as store:
        owner.note_path(path).unlink()
        store.compact()  # copies the data into a fresh directory and swaps it in
        assert json.loads(owner.note_path(path).read_text())["pid"] == os.getpid()
