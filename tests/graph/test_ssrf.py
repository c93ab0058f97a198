"""No request leaves the process from a SPARQL query, and every query failure is a memlayer error."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from memlayer.errors import MemlayerError, ProviderError, QueryError
from memlayer.graph.query import MAX_QUERY_CHARS
from memlayer.graph.rdf import RDFGraphStore
from tests.graph.helpers import ALICE, Listener, put

REMOTE = [
    "SELECT * WHERE {{ SERVICE <{url}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SERVICE SILENT <{url}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ BIND(<{url}/sparql> AS ?svc) SERVICE ?svc {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ {{ SELECT ?s WHERE {{ OPTIONAL {{ SERVICE <{url}/> {{ ?s ?p ?o }} }} }} }} }}",
    "ASK {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <{url}/> {{ ?s ?p ?o }} }} }}",
    "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o MINUS {{ SERVICE <{url}/> {{ ?s ?p ?o }} }} }}",
    "SELECT * FROM <{url}/data.ttl> WHERE {{ ?s ?p ?o }}",
    "SELECT * FROM NAMED <{url}/data.trig> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "BASE <{url}/> SELECT * FROM <data.ttl> WHERE {{ ?s ?p ?o }}",
    "DESCRIBE ?s FROM <{url}/x> WHERE {{ ?s ?p ?o }}",
]
UPDATES = [
    "LOAD <{url}/data.ttl>",
    "INSERT DATA {{ <urn:a> <urn:b> <urn:c> }}",
    "DELETE WHERE {{ ?s ?p ?o }}",
    "DROP ALL",
    "CLEAR GRAPH <https://memlayer.dev/graph/user/alice>",
]


@pytest.mark.parametrize("template", REMOTE)
def test_remote_data_is_refused_before_any_request(
    engine_store: RDFGraphStore, listener: Listener, template: str
) -> None:
    put(engine_store, ALICE, "Sarah", "WORKS_AT", "Google")
    for scope in (ALICE, None):  # a scoped query, and the owner's
        with pytest.raises(QueryError, match="refused: (SERVICE|FROM)"):
            engine_store.sparql(template.format(url=listener.url), scope=scope)
    assert listener.connections == 0


@pytest.mark.parametrize("template", UPDATES)
def test_only_read_only_forms_are_accepted(engine_store: RDFGraphStore, listener: Listener, template: str) -> None:
    put(engine_store, ALICE, "Sarah", "WORKS_AT", "Google")
    before = engine_store.counts()
    with pytest.raises(QueryError, match="only read-only queries"):
        engine_store.sparql(template.format(url=listener.url), scope=ALICE)
    assert engine_store.counts() == before and listener.connections == 0


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("SELECT WHERE {", "SPARQL query failed"),
        ("SELECT ?x WHERE { ?x nope:p ?y }", "SPARQL query failed: .*nope"),
        ("SELECT * WHERE " + "{ " * 2000 + "}" * 2000, "SPARQL query failed"),
        ("SELECT * WHERE { ?s ?p ?o } #" + "x" * MAX_QUERY_CHARS, "more than"),
    ],
)
def test_malformed_queries_are_query_errors(engine_store: RDFGraphStore, query: str, match: str) -> None:
    with pytest.raises(QueryError, match=match):
        engine_store.sparql(query, scope=ALICE)
    with pytest.raises(QueryError, match="must be a string"):
        engine_store.sparql(b"SELECT * WHERE { ?s ?p ?o }", scope=ALICE)  # type: ignore[arg-type]


def test_bindings_of_unprojected_variables_still_work_and_stay_scoped(engine_store: RDFGraphStore) -> None:
    put(engine_store, ALICE, "Sarah", "WORKS_AT", "Google", memory_id="a1")
    rows = engine_store.sparql("SELECT ?who WHERE { ?w ml:WORKS_AT ?o . ?o rdfs:label ?org . ?w rdfs:label ?who }",
                               {"org": "Google"}, scope=ALICE)
    assert rows == [{"who": "Sarah"}]


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.end_headers()
        self.wfile.write(b'{"head": {"vars": ["x"]}, "results": {"bindings": [ {"x": ')

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def garbage_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/query"
    server.shutdown()
    server.server_close()


def test_endpoint_failures_are_memlayer_errors(garbage_endpoint: str, listener: Listener) -> None:
    broken = RDFGraphStore(store="sparql", query_endpoint=garbage_endpoint)
    with pytest.raises(QueryError, match="SPARQL query failed"):
        broken.sparql("SELECT ?x WHERE { ?x ?p ?o }")
    listener.close()  # nothing listens on that port any more
    gone = RDFGraphStore(store="sparql", query_endpoint=f"{listener.url}/query")
    with pytest.raises(ProviderError, match="could not answer"):
        gone.sparql("SELECT ?x WHERE { ?x ?p ?o }")
    with pytest.raises(MemlayerError, match="refused: SERVICE"):
        gone.sparql(f"SELECT * WHERE {{ SERVICE <{listener.url}/> {{ ?s ?p ?o }} }}", scope=ALICE)
