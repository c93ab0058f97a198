"""Entity resolution: normalisation, aliases, embedding merges and their undo; relationship names."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from memlayer.errors import NotFoundError
from memlayer.graph.rdf import RDFGraphStore
from memlayer.graph.resolve import EntityIndex, entity_key, tokens
from memlayer.graph.vocab import graph_iri, relationship_id, scope_of
from memlayer.types import Scope
from tests.graph.helpers import ALICE, put, triples


@pytest.mark.parametrize(
    ("name", "key"),
    [("  The   Google ", "google"), ("NEW YORK", "new york"), ("new_york", "new york"), ("A", "a"),
     ("O'Brien", "o brien"), ("The The", "the"), ("!!!", "!!!"), ("Zoë", "zoë")],
)
def test_entity_key(name: str, key: str) -> None:
    assert entity_key(name) == key


def test_a_name_written_with_other_unicode_forms_is_the_same_entity(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "likes", "Café", memory_id="m1")  # é as one code point
    put(store, ALICE, "Bob", "likes", "Cafe\u0301", memory_id="m2")  # e + combining accent
    put(store, ALICE, "Eve", "works at", "ＡＣＭＥ", memory_id="m3")  # full-width letters
    assert triples(store.search(ALICE, "Café", hops=1)) == {("Alice", "LIKES", "Café"), ("Bob", "LIKES", "Café")}
    assert triples(store.search(ALICE, "who works at Acme?")) == {("Eve", "WORKS_AT", "ＡＣＭＥ")}
    assert entity_key("Cafe\u0301") == entity_key("CAFÉ") == "café"


@pytest.mark.parametrize(
    ("name", "ident"),
    [("works at", "WORKS_AT"), ("WORKS_AT", "WORKS_AT"), ("worksAt", "WORKS_AT"), ("lives-in", "LIVES_IN"),
     ("café owner", "CAFE_OWNER"), ("2nd best friend", "REL_2ND_BEST_FRIEND"), ('"} ; DROP ALL ; {', "DROP_ALL")],
)
def test_relationship_id(name: str, ident: str) -> None:
    assert relationship_id(name) == ident


def test_relationship_id_without_ascii_letters_is_stable() -> None:
    assert relationship_id("喜欢").startswith("REL_") and relationship_id("喜欢") == relationship_id("喜欢")
    assert relationship_id("喜欢") != relationship_id("讨厌")


def test_graph_iri_round_trips_scope() -> None:
    for scope in [Scope(user_id="a/b c"), Scope(agent_id="x"), Scope("u", "a", "r"), Scope(user_id="user")]:
        assert scope_of(graph_iri(scope)) == scope
    assert graph_iri(Scope(user_id="a", agent_id="b")) != graph_iri(Scope(user_id="a/agent/b"))
    assert scope_of("https://example.org/g") is None


def test_index_matches_ngrams() -> None:
    index = EntityIndex()
    from rdflib import URIRef

    ny, york = URIRef("urn:ny"), URIRef("urn:york")
    index.add_label(ny, "New York")
    index.add_label(york, "York")
    index.add_alias(ny, "NYC")
    assert index.match("I moved to new-york last year") == {ny: 1}  # longest match wins
    assert index.match("york, not new york") == {york: 1, ny: 1}
    assert index.match("nyc or bust") == {ny: 1}
    assert tokens("Sarah's café_bar") == ["sarah", "s", "café", "bar"]


def test_names_resolve_by_normalised_label(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah Connor", "WORKS_AT", "Google", memory_id="m1")
    put(store, ALICE, "  sarah   CONNOR ", "LIVES_IN", "the Big Apple", memory_id="m2")
    assert store.counts()["entities"] == 3
    assert triples(store.search(ALICE, "sarah connor", hops=1)) == {
        ("Sarah Connor", "WORKS_AT", "Google"), ("Sarah Connor", "LIVES_IN", "the Big Apple")
    }
    assert triples(store.search(ALICE, "what about big apple?", hops=1)) == {
        ("Sarah Connor", "LIVES_IN", "the Big Apple")
    }


class TableEmbedder:
    """Embeds known names to fixed vectors; any other name gets a direction of its own."""

    def __init__(self) -> None:
        self.table = {"google": [1.0, 0.0, 0.0], "google inc": [0.96, 0.28, 0.0], "apple": [0.0, 1.0, 0.0]}
        self.others: dict[str, int] = {}

    def _vector(self, text: str) -> list[float]:
        out = [0.0] * 32
        key = entity_key(text)
        if key in self.table:
            out[:3] = self.table[key]
        else:
            out[3 + self.others.setdefault(key, len(self.others))] = 1.0
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32)


def test_embedding_merge_is_logged_and_reversible(caplog: pytest.LogCaptureFixture) -> None:
    store = RDFGraphStore(store="memory", embedder=TableEmbedder(), similarity_threshold=0.9)
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1", at="2024-01-01T00:00:00Z")
    with caplog.at_level(logging.INFO, logger="memlayer.graph"):
        result = put(store, ALICE, "Tom", "WORKS_AT", "Google Inc", memory_id="m2", at="2024-02-01T00:00:00Z")
    assert result["destination"] == "Google" and "merged entity 'Google Inc'" in caplog.text
    put(store, ALICE, "Tim", "LIKES", "Apple", memory_id="m3")  # below the threshold: a new entity
    assert store.counts()["entities"] == 5  # Sarah, Google, Tom, Tim, Apple
    assert {r["source"] for r in store.search(ALICE, "google inc", hops=1)} == {"Sarah", "Tom"}

    undone = store.unmerge(ALICE, "Google Inc")
    assert undone["moved"] == 1 and undone["label"] == "Google Inc"
    assert triples(store.search(ALICE, "Google", hops=1)) == {("Sarah", "WORKS_AT", "Google")}
    assert triples(store.search(ALICE, "Google Inc", hops=1)) == {("Tom", "WORKS_AT", "Google Inc")}
    rows = store.sparql("SELECT ?who WHERE { ?w ml:WORKS_AT ?org . ?org rdfs:label ?l . ?w rdfs:label ?who }",
                        {"l": "Google Inc"}, scope=ALICE)
    assert rows == [{"who": "Tom", "l": "Google Inc"}] or rows == [{"who": "Tom"}]
    with pytest.raises(NotFoundError):
        store.unmerge(ALICE, "Google Inc")  # now a label, not an alias


def test_no_embedder_means_no_fuzzy_merge(store: RDFGraphStore) -> None:
    put(store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="m1")
    put(store, ALICE, "Tom", "WORKS_AT", "Google Inc", memory_id="m2")
    assert store.counts()["entities"] == 4


def test_manual_merge_and_unmerge(store: RDFGraphStore) -> None:
    put(store, ALICE, "Alice", "LIVES_IN", "NYC", memory_id="m1")
    put(store, ALICE, "New York", "LOCATED_IN", "USA", memory_id="m2")
    store.merge(ALICE, "NYC", into="New York")
    assert triples(store.search(ALICE, "nyc", hops=1)) == {
        ("Alice", "LIVES_IN", "New York"), ("New York", "LOCATED_IN", "USA")
    }
    assert store.sparql("ASK { ?a ml:LIVES_IN ?c . ?c rdfs:label \"New York\" }", scope=ALICE)[0]["ask"]
    store.unmerge(ALICE, "NYC")
    assert triples(store.search(ALICE, "nyc", hops=1)) == {("Alice", "LIVES_IN", "NYC")}
    assert store.sparql("ASK { ?a ml:LIVES_IN ?c . ?c rdfs:label \"NYC\" }", scope=ALICE)[0]["ask"]
    with pytest.raises(NotFoundError, match="no entity named"):
        store.merge(ALICE, "Atlantis", into="USA")
