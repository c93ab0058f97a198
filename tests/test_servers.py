"""Smoke tests of the real servers the tests start (tests/servers/) and of their pytest plugin.

One PostgreSQL and one Oxigraph server serve the whole session; psycopg is imported inside the tests
(see tests/server_fixtures.py for why).
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import OxigraphServer, PostgresServer, ServerUnavailable, SparqlEndpoints
from tests.servers.process import _alive

ROOT = Path(__file__).resolve().parent.parent
ALL_GRAPHS_EMPTY = "ASK { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"


# --- PostgreSQL -------------------------------------------------------------------------------------


def test_postgres_runs_unprivileged_with_test_settings(postgres_server: PostgresServer) -> None:
    assert postgres_server.process is not None
    owner = postgres_server.data_dir.stat().st_uid
    if os.geteuid() == 0:  # PostgreSQL refuses root: it runs as postgres (or memlayer-pg)
        assert owner != 0 and pwd.getpwuid(owner).pw_name in {"postgres", "memlayer-pg"}
    else:
        assert owner == os.geteuid()
    if Path("/proc").is_dir():
        assert Path(f"/proc/{postgres_server.process.pid}").stat().st_uid == owner
    settings = postgres_server.psql(
        "SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('max_connections')"
    )
    assert settings.strip() == "on|on|200"


def test_dsn_is_a_password_url_that_connects(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    import psycopg

    match = re.fullmatch(r"postgresql://memlayer:(\w+)@127\.0\.0\.1:(\d+)/(\w+)", postgres_dsn)
    assert match and int(match[2]) == postgres_server.port
    with psycopg.connect(postgres_dsn) as conn:
        user, db, superuser = conn.execute(
            "SELECT current_user, current_database(), rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()  # type: ignore[misc]
    assert (user, db, superuser) == ("memlayer", match[3], False)
    wrong = postgres_dsn.replace(match[1], "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)


def test_databases_are_isolated_and_dropped(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    import psycopg
    from psycopg_pool import ConnectionPool

    other = postgres_server.create_database("t_isolation_other")
    try:
        with psycopg.connect(postgres_dsn) as conn:
            conn.execute("CREATE TABLE notes (body text)")
            conn.execute("INSERT INTO notes VALUES ('only here')")
        with ConnectionPool(other, min_size=1, max_size=2) as pool, pool.connection() as conn:
            assert conn.execute("SELECT to_regclass('notes')").fetchone() == (None,)
        with psycopg.connect(postgres_dsn) as conn:
            assert conn.execute("SELECT body FROM notes").fetchall() == [("only here",)]
    finally:
        postgres_server.drop_database("t_isolation_other")
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(other, connect_timeout=5)
    with pytest.raises(ValueError, match="database name"):
        postgres_server.create_database('x"; DROP DATABASE postgres; --')


def test_kill_then_restart_keeps_committed_rows(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE acked (n int)")
        conn.execute("INSERT INTO acked VALUES (1)")
    survivor = psycopg.connect(postgres_dsn)
    backend = int(survivor.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
    port = postgres_server.port
    postgres_server.kill()
    assert not postgres_server.running
    assert not _alive(backend)  # killed with the server, not left to notice its postmaster's death
    with pytest.raises(psycopg.OperationalError):
        survivor.execute("SELECT 1")  # its connection went away with the server
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_dsn, connect_timeout=2)
    survivor.close()
    postgres_server.restart()  # crash recovery from the WAL
    assert postgres_server.port == port
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT n FROM acked").fetchall() == [(1,)]
    postgres_server.restart()  # a clean (fast) shutdown and start
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT n FROM acked").fetchall() == [(1,)]


# --- Oxigraph ---------------------------------------------------------------------------------------


def test_oxigraph_answers_query_update_and_store(oxigraph_server: OxigraphServer,
                                                 sparql_endpoints: SparqlEndpoints) -> None:
    assert sparql_endpoints.query_endpoint == oxigraph_server.base_url + "/query"
    assert sparql_endpoints.config() == {"query_endpoint": oxigraph_server.query_endpoint,
                                         "update_endpoint": oxigraph_server.update_endpoint}
    assert oxigraph_server.query(ALL_GRAPHS_EMPTY)["boolean"] is False  # emptied for this test
    oxigraph_server.update('INSERT DATA { <urn:a> <urn:says> "hi" . GRAPH <urn:g> { <urn:b> <urn:says> "yo" } }')
    rows = oxigraph_server.query("SELECT ?o WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } } ORDER BY ?o")
    assert [row["o"]["value"] for row in rows["results"]["bindings"]] == ["hi", "yo"]
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(sparql_endpoints.store_endpoint + "?graph=urn:g", timeout=10) as reply:
        assert b"<urn:b>" in reply.read()
    oxigraph_server.clear()
    assert oxigraph_server.query(ALL_GRAPHS_EMPTY)["boolean"] is False


def test_oxigraph_kill_then_restart_keeps_data(oxigraph_server: OxigraphServer,
                                               sparql_endpoints: SparqlEndpoints) -> None:
    oxigraph_server.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
    oxigraph_server.kill()
    with pytest.raises(urllib.error.URLError):
        oxigraph_server.query("ASK { ?s ?p ?o }")
    oxigraph_server.restart()
    assert oxigraph_server.query("ASK { <urn:a> <urn:b> <urn:c> }")["boolean"] is True


# --- set-up failures and the CI rule ---------------------------------------------------------------


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    pg = PostgresServer(bindir=tmp_path, dir=tmp_path)
    with pytest.raises(ServerUnavailable, match="has no initdb"):
        pg.start()
    assert pg.root is None and list(tmp_path.iterdir()) == []  # nothing left behind
    with pytest.raises(ServerUnavailable, match="pip install oxigraph"):
        OxigraphServer(binary=tmp_path / "oxigraph", dir=tmp_path).start()


@pytest.mark.requires_server("postgresql")
def test_prepare_command_finds_postgres_for_ci() -> None:
    """.ci/run installs PostgreSQL when this command fails, and relies on it to create the user."""
    run = [sys.executable, "-m", "tests.servers"]
    done = subprocess.run([*run, "prepare"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 1:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    assert re.match(r"postgresql: PostgreSQL \d+ in /\S+", done.stdout)
    assert ("as root, servers run as" in done.stdout) == (os.geteuid() == 0)
    assert subprocess.run([*run, "nonsense"], cwd=ROOT, capture_output=True).returncode == 2


INNER_TESTS = """
import pytest

