"""A graph store that repairs itself: a missing or damaged Oxigraph directory opens as an empty store that
says why (``recreated``), so its owner replays the outbox into it; nothing raises a raw RocksDB error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from memlayer.errors import StoreError
from memlayer.graph import disk
from memlayer.graph.rdf import RDFGraphStore
from tests.graph.helpers import ALICE, BOB, put, triples

pytest.importorskip("oxrdflib", reason="the oxigraph store needs memlayer[graph]")


def written(path: Path) -> Path:
    with RDFGraphStore(path, store="oxigraph") as store:
        for i in range(60):
            put(store, ALICE, f"Person {i}", "KNOWS", f"Friend {i}", memory_id=f"m{i}", text=f"text {i} " * 4)
    return path


def usable(store: RDFGraphStore) -> None:
    """The store works after its repair: writes, reads, survives a close and reopen."""
    put(store, BOB, "Bob", "WORKS_AT", "Initech", memory_id="b1")
    assert triples(store.search(BOB, "Bob")) == {("Bob", "WORKS_AT", "Initech")}
    assert store.sparql("ASK { ?s ml:WORKS_AT ?o }", scope=BOB) == [{"ask": True}]


def damaged_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".damaged-*"))


def test_an_existing_store_opens_as_it_is(tmp_path: Path) -> None:
    path = written(tmp_path / "graph")
    with RDFGraphStore(path, store="oxigraph") as store:
        assert store.recreated is None and store.counts()["relations"] == 60


def test_a_missing_directory_starts_empty_and_says_so(tmp_path: Path) -> None:
    path = written(tmp_path / "graph")
    for child in sorted(path.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    path.rmdir()
    with RDFGraphStore(path, store="oxigraph") as store:
        assert store.recreated is not None and "no graph store" in store.recreated
        assert store.counts()["relations"] == 0
        usable(store)
    with RDFGraphStore(path, store="oxigraph") as again:
        assert again.recreated is None and again.counts()["relations"] == 1


def _overwrite_ssts(path: Path) -> None:
    for sst in path.glob("*.sst"):  # every table file: whichever one the open reads first is damaged
        size = sst.stat().st_size
        with sst.open("r+b") as fh:
            fh.seek(size // 3)
            fh.write(b"\xff" * 64)


def _truncate(name: str) -> object:
    def damage(path: Path) -> None:
        [target] = [p for p in path.iterdir() if p.name == name or p.name.startswith(name + "-")]
        with target.open("r+b") as fh:
            fh.truncate(max(target.stat().st_size // 3, 1) if name == "MANIFEST" else 0)
    return damage


def _remove_current(path: Path) -> None:
    (path / "CURRENT").unlink()


@pytest.mark.parametrize(
    "damage", [_overwrite_ssts, _truncate("MANIFEST"), _truncate("CURRENT"), _remove_current],
    ids=["sst-bytes", "manifest-truncated", "current-truncated", "current-removed"],
)
def test_damaged_files_are_moved_aside_and_the_store_starts_empty(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    path = written(tmp_path / "graph")
    damage(path)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="memlayer.graph"):
        store = RDFGraphStore(path, store="oxigraph")
    try:
        assert store.recreated is not None and "could not be read" in store.recreated
        assert "moved it to" in caplog.text
        [aside] = damaged_aside(path)
        assert any(aside.iterdir())  # the damaged files are kept for inspection, not deleted
        assert store.counts()["relations"] == 0
        usable(store)
    finally:
        store.close()
    with RDFGraphStore(path, store="oxigraph") as again:
        assert again.recreated is None and again.counts()["relations"] == 1


def test_damage_found_while_in_use_replaces_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = written(tmp_path / "graph")
    store = RDFGraphStore(path, store="oxigraph")

    class Damaged:  # reads fail as RocksDB fails on a damaged block
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            if name in ("query", "quads_for_pattern"):
                def fail(*args: object, **kwargs: object) -> object:
                    raise RuntimeError("Corruption: block checksum mismatch: stored = 1, computed = 2")
                return fail
            return getattr(self.inner, name)

    store._use_inner(Damaged(store._inner()))
    with pytest.raises(StoreError, match="could not be read .*Corruption"):
        store.search(ALICE, "Person 1")
    assert store.recreated is not None and "Corruption" in store.recreated
    usable(store)
    store.close()
    assert len(damaged_aside(path)) == 1


def test_damage_found_at_close_is_repaired_at_the_next_open(tmp_path: Path) -> None:
    path = written(tmp_path / "graph")
    store = RDFGraphStore(path, store="oxigraph")

    class FailsToFlush:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            if name == "flush":
                def fail() -> None:
                    raise RuntimeError("Corruption: block checksum mismatch")
                return fail
            return getattr(self.inner, name)

    store._use_inner(FailsToFlush(store._inner()))
    store.close()  # no raw error: the directory is marked for the next open
    assert (path / disk.DAMAGED).exists()
    with RDFGraphStore(path, store="oxigraph") as again:
        assert again.recreated is not None and "Corruption" in again.recreated
        usable(again)


def test_a_locked_store_is_still_a_clear_error_and_left_alone(tmp_path: Path) -> None:
    path = written(tmp_path / "graph")
    with RDFGraphStore(path, store="oxigraph"), pytest.raises(StoreError, match="another process"):
        RDFGraphStore(path, store="oxigraph")
    assert damaged_aside(path) == []
    with RDFGraphStore(path, store="oxigraph") as store:
        assert store.recreated is None and store.counts()["relations"] == 60
