"""A store written by an older memlayer is migrated in place when opened."""

from __future__ import annotations

import sqlite3

from memlayer import Memory
from memlayer.storage.sqlite.schema import SCHEMA_VERSION

# what schema 4 (lifetimes) added: a version 1, 2 or 3 store has none of it
V4_ONLY = (
    *(f"DROP INDEX {name}" for name in ("memories_user_te", "memories_agent_te", "memories_run_te", "memories_expires")),
    *(f"ALTER TABLE memories DROP COLUMN {c}" for c in ("ttl", "recalls", "restated", "seen_at")),
    "CREATE INDEX memories_user_t ON memories(user_id, valid_to, created_at)",
)


def test_a_version_1_store_is_migrated_on_open(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        mid = m.add("kept across the upgrade", user_id="u", infer=False)["results"][0]["id"]
    con = sqlite3.connect(tmp_path / "memlayer.db")
    with con:  # turn it back into what version 1 wrote
        con.execute("DROP TRIGGER memories_fts_au")  # (it names the text column only, but SQLite re-checks it)
        for stmt in V4_ONLY:
            con.execute(stmt)
        for stmt in ("ALTER TABLE memories DROP COLUMN speaker", "ALTER TABLE memories DROP COLUMN expires_at",
                     "ALTER TABLE history DROP COLUMN reason", "UPDATE meta SET value = '1' WHERE key = 'schema_version'"):
            con.execute(stmt)
    con.close()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        assert m.get(mid)["memory"] == "kept across the upgrade" and m.get(mid)["expires_at"] is None
        assert m.history(mid)[0]["event"] == "ADD"
        assert m.async_memory.store.get_meta("schema_version") == str(SCHEMA_VERSION)
        m.update(mid, "and still writable")
        assert m.search("writable", user_id="u")["results"][0]["id"] == mid


def test_a_version_3_store_gains_lifetimes_on_open(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        mid = m.add("kept across the upgrade", user_id="u", infer=False)["results"][0]["id"]
    con = sqlite3.connect(tmp_path / "memlayer.db")
    with con:
        for stmt in (*V4_ONLY, "UPDATE meta SET value = '3' WHERE key = 'schema_version'"):
            con.execute(stmt)
    con.close()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        store = m.async_memory.store
        row = store.get(mid)
        assert row.memory == "kept across the upgrade" and (row.recalls, row.restated, row.ttl, row.seen_ts) == (0, 0, None, None)
        names = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"memories_user_te", "memories_expires"} <= names and "memories_user_t" not in names
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
        m.add("a second one", user_id="u", infer=False)
        assert m.search("second", user_id="u")["results"][0]["memory"] == "a second one"
    # a step that already ran (its column exists) is skipped, so reopening a rolled-back version works
    con = sqlite3.connect(tmp_path / "memlayer.db")
    with con:
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        assert m.get(mid)["memory"] == "kept across the upgrade"
