"""The graph is a projection that always converges (issue 15 item 4, the Memory half): a graph directory that
is deleted (its watermark left behind) or damaged is rebuilt from the store's outbox, at open or while in use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from memlayer import Memory
from tests.graph.test_repair import _overwrite_ssts, _remove_current, _truncate
from tests.reliability.extractors import RelationExtractor

pytest.importorskip("pyoxigraph")
FACTS = [f"I like zqx{name}" for name in ("apples", "boats", "cedar", "dunes", "elms", "figs")]


def _open(path: Path) -> Memory:
    return Memory(str(path), embedder=_embedder(), graph=True, extractor=RelationExtractor())


def _embedder() -> object:
    from memlayer.embeddings.hashing import HashingEmbedder

    return HashingEmbedder(64)


def _relations(m: Memory) -> set[str]:
    return {r["destination"] for r in m.graph.relations(user_id="u", limit=100)}


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    with _open(tmp_path) as m:
        for fact in FACTS:
            m.add(fact, user_id="u")
        assert len(_relations(m)) == len(FACTS)
    return tmp_path


def test_a_deleted_graph_directory_is_rebuilt_though_its_watermark_remains(filled: Path) -> None:
    shutil.rmtree(filled / "graph")
    assert (filled / "graph.watermark").exists()
    with _open(filled) as m:
        assert _relations(m) == {fact.split()[-1] for fact in FACTS}
        assert "started empty" in (m.async_memory.engine.graph.rebuilt_reason or "")


@pytest.mark.parametrize("damage", [_overwrite_ssts, _truncate("MANIFEST"), _remove_current],
                         ids=["sst-bytes", "manifest-truncated", "current-removed"])
def test_a_damaged_graph_directory_is_rebuilt_at_open(filled: Path, damage: object) -> None:
    damage(filled / "graph")  # type: ignore[operator]
    with _open(filled) as m:
        assert len(_relations(m)) == len(FACTS)
        assert m.health()["graph"]["ok"]


def test_damage_found_while_in_use_is_rebuilt_at_the_next_catch_up(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _open(filled) as m:
        store = m.graph.store
        store.recreated = "the graph files could not be read (simulated damage found in use)"
        store.reset()  # what replacing a damaged store leaves: an empty graph
        assert _relations(m) == {fact.split()[-1] for fact in FACTS}
