"""memory.graph: the user-facing graph API with user_id=/agent_id=/run_id=, over a real graph store."""

from __future__ import annotations

from dataclasses import fields

import pytest
from rdflib import Graph

from memlayer import Memory
from memlayer.errors import MemlayerError, QueryError, ScopeError
from memlayer.graph.rdf import RDFGraphStore
from memlayer.graph.view import GraphView
from memlayer.records import RelationRecord
from memlayer.types import Scope
from tests.graph.helpers import ALICE, BOB, put

SHAPE = {f.name for f in fields(RelationRecord)}


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def view(store: RDFGraphStore) -> GraphView:
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1", at="2024-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "San Francisco", memory_id="m2", at="2024-06-01T00:00:00Z")
    put(store, Scope(user_id="alice", agent_id="bot"), "Sarah", "WORKS_AT", "Google", memory_id="m3",
        at="2024-03-01T00:00:00Z")
    put(store, BOB, "Bob", "WORKS_AT", "Initech", memory_id="b1", text="bob PIN 4711")
    return GraphView(store, Counter())


def test_relations_of_a_scope(view: GraphView) -> None:
    current = view.relations(user_id="alice")
    assert [(r["source"], r["relationship"], r["destination"]) for r in current] == [
        ("Sarah", "WORKS_AT", "Google"), ("Alice", "LIVES_IN", "San Francisco"),
    ]  # oldest first; the user scope covers the agent's graph
    assert all(set(r) == SHAPE and r["score"] == 1.0 and r["hops"] == 1 for r in current)
    assert RelationRecord.from_dict(current[1]).to_dict() == current[1]
    history = view.relations(user_id="alice", include_expired=True)
    assert [r["destination"] for r in history] == ["New York", "Google", "San Francisco"]
    assert history[0]["valid_to"] == "2024-06-01T00:00:00+00:00" and history[0]["memory_ids"] == ["m1"]
    then = view.relations(user_id="alice", as_of="2024-02-01")
    assert [r["destination"] for r in then] == ["New York"]
    assert [r["destination"] for r in view.relations(user_id="alice", agent_id="bot")] == ["Google"]
    assert len(view.relations(user_id="alice", include_expired=True, limit=2)) == 2
    assert view.relations(user_id="nobody") == []


def test_relations_with_a_query_is_the_neighbourhood_search(view: GraphView) -> None:
    found = view.relations("who works at Google?", user_id="alice")
    assert [(r["source"], r["destination"]) for r in found] == [("Sarah", "Google")]
    assert set(found[0]) == SHAPE and found[0]["score"] > 0
    assert found == [RelationRecord.from_dict(r).to_dict() for r in view.store.search(ALICE, "who works at Google?")]
    assert view.relations("who works at Google?", user_id="bob") == []
    old = view.relations("where does Alice live", user_id="alice", as_of="2024-02-01")
    assert [r["destination"] for r in old] == ["New York"]


def test_sparql_export_and_graph_take_ids_and_stay_in_scope(view: GraphView) -> None:
    rows = view.sparql("SELECT ?t WHERE { GRAPH ?g { ?m prov:value ?t } }", user_id="bob")
    assert rows == [{"t": "bob PIN 4711"}]
    assert "4711" not in str(view.sparql("SELECT ?t WHERE { GRAPH ?g { ?m prov:value ?t } }", user_id="alice"))
    assert view.sparql("SELECT ?t WHERE { ?m prov:value ?t }", scope=BOB) == rows  # scope= keeps working
    bob = view.export("nquads", user_id="bob")
    assert "Initech" in bob and "Alice" not in bob
    assert "Initech" in view.export("trig") and "Alice" in view.export("trig")  # the owner: every graph
    g = view.graph(user_id="alice")
    assert isinstance(g, Graph) and "Google" in g.serialize(format="turtle") and "Initech" not in g.serialize(format="turtle")
    assert len(view.graph(scope=BOB)) == len(view.store.graph(BOB))
    with pytest.raises(QueryError, match="read-only"):
        g.remove((None, None, None))
    assert view.counts()["relations"] == 4


def test_every_call_catches_up_first(view: GraphView) -> None:
    counter = view._catch_up
    assert isinstance(counter, Counter)
    view.relations(user_id="alice")
    view.relations("Alice", user_id="alice")
    view.sparql("ASK { ?s ?p ?o }", user_id="alice")
    view.export("trig", user_id="alice")
    view.graph(user_id="alice")
    view.counts()
    assert counter.calls == 6


def test_scopes_are_validated_like_the_rest_of_the_api(view: GraphView) -> None:
    for call in (lambda: view.relations(), lambda: view.graph(), lambda: view.relations("x", user_id="")):
        with pytest.raises(ScopeError):
            call()
    with pytest.raises(ScopeError, match="not both"):
        view.sparql("ASK { ?s ?p ?o }", user_id="alice", scope=BOB)
    with pytest.raises(ScopeError, match="must be a memlayer Scope"):
        view.export("trig", scope={"user_id": "alice"})  # type: ignore[arg-type]
    with pytest.raises(ScopeError):
        view.sparql("ASK { ?s ?p ?o }", user_id="a\x00b")
    with pytest.raises(MemlayerError, match="limit"):
        view.relations(user_id="alice", limit=-1)
    with pytest.raises(MemlayerError, match="query must be a string"):
        view.relations(42, user_id="alice")  # type: ignore[arg-type]


def test_memory_graph_is_the_view(tmp_path, hash_embedder) -> None:
    with Memory(str(tmp_path), embedder=hash_embedder) as m:
        assert isinstance(m.graph, GraphView) and isinstance(m.async_memory.graph, GraphView)
        m.add("I had a meeting with Sarah from Google about the new search project", user_id="me")
        rel = m.graph.relations("who works at Google?", user_id="me")[0]
        assert (rel["source"], rel["relationship"], rel["destination"]) == ("Sarah", "WORKS_AT", "Google")
        assert {**rel, "score": 1.0, "hops": 1} in m.graph.relations(user_id="me")
        assert m.graph.sparql("ASK { ?s ml:WORKS_AT ?o }", user_id="me") == [{"ask": True}]
        assert m.graph.sparql("ASK { ?s ml:WORKS_AT ?o }", user_id="someone-else") == [{"ask": False}]
    with Memory(str(tmp_path / "none"), embedder=hash_embedder, graph=False) as m:
        assert m.graph is None
