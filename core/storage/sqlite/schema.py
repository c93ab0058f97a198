"""The SQLite schema: the system of record for memories, history, raw messages and change logs."""

from __future__ import annotations

import re

# 4: lifetimes (ttl, recalls, restated, seen_at; expiry in the scope indexes); 5: the full-text index keyed by
# user, with scope tokens (storage.sqlite.lexical); scope indexes covering the speaker and the transcript mark;
# 6: each text's token count (the full-text index's own) in a column the scope indexes cover; 7: each scope index
# also covers the other two scope fields (a combined scope is read from its narrowest field's index: sql.LEAD_ORDER)
SCHEMA_VERSION = 7


#: The full-text index's row key: ``(user key << RID_BITS) | rid``. User keys number the distinct user ids
#: (``fts_users``; 0: no user), so one user's rows are one contiguous key range: FTS5 reads a term's postings,
#: its text and its lengths for a user's memories from that range alone, whatever else the store holds
#: (see storage.sqlite.lexical). Row ids must stay below 2**RID_BITS; user keys wrap past USER_MASK (two users
#: then share a range, which only costs speed: every match is checked against the selection).
RID_BITS = 36
USER_MASK = (1 << 27) - 1


def fts_key(row: str) -> str:
    """SQL for the full-text key of a memories row (``new``/``old`` in triggers, a table alias elsewhere)."""
    return (f"((coalesce((SELECT key FROM fts_users WHERE user_id = {row}.user_id), 0) & {USER_MASK}) "
            f"<< {RID_BITS}) | {row}.rid")


_BYTES = "X'" + bytes(range(1, 256)).hex() + "'"


def _byte(i: int) -> str:
    """The ``i``-th byte of a docsize record ``sz`` as a number, in SQL (its place in the bytes 1..255)."""
    return f"instr({_BYTES}, substr(sz, {i}, 1))"


#: The first varint of an FTS5 docsize record ``sz`` (the text's token count) in SQL, up to three bytes
#: (-1: longer, 2**21 tokens or more).
FIRST_VARINT = (f"CASE WHEN {_byte(1)} < 128 THEN {_byte(1)} "
                f"WHEN {_byte(2)} < 128 THEN (({_byte(1)} & 127) << 7) | {_byte(2)} "
                f"WHEN {_byte(3)} < 128 THEN (({_byte(1)} & 127) << 14) | (({_byte(2)} & 127) << 7) | {_byte(3)} "
                "ELSE -1 END")


def _scope_tokens(row: str) -> str:
    """SQL for the full-text scope tokens of a memories row: ``a``gent and ``r``un (a user is a key range).

    One token per field that is set: the kind, the value's UTF-8 bytes in hex, then ``0`` (the porter stemmer
    never changes a token ending in a digit, so no two scopes can share a token).
    Python's side is ``storage.sqlite.lexical.scope_token``."""
    parts = [f"coalesce('{kind}' || hex({row}.{col}) || '0 ', '')" for kind, col in (("a", "agent_id"), ("r", "run_id"))]
    return "trim(" + " || ".join(parts) + ")"


# The full-text index holds each memory's text and scope tokens (its own copy: FTS5 reads a user's texts from
# one key range of its content table). New rows are indexed by SQLiteTx.insert_memories in key order
# (FTS_INSERT; a trigger would index them in row-id order), changes and removals by triggers. fts_users
# numbers the user ids.
FTS = f"""
CREATE TABLE IF NOT EXISTS fts_users (key INTEGER PRIMARY KEY, user_id TEXT NOT NULL UNIQUE);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(text, scope, tokenize='porter unicode61');
DROP TRIGGER IF EXISTS memories_fts_ai;
CREATE TRIGGER IF NOT EXISTS memories_fts_ad AFTER DELETE ON memories BEGIN
    DELETE FROM memories_fts WHERE rowid = {fts_key("old")};
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_au AFTER UPDATE OF text, user_id, agent_id, run_id ON memories BEGIN
    DELETE FROM memories_fts WHERE rowid = {fts_key("old")};
    INSERT OR IGNORE INTO fts_users(user_id) SELECT new.user_id WHERE new.user_id IS NOT NULL;
    INSERT INTO memories_fts(rowid, text, scope) VALUES ({fts_key("new")}, new.text, {_scope_tokens("new")});
END;
"""

