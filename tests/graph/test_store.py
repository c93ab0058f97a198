"""Core behaviours of RDFGraphStore on the in-memory rdflib store."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from memlayer.errors import ScopeError, StoreError
from memlayer.graph.base import GraphStore
from memlayer.graph.rdf import RDFGraphStore
from memlayer.types import Relation, Scope
from tests.graph.helpers import ALICE, BOB, put, triples


def test_implements_protocol_and_registry(store: RDFGraphStore) -> None:
    from memlayer import registry

    assert isinstance(store, GraphStore)
    assert registry.get("graph_stores", "rdf") is RDFGraphStore


def test_works_at_google(store: RDFGraphStore) -> None:
    result = put(store, ALICE, "Sarah", "works at", "Google")
    assert result["event"] == "ADD" and result["relationship"] == "WORKS_AT" and result["closed"] == []
    found = store.search(ALICE, "Who do I know that works at Google?")
    assert found and found[0]["source"] == "Sarah" and found[0]["destination"] == "Google"
    assert found[0]["memory_ids"] == ["m1"] and found[0]["hops"] == 1 and found[0]["valid_to"] is None


def test_same_fact_again_is_none_and_gains_provenance(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1")
    again = put(store, ALICE, "sarah", "works_at", "the Google", memory_id="m2")
    assert again["event"] == "NONE" and again["source"] == "Sarah"
    [hit] = store.search(ALICE, "google")
    assert hit["memory_ids"] == ["m1", "m2"]


def test_replayed_write_is_idempotent(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1", at="2024-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "San Francisco", memory_id="m2", at="2024-06-01T00:00:00Z")
    before = store.counts()
    replay = put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1", at="2024-01-01T00:00:00Z")
    assert replay["event"] == "NONE" and replay["current"] is False
    assert store.counts() == before


def test_supersede_and_as_of(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1", at="2024-01-01T00:00:00Z")
    moved = put(store, ALICE, "Alice", "lives in", "San Francisco", memory_id="m2", at="2024-06-01T00:00:00Z")
    assert moved["event"] == "UPDATE"
    assert moved["closed"] == [{"source": "Alice", "relationship": "LIVES_IN", "destination": "New York"}]

    assert triples(store.search(ALICE, "where does Alice live")) == {("Alice", "LIVES_IN", "San Francisco")}
    history = store.search(ALICE, "Alice", include_expired=True)
    assert triples(history) == {("Alice", "LIVES_IN", "New York"), ("Alice", "LIVES_IN", "San Francisco")}
    ny = next(r for r in history if r["destination"] == "New York")
    assert ny["valid_to"] == "2024-06-01T00:00:00+00:00"

    march = datetime(2024, 3, 1, tzinfo=timezone.utc)
    assert triples(store.search(ALICE, "Alice", as_of=march)) == {("Alice", "LIVES_IN", "New York")}
    assert triples(store.search(ALICE, "Alice", as_of="2024-06-01T00:00:00Z")) == {
        ("Alice", "LIVES_IN", "San Francisco")
    }
    assert store.search(ALICE, "Alice", as_of="2023-01-01T00:00:00Z") == []
    # the plain triple is asserted only for the current fact
    rows = store.sparql("SELECT ?city WHERE { ?who ml:LIVES_IN ?city }", scope=ALICE)
    assert [r["city"].rsplit("/", 1)[-1] for r in rows] == ["san_francisco"]


def test_unrelated_facts_do_not_supersede(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1")
    assert put(store, ALICE, "Bob", "LIVES_IN", "Paris", memory_id="m2")["closed"] == []  # other subject
    assert put(store, ALICE, "Alice", "LIKES", "Paris", memory_id="m3")["closed"] == []  # other predicate
    assert put(store, ALICE, "Alice", "VISITED", "Rome", memory_id="m4")["closed"] == []
    assert put(store, ALICE, "Alice", "VISITED", "Oslo", memory_id="m5")["closed"] == []  # not functional
    current = triples(store.search(ALICE, "Alice Bob", limit=50))
    assert {("Alice", "LIVES_IN", "New York"), ("Bob", "LIVES_IN", "Paris"), ("Alice", "VISITED", "Rome"),
            ("Alice", "VISITED", "Oslo"), ("Alice", "LIKES", "Paris")} <= current


def test_functional_set_is_configurable() -> None:
    s = RDFGraphStore(store="memory", functional=["favourite color"])
    put(s, ALICE, "Alice", "FAVOURITE_COLOR", "red", memory_id="m1")
    assert put(s, ALICE, "Alice", "favourite color", "blue", memory_id="m2")["event"] == "UPDATE"
    put(s, ALICE, "Alice", "LIVES_IN", "Rome", memory_id="m3")
    assert put(s, ALICE, "Alice", "LIVES_IN", "Oslo", memory_id="m4")["closed"] == []  # no longer functional


def test_late_arriving_older_fact_is_stored_as_history(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "WORKS_AT", "Acme", memory_id="m2", at="2024-06-01T00:00:00Z")
    late = put(store, ALICE, "Alice", "WORKS_AT", "Initech", memory_id="m1", at="2024-01-01T00:00:00Z")
    assert late["event"] == "ADD" and late["current"] is False and late["closed"] == []
    assert triples(store.search(ALICE, "Alice")) == {("Alice", "WORKS_AT", "Acme")}
    assert triples(store.search(ALICE, "Alice", as_of="2024-02-01T00:00:00Z")) == {("Alice", "WORKS_AT", "Initech")}


def test_late_facts_in_reverse_order_end_at_the_next_value_even_a_closed_one(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "WORKS_AT", "Acme", memory_id="m3", at="2024-06-01T00:00:00Z")
    put(store, ALICE, "Alice", "WORKS_AT", "Initech", memory_id="m2", at="2024-03-01T00:00:00Z")
    oldest = put(store, ALICE, "Alice", "WORKS_AT", "Hooli", memory_id="m1", at="2024-01-01T00:00:00Z")
    assert oldest["current"] is False and oldest["closed"] == []
    assert triples(store.search(ALICE, "Alice")) == {("Alice", "WORKS_AT", "Acme")}
    for day, employer in (("2024-07-01", "Acme"), ("2024-04-01", "Initech"), ("2024-02-01", "Hooli")):
        assert triples(store.search(ALICE, "Alice", as_of=f"{day}T00:00:00Z")) == {("Alice", "WORKS_AT", employer)}
    hooli = next(r for r in store.search(ALICE, "Alice", include_expired=True) if r["destination"] == "Hooli")
    assert hooli["valid_to"] == "2024-03-01T00:00:00+00:00"


def test_a_late_fact_ends_the_value_that_held_when_it_started(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "Paris", memory_id="m1", at="2020-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "Rome", memory_id="m3", at="2022-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "Berlin", memory_id="m2", at="2021-01-01T00:00:00Z")
    for day, city in (("2020-06-01", "Paris"), ("2021-06-01", "Berlin"), ("2022-06-01", "Rome")):
        assert triples(store.relations(ALICE, as_of=f"{day}T00:00:00Z")) == {("Alice", "LIVES_IN", city)}
    again = put(store, ALICE, "Alice", "LIVES_IN", "Berlin", memory_id="m4", at="2021-03-01T00:00:00Z")
    assert again["event"] == "NONE" and again["current"] is False  # already known to hold then
    [berlin] = [r for r in store.relations(ALICE, include_expired=True) if r["destination"] == "Berlin"]
    assert berlin["memory_ids"] == ["m2", "m4"] and berlin["valid_to"] == "2022-01-01T00:00:00+00:00"


def test_two_hops_and_scoring(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1")
    put(store, ALICE, "Sarah", "LIVES_IN", "Berlin", memory_id="m2")
    put(store, ALICE, "Berlin", "LOCATED_IN", "Germany", memory_id="m3")
    found = store.search(ALICE, "Who works at Google?")
    by = {(r["source"], r["destination"]): r for r in found}
    assert by[("Sarah", "Google")]["hops"] == 1 and by[("Sarah", "Berlin")]["hops"] == 2
    assert ("Berlin", "Germany") not in by  # three hops away
    assert found[0]["destination"] == "Google"
    assert all(r["score"] < found[0]["score"] for r in found[1:])
    assert triples(store.search(ALICE, "Who works at Google?", hops=1)) == {("Sarah", "WORKS_AT", "Google")}
    both = store.search(ALICE, "Does Sarah live in Berlin?")
    assert (both[0]["source"], both[0]["destination"]) == ("Sarah", "Berlin")  # both ends named: ranks first
    assert len(store.search(ALICE, "Sarah", limit=1)) == 1


def test_memory_ids_for(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1")
    put(store, ALICE, "Sarah", "LIVES_IN", "Berlin", memory_id="m2")
    scores = store.memory_ids_for(ALICE, "Google")
    assert set(scores) == {"m1", "m2"} and scores["m1"] > scores["m2"]
    assert store.memory_ids_for(ALICE, "nothing here") == {}


def test_provenance_reaches_message_text(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1", text="user: my friend Sarah works at Google")
    rows = store.sparql(
        """SELECT ?text ?mid ?msgid WHERE {
             ?st a rdf:Statement ; rdf:subject ?s ; rdf:predicate ml:WORKS_AT ;
                 prov:wasDerivedFrom ?m ; prov:hadPrimarySource ?msg .
             ?s rdfs:label ?name .
             ?m ml:memoryId ?mid ; prov:wasDerivedFrom ?msg .
             ?msg a ml:Message ; prov:value ?text ; ml:messageId ?msgid }""",
        {"name": "Sarah"},
        scope=ALICE,
    )
    assert rows == [{"text": "user: my friend Sarah works at Google", "mid": "m1", "msgid": "msg-m1"}]


def test_forget_memory(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1")
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m2")  # same fact, second source
    put(store, ALICE, "Sarah", "LIKES", "Tea", memory_id="m3")
    store.forget_memory(ALICE, "m1")
    [hit] = store.search(ALICE, "Google", hops=1)
    assert hit["memory_ids"] == ["m2"]
    store.forget_memory(ALICE, "m2")
    assert store.search(ALICE, "Google") == []
    assert triples(store.search(ALICE, "Sarah")) == {("Sarah", "LIKES", "Tea")}
    assert not store.sparql("ASK { ?e rdfs:label \"Google\" }", scope=ALICE)[0]["ask"]  # orphan removed
    assert not store.sparql("ASK { ?m ml:memoryId \"m1\" }", scope=ALICE)[0]["ask"]
    store.forget_memory(ALICE, "no-such-memory")  # a no-op


def test_forget_reopens_what_it_superseded(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1", at="2024-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "San Francisco", memory_id="m2", at="2024-06-01T00:00:00Z")
    store.forget_memory(ALICE, "m2")
    [hit] = store.search(ALICE, "Alice")
    assert (hit["destination"], hit["valid_to"]) == ("New York", None)
    assert store.sparql("ASK { ?a ml:LIVES_IN ?c . ?c rdfs:label \"New York\" }", scope=ALICE)[0]["ask"]


def test_forgetting_a_closed_fact_extends_the_one_it_had_ended(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "Paris", memory_id="m1", at="2020-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "Berlin", memory_id="m2", at="2021-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIVES_IN", "Rome", memory_id="m3", at="2022-01-01T00:00:00Z")
    store.forget_memory(ALICE, "m2")
    assert triples(store.relations(ALICE, as_of="2021-06-01T00:00:00Z")) == {("Alice", "LIVES_IN", "Paris")}
    store.forget_memory(ALICE, "m3")
    [paris] = store.relations(ALICE, include_expired=True)
    assert (paris["destination"], paris["valid_to"]) == ("Paris", None)


def test_forgetting_a_memory_that_said_both_values_leaves_neither(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "Oslo", memory_id="m0", at="2023-01-01T00:00:00Z")
    store.add(ALICE, [Relation("Alice", "LIVES_IN", "Paris"), Relation("Alice", "LIVES_IN", "Rome")],
              memory_id="m1", source_text="I lived in Paris, now in Rome", at="2024-01-01T00:00:00Z")
    store.forget_memory(ALICE, "m1")
    assert store.sparql("SELECT ?c WHERE { ?a ml:LIVES_IN ?e . ?e rdfs:label ?c }", scope=ALICE) == [{"c": "Oslo"}]
    [oslo] = store.relations(ALICE, include_expired=True)
    assert (oslo["destination"], oslo["valid_to"]) == ("Oslo", None)


def test_closing_a_memory_ends_what_only_it_said(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIKES", "Tea", memory_id="m1", at="2024-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "LIKES", "Tea", memory_id="m2", at="2024-02-01T00:00:00Z")  # said again
    put(store, ALICE, "Alice", "LIKES", "Jazz", memory_id="m2", at="2024-02-01T00:00:00Z")
    assert store.close_memory(ALICE, "m1", "2024-03-01T00:00:00Z") == []  # m2 still says it
    closed = store.close_memory(ALICE, "m2", "2024-04-01T00:00:00Z")
    assert triples(closed) == {("Alice", "LIKES", "Tea"), ("Alice", "LIKES", "Jazz")}
    assert store.relations(ALICE) == [] and store.close_memory(ALICE, "m2", "2024-05-01T00:00:00Z") == []
    assert not store.sparql("ASK { ?a ml:LIKES ?b }", scope=ALICE)[0]["ask"]
    [tea] = [r for r in store.relations(ALICE, include_expired=True) if r["destination"] == "Tea"]
    assert (tea["valid_to"], tea["memory_ids"]) == ("2024-04-01T00:00:00+00:00", ["m1", "m2"])
    assert triples(store.relations(ALICE, as_of="2024-03-15T00:00:00Z")) == triples(closed)
    assert store.close_memory(BOB, "m1", "2024-05-01T00:00:00Z") == []  # another scope's id: nothing


def test_scopes_are_isolated(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="a1")
    put(store, BOB, "Sarah", "WORKS_AT", "Microsoft", memory_id="b1")
    assert triples(store.search(ALICE, "Sarah")) == {("Sarah", "WORKS_AT", "Google")}
    assert triples(store.search(BOB, "Sarah")) == {("Sarah", "WORKS_AT", "Microsoft")}
    assert store.search(BOB, "Google") == []
    assert store.memory_ids_for(BOB, "Sarah") == {"b1": pytest.approx(0.6)}


def test_user_scope_covers_agent_and_run_graphs(store: RDFGraphStore) -> None:
    with_agent = Scope(user_id="alice", agent_id="travel bot/1")
    with_run = Scope(user_id="alice", agent_id="travel bot/1", run_id="r1")
    other_agent = Scope(user_id="alice", agent_id="coach")
    put(store, ALICE, "Alice", "LIKES", "Tea", memory_id="m1")
    put(store, with_agent, "Alice", "VISITED", "Rome", memory_id="m2")
    put(store, with_run, "Alice", "BOOKED", "Hotel Roma", memory_id="m3")
    put(store, other_agent, "Alice", "RUNS", "5k", memory_id="m4")
    put(store, Scope(user_id="alicia"), "Alice", "LIKES", "Coffee", memory_id="m5")
    assert {r[1] for r in triples(store.search(ALICE, "Alice"))} == {"LIKES", "VISITED", "BOOKED", "RUNS"}
    assert {r[1] for r in triples(store.search(with_agent, "Alice"))} == {"VISITED", "BOOKED"}
    assert {r[1] for r in triples(store.search(Scope(agent_id="coach"), "Alice"))} == {"RUNS"}
    assert {r[1] for r in triples(store.search(Scope(run_id="r1"), "Alice"))} == {"BOOKED"}
    assert len(store.graph(with_agent)) > 0 and len(store.graph(Scope(user_id="nobody"))) == 0


def test_delete_scope_removes_everything_and_nothing_else(store: RDFGraphStore) -> None:
    sub = Scope(user_id="alice", agent_id="bot")
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="a1")
    put(store, sub, "Sarah", "LIVES_IN", "Paris", memory_id="a2")
    put(store, BOB, "Sarah", "WORKS_AT", "Microsoft", memory_id="b1")
    bob_before = store.export("nquads", scope=BOB)
    store.delete_scope(ALICE)
    assert store.search(ALICE, "Sarah") == [] and store.search(sub, "Sarah") == []
    assert len(store.graph(ALICE)) == 0 and len(store.graph(sub)) == 0
    everything = store.export("nquads")
    assert "alice" not in everything and everything == bob_before
    assert store.counts()["graphs"] == 1
    put(store, ALICE, "Sarah", "LIKES", "Tea", memory_id="a3")  # the scope is usable again
    assert triples(store.search(ALICE, "Sarah")) == {("Sarah", "LIKES", "Tea")}


def test_reset_and_counts(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google")
    counts = store.counts()
    assert counts["graphs"] == 1 and counts["entities"] == 2 and counts["relations"] == 1
    assert counts["current_relations"] == 1 and counts["memories"] == 1 and counts["messages"] == 1
    store.reset()
    assert store.counts()["triples"] == 0


def test_scope_required_and_closed_store(store: RDFGraphStore) -> None:
    with pytest.raises(ScopeError):
        store.search(Scope(), "x")
    with pytest.raises(ScopeError):
        store.add(Scope(), [Relation("a", "b", "c")], memory_id="m", source_text="", at=None)  # type: ignore[arg-type]
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.search(ALICE, "x")


def test_empty_names_are_skipped(store: RDFGraphStore) -> None:
    assert put(store, ALICE, " ", "LIKES", "Tea")["event"] == "NONE"
    assert store.counts()["relations"] == 0


def test_self_loop_relation(store: RDFGraphStore) -> None:
    put(store, ALICE, "Narcissus", "LOVES", "Narcissus")
    assert triples(store.search(ALICE, "Narcissus")) == {("Narcissus", "LOVES", "Narcissus")}


def test_cached_neighbourhoods_follow_writes(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "New York", memory_id="m1", at="2024-01-01T00:00:00Z")
    put(store, ALICE, "Alice", "KNOWS", "Sarah", memory_id="m2")
    assert len(store.search(ALICE, "Alice")) == 2  # neighbourhoods are now cached
    assert len(store.search(ALICE, "Alice", include_expired=True)) == 2
    put(store, ALICE, "Alice", "LIVES_IN", "Paris", memory_id="m3", at="2024-06-01T00:00:00Z")
    put(store, ALICE, "Sarah", "KNOWS", "Alice", memory_id="m4")
    put(store, ALICE, "Alice", "KNOWS", "Sarah", memory_id="m5")  # NONE: one more source
    assert triples(store.search(ALICE, "Alice", hops=1)) == {
        ("Alice", "LIVES_IN", "Paris"), ("Alice", "KNOWS", "Sarah"), ("Sarah", "KNOWS", "Alice")
    }
    history = {(r["destination"], r["valid_to"]) for r in store.search(ALICE, "Alice", include_expired=True)}
    assert ("New York", "2024-06-01T00:00:00+00:00") in history
    assert triples(store.search(ALICE, "New York", as_of="2024-03-01T00:00:00Z", hops=1)) == {
        ("Alice", "LIVES_IN", "New York")
    }
    knows = next(r for r in store.search(ALICE, "Sarah", hops=1) if r["source"] == "Alice")
    assert knows["memory_ids"] == ["m2", "m5"]
    store.forget_memory(ALICE, "m3")
    assert ("Alice", "LIVES_IN", "New York") in triples(store.search(ALICE, "Alice"))
    store.delete_scope(ALICE)
    assert store.search(ALICE, "Alice") == []
