"""A scoped search returns exactly the top-k of its scope, never another scope's rows."""

from __future__ import annotations

import random

import numpy as np
import pytest

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import MemlayerError

WORDS = ["apple", "river", "mountain", "coffee", "violin", "python", "garden", "rocket", "winter", "ocean", "jazz", "tennis", "paris", "book", "cat"]


def _brute_force(embedder, rows, query, k):
    vecs = embedder.embed([r["memory"] for r in rows] + [query])
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    scores = vecs[:-1] @ vecs[-1]
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], i))
    return [rows[i]["id"] for i in order[:k]], sorted(scores, reverse=True)[:k]


def test_thousand_users_exact_topk(tmp_path):
    rng = random.Random(7)
    emb = HashingEmbedder(dims=32)
    with Memory(str(tmp_path / "s"), embedder=emb, graph=False) as m:
        texts: dict[str, list[str]] = {}
        for u in range(1000):
            n = rng.choice([1, 2, 3, 5, 12])  # uneven scopes, some smaller than k
            texts[f"user-{u}"] = [" ".join(rng.sample(WORDS, 3)) + f" #{u}-{j}" for j in range(n)]
            m.add(texts[f"user-{u}"], user_id=f"user-{u}", infer=False)
        # a crowd of very similar memories in one big scope must not crowd out anyone else
        m.add([f"apple river mountain {i}" for i in range(3000)], user_id="crowd", infer=False)
        for u in rng.sample(range(1000), 60):
            uid = f"user-{u}"
            query = " ".join(rng.sample(WORDS, 2))
            k = 10
            res = m.search(query, user_id=uid, limit=k, config="vector")["results"]
            assert {r["user_id"] for r in res} <= {uid}
            rows = m.get_all(user_id=uid, limit=1000)["results"]
            assert len(res) == min(k, len(rows))  # no shortfall
            _, expected_scores = _brute_force(emb, rows, query, k)
            assert np.allclose([r["score"] for r in res], expected_scores, atol=1e-5)


def test_scope_fields_combine(memory):
    memory.add("shared fact", user_id="u", agent_id="a1", infer=False)
    memory.add("shared fact", user_id="u", agent_id="a2", infer=False)
    memory.add("shared fact", user_id="v", agent_id="a1", infer=False)
    memory.add("shared fact", agent_id="a1", run_id="r", infer=False)
    assert len(memory.search("fact", user_id="u")["results"]) == 2
    assert len(memory.search("fact", user_id="u", agent_id="a1")["results"]) == 1
    assert len(memory.search("fact", agent_id="a1")["results"]) == 3
    assert len(memory.search("fact", run_id="r")["results"]) == 1
    assert memory.search("fact", user_id="nobody")["results"] == []


def test_user_ids_are_opaque_strings(memory):
    tricky = ["u' OR '1'='1", "u%", "u_", "U", "u ", "ü", "u\\", '"u"']
    for uid in tricky:
        memory.add(f"secret of {uid!r}", user_id=uid, infer=False)
    for uid in tricky:
        res = memory.search("secret", user_id=uid, limit=50)["results"]
        assert [r["user_id"] for r in res] == [uid]


def test_scopes_lists_users_agents_and_runs_with_counts(memory):
    memory.add("I live in Oslo", user_id="alice", agent_id="bot", infer=False, timestamp="2025-01-01T00:00:00Z")
    memory.add("run note", user_id="alice", run_id="r1", infer=False, timestamp="2025-02-01T00:00:00Z")
    memory.add("b", user_id="bob", infer=False)
    first = memory.get_all(user_id="alice", agent_id="bot")["results"][0]["id"]
    memory.update(first, "I live in Bergen")  # an update rewrites in place: still one current memory
    listed = memory.scopes()
    assert [(s["id"], s["memories"], s["closed"]) for s in listed["users"]] == [("alice", 2, 0), ("bob", 1, 0)]
    assert listed["users"][0]["first_at"] == "2025-01-01T00:00:00+00:00" and listed["users"][0]["last_at"] > "2025-02"
    assert [s["id"] for s in listed["agents"]] == ["bot"] and [s["id"] for s in listed["runs"]] == ["r1"]
    assert [s["id"] for s in memory.scopes(prefix="b")["users"]] == ["bob"]
    assert [s["id"] for s in memory.scopes(limit=1)["users"]] == ["alice"]
    memory.delete_all(user_id="alice")
    assert [s["id"] for s in memory.scopes()["users"]] == ["bob"] and memory.scopes()["runs"] == []


def test_scopes_count_memories_that_expired_but_were_not_swept_yet_apart(tmp_path, hash_embedder):
    from memlayer import Memory
    from memlayer.clock import ManualClock

    clock = ManualClock("2025-01-01T00:00:00Z")
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, clock=clock,
                retention={"sweep_interval": None}) as m:
        m.add("in Lisbon this week", user_id="alice", infer=False, ttl="7d")
        m.add("lives in Oslo", user_id="alice", infer=False)
        assert [(s["memories"], s["expired"]) for s in m.scopes()["users"]] == [(2, 0)]
        clock.advance(days=8)
        assert [(s["memories"], s["closed"], s["expired"]) for s in m.scopes()["users"]] == [(1, 0, 1)]
        m.sweep(grace_period=0)
        assert [(s["memories"], s["closed"], s["expired"]) for s in m.scopes()["users"]] == [(1, 0, 0)]


@pytest.mark.parametrize("bad", [{"prefix": 3}, {"prefix": "a\x00"}, {"limit": -1}, {"limit": "5"}])
def test_scopes_refuses_bad_arguments(memory, bad):
    with pytest.raises(MemlayerError):
        memory.scopes(**bad)
