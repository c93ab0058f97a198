"""A store written by an older memlayer is migrated in place when opened."""

from __future__ import annotations

import sqlite3

from memlayer import Memory
from memlayer.storage.base import Selection
from memlayer.storage.sqlite.schema import SCHEMA_VERSION, split_sql
from memlayer.types import Scope


def test_a_version_1_store_is_migrated_on_open(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        mid = m.add("kept across the upgrade", user_id="u", infer=False)["results"][0]["id"]
    con = sqlite3.connect(tmp_path / "memlayer.db")
    with con:  # turn it back into what version 1 wrote
        con.execute("DROP TRIGGER memories_fts_au")  # (it names the text column only, but SQLite re-checks it)
        for kind in ("user", "agent", "run"):  # version 1's scope indexes did not hold the speaker
            con.execute(f"DROP INDEX memories_{kind}_s")
            con.execute(f"CREATE INDEX memories_{kind}_t ON memories({kind}_id, valid_to, created_at)")
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


_V3_FTS = """
CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='rid', tokenize='porter unicode61');
CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, text) VALUES (new.rid, new.text);
END;
CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rid, old.text);
END;
CREATE TRIGGER memories_fts_au AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rid, old.text);
    INSERT INTO memories_fts(rowid, text) VALUES (new.rid, new.text);
END;
INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');
"""


def test_a_version_3_store_gets_the_full_text_index_keyed_by_user(tmp_path, hash_embedder):
    """Version 3's index (the text alone, keyed by row id) is rebuilt keyed by user, with scope tokens."""
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        ids = {who: m.add(f"{who} likes green tea", user_id=who, infer=False)["results"][0]["id"] for who in ("u", "v")}
        m.add("the bot likes tea too", agent_id="bot", infer=False)
        m.add("u said it", user_id="u", infer=False, metadata={"speaker": "Ann"})
    con = sqlite3.connect(tmp_path / "memlayer.db")
    with con:  # turn the store back into what version 3 wrote
        for stmt in ("DROP TRIGGER IF EXISTS memories_fts_ai", "DROP TRIGGER memories_fts_ad", "DROP TRIGGER memories_fts_au",
                     "DROP TABLE memories_fts", "DROP TABLE fts_users", "UPDATE memories SET speaker = NULL",
                     "UPDATE meta SET value = '3' WHERE key = 'schema_version'", *split_sql(_V3_FTS)):
            con.execute(stmt)
    con.close()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        store = m.async_memory.store
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert {u for (u,) in store.query("SELECT user_id FROM fts_users")} == {"u", "v"}
        store.query("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
        for who, mid in ids.items():
            assert [h["id"] for h in m.search("green tea", user_id=who, config="hybrid")["results"]][0] == mid
            assert len(store.lexical(Selection(Scope(who)), ["tea"], 10)) == 1
        assert len(store.lexical(Selection(Scope(agent_id="bot")), ["tea"], 10)) == 1
        said = [r for r in m.get_all(user_id="u")["results"] if r["memory"] == "u said it"][0]
        assert store.get(said["id"]).speaker == "Ann"  # the speaker override, filled by the migration
        m.add("v likes tea again", user_id="v", infer=False)
        assert len(store.lexical(Selection(Scope("v")), ["tea"], 10)) == 2
