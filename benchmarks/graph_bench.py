"""Graph pillar benchmark: write throughput and 1-2 hop query latency on the Oxigraph store.

Fills one scope's graph through the public ``RDFGraphStore.add`` (one relation per call, as the core does)
until it holds ``--triples`` triples, then times ``search`` / ``memory_ids_for`` on random people, scoped
SPARQL queries (Oxigraph's engine, and rdflib's engine when a binding is not projected), and the rewrite
that makes a forget leave the disk (``compact()``, what ``close()`` runs after a forget).
Prints a markdown table. Not a test::

    python benchmarks/graph_bench.py --triples 100000
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from importlib.metadata import version

from rdflib import Literal

from memlayer.graph.rdf import RDFGraphStore
from memlayer.graph.vocab import QUERY_PREFIXES, graph_iri
from memlayer.types import Relation, Scope

SCOPE = Scope(user_id="bench-user")


def synthetic(rng: random.Random, people: int) -> Callable[[], Relation]:
    orgs, cities, hobbies = max(people // 10, 1), max(people // 20, 1), max(people // 10, 1)

    def person() -> str:
        return f"Person {rng.randrange(people)}"

    def make() -> Relation:
        roll = rng.random()
        if roll < 0.4:
            return Relation(person(), "KNOWS", person())
        if roll < 0.6:
            return Relation(person(), "WORKS_AT", f"Org {rng.randrange(orgs)}")
        if roll < 0.8:
            return Relation(person(), "LIVES_IN", f"City {rng.randrange(cities)}")
        return Relation(person(), "LIKES", f"Hobby {rng.randrange(hobbies)}")

    return make


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object], n: int, before: Callable[[], object] | None = None) -> list[float]:
    out = []
    for _ in range(n):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=100_000, help="fill the graph to this many triples")
    parser.add_argument("--people", type=int, default=1000, help="distinct person entities")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per row")
    parser.add_argument("--path", default=None, help="store directory (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    make = synthetic(rng, args.people)
    start_time = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        store = RDFGraphStore(args.path or f"{tmp}/graph", store="oxigraph")
        relations = 0
        write_s = 0.0
        triples = store.counts()["triples"]
        while triples < args.triples:
            for _ in range(500):
                rel = make()
                at = start_time + timedelta(minutes=relations)
                began = time.perf_counter()
                store.add(SCOPE, [rel], memory_id=f"m{relations}", source_text=f"{rel.source} {rel.relationship} "
                          f"{rel.destination}", message_ids=[f"msg{relations}"], at=at)
                write_s += time.perf_counter() - began
                relations += 1
            triples = store.counts()["triples"]
        counts = store.counts()
        mid_time = start_time + timedelta(minutes=relations // 2)

        def query(hops: int = 2, as_of: datetime | None = None) -> Callable[[], object]:
            return lambda: store.search(SCOPE, f"Who does Person {rng.randrange(args.people)} know?",
                                        hops=hops, as_of=as_of, limit=20)

        def boost() -> object:
            return store.memory_ids_for(SCOPE, f"Where does Person {rng.randrange(args.people)} work?")

        for _ in range(20):  # warm-up
            query()()
        cold = store._edges.clear  # drop the neighbourhood cache (not the label index) before each query
        hot = [rng.randrange(args.people) for _ in range(20)]
        rows = [
            ("search, 2 hops, current (cold cache)", timed(query(2), args.queries, cold)),
            ("search, 2 hops, current (warm: 20 recurring people)",
             timed(lambda: store.search(SCOPE, f"Who does Person {rng.choice(hot)} know?"), args.queries)),
            ("search, 1 hop, current (cold cache)", timed(query(1), args.queries, cold)),
            ("search, 2 hops, as_of (cold cache)", timed(query(2, mid_time), args.queries, cold)),
            ("memory_ids_for, 2 hops (cold cache)", timed(boost, args.queries, cold)),
        ]
        projected = "SELECT ?st ?l WHERE { ?s rdfs:label ?l . ?st rdf:subject ?s ; rdf:predicate ml:KNOWS }"
        unprojected = "SELECT ?st WHERE { ?s rdfs:label ?l . ?st rdf:subject ?s ; rdf:predicate ml:KNOWS }"
        rows += [
            ("sparql, scoped, binding projected (Oxigraph's engine)",
             timed(lambda: store.sparql(projected, {"l": f"Person {rng.randrange(args.people)}"}, scope=SCOPE),
                   args.queries)),
            ("same query unchecked on the scope's graph via oxrdflib (the old, leaking path)",
             timed(lambda: list(store._ctx(graph_iri(SCOPE)).query(
                 projected, initNs=QUERY_PREFIXES, initBindings={"l": Literal(f"Person {rng.randrange(args.people)}")})),
                 args.queries)),
            ("sparql, scoped, binding not projected (rdflib's engine)",
             timed(lambda: store.sparql(unprojected, {"l": f"Person {rng.randrange(args.people)}"}, scope=SCOPE),
                   max(args.queries // 10, 5))),
        ]
        hits = [len(store.search(SCOPE, f"Person {i}", hops=2, limit=1000)) for i in range(50)]
        gone = Scope(user_id="forgotten-user")
        for i in range(100):
            store.add(gone, [make()], memory_id=f"g{i}", source_text=f"secret {i}", at=start_time)
        store.delete_scope(gone)
        location = store.location
        assert location is not None
        before = sum(f.stat().st_size for f in location.rglob("*") if f.is_file())
        began = time.perf_counter()
        store.compact()
        rewrite_s = time.perf_counter() - began
        after = sum(f.stat().st_size for f in location.rglob("*") if f.is_file())
        store.close()

    print(f"Graph benchmark: oxigraph store, Python {platform.python_version()}, rdflib {version('rdflib')}, "
          f"pyoxigraph {version('pyoxigraph')}, oxrdflib {version('oxrdflib')}, {platform.machine()}\n")
    print(f"Dataset: {counts['triples']:,} triples, {counts['relations']:,} reified relations "
          f"({counts['current_relations']:,} current), {counts['entities']:,} entities, one scope; "
          f"2-hop neighbourhood of a person: median {statistics.median(hits):.0f} relations\n")
    print("| operation | throughput / latency |")
    print("|---|---|")
    print(f"| add(), 1 relation per call | {relations / write_s:,.0f} relations/s "
          f"({counts['triples'] / write_s:,.0f} triples/s, {1000 * write_s / relations:.2f} ms/call) |")
    for name, ms in rows:
        print(f"| {name} | p50 {statistics.median(ms):.2f} ms, p95 {percentile(ms, 0.95):.2f} ms, "
              f"mean {statistics.fmean(ms):.2f} ms |")
    print(f"| compact() after a forget (rewrite of all {counts['triples']:,} triples) | {rewrite_s:.2f} s "
          f"({1e6 * rewrite_s / counts['triples']:.1f} µs/triple); directory {before / 1e6:.1f} MB -> "
          f"{after / 1e6:.1f} MB |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
