"""The SQLite schema: the system of record for memories, history, raw messages and change logs."""

from __future__ import annotations

import re

SCHEMA_VERSION = 4  # 4: lifetimes (ttl, recalls, restated, seen_at; expiry in the scope indexes)

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
    seen_at REAL                               -- the last recall or re-statement (NULL: never)
);
-- Scope indexes cover (rid, created_at, expires_at): a scope's current ids and order are read without
-- touching rows.
DROP INDEX IF EXISTS memories_user;
DROP INDEX IF EXISTS memories_agent;
DROP INDEX IF EXISTS memories_run;
DROP INDEX IF EXISTS memories_user_t;
DROP INDEX IF EXISTS memories_agent_t;
DROP INDEX IF EXISTS memories_run_t;
CREATE INDEX IF NOT EXISTS memories_user_te ON memories(user_id, valid_to, created_at, expires_at);
CREATE INDEX IF NOT EXISTS memories_agent_te ON memories(agent_id, valid_to, created_at, expires_at);
CREATE INDEX IF NOT EXISTS memories_run_te ON memories(run_id, valid_to, created_at, expires_at);
CREATE INDEX IF NOT EXISTS memories_expires ON memories(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_hash ON memories(hash);
CREATE INDEX IF NOT EXISTS memories_attr ON memories(attribute) WHERE attribute IS NOT NULL;

CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    text, content='memories', content_rowid='rid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_fts_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, text) VALUES (new.rid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rid, old.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_au AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rid, old.text);
    INSERT INTO memories_fts(rowid, text) VALUES (new.rid, new.text);
END;

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
"""


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
