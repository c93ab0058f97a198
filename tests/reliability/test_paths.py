"""Path tricks in configured paths: only documented errors, and the store lands where it should."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import ConfigError, MemlayerError, StoreError
from tests.reliability.helpers import HAS_OXIGRAPH, audit, open_memory


def _roundtrip(opened: str | Path, real: Path) -> None:
    with open_memory(opened) as m:
        mid = m.add("I keep my keys in the drawer", user_id="u", infer=False)["results"][0]["id"]
    assert (real / "memlayer.db").is_file()
    with open_memory(real) as m:
        assert m.get(mid) is not None
        audit(m)


@pytest.mark.parametrize("bad", ["a\x00b", "\x00", b"a\x00b", 42, ["x"], object()])
def test_unusable_path_values(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ConfigError):
        Memory(str(tmp_path / bad) if isinstance(bad, str) else bad, embedder=HashingEmbedder(64), graph=False)
    assert list(tmp_path.iterdir()) == []


def test_pathlike_and_bytes_paths(tmp_path: Path) -> None:
    for path in (tmp_path / "pathlib", os.fsencode(tmp_path / "bytes")):
        with Memory(path, embedder=HashingEmbedder(64), graph=False) as m:  # type: ignore[arg-type]
            m.add("hello", user_id="u", infer=False)
        assert (Path(os.fsdecode(path)) / "memlayer.db").is_file()


def test_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a directory")
    with pytest.raises(ConfigError):
        open_memory(target)
    assert target.read_text() == "not a directory"


def test_path_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError):
        open_memory(tmp_path / "file" / "store")


def test_relative_dotdot_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    _roundtrip("../../store/./x/..", tmp_path / "store")


def test_symlinked_directory(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    _roundtrip(tmp_path / "link", tmp_path / "real")


def test_dangling_symlink_and_loops(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "made-later")
    _roundtrip(tmp_path / "dangling", tmp_path / "made-later")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    with pytest.raises(ConfigError):
        open_memory(tmp_path / "loop1")


def test_path_too_long(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        open_memory(tmp_path / ("x" * 5000))


def test_odd_but_valid_names(tmp_path: Path) -> None:
    for name in ("with space", "new\nline", "ünïcödé-日本", "-dash", "'; DROP TABLE memories; --"):
        _roundtrip(tmp_path / name, tmp_path / name)


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"SQLite format 3\x00" + b"\xff" * 200])
def test_database_file_that_is_not_a_database(tmp_path: Path, content: bytes) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "memlayer.db").write_bytes(content)
    if not content:  # an empty file is a valid empty database
        _roundtrip(store, store)
        return
    with pytest.raises(StoreError):
        open_memory(store)
    assert (store / "memlayer.db").read_bytes() == content, "a refused database file was modified"


def test_database_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "store" / "memlayer.db").mkdir(parents=True)
    with pytest.raises(StoreError):
        open_memory(tmp_path / "store")


@pytest.mark.skipif(not HAS_OXIGRAPH, reason="needs oxrdflib")
def test_graph_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "graph").write_text("x")
    with pytest.raises(MemlayerError):
        open_memory(tmp_path / "store", graph=True)
    with open_memory(tmp_path / "store", graph=False) as m:  # the SQLite store itself is fine
        m.add("still usable", user_id="u", infer=False)


def test_snapshot_pointer_cannot_escape_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with open_memory(store) as m:
        mid = m.add("hello there", user_id="u", infer=False)["results"][0]["id"]
    outside = tmp_path / "outside.faiss"
    outside.write_bytes(b"do not touch")
    for file in ("../outside.faiss", str(outside), "/etc/passwd", "vectors.json"):
        (store / "vectors.json").write_text(json.dumps({"file": file, "watermark": 1, "count": 1, "dims": 64}))
        with open_memory(store) as m:
            assert mid in {r["id"] for r in m.search("hello there", user_id="u")["results"]}
            audit(m)
    assert outside.read_bytes() == b"do not touch"
    for garbage in ("{", "[]", '{"file": 5}', "\x00\x01"):
        (store / "vectors.json").write_text(garbage)
        with open_memory(store) as m:
            assert m.get(mid) is not None
            audit(m)
    os.remove(store / "vectors.json")
    (store / "vectors.json").mkdir()
    with pytest.raises(StoreError, match="snapshot"):  # a directory where the pointer goes: refused clearly
        open_memory(store)
    os.rmdir(store / "vectors.json")
    with open_memory(store) as m:
        assert m.get(mid) is not None
