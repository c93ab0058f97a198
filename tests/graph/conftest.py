"""Fixtures for the graph pillar: the store under test, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memlayer.graph.rdf import RDFGraphStore


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

