"""The graph outbox: a passing graph fault is retried at once; a persistent one is never skipped — it stays
pending, is retried with backoff, shows in health(), and is applied once the graph works again."""

from __future__ import annotations

from memlayer import Memory


def test_graph_fault_is_retried_then_applied(tmp_path, hash_embedder, monkeypatch):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        sync = m.async_memory.engine.graph
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


def test_a_failing_entry_is_never_skipped(tmp_path, hash_embedder, monkeypatch):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        sync = m.async_memory.engine.graph
        real_add = sync.graph.add
        monkeypatch.setattr(sync.graph, "add", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad entry")))
        m.add("I live in Oslo.", user_id="u")
        for _ in range(5):
            sync._retry_at = 0.0  # do not wait out the backoff in a test
            sync.catch_up()
        head = m.async_memory.store.log_head("graph")
        assert head and sync.watermark == head - 1, "the failing entry must stay pending"
        health = m.health()
        assert not health["ok"] and not health["graph"]["ok"] and health["graph"]["behind"] == 1
        assert "bad entry" in health["graph"]["error"]
        monkeypatch.setattr(sync.graph, "add", real_add)
        sync._retry_at = 0.0
        rels = m.search("Where do I live? Oslo", user_id="u")["relations"]
        assert any(r["destination"] == "Oslo" for r in rels)
        assert m.health()["ok"] and sync.watermark == head


def test_backoff_spaces_out_retries(tmp_path, hash_embedder, monkeypatch):
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        sync = m.async_memory.engine.graph
        tries = {"n": 0}

        def broken(*args, **kwargs):
            tries["n"] += 1
            raise OSError("endpoint down")

        monkeypatch.setattr(sync.graph, "add", broken)
        m.add("I live in Oslo.", user_id="u")  # try 1 (fails), try 2 allowed at once
        for _ in range(20):
            m.search("Oslo", user_id="u")
        assert tries["n"] == 2, "after two failures in a row the entry waits for its backoff"
