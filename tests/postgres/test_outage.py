"""The database going away: while a write is in flight, between calls, and in the middle of COMMIT. Each is one
clear StoreError (a MemlayerError), nothing is half-written, and the same Memory works again once the server
is back (its pool replaces the connections the restart broke)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import StoreError
from memlayer.storage.base import NewMemory, NewMessage
from memlayer.storage.postgres.commit import commit as commit_or_ask
from memlayer.types import Scope
from tests.postgres.hosts import DENSE
from tests.servers import PostgresServer


def store_of(url: str) -> Any:
    from memlayer.storage.postgres import PostgresStore

    return PostgresStore(url + "&pool_timeout=3")


def test_a_transaction_cut_by_the_server_dying_writes_nothing(postgres_server: PostgresServer,
                                                              postgres_url: str) -> None:
    store = store_of(postgres_url)
    with pytest.raises(StoreError, match="went away|could not be reached|closed the connection") as caught, \
            store.transaction() as tx:
        tx.insert_messages([NewMessage(Scope("u"), "user", "half", 1.0)])
        tx.insert_memories([NewMemory("m1", Scope("u"), "half", "h", np.ones(4, np.float32), 1.0)])
        postgres_server.kill()
    assert "retry" in str(caught.value)
    with pytest.raises(StoreError):
        store.count()  # the server is still down
    postgres_server.start()
    assert store.count() == 0 and store.query("SELECT count(*) FROM messages") == [(0,)]
    assert store.log_head("vectors") == 0
    with store.transaction() as tx:  # and the store works again, on fresh connections
        tx.insert_memories([NewMemory("m2", Scope("u"), "whole", "h2", np.ones(4, np.float32), 1.0)])
    assert store.get("m2") is not None
    store.close()


def test_adds_while_the_server_dies_fail_clearly_and_atomically(postgres_server: PostgresServer,
                                                                postgres_url: str, tmp_path: Path) -> None:
    acked: dict[str, str] = {}
    errors: list[BaseException] = []
    stop = threading.Event()
    with Memory(str(tmp_path), store=postgres_url + "&pool_timeout=3", embedder=HashingEmbedder(64),
                graph=False) as mem:

        def writer() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                batch = [f"note {n}.{k} token{n}x{k}" for k in range(3)]
                try:
                    out = mem.add(batch, user_id=f"u{n % 4}", infer=False)
                except Exception as exc:
                    errors.append(exc)
                    time.sleep(0.2)
                    continue
                acked.update({r["id"]: r["memory"] for r in out["results"]})

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(random.Random(5).uniform(0.5, 1.0))
        postgres_server.kill()
        time.sleep(2.0)
        started = time.monotonic()
        with pytest.raises(StoreError):
            mem.search("note", user_id="u1")
        assert time.monotonic() - started < 15, "a call during an outage waited too long"
        # the server stays down until the writer has met the outage: an add whose COMMIT was cut asks the server
        # for up to 5 s whether it committed, and is acknowledged when the server answers in time (it did commit)
        deadline = time.monotonic() + 30
        while not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        postgres_server.start()
        time.sleep(1.0)
        stop.set()
        thread.join(60)
        assert errors and all(isinstance(e, StoreError) for e in errors), {type(e).__name__ for e in errors}
        assert acked, "nothing was written before the outage"
        for mid, text in acked.items():  # every acknowledged memory is there
            got = mem.get(mid)
            assert got is not None and got["memory"] == text
        store = mem.async_memory.store
        # nothing half-written: every message has its memory and its history, and every memory its message
        assert store.query("SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM memories x "
                           "WHERE x.text = m.content)") == [(0,)]
        assert store.query("SELECT count(*) FROM memories x WHERE NOT EXISTS (SELECT 1 FROM history h "
                           "WHERE h.memory_id = x.id AND h.event = 'ADD')") == [(0,)]
        assert store.query("SELECT count(*) FROM memories") == store.query("SELECT count(*) FROM messages")
        mid = mem.add("after the outage qqxx", user_id="u1", infer=False)["results"][0]["id"]
        assert mem.search("after the outage qqxx", user_id="u1", limit=1, config=DENSE)["results"][0]["id"] == mid


class _CommitCut:
    """A connection whose COMMIT is cut off: the server may or may not have committed."""

    def execute(self, text: str, *args: Any) -> Any:
        raise psycopg.OperationalError("server closed the connection unexpectedly")


def _transaction(url: str, commit: bool) -> str:
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute(f"CREATE TABLE IF NOT EXISTS t_{uuid.uuid4().hex} (x int)")
        xid = str(conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
        conn.execute("COMMIT" if commit else "ROLLBACK")
    return xid


def test_a_commit_cut_off_is_answered_by_asking_the_server(postgres_server: PostgresServer, postgres_url: str) -> None:
    store = store_of(postgres_url)
    def cut(xid: str) -> None:  # COMMIT cut off: the outcome asked from the server (storage.postgres.commit)
        commit_or_ask(_CommitCut(), xid, store.location, store._connect)

    cut(_transaction(postgres_url, commit=True))  # it did commit: no error
    with pytest.raises(StoreError, match="nothing was written"):
        cut(_transaction(postgres_url, commit=False))
    xid = _transaction(postgres_url, commit=True)
    postgres_server.kill()
    with pytest.raises(StoreError, match="cannot be asked whether it committed"):
        cut(xid)
    postgres_server.start()
    store.close()


def test_the_first_call_after_a_long_outage_gets_a_connection(postgres_server: PostgresServer,
                                                              postgres_url: str) -> None:
    store = store_of(postgres_url)  # a call waits at most 3 s for a connection
    try:
        assert store.count() == 0
        postgres_server.kill()
        down = time.monotonic()
        while time.monotonic() - down < 10:  # a long outage: every call fails (and waits at most its 3 s)
            with pytest.raises(StoreError):
                store.count()
        postgres_server.start()
        assert store.count() == 0  # the pool did not back off past the server's return
    finally:
        postgres_server.start()
        store.close()


@pytest.mark.parametrize("call", ["log_and_count", "scan_embeddings", "hold"])
def test_the_first_snapshot_or_hold_after_a_restart_gets_a_fresh_connection(postgres_server: PostgresServer,
                                                                              postgres_url: str, call: str) -> None:
    """Like every read: a restart broke the idle pooled connections, and a call that starts on one is retried."""
    store = store_of(postgres_url)
    try:
        with store.transaction() as tx:
            tx.insert_memories([NewMemory("m1", Scope("u"), "kept", "h", np.ones(4, np.float32), 1.0)])
        postgres_server.restart()
        if call == "log_and_count":
            assert [e.rid for e in store.log_and_count("vectors", 0)[0]] == [store.get("m1").rid]
        elif call == "scan_embeddings":
            with store.scan_embeddings() as (head, batches):
                assert head == 1 and [len(ids) for ids, _ in batches] == [1]
        else:
            with store.hold("applier") as got:
                assert got
    finally:
        store.close()
