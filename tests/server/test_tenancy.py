"""Randomized cross-tenant attempts over every endpoint: a key of tenant acme names globex's scopes, ids,
prefixed forms and filters in every way we can think of; no answer may show globex's data, and globex's
memories, history and graph are exactly as seeded afterwards."""

from __future__ import annotations

import json
import os
import random
import secrets
from typing import Any

import httpx

from .conftest import KeyedServer

ROUNDS = int(os.environ.get("MEMLAYER_TENANCY_ROUNDS", "400"))
ESCAPES = [  # SPARQL that would read other graphs if it ran unscoped
    "SELECT ?o WHERE { GRAPH ?g { ?s rdfs:label ?o } }",
    "SELECT ?g WHERE { GRAPH ?g { } }",
    "SELECT ?o FROM NAMED <https://memlayer.dev/graph/user/globex%3A{u}> WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT ?o FROM <https://memlayer.dev/graph/user/globex%3A{u}> WHERE { ?s ?p ?o }",
    "SELECT ?o WHERE { GRAPH <https://memlayer.dev/graph/user/globex%3A{u}> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT ?o WHERE { { SELECT ?o WHERE { GRAPH ?g { ?s ?p ?o } } } }",
    "SELECT ?o WHERE { ?s (rdfs:label|^rdfs:label)* ?o }",
    "SELECT ?o WHERE { ?s ?p ?o }",
    "DESCRIBE ?s WHERE { ?s ?p ?o }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
]


def _victim_data(http: httpx.Client, rng: random.Random) -> dict[str, Any]:
    """Seed globex: users/agents/runs with secret tokens in text, metadata and the graph."""
    secrets_seen: list[str] = []
    scopes = [{"user_id": "u1"}, {"user_id": "u2", "agent_id": "bot"}, {"agent_id": "bot"}, {"run_id": "r1"},
              {"user_id": "u1", "run_id": "r1"}]
    for scope in scopes:
        for _ in range(2):
            token = "Zq" + secrets.token_hex(4)
            secrets_seen.append(token)
            text = rng.choice([f"I work at {token}.", f"I live in {token}.", f"My favourite food is {token}."])
            r = http.post("/v1/memories", json={"messages": text, **scope, "metadata": {"secret": token}})
            assert r.status_code == 200, r.text
    hidden = {k: "Zq" + secrets.token_hex(4) for k in ("user_id", "agent_id", "run_id")}  # ids that are secrets
    assert http.post("/v1/memories", json={"messages": "a hidden scope", **hidden, "infer": False}).status_code == 200
    secrets_seen += hidden.values()
    state = snapshot(http, scopes)
    return {"scopes": scopes, "secrets": secrets_seen, "state": state,
            "ids": [m["id"] for ms in state["memories"].values() for m in ms]}


def snapshot(http: httpx.Client, scopes: list[dict[str, str]]) -> dict[str, Any]:
    memories = {json.dumps(s): http.get("/v1/memories", params={**s, "include_expired": True, "limit": 1000}).json()["results"]
                for s in scopes}
    history = {m["id"]: http.get(f"/v1/memories/{m['id']}/history").json() for ms in memories.values() for m in ms}
    relations = {json.dumps(s): sorted(  # statement IRIs are minted anew when a graph is rebuilt: not compared
        json.dumps({k: v for k, v in r.items() if k != "statement"}, sort_keys=True)
        for r in http.get("/v1/graph/relations", params={**s, "include_expired": True}).json()["relations"])
        for s in scopes}
    return {"memories": memories, "history": history, "relations": relations}


def _scope(rng: random.Random) -> dict[str, str]:
    names = {"user_id": ["u1", "u2", "globex:u1", "globex:u2", "u1:", ":u1", "acme:globex:u1"],
             "agent_id": ["bot", "globex:bot"], "run_id": ["r1", "globex:r1"]}
    chosen = {k: rng.choice(v) for k, v in names.items() if rng.random() < 0.5}
    return chosen or {"user_id": rng.choice(names["user_id"])}


def _filters(rng: random.Random, victim: dict[str, Any]) -> dict[str, Any] | None:
    token = rng.choice(victim["secrets"])
    options: list[dict[str, Any] | None] = [
        None, {"secret": token}, {"user_id": "globex:u1"}, {"user_id": {"in": ["u1", "globex:u1", "u2"]}},
        {"OR": [{"user_id": "globex:u1"}, {"agent_id": {"ne": "x"}}]}, {"NOT": {"user_id": "nobody"}},
        {"user_id": {"contains": "globex"}}, {"agent_id": {"gte": ""}}, {"run_id": None},
    ]
    return rng.choice(options)


