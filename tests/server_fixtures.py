"""pytest plugin (tests/conftest.py loads it): the real servers of tests/servers/ as fixtures.

- ``postgres_server`` (session): one PostgreSQL for the run, started on first use.
- ``postgres_dsn``: a fresh database for the test (a ``postgresql://`` URL), dropped afterwards.
- ``oxigraph_server`` (session): one Oxigraph SPARQL server for the run, started on first use.
- ``sparql_endpoints``: that server's endpoints (``SparqlEndpoints``), emptied before the test.

A test using them is marked ``requires_server("postgresql"|"oxigraph")`` automatically; a test that
needs a server by other means carries the marker itself. Locally, when a server cannot start, such a
test skips with the reason. Under ``CI=true`` that skip fails the test instead: CI never passes without
the servers. (Import optional clients such as psycopg inside tests or fixtures: a module-level skip
happens before any test exists, so it cannot be turned into a failure.)
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Generator, Iterator
from typing import TypeVar

import pytest

from tests.servers import OxigraphServer, PostgresServer, ServerUnavailable, SparqlEndpoints

SERVERS = ("postgresql", "oxigraph")
FIXTURE_SERVERS = {
    "postgres_server": "postgresql",
    "postgres_dsn": "postgresql",
    "oxigraph_server": "oxigraph",
    "sparql_endpoints": "oxigraph",
}
_started: list[PostgresServer | OxigraphServer] = []
_database_numbers = itertools.count(1)
_T = TypeVar("_T", PostgresServer, OxigraphServer)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_server(*names): needs real servers (" + ", ".join(SERVERS) + ") from tests/servers/; "
        "skips when one cannot start, except under CI=true where that skip fails",
    )


@pytest.hookimpl(tryfirst=True)  # before -m selection reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marked = {name for mark in item.iter_markers("requires_server") for name in mark.args}
        unknown = marked.difference(SERVERS)
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: requires_server({', '.join(map(repr, sorted(unknown)))}) names no known "
                f"server; use {', '.join(map(repr, SERVERS))}"
            )
        used = {FIXTURE_SERVERS[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURE_SERVERS}
        if used - marked:
            item.add_marker(pytest.mark.requires_server(*sorted(used)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and in_ci() and item.get_closest_marker("requires_server"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} needs a real server and would have skipped, which CI=true does not allow: {reason}\n"
            "Install what is missing (.ci/run does: apt-get install postgresql; the dev extra brings oxigraph)."
        )
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _started:
        started = ", ".join(f"{s.name} {s.version} in {s.startup_seconds:.2f}s" for s in _started)
        terminalreporter.write_line(f"servers started: {started}")


def _serve(server: _T) -> Iterator[_T]:
    try:
        server.start()
    except ServerUnavailable as exc:
        pytest.skip(f"{server.name} cannot start here: {exc}")
    _started.append(server)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (see tests.servers.PostgresServer)."""
    pytest.importorskip("psycopg", reason="the PostgreSQL tests use psycopg 3: pip install -e '.[postgres]'")
    yield from _serve(PostgresServer())


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new database for this test only: its ``postgresql://memlayer:…@127.0.0.1:port/name`` URL."""
    postgres_server.start()  # back up if an earlier test killed it
    slug = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())
    name = f"t{next(_database_numbers)}_{slug}"[:63]
    yield postgres_server.create_database(name)
    postgres_server.start()  # the test may have killed it
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def oxigraph_server() -> Iterator[OxigraphServer]:
    """One Oxigraph SPARQL server for the session (see tests.servers.OxigraphServer)."""
    yield from _serve(OxigraphServer())


@pytest.fixture
def sparql_endpoints(oxigraph_server: OxigraphServer) -> SparqlEndpoints:
    """The shared Oxigraph server's endpoints, with every graph dropped first."""
    oxigraph_server.start()  # back up if an earlier test killed it
    oxigraph_server.clear()
    return oxigraph_server.endpoints()
