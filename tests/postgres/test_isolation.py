"""Tenant isolation on PostgreSQL, randomized exactly as tests/reliability/test_isolation.py does for SQLite:
random scopes (hostile ids included), metadata and filter trees against the pure-Python oracle, through
get_all and search; update() never moves a memory to another scope."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import MemlayerError
from memlayer.filters import SCOPE_FIELDS, TIME_FIELDS
from tests.reliability.oracle import in_scope, matches
from tests.reliability.test_isolation import USERS, Corpus, _fill, _rows, filters, metadata, scopes
from tests.servers import PostgresServer

pytestmark = pytest.mark.requires_server("postgresql")


def _schema_url(database: str) -> str:
    return f"{database}?schema=iso_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def pg_corpus(postgres_server: PostgresServer, postgres_database: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    url = _schema_url(postgres_database)
    rows = _rows(seed=20240607, count=160)
    mem = Memory(str(tmp_path_factory.mktemp("pg-isolation")), store=url, embedder=HashingEmbedder(64), graph=False)
    _fill(mem, rows)
    yield Corpus(mem, rows)
    mem.close()
    postgres_server.psql(f"DROP SCHEMA IF EXISTS {url.rsplit('=', 1)[1]} CASCADE", dbname="memlayer_tests")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scope=scopes, flt=st.one_of(st.none(), filters))
def test_filters_and_scopes_agree_with_the_oracle(pg_corpus: Corpus, scope: dict[str, Any],
                                                  flt: dict[str, Any] | None) -> None:
    mem, rows = pg_corpus.mem, pg_corpus.rows
    expected = {r["id"] for r in rows if in_scope(r, scope) and (flt is None or matches(r, flt))}
    got = mem.get_all(**scope, filters=flt, limit=1000)["results"]
    assert {r["id"] for r in got} == expected, f"get_all({scope}, filters={flt})"
    found = mem.search("red tags cats", **scope, filters=flt, limit=1000)["results"]
    assert {r["id"] for r in found} == expected, f"search({scope}, filters={flt})"
    for r in [*got, *found]:
        assert in_scope(r, scope), f"{r['id']} of {r['user_id']}/{r['agent_id']}/{r['run_id']} leaked into {scope}"


@pytest.fixture(scope="module")
def pg_updatable(postgres_server: PostgresServer, postgres_database: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    url = _schema_url(postgres_database)
    rows = _rows(seed=7, count=30)
    mem = Memory(str(tmp_path_factory.mktemp("pg-updates")), store=url, embedder=HashingEmbedder(64), graph=False)
    _fill(mem, rows)
    yield Corpus(mem, rows)
    mem.close()
    postgres_server.psql(f"DROP SCHEMA IF EXISTS {url.rsplit('=', 1)[1]} CASCADE", dbname="memlayer_tests")


@settings(max_examples=100, deadline=None)
@given(pick=st.integers(min_value=0, max_value=29), meta=metadata, other=st.sampled_from(USERS))
def test_update_never_moves_a_memory_to_another_scope(pg_updatable: Corpus, pick: int, meta: dict[str, Any],
                                                      other: str) -> None:
    """Metadata keys are arbitrary text here (NUL included): stored exactly, filtered by exactly."""
    mem, rows = pg_updatable.mem, pg_updatable.rows
    row = rows[pick]
    before = mem.get(row["id"])
    try:
        mem.update(row["id"], f"updated text {pick}", metadata=meta)
    except MemlayerError:
        assert mem.get(row["id"]) == before, "a refused update changed the memory"
        return
    after = mem.get(row["id"])
    assert after is not None and after["metadata"] == meta
    assert (after["user_id"], after["agent_id"], after["run_id"]) == (row["user_id"], row["agent_id"], row["run_id"])
    for key, value in meta.items():  # every stored key and scalar value is found again by an exact filter
        if isinstance(value, (dict, list)) or key in ("", "AND", "OR", "NOT", *SCOPE_FIELDS, *TIME_FIELDS):
            continue
        scope = {"user_id": row["user_id"], "agent_id": row["agent_id"], "run_id": row["run_id"]}
        hits = mem.get_all(**scope, filters={key: {"in": [value]}}, limit=100)["results"]
        assert row["id"] in {r["id"] for r in hits}, (key, value)
    if other != row["user_id"]:
        seen = mem.search(f"updated text {pick}", user_id=other, limit=1000)["results"]
        seen += mem.get_all(user_id=other, filters={"user_id": row["user_id"]}, limit=1000)["results"]
        assert row["id"] not in {r["id"] for r in seen}