# Indexing the memories with row ids in [?, ?] (their users numbered first), in key order.
FTS_INSERT = (f"INSERT INTO memories_fts(rowid, text, scope) SELECT {fts_key('m')}, m.text, {_scope_tokens('m')} "
              "FROM memories m WHERE m.rid BETWEEN ? AND ? ORDER BY 1")

# Filling the index from the memories (the migration to schema 4): user keys in order of first appearance.
FTS_FILL = [
    "INSERT OR IGNORE INTO fts_users(user_id) SELECT user_id FROM memories WHERE user_id IS NOT NULL "
    "GROUP BY user_id ORDER BY min(rid)",
    f"INSERT INTO memories_fts(rowid, text, scope) SELECT {fts_key('m')}, m.text, {_scope_tokens('m')} "
    "FROM memories m ORDER BY 1",
]

# Steps from each older version to the next, run in order inside the opening transaction.
MIGRATIONS: dict[int, list[str]] = {
    1: ["ALTER TABLE history ADD COLUMN reason TEXT"],  # why a memory went (expiry, budget, forget...)
    2: ["ALTER TABLE memories ADD COLUMN expires_at REAL", "ALTER TABLE memories ADD COLUMN speaker TEXT"],
    3: [  # memory lifetimes; the scope indexes are rebuilt with expires_at by SCHEMA below
        "ALTER TABLE memories ADD COLUMN ttl REAL",
        "ALTER TABLE memories ADD COLUMN recalls INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE memories ADD COLUMN restated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE memories ADD COLUMN seen_at REAL",
    ],
    4: [  # the full-text index keyed by user, with scope tokens and its own copy of the texts: rebuilt from the
        # memories (a few minutes per million)
        "DROP TRIGGER IF EXISTS memories_fts_ai",
        "DROP TRIGGER IF EXISTS memories_fts_ad",
        "DROP TRIGGER IF EXISTS memories_fts_au",
        "DROP TABLE IF EXISTS memories_fts",
        "DROP VIEW IF EXISTS memories_lex",
        "UPDATE memories SET speaker = json_extract(metadata, '$.speaker') "  # the override, as writes now do
        "WHERE speaker IS NULL AND json_type(metadata, '$.speaker') = 'text'",
        # the transcript mark as a column (search leaves transcripts out from the scope index alone)
        "ALTER TABLE memories ADD COLUMN transcript INTEGER NOT NULL DEFAULT 0",
        "UPDATE memories SET transcript = 1 WHERE json_type(metadata, '$.memlayer_transcript') = 'true'",
    ],
    5: [  # token counts, from the full-text index's own records (the scope indexes are rebuilt by SCHEMA below)
        "ALTER TABLE memories ADD COLUMN tokens INTEGER",
    ],
    6: [  # the scope indexes cover the other scope fields: made again by SCHEMA below
        "DROP INDEX IF EXISTS memories_user_read",
        "DROP INDEX IF EXISTS memories_agent_read",
        "DROP INDEX IF EXISTS memories_run_read",
    ],
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS memories (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,     -- the vector id in the derived FAISS index
    id TEXT NOT NULL UNIQUE,                   -- the public memory id (uuid4)
    user_id TEXT, agent_id TEXT, run_id TEXT,
    text TEXT NOT NULL,
    hash TEXT NOT NULL,
    attribute TEXT,                            -- single-valued attribute key (residence, employer...)
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    valid_from REAL NOT NULL,
    valid_to REAL,                             -- NULL while current
    superseded_by TEXT,
    embedding BLOB NOT NULL,
    expires_at REAL,                           -- NULL: never lapses
    speaker TEXT,                              -- who said it (a verbatim memory's message name or role)
    ttl REAL,                                  -- seconds a refresh extends expires_at by (NULL: fixed or none)
    recalls INTEGER NOT NULL DEFAULT 0,        -- how often search returned it
    restated INTEGER NOT NULL DEFAULT 0,       -- how often an add said it again
    seen_at REAL,                              -- the last recall or re-statement (NULL: never)
    transcript INTEGER NOT NULL DEFAULT 0,     -- 1: a transcript (metadata memlayer_transcript: true)
    tokens INTEGER                             -- the text's token count, as the full-text index counts (NULL: unknown)
);
-- Scope indexes cover (rid, created_at, expires_at, speaker, transcript, tokens) and the other scope fields: what a
-- search reads of every memory of its scope (current, unexpired, not a transcript; when; who said it; how long) is
-- read without touching the rows (a row holds its embedding: reading it costs a page), for a combined scope (a
-- user's memories with one agent, or in one run) too, from its narrowest field's index (sql.scope_clause).
DROP INDEX IF EXISTS memories_user;
DROP INDEX IF EXISTS memories_agent;
DROP INDEX IF EXISTS memories_run;
DROP INDEX IF EXISTS memories_user_t;
DROP INDEX IF EXISTS memories_agent_t;
DROP INDEX IF EXISTS memories_run_t;
DROP INDEX IF EXISTS memories_user_s;
DROP INDEX IF EXISTS memories_agent_s;
DROP INDEX IF EXISTS memories_run_s;
DROP INDEX IF EXISTS memories_user_te;
DROP INDEX IF EXISTS memories_agent_te;
DROP INDEX IF EXISTS memories_run_te;
DROP INDEX IF EXISTS memories_user_scope;
DROP INDEX IF EXISTS memories_agent_scope;
DROP INDEX IF EXISTS memories_run_scope;
CREATE INDEX IF NOT EXISTS memories_user_read ON memories(user_id, valid_to, created_at, expires_at, speaker, transcript, tokens, agent_id, run_id);
CREATE INDEX IF NOT EXISTS memories_agent_read ON memories(agent_id, valid_to, created_at, expires_at, speaker, transcript, tokens, user_id, run_id);
CREATE INDEX IF NOT EXISTS memories_run_read ON memories(run_id, valid_to, created_at, expires_at, speaker, transcript, tokens, user_id, agent_id);
CREATE INDEX IF NOT EXISTS memories_expires ON memories(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_hash ON memories(hash);
CREATE INDEX IF NOT EXISTS memories_attr ON memories(attribute) WHERE attribute IS NOT NULL;

-- (the full-text index: FTS below)

CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id TEXT NOT NULL,
    event TEXT NOT NULL,
    old_memory TEXT,
    new_memory TEXT,
    created_at REAL NOT NULL,
    user_id TEXT, agent_id TEXT, run_id TEXT,
    actor TEXT,
    message_ids TEXT NOT NULL DEFAULT '[]',
    reason TEXT
);
CREATE INDEX IF NOT EXISTS history_memory ON history(memory_id);
CREATE INDEX IF NOT EXISTS history_user ON history(user_id);

CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT, agent_id TEXT, run_id TEXT,
    role TEXT NOT NULL,
    name TEXT,
    content TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_user ON messages(user_id);

-- Change stream for the derived vector index: every insert/re-embed/removal of a memory row.
CREATE TABLE IF NOT EXISTS vector_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    rid INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'del'))
);

