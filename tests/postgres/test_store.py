"""The PostgreSQL store beyond the conformance suite: connection strings, schema versions and migrations,
commit-ordered change logs, scope locks, the scoped full-text index, holds."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from memlayer import Memory
from memlayer.errors import ConfigError, MemlayerError, StoreError
from memlayer.storage.base import NewMemory, Selection
from memlayer.types import Scope
from tests.servers import PostgresServer, free_port

T0 = 1_700_000_000.0


def vec(seed: int, dims: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
    return v / np.linalg.norm(v)


ALICE = Scope("alice")


def new(text: str, scope: Scope = ALICE) -> NewMemory:
    return NewMemory(str(uuid.uuid4()), scope, text, f"h-{text}", vec(len(text)), T0)


def open_store(url: str) -> Any:
    from memlayer.storage.postgres import PostgresStore

    return PostgresStore(url)


# -- connection strings ------------------------------------------------------------------------------------
def test_bad_connection_strings_are_one_clear_error_each(postgres_server: PostgresServer, postgres_url: str,
                                                         tmp_path: Any) -> None:
    port = free_port()
    good = postgres_url.split("?")[0]
    secret = postgres_server.password
    cases = {
        "postgresql://memlayer@127.0.0.1:notaport/db": (ConfigError, "malformed"),
        f"{good}?schema=no-dashes": (ConfigError, "schema="),
        f"{good}?pool_max=1": (ConfigError, "pool_max"),
        f"postgresql://memlayer:{secret}@127.0.0.1:{port}/x": (StoreError, "cannot connect"),
        good.replace(secret, "wrong-password"): (StoreError, "password authentication failed"),
        good.rsplit("/", 1)[0] + "/no_such_database": (StoreError, "does not exist"),
    }
    for url, (kind, words) in cases.items():
        started = time.monotonic()
        with pytest.raises(kind, match=words) as caught:
            Memory(str(tmp_path / "m"), store=url, embedder="hash", graph=False)
        assert isinstance(caught.value, MemlayerError) and time.monotonic() - started < 15
        assert secret not in str(caught.value) and "wrong-password" not in str(caught.value), "a password leaked"
    assert not list((tmp_path / "m").glob("vectors*")), "a refused store left vector files behind"


def test_the_url_comes_from_the_argument_the_config_or_the_environment(postgres_url: str, tmp_path: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from memlayer.storage.postgres import PostgresStore

    with Memory(str(tmp_path / "a"), store=postgres_url, embedder="hash", graph=False) as m:
        assert isinstance(m.async_memory.store, PostgresStore)
        m.add("from the argument", user_id="u", infer=False)
    with Memory.from_config({"path": str(tmp_path / "b"), "store": postgres_url, "embedder": "hash",
                             "graph": False}) as m:
        assert [r["memory"] for r in m.get_all(user_id="u")["results"]] == ["from the argument"]
    monkeypatch.setenv("MEMLAYER_DATABASE_URL", postgres_url)
    with Memory(str(tmp_path / "c"), embedder="hash", graph=False) as m:
        assert isinstance(m.async_memory.store, PostgresStore)
        assert m.async_memory.store.location.endswith(postgres_url.rsplit("?", 1)[1])
        assert len(m.get_all(user_id="u")["results"]) == 1


def test_a_second_memory_with_other_settings_names_the_store_without_its_password(
        postgres_server: PostgresServer, postgres_url: str, tmp_path: Any) -> None:
    with Memory(str(tmp_path), store=postgres_url, embedder="hash", graph=False), \
            pytest.raises(ConfigError, match="already open") as caught:
        Memory(str(tmp_path), store=postgres_url, embedder="hash", graph="memory")
    assert postgres_server.password not in str(caught.value) and "memlayer@127.0.0.1" in str(caught.value)


def test_the_default_graph_is_refused_naming_what_to_use(postgres_url: str, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="sparql") as caught:
        Memory(str(tmp_path), store=postgres_url, embedder="hash")
    assert "graph='memory'" in str(caught.value) and "graph=False" in str(caught.value)
    with pytest.raises(ConfigError, match="sparql"):
        Memory(str(tmp_path), store=postgres_url, embedder="hash", graph="oxigraph")
    with Memory(str(tmp_path), store=postgres_url, embedder="hash", graph="memory", extractor="pattern") as m:
        m.add("I live in Lisbon.", user_id="u")
        assert m.search("Lisbon", user_id="u")["relations"]


# -- schema versions ---------------------------------------------------------------------------------------
def test_a_newer_schema_is_refused_and_left_untouched(postgres_url: str) -> None:
    store = open_store(postgres_url)
    with store.transaction() as tx:
        tx.insert_memories([new("kept")])
    store.set_meta("schema_version", "7")
    store.close()
    from memlayer.storage.postgres.schema import SCHEMA_VERSION

    with pytest.raises(StoreError, match=rf"newer memlayer \(schema 7, this one knows {SCHEMA_VERSION}\); upgrade memlayer"):
        open_store(postgres_url)
    store = open_store(postgres_url.replace("schema=", "schema=x") + "_other")  # another schema is unaffected
    store.close()
    import psycopg  # and the refused one is exactly as it was written

    with psycopg.connect(postgres_url.split("?")[0]) as conn:
        schema = postgres_url.rsplit("schema=", 1)[1]
        assert conn.execute(f'SELECT text FROM "{schema}".memories').fetchall() == [("kept",)]
        assert conn.execute(f"SELECT value FROM \"{schema}\".meta WHERE key = 'schema_version'").fetchone() == ("7",)


def test_migrations_run_on_open_in_one_transaction(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from memlayer.storage.postgres import schema

    store = open_store(postgres_url)
    with store.transaction() as tx:
        (rid,) = tx.insert_memories([new("before the upgrade")])
    store.close()
    now = schema.SCHEMA_VERSION  # the two steps after the current version
    monkeypatch.setattr(schema, "SCHEMA_VERSION", now + 2)
    monkeypatch.setattr(schema, "MIGRATIONS", {now: ["ALTER TABLE memories ADD COLUMN mood text"],
                                               now + 1: ["ALTER TABLE memories ADD COLUMN broken nosuchtype"]})
    with pytest.raises(StoreError, match="nosuchtype"):
        open_store(postgres_url)  # the second step fails: the first is rolled back with it
    monkeypatch.setattr(schema, "SCHEMA_VERSION", now + 1)
    store = open_store(postgres_url)
    assert store.get_meta("schema_version") == str(now + 1)
    assert store.query("SELECT mood FROM memories WHERE rid = %s", (rid,)) == [(None,)]
    assert store.rows([rid])[rid].memory == "before the upgrade"
    store.close()


def test_a_schema_1_store_gains_the_lifetime_columns_on_open(postgres_url: str) -> None:
    """Schema 2 (memory lifetimes) over a store written by schema 1: the columns and indexes are added, the
    rows kept and their counts start at 0 (ALTER ... IF NOT EXISTS: an interrupted upgrade may run again)."""
    store = open_store(postgres_url)
    with store.transaction() as tx:
        (rid,) = tx.insert_memories([new("written by schema 1")])
    for stmt in ("ALTER TABLE memories DROP COLUMN ttl", "ALTER TABLE memories DROP COLUMN recalls",
                 "ALTER TABLE memories DROP COLUMN restated", "ALTER TABLE memories DROP COLUMN seen_at",
                 "DROP INDEX memories_expires"):
        store.query(stmt)
    store.set_meta("schema_version", "1")
    store.close()
    store = open_store(postgres_url)
    from memlayer.storage.postgres.schema import SCHEMA_VERSION
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    row = store.rows([rid])[rid]
    assert (row.memory, row.ttl, row.recalls, row.restated, row.seen_ts) == ("written by schema 1", None, 0, 0, None)
    with store.transaction() as tx:
        tx.reinforce({rid: 2}, 1_700_000_000.0, kind="recall")
        tx.set_expiry(row.id, 1_800_000_000.0, 60.0)
    row = store.rows([rid])[rid]
    assert (row.recalls, row.expires_ts, row.ttl) == (2, 1_800_000_000.0, 60.0)
    assert store.query("SELECT indexname FROM pg_indexes WHERE indexname = 'memories_expires' "
                       "AND schemaname = current_schema()") == [("memories_expires",)]
    store.close()


def test_a_schema_2_store_gets_speakers_in_its_scope_indexes_on_open(postgres_url: str) -> None:
    """Schema 3 over a store written by schema 2: the scope indexes include the speaker and the transcript mark,
    a memory whose metadata names its speaker (written before writes copied it into the column) gets it, and
    the mark is computed for the rows already there."""
    store = open_store(postgres_url)
    with store.transaction() as tx:
        named, plain, odd = tx.insert_memories([replace(new("said by Ann"), metadata={"speaker": "Ann"}), new("nobody's"),
                                                replace(new("coded"), metadata={"speaker": "A\x01B"})])
        (said,) = tx.insert_memories([replace(new("a transcript"), metadata={"memlayer_transcript": True})])
    for stmt in ("UPDATE memories SET speaker = NULL", "DROP INDEX memories_user", "DROP INDEX memories_agent",
                 "DROP INDEX memories_run", "ALTER TABLE memories DROP COLUMN transcript",
                 "CREATE INDEX memories_user ON memories (user_id, valid_to) INCLUDE (rid, created_at, expires_at)"):
        store.query(stmt)
    store.set_meta("schema_version", "2")
    store.close()
    store = open_store(postgres_url)
    from memlayer.storage.postgres.schema import SCHEMA_VERSION
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "3"
    rows = store.rows([named, plain, odd])
    assert (rows[named].speaker, rows[plain].speaker, rows[odd].speaker) == ("Ann", None, None)
    (ddl,), = store.query("SELECT indexdef FROM pg_indexes WHERE indexname = 'memories_user' AND schemaname = current_schema()")
    assert ddl.endswith("INCLUDE (rid, created_at, expires_at, speaker, transcript)")
    assert store.select_rids(Selection(ALICE, transcripts=True)).tolist() == [said]
    assert said not in store.select_rids(Selection(ALICE, transcripts=False)).tolist()
    store.close()


def test_concurrent_openers_of_a_new_schema_do_not_race(postgres_url: str) -> None:
    opened: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def opener() -> None:
        start.wait()
        try:
            opened.append(open_store(postgres_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(opened) == 6
    with opened[0].transaction() as tx:
        tx.insert_memories([new("one schema")])
    assert all(s.count() == 1 for s in opened)
    for s in opened:
        s.close()


# -- change logs: sequence order is commit order -------------------------------------------------------------
def test_a_transaction_that_commits_late_is_never_skipped(postgres_url: str) -> None:
    """A inserts first and commits last. With plain sequences A's entry would sit below B's and a reader that
    had seen B would skip it; here A's entries are numbered when it commits, after B's."""
    store = open_store(postgres_url)
    reader_seen: list[int] = []
    with store.transaction() as a:
        (rid_a,) = a.insert_memories([new("first in, last out")])
        with store.transaction() as b:
            (rid_b,) = b.insert_memories([new("second in, first out")])
        entries = store.read_log("vectors", 0)
        assert [e.rid for e in entries] == [rid_b] and rid_a < rid_b
        reader_seen += [e.seq for e in entries]
    late = store.read_log("vectors", reader_seen[-1])
    assert [e.rid for e in late] == [rid_a] and late[0].seq > reader_seen[-1]
    assert store.log_head("vectors") == late[0].seq == 2
    store.close()


def test_a_graph_log_writer_holds_the_clock_until_it_commits(postgres_url: str) -> None:
    store = open_store(postgres_url)
    second_done = threading.Event()
    seqs: dict[str, int] = {}

    def second() -> None:
        with store.transaction() as tx:
            seqs["b"] = tx.log_graph(Scope("bob"), "add", {"n": "b"})
        second_done.set()

    with store.transaction() as tx:
        seqs["a"] = tx.log_graph(Scope("alice"), "add", {"n": "a"})
        thread = threading.Thread(target=second)
        thread.start()
        assert not second_done.wait(0.5), "a second log writer got a position before the first committed"
        assert store.log_head("graph") == 0 and store.read_log("graph", 0) == []
    thread.join(10)
    assert seqs == {"a": 1, "b": 2}
    assert [e.payload for e in store.read_log("graph", 0)] == [{"n": "a"}, {"n": "b"}]
    store.close()


def test_a_reader_racing_out_of_order_commits_sees_every_entry_once(postgres_url: str) -> None:
    """Writers on 6 threads commit after random pauses while a reader follows the log by watermark, as a
    projection does: at the end it has read every committed entry exactly once, in position order."""
    import random

    store = open_store(postgres_url + "&pool_max=10")
    committed: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    read: list[int] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        for i in range(15):
            with store.transaction() as tx:
                rids = tx.insert_memories([new(f"w{n}-{i}", Scope(f"u{n}"))])
                time.sleep(rng.uniform(0, 0.02))
                if rng.random() < 0.2:
                    tx.rewrite(rids[0], f"w{n}-{i}!", "h", vec(i), T0)
            with lock:
                committed.extend(rids)

    def reader() -> None:
        watermark = 0
        while True:
            last = stop.is_set()
            entries = store.read_log("vectors", watermark)
            read.extend(e.seq for e in entries)
            watermark = entries[-1].seq if entries else watermark
            if last:
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    follower = threading.Thread(target=reader)
    follower.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    follower.join(30)
    head = store.log_head("vectors")
    assert read == list(range(1, head + 1)), "the reader skipped or repeated a log entry"
    assert {e.rid for e in store.read_log("vectors", 0)} == set(committed)
    store.close()


# -- locks -------------------------------------------------------------------------------------------------
def test_scope_locks_serialise_writers_of_one_scope_only(postgres_url: str) -> None:
    store = open_store(postgres_url)
    entered: dict[str, float] = {}

    def writer(scope: Scope, name: str) -> None:
        with store.transaction() as tx:
            tx.lock_scope(scope)
            entered[name] = time.monotonic()

    with store.transaction() as tx:
        tx.lock_scope(Scope("alice"))
        held = time.monotonic()
        same, other = (threading.Thread(target=writer, args=(Scope(s), s)) for s in ("alice", "bob"))
        same.start()
        other.start()
        other.join(5)
        assert "bob" in entered and "alice" not in entered
        time.sleep(0.3)
        assert "alice" not in entered
    same.join(5)
    assert entered["alice"] - held >= 0.3
    store.close()


def test_hold_is_exclusive_across_stores_and_freed_when_the_holder_dies(postgres_url: str) -> None:
    import subprocess
    import sys

    first, second = open_store(postgres_url), open_store(postgres_url)
    with first.hold("job") as mine:
        assert mine
        with second.hold("job", wait_s=0.2) as theirs:
            assert not theirs
        with second.hold("other") as other:
            assert other
    with second.hold("job") as theirs:
        assert theirs
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom memlayer.storage.postgres import PostgresStore\n"
         "s = PostgresStore(sys.argv[1])\nwith s.hold('job') as h:\n    print(h, flush=True)\n    time.sleep(60)",
         postgres_url], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
    with first.hold("job", wait_s=0.2) as mine:
        assert not mine
    holder.kill()
    holder.wait()
    with first.hold("job", wait_s=10) as mine:
        assert mine, "a holder killed with -9 kept its lock"
    first.close()
    second.close()


# -- full text --------------------------------------------------------------------------------------------
def explain(url: str, text: str, params: list[Any], *, without: tuple[str, ...] = ()) -> str:
    """The plan of a query with table scans ruled out (tables this small are cheaper to scan whole) and the
    indexes ``without`` dropped (inside a transaction that is rolled back)."""
    import psycopg

    with psycopg.connect(url.split("?")[0]) as conn:
        conn.execute(f"SET search_path TO {url.rsplit('schema=', 1)[1]}")
        conn.execute("SET enable_seqscan = off")
        for index in without:
            conn.execute(f"DROP INDEX {index}")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + text, params).fetchall())
        conn.rollback()
        return plan


def test_lexical_search_restricts_the_scope_inside_an_index(postgres_url: str) -> None:
    """The full-text match is never run over the whole table and filtered by scope afterwards. PostgreSQL
    picks, by its statistics, between reading the scope through its own btree index (cost: the scope's size)
    and meeting the scope and the tsquery inside ONE scan of the GIN index (btree_gin puts the scope columns
    beside the tsvector); with the btree indexes gone it must take the GIN one, and still never matches the
    terms over the whole table. Ranked, stemmed, the scope's own rows."""
    from memlayer.storage.postgres import sql

    store = open_store(postgres_url)
    big = [new(f"note {i} about {'zebras and giraffes' if i % 300 == 0 else 'cats'} and rain", Scope("big"))
           for i in range(3000)]
    others = [new(f"zebra {i} sighting", Scope(f"user{i % 30}")) for i in range(3000)]
    with store.transaction() as tx:
        tx.insert_memories(big + others)
    store.query("ANALYZE memories")
    btrees = ("memories_user", "memories_agent", "memories_run", "memories_hash", "memories_attr")
    for scope, term, without in itertools.product((Scope("big"), Scope(agent_id="bot"), Scope("big", run_id="r1")),
                                                  ("zebra", "giraffe"), ((), btrees)):
        text, params = sql.lexical(Selection(scope), [term], 10)  # type: ignore[misc]
        plan = explain(postgres_url, text, params, without=without)
        lines = [*plan.splitlines(), ""]
        scans = [(line, lines[i + 1]) for i, line in enumerate(lines) if "Index Scan" in line]
        assert scans and "memories_hash" not in plan, plan
        for scan, cond in scans:  # every index scan is restricted to the scope
            assert "Index Cond" in cond and any(f"{k} = " in cond for k in scope.as_dict()), plan
            if "memories_fts" in scan:  # the scope and the terms in the same index condition
                assert "tsv @@" in cond and all(f"{k} = " in cond for k, v in scope.as_dict().items() if v), plan
        if without:
            assert "Bitmap Index Scan on memories_fts" in plan, plan
    for term, count in (("zebra", 10), ("giraffes", 10), ("cat", 2990)):
        hits = store.lexical(Selection(Scope("big")), [term], 5000)
        rows = store.rows([r for r, _ in hits])
        assert len(hits) == count and all(rows[r].user_id == "big" for r, _ in hits)
    store.close()
