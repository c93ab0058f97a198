"""The PostgreSQL schema, its version, and the migrations that bring an older one up to date on open.

Everything lives in one PostgreSQL schema (``memlayer`` unless the URL says ``?schema=...``), so a memlayer
store can share a database with an application. Opening runs :func:`migrate` once per process: every DDL
statement of an upgrade runs in ONE transaction under an advisory lock, so concurrent openers never race
(the first creates or upgrades, the others wait and then find the current version), and a failed upgrade
leaves the old schema untouched. A schema written by a newer memlayer is refused, never touched.

Two columns differ from SQLite's on purpose:

* ``metadata`` keeps the JSON text exactly as written (what reads return), ``meta`` the same value as jsonb
  for filters. jsonb cannot hold a NUL character, and it rewrites numbers (``1e300`` comes back as 301
  digits), so ``meta`` holds every string with NUL and U+0001 escaped by an order-preserving code (see
  ``storage.postgres.codec``) and nothing reads values back from it except what filters and the search's
  per-row metadata need.
* ``tsv``: the stemmed text (``to_tsvector('english', text)``), maintained by PostgreSQL. The full-text
  index is ONE GIN index over the scope columns and ``tsv`` (btree_gin), so a lexical search is restricted
  to its scope inside the index, not matched over the whole table and filtered afterwards.

The change logs (``vector_log``, ``graph_log``) take their sequence numbers from ``log_clock`` at write time,
under that row's lock (see ``storage.postgres.tx``): sequence order is commit order.
"""

from __future__ import annotations

from typing import Any

from ...errors import StoreError
from ..base import TRANSCRIPT_KEY

# 2: lifetimes (ttl, recalls, restated, seen_at; expires_at in the scope indexes); 3: the scope indexes hold the
# speaker (a search reads it for every memory of a small scope, the "speaker" metadata override copied in) and
# the transcript mark (search leaves transcripts out)
SCHEMA_VERSION = 3
# ``Selection.transcripts`` reads this column: true when the metadata marks a transcript (``storage.base``)
TRANSCRIPT_COLUMN = ("transcript boolean GENERATED ALWAYS AS "
                     f"(meta @> '{{\"{TRANSCRIPT_KEY}\": true}}'::jsonb) STORED")

# Steps from each older version to the next ({version: statements}), run in order in the opening transaction.
MIGRATIONS: dict[int, list[str]] = {
    1: [  # memory lifetimes (as SQLite's step 3)
        "ALTER TABLE memories ADD COLUMN IF NOT EXISTS ttl double precision",
        "ALTER TABLE memories ADD COLUMN IF NOT EXISTS recalls integer NOT NULL DEFAULT 0",
        "ALTER TABLE memories ADD COLUMN IF NOT EXISTS restated integer NOT NULL DEFAULT 0",
        "ALTER TABLE memories ADD COLUMN IF NOT EXISTS seen_at double precision",
        "DROP INDEX IF EXISTS memories_user",
        "DROP INDEX IF EXISTS memories_agent",
        "DROP INDEX IF EXISTS memories_run",
        "CREATE INDEX IF NOT EXISTS memories_user ON memories (user_id, valid_to) INCLUDE (rid, created_at, expires_at)",
        "CREATE INDEX IF NOT EXISTS memories_agent ON memories (agent_id, valid_to) INCLUDE (rid, created_at, expires_at)",
        "CREATE INDEX IF NOT EXISTS memories_run ON memories (run_id, valid_to) INCLUDE (rid, created_at, expires_at)",
        "CREATE INDEX IF NOT EXISTS memories_expires ON memories (expires_at) WHERE expires_at IS NOT NULL",
    ],
    2: [  # the speaker and the transcript mark in the scope indexes (as SQLite's step 4); writes now copy the
        # speaker override into the column, so older rows get it too (a value holding U+0000/U+0001 is coded in
        # meta: those few keep NULL); the mark is computed by PostgreSQL from meta
        f"ALTER TABLE memories ADD COLUMN IF NOT EXISTS {TRANSCRIPT_COLUMN}",
        "UPDATE memories SET speaker = meta ->> 'speaker' WHERE speaker IS NULL "
        "AND jsonb_typeof(meta -> 'speaker') = 'string' AND strpos(meta ->> 'speaker', chr(1)) = 0",
        "DROP INDEX IF EXISTS memories_user",
        "DROP INDEX IF EXISTS memories_agent",
        "DROP INDEX IF EXISTS memories_run",
        "CREATE INDEX IF NOT EXISTS memories_user ON memories (user_id, valid_to) "
        "INCLUDE (rid, created_at, expires_at, speaker, transcript)",
        "CREATE INDEX IF NOT EXISTS memories_agent ON memories (agent_id, valid_to) "
        "INCLUDE (rid, created_at, expires_at, speaker, transcript)",
        "CREATE INDEX IF NOT EXISTS memories_run ON memories (run_id, valid_to) "
        "INCLUDE (rid, created_at, expires_at, speaker, transcript)",
    ],
}