-- Change stream for the graph pillar (an outbox: applied after commit, replayed after a crash).
CREATE TABLE IF NOT EXISTS graph_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT, agent_id TEXT, run_id TEXT,
    op TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS graph_log_user ON graph_log(user_id);
""" + FTS


_ADD_COLUMN = re.compile(r"^ALTER TABLE (\w+) ADD COLUMN (\w+)\b", re.I)


def added_column(statement: str) -> tuple[str, str] | None:
    """(table, column) of an ``ALTER TABLE ... ADD COLUMN`` step: the step is skipped when the column exists
    (a store whose version number was rolled back, or a step interrupted between statements)."""
    m = _ADD_COLUMN.match(statement.strip())
    return (m.group(1), m.group(2)) if m else None


def split_sql(script: str) -> list[str]:
    """Split the schema into statements (triggers contain ';' inside BEGIN ... END)."""
    out, buf = [], []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped:
            continue
        buf.append(stripped)
        text = "\n".join(buf)
        if stripped.endswith(";") and (not text.lstrip().upper().startswith("CREATE TRIGGER") or stripped.upper() == "END;"):
            out.append(text)
            buf = []
    return out


MIGRATIONS[4] += [*split_sql(FTS), *FTS_FILL]
MIGRATIONS[5] += [f"UPDATE memories SET tokens = (SELECT NULLIF({FIRST_VARINT}, -1) FROM memories_fts_docsize "
                  f"WHERE id = {fts_key('memories')})"]
