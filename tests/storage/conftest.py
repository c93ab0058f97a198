"""The backend conformance suite runs once per store implementation.

A backend is a factory ``(tmp_path, request) -> Opener``; an opener returns a new Store object on the same
data each time it is called (so a test can close and reopen), and its ``url`` is what ``Memory(store=...)``
takes. To add a backend, add a factory to BACKENDS: every test in tests/storage runs against it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from memlayer.storage.base import Store


@dataclass
class Opener:
    url: str
    directory: str
    make: Callable[[], Store]

    def __call__(self) -> Store:
        return self.make()


def sqlite_backend(tmp_path: Path, request: pytest.FixtureRequest) -> Opener:
    from memlayer.storage.sqlite import SQLiteStore

    directory = tmp_path / "store"
    directory.mkdir()
    db = directory / "memlayer.db"
    return Opener(f"sqlite://{db}", str(directory), lambda: SQLiteStore(str(db)))


def postgres_backend(tmp_path: Path, request: pytest.FixtureRequest) -> Opener:
    """A fresh database on the session's PostgreSQL server (tests/server_fixtures.py)."""
    from memlayer.storage.postgres import PostgresStore

    url = request.getfixturevalue("postgres_url")  # a schema of its own in the session's database
    directory = tmp_path / "store"
    directory.mkdir()
    return Opener(url, str(directory), lambda: PostgresStore(url))


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Opener]] = {
    "sqlite": sqlite_backend,
    "postgresql": postgres_backend,
}
# what a backend needs to run (under CI=true a backend test that would skip fails instead)
MARKS: dict[str, list[pytest.MarkDecorator]] = {"postgresql": [pytest.mark.requires_server("postgresql")]}


@pytest.fixture(params=[pytest.param(name, marks=MARKS.get(name, [])) for name in sorted(BACKENDS)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    return BACKENDS[request.param](tmp_path, request)


@pytest.fixture
def store(backend: Opener) -> Iterator[Store]:
    s = backend()
    yield s
    s.close()


@pytest.fixture
def memory_on(backend: Opener, hash_embedder: Any) -> Iterator[Any]:
    """A Memory on the backend (no graph; the cheap embedder)."""
    from memlayer import Memory

    m = Memory(backend.directory, store=backend.url, embedder=hash_embedder, graph=False)
    yield m
    m.close()
