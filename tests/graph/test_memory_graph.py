"""The graph pillar through Memory: the seed's examples, provenance, scopes, forget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from memlayer import Memory
from memlayer.types import Scope
from tests.extract.helpers import FakeLLM

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def test_seed_example_who_works_at_google(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        out = m.add("I had a meeting with Sarah from Google about the new search project", user_id="me")
        assert {"source": "Sarah", "relationship": "WORKS_AT", "destination": "Google"} in out["relations"]["added"]
        rels = m.search("Who do I know that works at Google?", user_id="me")["relations"]
        assert any(r["source"] == "Sarah" and r["relationship"] == "WORKS_AT" and r["destination"] == "Google"
                   for r in rels)
        assert m.search("Who do I know that works at Google?", user_id="someone-else")["relations"] == []


def test_residence_history_in_the_graph(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        m.add("I live in New York.", user_id="me", timestamp=T0)
        m.add("I moved to San Francisco.", user_id="me", timestamp=T0 + timedelta(days=90))
        now = {r["destination"] for r in m.search("New York San Francisco", user_id="me")["relations"]}
        assert "San Francisco" in now and "New York" not in now
        then = {r["destination"] for r in m.search("New York San Francisco", user_id="me",
                                                   as_of=T0 + timedelta(days=1))["relations"]}
        assert "New York" in then and "San Francisco" not in then
        both = m.graph.store.search(Scope(user_id="me"), "New York San Francisco", include_expired=True)
        assert {"New York", "San Francisco"} <= {r["destination"] for r in both}


def test_provenance_reaches_the_source_message(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        said = "I had a meeting with Sarah from Google about the new search project"
        m.add(said, user_id="me")
        rows = m.graph.sparql(
            """
            PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
            PREFIX prov: <http://www.w3.org/ns/prov#>
            SELECT ?text WHERE {
              ?st a rdf:Statement ; prov:hadPrimarySource ?msg .
              ?msg prov:value ?text .
            }""",
            scope=Scope(user_id="me"),
        )
        assert any(said in str(r["text"]) for r in rows)


def test_forget_removes_the_users_graph(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        m.add("I had a meeting with Sarah from Google about the new search project", user_id="me")
        m.add("I had a meeting with Tom from Apple about the new phone", user_id="other")
        m.delete_all(user_id="me")
        assert "Sarah" not in m.graph.export("trig")
        assert "Tom" in m.graph.export("trig")


def test_a_memory_the_llm_deletes_takes_its_relations_out_of_the_present(tmp_path, hash_embedder):
    llm = FakeLLM(
        {"facts": [{"event": "ADD", "text": "User likes green tea"}],
         "relations": [{"source": "user", "relationship": "likes", "destination": "green tea"}]},
        {"facts": [{"event": "DELETE", "text": "User likes green tea", "ref": 0}], "relations": []},
    )
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory", llm=llm) as m:
        m.add("I like green tea", user_id="me", timestamp=T0)
        out = m.add("I don't like green tea any more", user_id="me", timestamp=T0 + timedelta(days=30))
        assert out["relations"]["closed"] == [{"source": "user", "relationship": "LIKES", "destination": "green tea"}]
        assert m.search("green tea", user_id="me")["relations"] == []
        [then] = m.graph.relations(user_id="me", as_of=T0 + timedelta(days=1))
        assert then["destination"] == "green tea" and then["valid_to"] == (T0 + timedelta(days=30)).isoformat()
