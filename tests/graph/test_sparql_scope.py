"""A scoped SPARQL query reaches only its scope's graphs, on every engine, whatever the query says."""

from __future__ import annotations

import random
from typing import Any

import pytest
from rdflib import URIRef

from memlayer.errors import QueryError
from memlayer.graph.rdf import RDFGraphStore
from memlayer.graph.vocab import graph_iri
from memlayer.types import Scope
from tests.graph.helpers import ALICE, BOB, Listener, put

ALICE_BOT = Scope(user_id="alice", agent_id="bot")
CAROL_BOT = Scope(user_id="carol", agent_id="bot")
GRAPHS = {ALICE: "MARK[alice]", ALICE_BOT: "MARK[alicebot]", BOB: "MARK[bob]", CAROL_BOT: "MARK[carolbot]"}


def fill(store: RDFGraphStore) -> None:
    """Each scope's graph holds a relation and a raw message carrying the scope's own marker."""
    for i, (scope, mark) in enumerate(GRAPHS.items()):
        put(store, scope, f"Person {mark}", "LIKES", f"Thing {mark}", memory_id=f"mem-{mark}",
            text=f"secret of {mark}: PIN {1000 + i}")


def values(rows: list[dict[str, Any]]) -> set[str]:
    return {str(v) for row in rows for v in row.values() if v is not None}


def covers(query: Scope, graph: Scope) -> bool:
    return all(getattr(query, a) in (None, getattr(graph, a)) for a in ("user_id", "agent_id", "run_id"))


def foreign_terms(store: RDFGraphStore, scope: Scope) -> tuple[set[str], set[str]]:
    """(terms only other scopes' graphs hold, their markers) for a query scoped to ``scope``."""
    covered = {s for s in GRAPHS if covers(scope, s)}
    def terms(s: Scope) -> set[str]:
        rows = store.sparql("SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": graph_iri(s)})
        return values(rows) | {str(graph_iri(s))}
    mine = set().union(*(terms(s) for s in covered))
    theirs = set().union(*(terms(s) for s in GRAPHS if s not in covered))
    return theirs - mine, {m for s, m in GRAPHS.items() if s not in covered}


def test_graph_variable_with_one_graph_in_scope_sees_only_it(engine_store: RDFGraphStore) -> None:
    """The reported leak: one named graph in scope, GRAPH ?g returned other users' ids and messages."""
    fill(engine_store)
    rows = engine_store.sparql("SELECT ?g ?t WHERE { GRAPH ?g { ?m prov:value ?t } }", scope=BOB)
    assert rows == [{"g": str(graph_iri(BOB)), "t": "secret of MARK[bob]: PIN 1002"}]
    ids = engine_store.sparql("SELECT ?id WHERE { GRAPH ?g { ?m ml:memoryId ?id } }", scope=BOB)
    assert ids == [{"id": "mem-MARK[bob]"}]


def test_graph_variable_with_several_graphs_in_scope(engine_store: RDFGraphStore) -> None:
    fill(engine_store)
    rows = engine_store.sparql("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", scope=ALICE)
    assert {r["g"] for r in rows} == {str(graph_iri(ALICE)), str(graph_iri(ALICE_BOT))}
    texts = engine_store.sparql("SELECT ?t WHERE { ?m prov:value ?t }", scope=ALICE)
    assert sorted(r["t"] for r in texts) == ["secret of MARK[alice]: PIN 1000", "secret of MARK[alicebot]: PIN 1001"]


def test_other_graphs_named_in_the_query_are_empty_or_refused(engine_store: RDFGraphStore) -> None:
    fill(engine_store)
    bob = graph_iri(BOB)
    assert engine_store.sparql(f"SELECT * WHERE {{ GRAPH <{bob}> {{ ?s ?p ?o }} }}", scope=ALICE) == []
    assert engine_store.sparql("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": bob}, scope=ALICE) == []
    assert engine_store.sparql(f"ASK {{ GRAPH <{bob}> {{ ?s ?p ?o }} }}", scope=ALICE) == [{"ask": False}]
    for clause in ("FROM", "FROM NAMED"):
        with pytest.raises(QueryError, match=f"{clause} <{bob}> is not a graph of scope user_id=alice"):
            engine_store.sparql(f"SELECT * {clause} <{bob}> WHERE {{ ?s ?p ?o }}", scope=ALICE)


