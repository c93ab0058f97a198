"""Fixtures for the PostgreSQL store's tests: one database for the session, a fresh schema per test.

A memlayer store lives in one PostgreSQL schema (``?schema=`` in its URL), so a test gets a store of its
own by getting a schema of its own: creating one costs ~0.4 s, a database ~2 s (CREATE DATABASE with fsync).
``postgres_url`` is such a URL; the schema is dropped after the test (the server restarted first if the test
killed it). Using it marks the test ``requires_server("postgresql")`` (through ``postgres_server``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest

from tests.servers import PostgresServer

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> str:
    """A database for the session's store tests (its DSN, without a schema)."""
    return postgres_server.create_database("memlayer_tests")


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_database: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A store URL of a schema no other test uses."""
    postgres_server.start()  # back up if an earlier test killed it
    slug = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())
    schema = f"t{next(_numbers)}_{slug}"[:63].rstrip("_")
    yield f"{postgres_database}?schema={schema}"
    postgres_server.start()  # the test may have killed it
    postgres_server.psql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', dbname="memlayer_tests")


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]