# The current schema, created whole on an empty database. Statements are separated by ";\n".
SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    rid bigserial PRIMARY KEY,                 -- the vector id in the derived FAISS indexes
    id text NOT NULL UNIQUE,                   -- the public memory id (uuid4)
    user_id text, agent_id text, run_id text,
    text text NOT NULL,
    hash text NOT NULL,
    attribute text,                            -- single-valued attribute key (residence, employer...)
    metadata text NOT NULL DEFAULT '{}',       -- the JSON exactly as written
    meta jsonb NOT NULL DEFAULT '{}',          -- the same for filters (strings NUL-escaped, see codec)
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    valid_from double precision NOT NULL,
    valid_to double precision,                 -- NULL while current
    superseded_by text,
    expires_at double precision,               -- NULL: never lapses
    speaker text,                              -- who said it (a verbatim memory's message name or role)
    ttl double precision,                      -- seconds a refresh extends expires_at by (NULL: fixed or none)
    recalls integer NOT NULL DEFAULT 0,        -- how often search returned it
    restated integer NOT NULL DEFAULT 0,       -- how often an add said it again
    seen_at double precision,                  -- the last recall or re-statement (NULL: never)
    {TRANSCRIPT_COLUMN},
    embedding bytea NOT NULL,                  -- float32, little-endian: any process can rebuild its index
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED
);
-- A scope's current, unexpired rows that are not transcripts (their order, times, speakers) from the index alone.
CREATE INDEX IF NOT EXISTS memories_user ON memories (user_id, valid_to) INCLUDE (rid, created_at, expires_at, speaker, transcript);
CREATE INDEX IF NOT EXISTS memories_agent ON memories (agent_id, valid_to) INCLUDE (rid, created_at, expires_at, speaker, transcript);
CREATE INDEX IF NOT EXISTS memories_run ON memories (run_id, valid_to) INCLUDE (rid, created_at, expires_at, speaker, transcript);
CREATE INDEX IF NOT EXISTS memories_expires ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_hash ON memories (hash) WHERE valid_to IS NULL;
CREATE INDEX IF NOT EXISTS memories_attr ON memories (attribute) WHERE attribute IS NOT NULL;
-- Full text with the scope inside the index: GIN intersects a scope's entries with the query's lexemes.
CREATE INDEX IF NOT EXISTS memories_fts ON memories USING gin (user_id, agent_id, run_id, tsv);

CREATE TABLE IF NOT EXISTS history (
    seq bigserial PRIMARY KEY,
    memory_id text NOT NULL,
    event text NOT NULL,
    old_memory text,
    new_memory text,
    created_at double precision NOT NULL,
    user_id text, agent_id text, run_id text,
    actor text,
    message_ids bigint[] NOT NULL DEFAULT '{}',
    reason text
);
CREATE INDEX IF NOT EXISTS history_memory ON history (memory_id);
CREATE INDEX IF NOT EXISTS history_user ON history (user_id);