def attempt(http: httpx.Client, rng: random.Random, victim: dict[str, Any]) -> httpx.Response:
    victim_id = rng.choice(victim["ids"])
    scope = _scope(rng)
    token = rng.choice(victim["secrets"])
    if rng.random() < 0.4:
        scope = dict(rng.choice(victim["scopes"]))  # exactly a scope both tenants have data in
    kind = rng.randrange(14)
    if kind == 0:
        return http.post("/v1/search", json={"query": f"{token} work live food", **scope, "limit": 50,
                                             "filters": _filters(rng, victim), "include_expired": rng.random() < 0.5})
    if kind == 1:
        params = {**scope, "limit": 1000, "include_expired": str(rng.random() < 0.5).lower()}
        f = _filters(rng, victim)
        if f is not None:
            params["filters"] = json.dumps(f)
        return http.get("/v1/memories", params=params)
    if kind == 2:
        return http.get(f"/v1/memories/{victim_id}", params=scope if rng.random() < 0.5 else None)
    if kind == 3:
        return http.put(f"/v1/memories/{victim_id}", json={"text": "overwritten by acme"})
    if kind == 4:
        return http.delete(f"/v1/memories/{victim_id}")
    if kind == 5:
        return http.get(f"/v1/memories/{victim_id}/history")
    if kind == 6:
        return http.delete("/v1/memories", params=scope)
    own = "Own" + secrets.token_hex(4)  # what acme writes never holds globex's secrets (acme may read its own)
    if kind == 7:
        return http.post("/v1/memories", json={"messages": f"I work at {own}.", **scope})
    if kind == 8:
        return http.post("/v1/memories/bulk", json={"records": [{"text": f"bulk {own}", **scope}]})
    if kind == 9:
        return http.get("/v1/graph/relations", params={**scope, "query": token if rng.random() < 0.5 else "",
                                                       "include_expired": "true"})
    if kind == 10:
        query = rng.choice(ESCAPES).replace("{u}", rng.choice(["u1", "u2"]))
        return http.post("/v1/graph/sparql", json={"query": query, **scope})
    if kind == 11:
        return http.get("/v1/export", params={**scope, "format": rng.choice(["jsonl", "turtle", "trig", "json-ld",
                                                                             "nquads"]), "include_expired": "true"})
    if kind == 12:
        prefix = rng.choice([None, "", "Zq", "globex:", "globex:Zq", "u", ":", token[:3]])
        return http.get("/v1/scopes", params={} if prefix is None else {"prefix": prefix, "limit": 100_000})
    return http.get("/v1/memories", params={"user_id": "u1", "filters": json.dumps({"secret": token})})


def test_no_cross_tenant_leak_over_every_endpoint(server: KeyedServer) -> None:
    seed = int(os.environ.get("MEMLAYER_TENANCY_SEED", secrets.randbelow(10**6)))
    rng = random.Random(seed)
    with server.http("globex") as globex, server.http("acme") as acme, server.http("acme_admin") as admin:
        victim = _victim_data(globex, rng)
        for scope in victim["scopes"]:  # acme has data in the same-named scopes (so graph queries have graphs)
            assert acme.post("/v1/memories", json={"messages": f"I live in Own{secrets.token_hex(4)}.", **scope}).is_success
        forbidden = victim["secrets"] + victim["ids"]
        statuses: dict[int, int] = {}
        for i in range(ROUNDS):
            response = attempt(acme, rng, victim)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"seed {seed}, round {i}: {response.status_code} {response.text}"
            sent = str(response.request.url) + response.request.content.decode("utf-8", "replace")
            leaked = [s for s in forbidden if s in response.text and s not in sent]  # an echo of the request is not a leak
            assert not leaked, f"seed {seed}, round {i}: {response.request.method} {response.request.url} leaked {leaked}"
            if response.request.method in ("PUT", "DELETE") and "/v1/memories/" in str(response.request.url):
                assert response.status_code == 404, response.text  # another tenant's id: not found, as a missing one
            if str(response.request.url.path).endswith("/history"):
                assert response.json() == []
        assert snapshot(globex, victim["scopes"]) == victim["state"], f"seed {seed}: globex's data changed"
        assert admin.post("/v1/reset").status_code == 200  # acme forgets everything it has: globex keeps all
        assert snapshot(globex, victim["scopes"]) == victim["state"], f"seed {seed}: acme's reset reached globex"
        assert statuses.get(200, 0) > ROUNDS // 3, statuses  # the attempts were mostly well-formed calls