def test_from_may_choose_among_the_scopes_own_graphs(engine_store: RDFGraphStore) -> None:
    fill(engine_store)
    bot = graph_iri(ALICE_BOT)
    rows = engine_store.sparql(f"SELECT ?t FROM <{bot}> WHERE {{ ?m prov:value ?t }}", scope=ALICE)
    assert rows == [{"t": "secret of MARK[alicebot]: PIN 1001"}]
    named = engine_store.sparql(f"SELECT ?g ?t FROM NAMED <{bot}> WHERE {{ GRAPH ?g {{ ?m prov:value ?t }} }}",
                                scope=ALICE)
    assert named == [{"g": str(bot), "t": "secret of MARK[alicebot]: PIN 1001"}]
    # FROM NAMED alone leaves the default graph empty, as SPARQL says
    assert engine_store.sparql(f"SELECT ?t FROM NAMED <{bot}> WHERE {{ ?m prov:value ?t }}", scope=ALICE) == []


def test_construct_and_describe_stay_in_scope(engine_store: RDFGraphStore) -> None:
    fill(engine_store)
    built = engine_store.sparql("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", scope=BOB)
    assert built and not any("alice" in v or "carol" in v for v in values(built))
    alice_person = engine_store.sparql("SELECT ?e WHERE { ?e rdfs:label ?l }", {"l": "Person MARK[alice]"},
                                       scope=ALICE)[0]["e"]
    assert engine_store.sparql("DESCRIBE ?e", {"e": URIRef(alice_person)}, scope=BOB) == []


def test_a_scope_without_graphs_sees_an_empty_dataset(engine_store: RDFGraphStore) -> None:
    fill(engine_store)
    nobody = Scope(user_id="nobody")
    assert engine_store.sparql("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", scope=nobody) == []
    assert engine_store.sparql("ASK { ?s ?p ?o }", scope=nobody) == [{"ask": False}]
    assert engine_store.sparql("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", scope=nobody) == [{"n": 0}]


