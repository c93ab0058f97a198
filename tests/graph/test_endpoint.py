"""The graph behaviours against a real SPARQL 1.1 server (`oxigraph serve`) through store="sparql"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memlayer.errors import QueryError
from memlayer.graph.rdf import RDFGraphStore
from memlayer.graph.vocab import graph_iri
from memlayer.types import Scope
from tests.graph.helpers import ALICE, BOB, Listener, put, triples
from tests.servers import SparqlEndpoints


@pytest.fixture
def remote(sparql_endpoints: SparqlEndpoints) -> Iterator[RDFGraphStore]:
    """The graph store on the session's shared Oxigraph server (emptied for each test)."""
    store = RDFGraphStore(store="sparql", **sparql_endpoints.config())
    yield store
    store.close()


def test_add_search_supersede(remote: RDFGraphStore) -> None:
    assert remote.persistent
    put(remote, ALICE, "Sarah", "works at", "Google", memory_id="m1")
    assert [r["source"] for r in remote.search(ALICE, "Who do I know that works at Google?")] == ["Sarah"]
    put(remote, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m2", at="2024-01-01T00:00:00Z")
    moved = put(remote, ALICE, "Alice", "LIVES_IN", "San Francisco", memory_id="m3", at="2024-06-01T00:00:00Z")
    assert moved["event"] == "UPDATE" and moved["closed"][0]["destination"] == "New York"
    assert put(remote, ALICE, "Alice", "LIKES", "Tea", memory_id="m4")["closed"] == []
    assert triples(remote.search(ALICE, "Alice", hops=1)) == {
        ("Alice", "LIVES_IN", "San Francisco"), ("Alice", "LIKES", "Tea")
    }
    assert triples(remote.search(ALICE, "Alice", as_of="2024-03-01", hops=1)) == {
        ("Alice", "LIVES_IN", "New York"), ("Alice", "LIKES", "Tea")
    }
    assert remote.memory_ids_for(ALICE, "who works at Google") == {"m1": pytest.approx(0.8)}


def test_provenance_forget_and_injection(remote: RDFGraphStore) -> None:
    evil = '"} ; DROP ALL ; {'
    put(remote, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1", text=f"Sarah works at Google {evil}")
    rows = remote.sparql(
        "SELECT ?text ?name WHERE { ?st rdf:subject ?s ; prov:hadPrimarySource ?msg . ?s rdfs:label ?name . "
        "?msg prov:value ?text }",
        {"name": "Sarah"},
        scope=ALICE,
    )
    assert rows == [{"text": f"Sarah works at Google {evil}", "name": "Sarah"}]
    put(remote, ALICE, evil, evil, evil, memory_id=evil)
    assert [r["source"] for r in remote.search(ALICE, evil, hops=1)] == [evil]
    remote.forget_memory(ALICE, evil)
    remote.forget_memory(ALICE, "m1")
    assert remote.search(ALICE, "Sarah") == [] and remote.counts()["relations"] == 0


def test_scopes_and_delete_scope(remote: RDFGraphStore) -> None:
    put(remote, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="a1")
    put(remote, Scope(user_id="alice", agent_id="bot"), "Sarah", "LIVES_IN", "Paris", memory_id="a2")
    put(remote, BOB, "Sarah", "WORKS_AT", "Microsoft", memory_id="b1")
    assert triples(remote.search(BOB, "Sarah")) == {("Sarah", "WORKS_AT", "Microsoft")}
    assert len(remote.search(ALICE, "Sarah")) == 2
    remote.delete_scope(ALICE)
    assert remote.search(ALICE, "Sarah") == []
    assert triples(remote.search(BOB, "Sarah")) == {("Sarah", "WORKS_AT", "Microsoft")}
    assert remote.counts()["graphs"] == 1
    fresh = RDFGraphStore(store="memory")
    fresh.import_(remote.export("trig"), "trig")
    assert triples(fresh.search(BOB, "Sarah")) == {("Sarah", "WORKS_AT", "Microsoft")}


def test_scoped_queries_reach_only_the_scope_on_the_endpoint(remote: RDFGraphStore, listener: Listener) -> None:
    alice_bot = Scope(user_id="alice", agent_id="bot")
    put(remote, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="a1", text="alice's own words")
    put(remote, alice_bot, "Sarah", "LIVES_IN", "Paris", memory_id="a2", text="alice's bot words")
    put(remote, BOB, "Bob", "WORKS_AT", "Initech", memory_id="b1", text="bob PIN 4711")
    texts = remote.sparql("SELECT ?g ?t WHERE { GRAPH ?g { ?m prov:value ?t } }", scope=BOB)
    assert texts == [{"g": str(graph_iri(BOB)), "t": "bob PIN 4711"}]  # one graph in scope
    both = remote.sparql("SELECT ?t WHERE { ?m prov:value ?t }", scope=ALICE)
    assert sorted(r["t"] for r in both) == ["alice's bot words", "alice's own words"]
    bob = graph_iri(BOB)
    assert remote.sparql("SELECT ?t WHERE { GRAPH ?g { ?m prov:value ?t } }", {"g": bob}, scope=ALICE) == []
    assert remote.sparql("SELECT ?t WHERE { ?m prov:value ?t }", scope=Scope(user_id="nobody")) == []
    with pytest.raises(QueryError, match="FROM NAMED"):
        remote.sparql(f"SELECT ?t FROM NAMED <{bob}> WHERE {{ GRAPH ?g {{ ?m prov:value ?t }} }}", scope=ALICE)
    with pytest.raises(QueryError, match="SERVICE"):  # the server would make the request from its side
        remote.sparql(f"SELECT * WHERE {{ SERVICE <{listener.url}/> {{ ?s ?p ?o }} }}", scope=ALICE)
    assert listener.connections == 0
