"""Real servers for tests and benchmarks: PostgreSQL and the Oxigraph SPARQL server.

Each server lives in its own temporary directory, listens on a free 127.0.0.1 port and is stopped (its
directory removed) when the ``with`` block ends, or at interpreter exit::

    with PostgresServer() as pg:
        dsn = pg.create_database("demo")      # postgresql://memlayer:<password>@127.0.0.1:<port>/demo
        pg.kill(); pg.restart()               # the database goes away, then comes back (WAL recovery)
    with OxigraphServer() as ox:
        ox.update("INSERT DATA { <urn:s> <urn:p> <urn:o> }")
        ox.query("SELECT * WHERE { ?s ?p ?o }")["results"]["bindings"]

From a benchmark run as ``python benchmarks/x.py``, put the repository root on ``sys.path`` first.
Modules: ``process`` (the lifecycle every server shares), ``postgres``, ``oxigraph``; the pytest
fixtures are in tests/server_fixtures.py. Standard library only, so benchmarks and ``python3 -m
tests.servers prepare`` (used by .ci/run) work without pytest or the project installed. Whatever keeps
a server from starting raises ServerUnavailable, whose message says why (with the end of the server's
log) and what to install; a request a server refuses raises ServerError.
"""

from tests.servers.oxigraph import OxigraphServer, SparqlEndpoints, find_oxigraph
from tests.servers.postgres import PostgresServer, find_postgres_bindir, unprivileged_user
from tests.servers.process import ServerError, ServerProcess, ServerUnavailable, free_port

__all__ = [
    "OxigraphServer",
    "PostgresServer",
    "ServerError",
    "ServerProcess",
    "ServerUnavailable",
    "SparqlEndpoints",
    "find_oxigraph",
    "find_postgres_bindir",
    "free_port",
    "unprivileged_user",
]