def test_the_owner_query_without_scope_sees_every_graph(engine_store: RDFGraphStore) -> None:
    fill(engine_store)
    rows = engine_store.sparql("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert {r["g"] for r in rows} == {str(graph_iri(s)) for s in GRAPHS}
    bob = graph_iri(BOB)
    assert len(engine_store.sparql(f"SELECT ?t FROM <{bob}> WHERE {{ ?m prov:value ?t }}")) == 1
    with pytest.raises(QueryError, match="names no graph of this store"):
        engine_store.sparql("SELECT * FROM <https://memlayer.dev/graph/user/ghost> WHERE { ?s ?p ?o }")


def test_scoped_rdflib_graph_is_read_only_and_checked(engine_store: RDFGraphStore, listener: Listener) -> None:
    fill(engine_store)
    g = engine_store.scoped_graph(ALICE)
    texts = {str(o) for o in g.objects(None, URIRef("http://www.w3.org/ns/prov#value"))}
    assert texts == {"secret of MARK[alice]: PIN 1000", "secret of MARK[alicebot]: PIN 1001"}
    found = {str(r[0]) for r in g.query("SELECT ?t WHERE { GRAPH ?g { ?m prov:value ?t } }")}
    assert found == texts
    assert "MARK[bob]" not in g.serialize(format="turtle")
    with pytest.raises(QueryError, match="SERVICE"):
        g.query(f"SELECT * WHERE {{ SERVICE <{listener.url}/> {{ ?s ?p ?o }} }}")
    with pytest.raises(QueryError, match="read-only"):
        g.add((URIRef("urn:a"), URIRef("urn:b"), URIRef("urn:c")))
    assert listener.connections == 0


# -- randomized escapes ------------------------------------------------------------------------------

PATTERNS = [
    "GRAPH ?g {{ ?s ?p ?o }}",
    "GRAPH <{foreign}> {{ ?s ?p ?o }}",
    "{{ SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} }}",
    "{{ SELECT * WHERE {{ {{ SELECT ?s ?p ?o WHERE {{ GRAPH <{foreign}> {{ ?s ?p ?o }} }} }} }} }}",
    "?s (rdf:subject|rdf:object|prov:wasDerivedFrom|^prov:wasDerivedFrom|prov:hadPrimarySource)* ?o . ?o ?p ?x",
    "GRAPH ?g {{ ?s (!rdf:type)+ ?o }}",
    "VALUES ?g {{ <{foreign}> }} GRAPH ?g {{ ?s ?p ?o }}",
    "BIND(<{foreign}> AS ?g) GRAPH ?g {{ ?s ?p ?o }}",
    "?s ?p ?o FILTER EXISTS {{ GRAPH <{foreign}> {{ ?x ?y ?z }} }}",
    "{{ ?s ?p ?o }} UNION {{ GRAPH ?g {{ ?s ?p ?o }} }} UNION {{ GRAPH <{foreign}> {{ ?s ?p ?o }} }}",
    "OPTIONAL {{ GRAPH ?g {{ ?s prov:value ?o }} }} OPTIONAL {{ SERVICE SILENT <{url}/sparql> {{ ?s ?p ?o }} }}",
    "SERVICE <{url}/sparql> {{ ?s ?p ?o }}",
    "GRAPH ?g {{ ?s ?p ?o FILTER (CONTAINS(STR(?o), \"MARK\")) }}",
    "?s ?p ?o MINUS {{ GRAPH <{foreign}> {{ ?s ?p ?o }} }}",
]
DATASETS = ["", "FROM <{own}>", "FROM <{foreign}>", "FROM NAMED <{foreign}>", "FROM NAMED <{own}>",
            "FROM <{url}/data.ttl>", "FROM NAMED <{url}/data.trig>", "FROM <{own}> FROM NAMED <{foreign}>"]
FORMS = ["SELECT *", "SELECT DISTINCT ?o ?g", "CONSTRUCT {{ ?s ?p ?o }}", "DESCRIBE ?s ?o", "ASK"]
SCOPES = [ALICE, ALICE_BOT, BOB, Scope(agent_id="bot")]


def _query(rng: random.Random, scope: Scope, listener: Listener) -> tuple[str, bool]:
    own = rng.choice([graph_iri(s) for s in GRAPHS if covers(scope, s)])
    foreign = rng.choice([graph_iri(s) for s in GRAPHS if not covers(scope, s)])
    form = rng.choice(FORMS)
    pattern = rng.choice(PATTERNS)
    if form == "ASK":
        pattern += " FILTER (CONTAINS(STR(?o), \"{marker}\"))"
    text = f"{form} {rng.choice(DATASETS)} WHERE {{{{ {pattern} }}}}"
    if form.startswith("SELECT") and rng.random() < 0.3:
        text += " LIMIT 1000"
    return text.format(own=own, foreign=foreign, url=listener.url, marker="{marker}"), form == "ASK"


def test_randomized_escapes_never_reach_another_scope(engine_store: RDFGraphStore, listener: Listener) -> None:
    fill(engine_store)
    rng = random.Random(1515)
    outcomes = {"refused": 0, "answered": 0}
    for scope in SCOPES:
        foreign, markers = foreign_terms(engine_store, scope)
        for _ in range(12):
            text, ask = _query(rng, scope, listener)
            for marker in sorted(markers) if ask else [""]:
                query = text.replace("{marker}", marker)
                try:
                    rows = engine_store.sparql(query, scope=scope)
                except QueryError:
                    outcomes["refused"] += 1
                    continue
                outcomes["answered"] += 1
                if ask:
                    assert rows == [{"ask": False}], (scope, query)
                    continue
                got = values(rows)
                assert not got & foreign, (scope, query, got & foreign)
                assert not any(m in v for v in got for m in markers), (scope, query)
    assert outcomes["refused"] and outcomes["answered"] > 10, outcomes
    assert listener.connections == 0
