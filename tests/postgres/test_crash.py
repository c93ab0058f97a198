"""kill -9 of a writer on a PostgreSQL store at random moments, round after round.

After every kill a checker opens the writer's own directory (its FAISS snapshots: loaded, verified, replayed)
and compares with a model of what the writer acknowledged: every acknowledged memory is present with exactly
its text and searchable, the one in-flight operation was applied entirely or not at all, the vector index
holds exactly the store's rows with the store's vectors, and — with the graph on a SPARQL endpoint — every
acknowledged memory's relation reached the graph and nothing the store no longer holds is left in it.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path
from typing import Any

from tests.postgres.child import open_memory
from tests.postgres.hosts import DENSE, audit_vectors, spawn
from tests.reliability.helpers import graph_memory_ids
from tests.reliability.test_crash import Model
from tests.servers import SparqlEndpoints


def _resolve_in_flight(store: Any, model: Model, op: str, args: dict[str, Any], infer: bool) -> bool:
    """Was the operation running at the kill committed? Fold it into the model if so."""
    if op == "add":
        rows = store.query("SELECT id FROM messages WHERE user_id = %s AND content = %s", (args["user"], args["text"]))
        if not rows:
            return False
        events = store.query("SELECT memory_id, event, new_memory FROM history WHERE %s = ANY(message_ids) ORDER BY seq",
                             (rows[0][0],))
        model.add_results(args["user"], [{"id": m, "event": e, "memory": t} for m, e, t in events], infer)
        return True
    current = store.get(args["id"])
    if op == "update" and current is not None and current.memory == args["text"]:
        model.apply(op, args, infer)
        return True
    if op == "delete" and current is None:
        model.apply(op, args, infer)
        return True
    return False


def _settled(url: str, timeout: float = 15.0) -> None:
    """Wait until no memlayer session of the database is still working: the server finishes a COMMIT it
    received even when the client that sent it was just killed, so looking for the in-flight operation
    before that session is done can miss a write that then commits (seen on a loaded machine)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = 'memlayer' AND state IN ('active', 'idle in transaction')").fetchone()
            if not busy or not busy[0]:
                return
            time.sleep(0.05)


def _check(directory: Path, url: str, graph: Any, model: Model, recent: list[str], rng: random.Random) -> None:
    with open_memory(str(directory), url, graph) as mem:
        store = mem.async_memory.store
        current = {r[0]: (r[1], r[2]) for r in store.query("SELECT id, user_id, text FROM memories WHERE valid_to IS NULL")}
        assert current == model.live, "current memories differ from what was acknowledged"
        assert {r[0] for r in store.query("SELECT id FROM memories WHERE valid_to IS NOT NULL")} == model.expired
        vectors = mem.async_memory.vectors
        vectors.catch_up()
        audit_vectors(store, [int(i) for i in vectors.index.ids()], vectors.index)
        for mid in [i for i in recent if i in model.live] + rng.sample(sorted(model.live), min(6, len(model.live))):
            user, text = model.live[mid]
            hits = mem.search(text, user_id=user, limit=5, config=DENSE)["results"]
            assert mid in {r["id"] for r in hits}, f"{mid} ({text!r}) unsearchable"
        if graph is not False:
            in_graph = graph_memory_ids(mem)
            assert not (model.infer_ids & set(model.live)) - in_graph, "an acknowledged memory's relation is missing"
            assert in_graph <= {r[0] for r in store.query("SELECT id FROM memories")}, "the graph kept a deleted memory"
            assert mem.async_memory.engine.graph.health()["behind"] == 0  # type: ignore[union-attr]


def _run(tmp_path: Path, url: str, graph: Any, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    directory = tmp_path / "writer"  # the same directory every round: its snapshots outlive the kills
    model = Model()
    live_file = tmp_path / "live.json"
    infer = graph is not False
    acks = early = committed_in_flight = waited = 0
    for round_no in range(rounds):
        live_file.write_text(json.dumps([[i, u, t] for i, (u, t) in model.live.items()]))
        child = spawn("writer.py", str(directory), url, json.dumps(graph), "crash", str(seed * 100 + round_no),
                      str(live_file))
        assert child.stdout is not None
        seen: list[str] = []  # lines read before the kill
        roll = rng.random()
        if roll < 0.2:  # sometimes while it opens: recovery, snapshot loading, catching up
            time.sleep(rng.uniform(0.3, 1.5))
            early += 1
        else:
            line = child.stdout.readline()
            assert line == "READY\n", f"{line!r} {child.stderr.read() if child.stderr else ''}"
            if roll < 0.6:  # at a moment of the clock (a loaded machine may see no write acknowledged)
                time.sleep(rng.uniform(0.05, 1.5 if infer else 0.4))
            else:  # after a few acknowledged writes (whatever the machine's load), within the next ones
                wanted = rng.randint(1, 6)
                while sum(s.startswith("ACK ") for s in seen) < wanted:
                    seen.append(child.stdout.readline())
                    assert seen[-1], f"the writer died: {child.stderr.read() if child.stderr else ''}"
                waited += wanted
                time.sleep(rng.uniform(0.0, 0.2))
        child.send_signal(signal.SIGKILL)
        out = "".join(seen) + child.stdout.read()
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        pending: tuple[str, dict[str, Any]] | None = None
        recent: list[str] = []
        for raw in out.splitlines(keepends=True):
            if not raw.endswith("\n"):
                break  # the line the kill cut short
            kind, _, rest = raw.strip().partition(" ")
            assert kind != "MISS", f"an acknowledged memory was not found by search: {rest}"
            op, _, payload = rest.partition(" ")
            if kind == "BEGIN":
                pending = (op, json.loads(payload))
            elif kind == "ACK":
                args = json.loads(payload)
                model.apply(op, args, infer)
                recent += [r["id"] for r in args.get("results", [])] or [args.get("id", "")]
                pending, acks = None, acks + 1
        if pending is not None:
            from memlayer.storage.postgres import PostgresStore

            _settled(url)
            peek = PostgresStore(url)
            try:
                committed_in_flight += _resolve_in_flight(peek, model, *pending, infer)
            finally:
                peek.close()
        _check(directory, url, graph, model, recent, rng)
    assert waited > 0 and acks >= waited, f"only {acks} acknowledged operations, {waited} were seen"
    print(f"\n{rounds} kill -9 rounds ({early} during start-up), {acks} acknowledged operations, "
          f"{committed_in_flight} in-flight operations found committed, {len(model.live)} live memories")


def test_kill9_writer_verbatim_adds(tmp_path: Path, postgres_url: str) -> None:
    _run(tmp_path, postgres_url, False, rounds=12, seed=11)


def test_kill9_writer_with_the_graph_on_a_sparql_endpoint(tmp_path: Path, postgres_url: str,
                                                         sparql_endpoints: SparqlEndpoints) -> None:
    _run(tmp_path, postgres_url, {"provider": "sparql", "config": sparql_endpoints.config()}, rounds=10, seed=12)
