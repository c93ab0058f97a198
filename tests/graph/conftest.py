"""Fixtures for the graph pillar: the store under test, on both backends and both query engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memlayer.graph import engines
from memlayer.graph.rdf import RDFGraphStore
from tests.graph.helpers import Listener


@pytest.fixture(params=["memory", "oxigraph"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RDFGraphStore]:
    """Each behaviour runs on rdflib's in-memory store and on Oxigraph on disk."""
    if request.param == "oxigraph":
        pytest.importorskip("oxrdflib", reason="the oxigraph store needs memlayer[graph]")
        s = RDFGraphStore(tmp_path / "graph", store="oxigraph")
    else:
        s = RDFGraphStore(store="memory")
    yield s
    s.close()


@pytest.fixture(params=["memory", "oxigraph", "oxigraph+rdflib"])
def engine_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RDFGraphStore]:
    """A store whose user queries run on rdflib's engine (memory), Oxigraph's own engine (oxigraph), or
    rdflib's engine over Oxigraph's data (oxigraph+rdflib: the path taken when Oxigraph cannot bind a value)."""
    if request.param == "memory":
        s = RDFGraphStore(store="memory")
    else:
        pytest.importorskip("oxrdflib", reason="the oxigraph store needs memlayer[graph]")
        s = RDFGraphStore(tmp_path / "graph", store="oxigraph")
        if request.param == "oxigraph+rdflib":
            def refuse(*args: object, **kwargs: object) -> None:
                raise engines.ProjectionNeeded("use rdflib's engine")

            monkeypatch.setattr(engines, "run_oxigraph", refuse)
    yield s
    s.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A 127.0.0.1 port that must see no connection: the test asserts on ``listener.connections``."""
    ear = Listener()
    yield ear
    ear.close()
