"""The graph on a SPARQL endpoint, shared by every process of a PostgreSQL store: the outbox is applied
exactly once — one applier at a time (the store's applier lock, freed when its holder is killed), idempotent
writes, the watermark in PostgreSQL — and a forget reaches the endpoint whoever applies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from tests.postgres.child import open_memory
from tests.postgres.hosts import spawn
from tests.reliability.helpers import child_env, graph_memory_ids
from tests.servers import OxigraphServer, SparqlEndpoints

STATEMENTS = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX ml: <https://memlayer.dev/ns#>
SELECT ?g ?s ?p ?o ?vf WHERE { GRAPH ?g { ?st a rdf:Statement ; rdf:subject ?s ; rdf:predicate ?p ;
                                           rdf:object ?o ; ml:validFrom ?vf } }
"""

STUCK = """
import sys, time
from memlayer.graph.rdf import RDFGraphStore
from tests.postgres.child import open_memory

real_add = RDFGraphStore.add
def stuck_add(self, *args, **kwargs):
    print("APPLYING", flush=True)
    time.sleep(120)
RDFGraphStore.add = stuck_add
mem = open_memory(sys.argv[1], sys.argv[2], {"provider": "sparql", "config": {"query_endpoint": sys.argv[3],
                                                                              "update_endpoint": sys.argv[4]}})
mem.add("I like stuckthing", user_id="main")
"""


def statements(server: OxigraphServer) -> Counter[tuple[str, ...]]:
    rows = server.query(STATEMENTS)["results"]["bindings"]
    return Counter(tuple(r[k]["value"] for k in ("g", "s", "p", "o", "vf")) for r in rows)


def test_the_outbox_is_applied_once_by_many_processes_and_a_killed_applier(
        tmp_path: Path, postgres_url: str, sparql_endpoints: SparqlEndpoints, oxigraph_server: OxigraphServer) -> None:
    graph = {"provider": "sparql", "config": sparql_endpoints.config()}
    ends = sparql_endpoints.config()
    # 1. an applier killed while it holds the applier lock, its entry committed but not applied
    stuck = subprocess.Popen([sys.executable, "-c", STUCK, str(tmp_path / "stuck"), postgres_url,
                              ends["query_endpoint"], ends["update_endpoint"]], stdout=subprocess.PIPE, text=True,
                             env=child_env())
    assert stuck.stdout is not None and stuck.stdout.readline().strip() == "APPLYING"
    with open_memory(str(tmp_path / "main"), postgres_url, graph) as main:
        blocked = main.async_memory.engine.graph
        assert blocked is not None
        stuck.kill()
        stuck.wait()
        # 2. three processes write (and apply) at once while this one adds and searches too
        workers = [spawn("writer.py", str(tmp_path / f"w{i}"), postgres_url, json.dumps(graph), "work",
                         str(i), "25", stdin=subprocess.PIPE) for i in range(3)]
        for w in workers:
            assert w.stdout is not None and w.stdout.readline() == "READY\n"
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        mine = [main.add(f"I like mainthing{i}", user_id="main")["results"][0]["id"] for i in range(5)]
        for w in workers:
            out, err = w.communicate(timeout=300)
            assert w.returncode == 0, err[-3000:]
            assert "BAD" not in out, out
        blocked.catch_up()
        store = main.async_memory.store
        assert blocked.health()["behind"] == 0 and blocked.health()["ok"]
        counted = statements(oxigraph_server)
        duplicated = {k: n for k, n in counted.items() if n > 1}
        assert not duplicated, f"relations applied more than once: {duplicated}"
        memory_ids = {r[0] for r in store.query("SELECT id FROM memories")}
        stuck_id = store.query("SELECT id FROM memories WHERE text = 'I like stuckthing'")
        assert stuck_id and stuck_id[0][0] in graph_memory_ids(main), "the killed applier's entry was never applied"
        assert set(mine) <= graph_memory_ids(main) and graph_memory_ids(main) == memory_ids
        deleted = store.query("SELECT count(*) FROM graph_log WHERE op = 'forget_memory'")[0][0]
        assert deleted and sum(counted.values()) == len(memory_ids), "one statement per memory, none of a deleted one"
        # 3. replaying the whole outbox (as after a crash between applying and saving the watermark) changes
        #    nothing: graph writes are idempotent
        store.set_meta("projection.graph.watermark", "0")
        blocked.catch_up()
        assert statements(oxigraph_server) == counted


def test_forgetting_reaches_the_shared_graph_whoever_applies(tmp_path: Path, postgres_url: str,
                                                             sparql_endpoints: SparqlEndpoints,
                                                             oxigraph_server: OxigraphServer) -> None:
    graph = {"provider": "sparql", "config": sparql_endpoints.config()}
    with open_memory(str(tmp_path / "a"), postgres_url, graph) as a, \
            open_memory(str(tmp_path / "b"), postgres_url + "&pool_max=4", graph) as b:
        errors: list[BaseException] = []

        def keep_writing() -> None:
            try:
                for i in range(15):
                    b.add(f"I like bystander{i}", user_id="bystander")
            except BaseException as exc:
                errors.append(exc)

        for i in range(5):
            a.add(f"I like qzvsecret{i}", user_id="victim")
        writer = threading.Thread(target=keep_writing)
        writer.start()
        assert a.delete_all(user_id="victim")["deleted"] == 5
        writer.join(120)
        assert not errors, errors
        for m in (a, b):
            assert m.search("qzvsecret1", user_id="victim")["relations"] == []
            assert m.search("bystander3", user_id="bystander")["relations"]
        dump = str(oxigraph_server.query("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"))
        assert "qzvsecret" not in dump and "victim" not in dump
        assert sum(1 for k in statements(oxigraph_server) if "bystander" in k[3]) == 15
