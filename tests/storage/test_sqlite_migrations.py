"""A store written by an older memlayer is migrated in place when opened."""

from __future__ import annotations

import sqlite3
import time
import uuid

from memlayer import Memory
from memlayer.storage.base import NewMemory, Selection
from memlayer.storage.sqlite import sql
from memlayer.storage.sqlite.schema import SCHEMA_VERSION, split_sql
from memlayer.types import Scope

# The full-text index of versions 1 to 4: the text alone, keyed by row id, its content read from memories.
_V4_FTS = """
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
KINDS = ("user", "agent", "run")


def roll_back(path, version: int) -> None:
    """Turn a store written now back into what ``version`` wrote."""
    con = sqlite3.connect(path / "memlayer.db")
    with con:  # 7 -> 6: the scope indexes without the other scope fields
        for stmt in (*(f"DROP INDEX memories_{k}_read" for k in KINDS),
                     *(f"CREATE INDEX memories_{k}_read ON memories({k}_id, valid_to, created_at, expires_at, speaker, "
                       "transcript, tokens)" for k in KINDS), "UPDATE meta SET value = '6' WHERE key = 'schema_version'"):
            con.execute(stmt)
    if version == 6:
        con.close()
        return
    with con:  # 6 -> 5: no token counts; the scope indexes without them
        for stmt in (*(f"DROP INDEX memories_{k}_read" for k in KINDS), "ALTER TABLE memories DROP COLUMN tokens",
                     *(f"CREATE INDEX memories_{k}_scope ON memories({k}_id, valid_to, created_at, expires_at, speaker, "
                       "transcript)" for k in KINDS), "UPDATE meta SET value = '5' WHERE key = 'schema_version'"):
            con.execute(stmt)
    if version == 5:
        con.close()
        return
    with con:
        # 5 -> 4: the full-text index as it was; scope indexes without the speaker; the speaker override not copied;
        # no transcript column
        steps = ["DROP TRIGGER memories_fts_ad", "DROP TRIGGER memories_fts_au", "DROP TABLE memories_fts",
                 "DROP TABLE fts_users", "UPDATE memories SET speaker = NULL WHERE json_type(metadata, '$.speaker') = 'text'",
                 *(f"DROP INDEX memories_{k}_scope" for k in KINDS), "ALTER TABLE memories DROP COLUMN transcript"]
        if version >= 4:
            steps += [f"CREATE INDEX memories_{k}_te ON memories({k}_id, valid_to, created_at, expires_at)" for k in KINDS]
        else:  # 4 -> 3: no lifetimes
            steps += ["DROP INDEX memories_expires",
                      *(f"ALTER TABLE memories DROP COLUMN {c}" for c in ("ttl", "recalls", "restated", "seen_at")),
                      *(f"CREATE INDEX memories_{k}_t ON memories({k}_id, valid_to, created_at)" for k in KINDS)]
        if version <= 1:  # 3 -> 1: no expiry, speaker or history reason
            steps += ["ALTER TABLE memories DROP COLUMN speaker", "ALTER TABLE memories DROP COLUMN expires_at",
                      "ALTER TABLE history DROP COLUMN reason"]
        for stmt in (*steps, *split_sql(_V4_FTS), f"UPDATE meta SET value = '{version}' WHERE key = 'schema_version'"):
            con.execute(stmt)
    con.close()


def index_names(store) -> set[str]:
    return {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_version_1_store_is_migrated_on_open(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        mid = m.add("kept across the upgrade", user_id="u", infer=False)["results"][0]["id"]
    roll_back(tmp_path, 1)
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        assert m.get(mid)["memory"] == "kept across the upgrade" and m.get(mid)["expires_at"] is None
        assert m.history(mid)[0]["event"] == "ADD"
        assert m.async_memory.store.get_meta("schema_version") == str(SCHEMA_VERSION)
        m.update(mid, "and still writable")
        assert m.search("writable", user_id="u")["results"][0]["id"] == mid


def test_a_version_3_store_gains_lifetimes_on_open(tmp_path, hash_embedder):
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        mid = m.add("kept across the upgrade", user_id="u", infer=False)["results"][0]["id"]
    roll_back(tmp_path, 3)
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        store = m.async_memory.store
        row = store.get(mid)
        assert row.memory == "kept across the upgrade" and (row.recalls, row.restated, row.ttl, row.seen_ts) == (0, 0, None, None)
        names = index_names(store)
        assert {"memories_user_read", "memories_expires"} <= names and not {"memories_user_t", "memories_user_te"} & names
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "7"
        m.add("a second one", user_id="u", infer=False)
        assert m.search("second", user_id="u")["results"][0]["memory"] == "a second one"
    # a step that already ran (its column exists) is skipped, so reopening a rolled-back version works
    con = sqlite3.connect(tmp_path / "memlayer.db")
    with con:
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        assert m.get(mid)["memory"] == "kept across the upgrade"
        assert m.search("second", user_id="u")["results"][0]["memory"] == "a second one"


def test_a_version_4_store_gets_the_full_text_index_keyed_by_user(tmp_path, hash_embedder):
    """Version 4's index (the text alone, keyed by row id) is rebuilt keyed by user, with scope tokens; the scope
    indexes gain the speaker and the transcript mark (a column filled from the metadata)."""
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        ids = {who: m.add(f"{who} likes green tea", user_id=who, infer=False)["results"][0]["id"] for who in ("u", "v")}
        m.add("the bot likes tea too", agent_id="bot", infer=False)
        m.add("u said it", user_id="u", infer=False, metadata={"speaker": "Ann"})
        m.add("does u like green tea?", user_id="u", run_id="chat", infer=False, metadata={"memlayer_transcript": True})
    roll_back(tmp_path, 4)
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        store = m.async_memory.store
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert {"memories_user_read", "memories_agent_read", "memories_run_read"} <= index_names(store)
        assert not {"memories_user_te", "memories_user_s", "memories_user_scope"} & index_names(store)
        assert {u for (u,) in store.query("SELECT user_id FROM fts_users")} == {"u", "v"}
        store.query("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
        for who, mid in ids.items():
            assert [h["id"] for h in m.search("green tea", user_id=who, config="hybrid")["results"]][0] == mid
            assert len(store.lexical(Selection(Scope(who), transcripts=False), ["tea"], 10)) == 1
        assert len(store.lexical(Selection(Scope(agent_id="bot")), ["tea"], 10)) == 1
        said = [r for r in m.get_all(user_id="u")["results"] if r["memory"] == "u said it"][0]
        assert store.get(said["id"]).speaker == "Ann"  # the speaker override, filled by the migration
        assert "does u like green tea?" not in [h["memory"] for h in m.search("green tea", user_id="u")["results"]]
        assert len(m.search("green tea", user_id="u", filters={"memlayer_transcript": True})["results"]) == 1
        m.add("v likes tea again", user_id="v", infer=False)
        assert len(store.lexical(Selection(Scope("v")), ["tea"], 10)) == 2


def test_a_version_5_store_gains_token_counts_in_its_scope_indexes(tmp_path, hash_embedder):
    """The counts are the full-text index's own (read from its records, here and for new writes alike); a text
    too long for the SQL decoding keeps NULL, and searches ask the index for it."""
    long_text = "w " * (2**21 + 3)  # (longer than add() takes: written through the store)
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        m.add(["one two three", "four, five!"], user_id="u", infer=False)
        with m.async_memory.store.transaction() as tx:
            tx.insert_memories([NewMemory(str(uuid.uuid4()), Scope("u"), long_text, "h", hash_embedder.embed(["w"])[0],
                                          time.time())])
        m.add("the bot counts too", agent_id="bot", infer=False)
        written = {r["text"][:20]: r["tokens"] for r in m.async_memory.store.query("SELECT text, tokens FROM memories")}
    roll_back(tmp_path, 5)
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        store = m.async_memory.store
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert {"memories_user_read", "memories_agent_read", "memories_run_read"} <= index_names(store)
        assert not {"memories_user_scope"} & index_names(store)
        migrated = {r["text"][:20]: r["tokens"] for r in store.query("SELECT text, tokens FROM memories")}
        assert migrated == {**written, long_text[:20]: None}
        assert written == {"one two three": 3, "four, five!": 2, long_text[:20]: None, "the bot counts too": 4}
        rids = [r["rid"] for r in store.query("SELECT rid FROM memories WHERE user_id = 'u' ORDER BY rid")]
        rows = store.scope_rows_upto(Selection(Scope("u")), [], 100, tokens=True)
        assert rows is not None and rows.tokens.tolist() == [3, 2, -1]
        assert store.token_counts(rids)[rids[2]] == 2**21 + 3
        found = [r["memory"] for r in m.search("four five", user_id="u")["results"]]
        assert found[0] == long_text and "four, five!" in found  # its length prior, from the index's count


def test_a_version_6_store_reads_combined_scopes_from_one_index(tmp_path, hash_embedder):
    """Schema 7: each scope index covers the other scope fields, so one user's memories with one agent are read
    from the user's index alone (schema 6 read every memory of the agent, which all users shared)."""
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        for user in ("u", "v"):
            m.add([f"{user} likes tea", f"{user} likes chess"], user_id=user, agent_id="a", infer=False)
        m.add("u in a run", user_id="u", agent_id="a", run_id="r", infer=False)
        before = [r["memory"] for r in m.search("likes", user_id="u", agent_id="a")["results"]]
    roll_back(tmp_path, 6)
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        store = m.async_memory.store
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        for kind in KINDS:
            definition = store.query("SELECT sql FROM sqlite_master WHERE name = ?", (f"memories_{kind}_read",))[0]["sql"]
            assert all(f"{k}_id" in definition for k in KINDS), definition
        where, params = sql.where(Selection(Scope("u", "a")), prefix="m.")
        plan = " ".join(str(r[3]) for r in store.query(
            f"EXPLAIN QUERY PLAN SELECT m.rid, m.created_at, m.speaker, m.tokens FROM memories m WHERE {where}", params))
        assert "COVERING INDEX memories_user_read" in plan, plan
        assert [r["memory"] for r in m.search("likes", user_id="u", agent_id="a")["results"]] == before
        assert sorted(before) == ["u in a run", "u likes chess", "u likes tea"]  # v's memories stay out