CREATE TABLE IF NOT EXISTS messages (
    id bigserial PRIMARY KEY,
    user_id text, agent_id text, run_id text,
    role text NOT NULL,
    name text,
    content text NOT NULL,
    created_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_user ON messages (user_id);

-- The head of each change log. A writer bumps its row when it appends and holds the row's lock until it
-- commits, so entries become visible in sequence order (see storage.postgres.tx).
CREATE TABLE IF NOT EXISTS log_clock (log text PRIMARY KEY, pos bigint NOT NULL);
INSERT INTO log_clock VALUES ('vectors', 0), ('graph', 0) ON CONFLICT (log) DO NOTHING;

-- Change stream for the derived vector indexes: every insert/re-embed/removal of a memory row.
CREATE TABLE IF NOT EXISTS vector_log (
    seq bigint PRIMARY KEY,
    rid bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('add', 'del'))
);

-- Change stream for the graph (an outbox: applied after commit, replayed after a crash).
CREATE TABLE IF NOT EXISTS graph_log (
    seq bigint PRIMARY KEY,
    user_id text, agent_id text, run_id text,
    op text NOT NULL,
    payload text NOT NULL                      -- JSON
);
CREATE INDEX IF NOT EXISTS graph_log_user ON graph_log (user_id)
""".replace("{TRANSCRIPT_COLUMN}", TRANSCRIPT_COLUMN)  # (one definition, here and in step 2)


def statements(script: str) -> list[str]:
    """The statements of a script (separated by ';' at the end of a line; comments dropped)."""
    lines = [line.split("--", 1)[0].rstrip() for line in script.splitlines()]
    text = "\n".join(line for line in lines if line)
    return [s.strip() for s in text.split(";\n") if s.strip()]


def migrate(conn: Any, schema: str, lock: tuple[int, int], location: str) -> None:
    """Create or upgrade the schema (one transaction, under the advisory lock ``lock``); refuse a newer one.

    ``conn`` is an autocommit psycopg connection whose search_path is ``schema``."""
    from psycopg import sql

    if _version(conn, schema) == SCHEMA_VERSION:
        return  # the common case: nothing to do, no lock taken
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", lock)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        _install_btree_gin(conn, schema)
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)")
        version = _version(conn, schema)
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"the store at {location} was written by a newer memlayer (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade memlayer to open it"
            )
        if version is None:  # a new store: the current schema in one go
            for stmt in statements(SCHEMA):
                conn.execute(stmt)
            conn.execute("INSERT INTO meta VALUES ('store_id', gen_random_uuid()::text) ON CONFLICT DO NOTHING")
        else:
            for step in range(version, SCHEMA_VERSION):
                for stmt in MIGRATIONS.get(step, []):
                    conn.execute(stmt)
        conn.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE SET "
                     "value = excluded.value", (str(SCHEMA_VERSION),))


def _install_btree_gin(conn: Any, schema: str) -> None:
    """btree_gin (a trusted extension: a database owner may install it) lets one GIN index hold the scope
    columns beside the tsvector. Installed once per database, in ``public`` when the role may create there
    (so dropping one memlayer schema never takes the operator classes other schemas' indexes use), else
    in the store's own schema."""
    from psycopg import sql

    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'").fetchone():
        return
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the migration's transaction usable
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public")
            return
    except Exception:  # noqa: BLE001 - psycopg.Error: no public schema, or no privilege on it
        pass
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA {}").format(sql.Identifier(schema)))
    except Exception as exc:  # noqa: BLE001
        raise StoreError(
            f"memlayer needs PostgreSQL's btree_gin extension (shipped with PostgreSQL) and this role cannot install "
            f"it ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}); ask the database "
            "owner to run: CREATE EXTENSION btree_gin"
        ) from exc


def _version(conn: Any, schema: str) -> int | None:
    """The schema version the database holds (None when there is no memlayer schema yet)."""
    row = conn.execute("SELECT to_regclass(format('%%I.meta', %s::text))", (schema,)).fetchone()
    if row is None or row[0] is None:
        return None
    found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return None if found is None else int(found[0])
