"""A SQLite file has a writing and a reading connection: reads never wait behind a write transaction (of this
process, or of another one holding the file's write lock), and a thread inside a write transaction reads its
own changes."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from memlayer import Memory
from memlayer.storage.base import NewMemory
from memlayer.storage.sqlite import SQLiteStore
from memlayer.types import Scope

ALICE = Scope("alice")


def _row(text: str) -> NewMemory:
    return NewMemory(str(uuid.uuid4()), ALICE, text, f"h-{text}", np.ones(4, np.float32), 1_700_000_000.0, {})


def _in_thread(fn, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """``fn()`` on another thread; its result, or TimeoutError when it is still waiting after ``timeout``."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"{fn} still waiting after {timeout}s")
    return out[0]


def test_a_write_transaction_reads_its_own_changes_and_others_read_the_last_commit(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "memlayer.db"))
    try:
        first = _row("tea")
        with store.transaction() as tx:
            tx.insert_memories([first])
        second = _row("coffee")
        with store.transaction() as tx:
            tx.insert_memories([second])
            assert store.get(second.id) is not None  # this thread, inside its transaction: its own change
            assert store.count() == 2
            # another thread neither waits for the transaction nor sees it before the commit
            assert _in_thread(lambda: (store.get(first.id) is not None, store.get(second.id), store.count())) == (
                True, None, 1)
        assert _in_thread(lambda: store.get(second.id) is not None and store.count() == 2)
    finally:
        store.close()


def test_a_search_does_not_wait_for_an_add_waiting_on_another_process(tmp_path: Path, hash_embedder) -> None:
    """Another process holds the file's write lock; this process's add() waits for it (busy timeout) while
    holding its own writing connection; a search meanwhile answers from the last commit."""
    m = Memory(str(tmp_path), embedder=hash_embedder, graph=False, retention={"track_recalls": False})
    try:
        m.add("I like green tea", user_id="u", infer=False)
        store = m.async_memory.store
        other = sqlite3.connect(str(tmp_path / "memlayer.db"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the other process's write transaction
        adding = threading.Thread(target=lambda: m.add("I like black tea", user_id="u", infer=False), daemon=True)
        adding.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until add() holds the writing connection (waiting on the file)
            if not store._db._write_lock.acquire(blocking=False):
                break
            store._db._write_lock.release()
            time.sleep(0.005)
        else:
            raise AssertionError("add() never reached its write transaction")
        found = _in_thread(lambda: m.search("tea", user_id="u")["results"])
        assert [r["memory"] for r in found] == ["I like green tea"]  # the add in progress is not seen yet
        assert adding.is_alive()
        other.execute("COMMIT")
        other.close()
        adding.join(10)
        assert not adding.is_alive()
        assert sorted(r["memory"] for r in m.search("tea", user_id="u")["results"]) == [
            "I like black tea", "I like green tea"]
    finally:
        m.close()


def test_an_in_memory_store_has_one_connection_and_still_reads_inside_a_write() -> None:
    store = SQLiteStore(":memory:")
    try:
        row = _row("tea")
        with store.transaction() as tx:
            tx.insert_memories([row])
            assert store.get(row.id) is not None
        assert store.count() == 1
    finally:
        store.close()
