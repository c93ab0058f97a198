"""A store written by an older memlayer is migrated in place when opened."""

from __future__ import annotations

import sqlite3

from memlayer import Memory
from memlayer.storage.sqlite.schema import SCHEMA_VERSION


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