@pytest.fixture
def postgres_dsn():
    pytest.skip("no PostgreSQL here")

def test_uses_a_server_fixture(postgres_dsn):
    pass

@pytest.mark.requires_server("oxigraph")
def test_marked(): pytest.skip("no Oxigraph here")

def test_ordinary_skip(): pytest.skip("unrelated to servers")

@pytest.mark.requires_server("postgresql")
@pytest.mark.xfail(reason="a known failure")
def test_expected_failure(): assert False

@pytest.mark.requires_server("postgresql")
def test_passes(): pass
"""


def test_ci_turns_server_test_skips_into_failures(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only our plugin: fast, isolated
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "tests.server_fixtures").assert_outcomes(skipped=3, xfailed=1, passed=1)

    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "tests.server_fixtures", "-rfE")
    # The fixture's skip fails the set-up (an error), the marked test's skip fails the test.
    result.assert_outcomes(errors=1, failed=1, skipped=1, xfailed=1, passed=1)
    result.stdout.fnmatch_lines(["*test_uses_a_server_fixture*CI=true does not allow*no PostgreSQL here*"])
    result.stdout.fnmatch_lines(["*test_marked*CI=true does not allow*no Oxigraph here*"])
    # The fixture's marker is there before -m reads it: deselecting server tests still works.
    deselected = pytester.runpytest("-p", "tests.server_fixtures", "-m", "not requires_server")
    deselected.assert_outcomes(skipped=1, deselected=4)


def test_an_unknown_server_name_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_inner="import pytest\n\n@pytest.mark.requires_server('mysql')\ndef test_x(): pass\n")
    result = pytester.runpytest("-p", "tests.server_fixtures")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*requires_server('mysql') names no known server*"])
