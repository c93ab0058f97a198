"""The oxigraph store keeps everything on disk across close/reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from memlayer.errors import ConfigError, StoreError
from memlayer.graph.rdf import RDFGraphStore
from tests.graph.helpers import ALICE, put, triples

pytest.importorskip("oxrdflib", reason="the oxigraph store needs memlayer[graph]")


def test_write_close_reopen(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    store = RDFGraphStore(path, store="oxigraph")
    assert store.persistent
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1", at="2024-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "San Francisco", memory_id="m2", at="2024-06-01T00:00:00Z")
    before = store.counts()
    store.close()

    with RDFGraphStore(path, store="oxigraph") as again:
        assert again.counts() == before and before["relations"] == 2
        assert triples(again.search(ALICE, "Alice")) == {("Alice", "LIVES_IN", "San Francisco")}
        assert triples(again.search(ALICE, "Alice", as_of="2024-02-01")) == {("Alice", "LIVES_IN", "New York")}
        # the label cache is rebuilt from disk: resolution still finds the existing entities
        assert put(again, ALICE, "alice", "lives in", "san francisco", memory_id="m3")["event"] == "NONE"
        assert again.counts()["entities"] == before["entities"]


def test_second_open_of_a_locked_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with RDFGraphStore(path, store="oxigraph"), pytest.raises(StoreError, match="another process"):
        RDFGraphStore(path, store="oxigraph")


def test_bad_configuration(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="needs a directory"):
        RDFGraphStore(tmp_path / "file", store="oxigraph")
    with pytest.raises(ConfigError, match="unknown graph store"):
        RDFGraphStore(store="no-such-store")
    with pytest.raises(ConfigError, match="query_endpoint"):
        RDFGraphStore(store="sparql")
    with pytest.raises(ConfigError, match="similarity_threshold"):
        RDFGraphStore(store="memory", similarity_threshold=0)
    assert not RDFGraphStore(store="memory").persistent


def test_missing_oxrdflib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "oxrdflib", None)
    with pytest.raises(ImportError, match=r'pip install "memlayer\[graph\]"'):
        RDFGraphStore(store="oxigraph")
