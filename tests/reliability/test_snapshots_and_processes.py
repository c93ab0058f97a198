"""Vector snapshots are trusted only when their checksum matches; duplicates and rebuilds across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from memlayer import Memory
from memlayer.projections.vectors import file_checksum
from tests.reliability.helpers import child_env

DUPLICATES_CHILD = """
import sys
from memlayer import Memory
from memlayer.projections.vectors import file_checksum
from memlayer.embeddings.hashing import HashingEmbedder

with Memory(sys.argv[1], embedder=HashingEmbedder(64), graph=False, snapshot_min=50) as m:
    print("READY", flush=True)
    sys.stdin.readline()
    for round in range(int(sys.argv[2])):
        m.add([f"fact {i}" for i in range(round % 7, round % 7 + 5)], user_id="shared", infer=False,
              metadata={"source": "race"})
"""

WRITER_CHILD = """
import sys
from memlayer import Memory
from memlayer.projections.vectors import file_checksum
from memlayer.embeddings.hashing import HashingEmbedder

with Memory(sys.argv[1], embedder=HashingEmbedder(64), graph=False, snapshot_min=10) as m:
    print("READY", flush=True)
    i = 0
    while sys.stdin.readline().strip() != "stop":
        for _ in range(20):
            m.add(f"note {i}", user_id="w", infer=False)
            i += 1
        print("WROTE", i, flush=True)
"""


def _memory(path: Path, hash_embedder: object) -> Memory:
    return Memory(str(path), embedder=hash_embedder, graph=False, snapshot_min=1)


def test_a_same_size_corrupt_snapshot_is_rebuilt(tmp_path, hash_embedder):
    with _memory(tmp_path, hash_embedder) as m:
        ids = [r["id"] for r in m.add([f"memory number {i}" for i in range(52)], user_id="u", infer=False)["results"]]
    pointer = json.loads((tmp_path / "vectors.json").read_text())
    snapshot = tmp_path / pointer["file"]
    raw = bytearray(snapshot.read_bytes())
    size = len(raw)
    for offset in range(4096, 4096 + 8 * 32, 8):  # scramble 32 ids in place: same size, plausible bytes
        raw[offset] ^= 0x5A
    snapshot.write_bytes(bytes(raw))
    assert snapshot.stat().st_size == size
    with _memory(tmp_path, hash_embedder) as m:
        assert "checksum" in (m.async_memory.vectors.rebuilt_reason or "")
        found = {r["id"] for r in m.search("memory number", user_id="u", limit=100, config="vector")["results"]}
        assert found == set(ids)
    again = json.loads((tmp_path / "vectors.json").read_text())
    assert file_checksum(str(tmp_path / again["file"])) == again["checksum"], "the corruption was written again"


def test_stale_snapshot_files_are_removed_at_open(tmp_path, hash_embedder):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with _memory(tmp_path, hash_embedder) as m:
        m.add("hello", user_id="u", infer=False)
    current = json.loads((tmp_path / "vectors.json").read_text())["file"]
    stale = [f"vectors-3-{int(dead.stdout)}.faiss", f"vectors-0-{os.getpid()}.faiss"]
    live = f"vectors-9-{os.getppid()}.faiss"  # a live process may be about to publish it
    for name in [*stale, live]:
        (tmp_path / name).write_bytes(b"old snapshot")
    with _memory(tmp_path, hash_embedder) as m:
        names = {p.name for p in tmp_path.iterdir()}
        assert not names & set(stale) and live in names and current in names
        assert m.async_memory.vectors.rebuilt_reason is None


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY", proc.stderr.read() if proc.stderr else ""
    return proc


def test_duplicates_are_refused_atomically_across_processes(tmp_path, hash_embedder):
    with _memory(tmp_path, hash_embedder):
        pass
    procs = [_start(DUPLICATES_CHILD, str(tmp_path), "60") for _ in range(3)]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    with _memory(tmp_path, hash_embedder) as m:
        rows = m.get_all(user_id="shared")["results"]
        texts = [r["memory"] for r in rows]
        assert sorted(texts) == sorted(set(texts)), f"{len(texts) - len(set(texts))} duplicate memories"
        assert len(texts) == 11


def test_opening_while_another_process_writes_needs_no_rebuild(tmp_path, hash_embedder):
    with _memory(tmp_path, hash_embedder) as m:
        m.add([f"seed {i}" for i in range(50)], user_id="w", infer=False)
    writer = _start(WRITER_CHILD, str(tmp_path))
    assert writer.stdin is not None and writer.stdout is not None
    try:
        for _ in range(8):
            writer.stdin.write("more\n")
            writer.stdin.flush()  # the child writes while this process opens the store
            with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
                assert m.async_memory.vectors.rebuilt_reason is None
            assert writer.stdout.readline().startswith("WROTE")
    finally:
        writer.stdin.write("stop\n")
        writer.stdin.flush()
        writer.communicate(timeout=60)
    assert writer.returncode == 0
