"""Several processes ("hosts": separate working directories and FAISS snapshots) on one PostgreSQL store.

A write acknowledged through one host is found by the very next search of any other (read-your-writes
across processes); updates, deletes and delete_all are seen everywhere; an idle host is woken by NOTIFY;
a restarting host loads its snapshot and replays only the log after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from tests.postgres.hosts import DENSE, Host, audit_vectors, found


@pytest.fixture
def hosts(tmp_path: Path, postgres_url: str) -> Iterator[list[Host]]:
    started = [Host(tmp_path / f"host{i}", postgres_url) for i in range(2)]
    yield started
    for host in started:
        host.close()


def local(directory: Path, url: str, **options: Any) -> Memory:
    return Memory(str(directory), store=url, embedder=HashingEmbedder(64), graph=False, **options)


def test_writes_through_one_host_are_searchable_through_the_others_at_once(
        hosts: list[Host], tmp_path: Path, postgres_url: str) -> None:
    a, b = hosts
    with local(tmp_path / "host-c", postgres_url) as c:
        ids: dict[str, tuple[str, str]] = {}
        for i in range(12):
            writer, reader = (a, b) if i % 2 == 0 else (b, a)
            user, text = f"u{i % 3}", f"fact {i} token{i}x about item{i}"
            mid = writer("add", messages=text, user_id=user, infer=False)["results"][0]["id"]
            ids[mid] = (user, text)
            assert found(reader("search", query=text, user_id=user, limit=3, config=DENSE), mid), f"{i}: not at once"
            assert found(c.search(text, user_id=user, limit=3, config=DENSE), mid)
        mid, (user, _) = next(iter(ids.items()))
        b("update", memory_id=mid, text="rewritten on host b qqzz")
        assert a("get", memory_id=mid)["memory"] == "rewritten on host b qqzz"
        assert found(a("search", query="rewritten on host b qqzz", user_id=user, limit=1, config=DENSE), mid)
        assert c.search("rewritten on host b qqzz", user_id=user, limit=1, config=DENSE)["results"][0]["id"] == mid
        gone = [m for m, (u, _) in ids.items() if u == "u1"][0]
        a("delete", memory_id=gone)
        assert b("get", memory_id=gone) is None and c.get(gone) is None
        assert not found(b("search", query=ids[gone][1], user_id="u1", limit=10, config=DENSE), gone)
        assert c.delete_all(user_id="u2")["deleted"] == 4
        for host in (a, b):
            assert host("get_all", user_id="u2")["results"] == []
            assert host("search", query="fact", user_id="u2", limit=10)["results"] == []
        store = c.async_memory.store
        for host in (a, b):
            audit_vectors(store, host("vectors")["ids"])
        audit_vectors(store, [int(i) for i in c.async_memory.vectors.index.ids()], c.async_memory.vectors.index)


def test_an_idle_host_is_woken_by_notify(tmp_path: Path, postgres_url: str) -> None:
    """With polling every minute, only a notification can bring an idle host up to date within a second."""
    url = postgres_url + "&poll=60"
    idle = Host(tmp_path / "idle", url)
    try:
        with local(tmp_path / "writer", url) as writer:
            start = idle("watermark")
            for i in range(3):
                writer.add(f"note {i}", user_id="u", infer=False)
            head = writer.async_memory.store.log_head("vectors")
            deadline = time.monotonic() + 5
            while idle("watermark") != head:
                assert time.monotonic() < deadline, f"the idle host stayed at {idle('watermark')} (start {start})"
                time.sleep(0.05)
    finally:
        idle.close()


def test_polling_wakes_an_idle_host_when_notifications_cannot(postgres_url: str) -> None:
    from memlayer.storage.postgres.listen import Listener

    calls: list[float] = []

    def broken() -> Any:
        raise OSError("no LISTEN connection")

    listener = Listener(broken, "nowhere", 0.1, lambda payload: None)
    listener.subscribe(lambda: calls.append(time.monotonic()))
    time.sleep(1.0)
    listener.stop()
    assert len(calls) >= 4, calls


def test_a_restarting_host_loads_its_snapshot_and_replays_the_rest(tmp_path: Path, postgres_url: str) -> None:
    directory = tmp_path / "restarting"
    with local(directory, postgres_url, snapshot_min=50) as m:
        m.bulk_add([{"text": f"bulk {i}", "user_id": f"u{i % 5}"} for i in range(400)])
    other = Host(tmp_path / "other", postgres_url)
    try:
        for i in range(30):
            other("add", messages=f"meanwhile {i}", user_id="u9", infer=False)
    finally:
        other.close()
    with local(directory, postgres_url) as m:
        vectors = m.async_memory.vectors
        assert vectors.rebuilt_reason is None, vectors.rebuilt_reason
        audit_vectors(m.async_memory.store, [int(i) for i in vectors.index.ids()], vectors.index)
        assert m.search("meanwhile 7", user_id="u9", limit=1, config=DENSE)["results"][0]["memory"] == "meanwhile 7"


def test_a_snapshot_of_another_store_is_never_loaded(tmp_path: Path, postgres_url: str) -> None:
    """The same directory used with SQLite, then with PostgreSQL: row ids would collide, so the snapshot
    names its store and a mismatch rebuilds."""
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False, snapshot_min=1) as m:
        m.add(["local one", "local two"], user_id="u", infer=False)
    with local(tmp_path, postgres_url) as m:
        assert "another store" in (m.async_memory.vectors.rebuilt_reason or "")
        m.add(["shared one", "shared two", "shared three"], user_id="u", infer=False)
    with local(tmp_path, postgres_url) as m:
        assert m.async_memory.vectors.rebuilt_reason is None  # its own snapshot now
        assert {r["memory"] for r in m.get_all(user_id="u")["results"]} == {"shared one", "shared two", "shared three"}
        audit_vectors(m.async_memory.store, [int(i) for i in m.async_memory.vectors.index.ids()],
                      m.async_memory.vectors.index)
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False) as m:
        assert "another store" in (m.async_memory.vectors.rebuilt_reason or "")
        assert len(m.async_memory.vectors.index) == 2
