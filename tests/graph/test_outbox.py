"""The graph outbox: a passing graph fault is retried, a persistent one is skipped, never wedged."""

from __future__ import annotations

from memlayer import Memory
from memlayer.graph.sync import MAX_TRIES


def test_graph_fault_is_retried_then_applied(tmp_path, hash_embedder, monkeypatch):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        sync = m.async_memory.graph_sync
        real_add = sync.graph.add
        calls = {"n": 0}

        def flaky(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise OSError("graph store briefly unavailable")
            return real_add(*args, **kwargs)

        monkeypatch.setattr(sync.graph, "add", flaky)
        m.add("I live in Oslo.", user_id="u")  # the graph write fails once; the memory is committed
        assert m.get_all(user_id="u")["results"]
        rels = m.search("Where do I live? Oslo", user_id="u")["relations"]  # search applies the outbox again
        assert any(r["destination"] == "Oslo" for r in rels)


def test_poison_entry_is_skipped_after_bounded_tries(tmp_path, hash_embedder, monkeypatch):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        sync = m.async_memory.graph_sync
        monkeypatch.setattr(sync.graph, "add", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad entry")))
        m.add("I live in Oslo.", user_id="u")
        for _ in range(MAX_TRIES):
            sync.apply()
        assert sync.watermark == m.async_memory.store.max_seq("graph_log")
