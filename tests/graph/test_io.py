"""Export/import round-trips, SPARQL access, and hostile user text."""

from __future__ import annotations

import pytest
from rdflib import Dataset, Graph, Literal, URIRef

from memlayer.errors import ConfigError
from memlayer.graph.io import plain
from memlayer.graph.rdf import RDFGraphStore
from memlayer.graph.vocab import ML, ontology
from memlayer.types import Relation, Scope
from tests.graph.helpers import ALICE, BOB, put, triples

INJECTIONS = [
    '"} ; DROP ALL ; {',
    "Robert'); DROP GRAPH <https://memlayer.dev/graph/user/bob> ; #",
    '""" } INSERT DATA { <urn:x> <urn:y> <urn:z> } #',
    "<https://evil.example/x> ?p ?o",
    "line\nbreak \\ back\\slash \t tab",
]


def quads(store: RDFGraphStore) -> set[tuple[object, ...]]:
    return {(s, p, plain(o), URIRef(str(g))) for s, p, o, g in store._ds.quads((None, None, None, None))}


def fill(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1")
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m2", at="2024-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "San Francisco", memory_id="m3", at="2024-06-01T00:00:00Z")
    put(store, Scope(user_id="alice", agent_id="bot"), "Alice", "LIKES", "Zoë's café", memory_id="m4")
    put(store, BOB, "Bob", "MARRIED_TO", "Carol", memory_id="b1", text="Bob: I married Carol ✨")


@pytest.mark.parametrize("fmt", ["trig", "json-ld", "nquads"])
def test_dataset_round_trip(store: RDFGraphStore, fmt: str) -> None:
    fill(store)
    data = store.export(fmt)
    fresh = RDFGraphStore(store="memory")
    assert fresh.import_(data, fmt) == len(quads(store))
    assert quads(fresh) == quads(store)
    assert triples(fresh.search(ALICE, "Alice")) == triples(store.search(ALICE, "Alice"))
    assert fresh.counts() == store.counts()


def test_turtle_round_trip_of_one_scope(store: RDFGraphStore) -> None:
    fill(store)
    data = store.export("ttl", scope=BOB)
    fresh = RDFGraphStore(store="memory")
    fresh.import_(data, "turtle")
    assert quads(fresh) == {q for q in quads(store) if "user/bob" in str(q[3])}
    assert triples(fresh.search(BOB, "Bob")) == {("Bob", "MARRIED_TO", "Carol")}
    with pytest.raises(ConfigError, match="Turtle has no named graphs"):
        store.export("turtle")  # several graphs
    with pytest.raises(ConfigError, match="unknown graph format"):
        store.export("rdf/xml-ish")


def test_turtle_import_into_a_given_scope() -> None:
    g = Graph()
    g.add((URIRef("urn:a"), URIRef("urn:p"), Literal("x")))
    fresh = RDFGraphStore(store="memory")
    with pytest.raises(ConfigError, match="pass scope="):
        fresh.import_(g.serialize(format="turtle"), "turtle")
    assert fresh.import_(g.serialize(format="turtle"), "turtle", scope=ALICE) == 1
    assert len(fresh.graph(ALICE)) == 1


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_strings_are_plain_data(store: RDFGraphStore, evil: str) -> None:
    put(store, BOB, "Bob", "LIKES", "Tea", memory_id="b1")
    bob_before = store.export("nquads", scope=BOB)
    scope = Scope(user_id=evil, agent_id=evil)
    [result] = store.add(scope, [Relation(evil, evil, evil + " 2")], memory_id=evil, source_text=evil,
                         message_ids=[evil], at="2024-01-01T00:00:00Z")  # type: ignore[arg-type]
    assert result["event"] == "ADD" and set(result["relationship"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
    [hit] = store.search(scope, evil, hops=1)
    assert (hit["source"], hit["destination"], hit["memory_ids"]) == (evil, evil + " 2", [evil])
    label = store.sparql("SELECT ?l WHERE { ?p a rdf:Property ; rdfs:label ?l }", scope=scope)
    assert label == [{"l": evil}]
    texts = store.sparql("SELECT ?t ?id WHERE { ?m prov:value ?t ; ml:messageId ?id }", {"id": evil}, scope=scope)
    assert texts == [{"t": evil, "id": evil}]
    assert store.sparql("SELECT ?s ?x WHERE { ?s rdfs:label ?x }", {"x": evil}, scope=BOB) == []
    assert store.export("nquads", scope=BOB) == bob_before  # nothing else changed
    for s, p, o, g in quads(store):
        for term in (s, p, g) + ((o,) if isinstance(o, URIRef) else ()):
            assert not set(str(term)) & set('<>"{}|\\^` \n'), term
    fresh = RDFGraphStore(store="memory")
    fresh.import_(store.export("trig"), "trig")
    assert quads(fresh) == quads(store)
    store.forget_memory(scope, evil)
    store.delete_scope(scope)
    assert store.export("nquads") == bob_before


def test_sparql_bindings_and_result_shapes(store: RDFGraphStore) -> None:
    fill(store)
    rows = store.sparql(
        "SELECT ?who ?name WHERE { ?w ml:WORKS_AT ?o . ?o rdfs:label ?name . ?w rdfs:label ?who }",
        {"name": "Google"},
    )
    assert rows == [{"who": "Sarah", "name": "Google"}]
    assert store.sparql("ASK { ?s ml:MARRIED_TO ?o }", scope=ALICE) == [{"ask": False}]
    assert store.sparql("ASK { ?s ml:MARRIED_TO ?o }", scope=BOB) == [{"ask": True}]
    built = store.sparql("CONSTRUCT { ?s ml:MARRIED_TO ?o } WHERE { ?s ml:MARRIED_TO ?o }", scope=BOB)
    assert len(built) == 1 and built[0]["predicate"] == str(ML.MARRIED_TO)
    union = store.sparql("SELECT ?o WHERE { ?s ml:LIKES ?x . ?x rdfs:label ?o }", scope=ALICE)
    assert union == [{"o": "Zoë's café"}]  # the agent graph is covered by the user scope
    named = store.sparql("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ml:LIKES ?o } }")
    assert named == [{"g": "https://memlayer.dev/graph/user/alice/agent/bot"}]
    with pytest.raises(ConfigError, match="SPARQL query failed"):
        store.sparql("SELECT WHERE {")
    assert store.sparql("SELECT ?s WHERE { ?s ?p ?o }", scope=Scope(user_id="nobody")) == []


def test_graph_is_a_live_rdflib_graph(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google")
    g = store.graph(ALICE)
    rows = list(g.query("SELECT ?o WHERE { ?s ml:WORKS_AT ?o }"))
    assert len(rows) == 1 and (None, ML.WORKS_AT, None) in g


def test_ontology_is_valid_rdf() -> None:
    onto = ontology()
    again = Dataset()
    again.parse(data=onto.serialize(format="turtle"), format="turtle")
    assert len(again) == len(onto) > 40
