"""The endpoints the memory browser reads beyond Memory's calls: a tenant's scopes with counts
(``GET /v1/scopes``, ``Client.scopes``) and the search presets (``GET /v1/search/presets``)."""

from __future__ import annotations

import uuid

import pytest

from memlayer import AsyncClient, Client
from memlayer.errors import AuthError, ScopeError
from memlayer.search.config import PRESETS

from .conftest import KeyedServer


def test_scopes_lists_the_tenants_users_agents_and_runs_with_counts(server: KeyedServer) -> None:
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    with server.http("acme") as acme, server.http("globex") as globex:
        for body in ({"messages": "I live in Oslo.", "user_id": alice, "agent_id": f"bot-{tag}",
                      "timestamp": "2025-01-10T09:00:00Z"},
                     {"messages": "I live in Bergen.", "user_id": alice, "agent_id": f"bot-{tag}",
                      "timestamp": "2025-03-15T12:00:00Z"},
                     {"messages": "note", "user_id": bob, "run_id": f"run-{tag}", "infer": False}):
            assert acme.post("/v1/memories", json=body).status_code == 200
        assert globex.post("/v1/memories", json={"messages": "globex secret", "user_id": f"carol-{tag}",
                                                 "agent_id": f"bot-{tag}", "infer": False}).status_code == 200

        listed = acme.get("/v1/scopes", params={"prefix": alice[:-2]}).json()
        assert listed["users"] == [{"id": alice, "memories": 1, "closed": 1, "expired": 0, "first_at": "2025-01-10T09:00:00+00:00",
                                    "last_at": listed["users"][0]["last_at"]}]
        everything = acme.get("/v1/scopes", params={"limit": 100_000}).json()
        users = {s["id"]: s for s in everything["users"]}
        assert {alice, bob} <= set(users) and f"carol-{tag}" not in users
        assert all(":" not in s["id"] for kind in everything.values() for s in kind)  # no tenant prefix shows
        bots = [s for s in everything["agents"] if s["id"] == f"bot-{tag}"]
        assert [(s["memories"], s["closed"]) for s in bots] == [(1, 1)]  # globex's bot-… is not counted
        assert f"run-{tag}" in {s["id"] for s in everything["runs"]}
        theirs = globex.get("/v1/scopes", params={"prefix": f"carol-{tag}"}).json()
        assert [(s["id"], s["memories"]) for s in theirs["users"]] == [(f"carol-{tag}", 1)]
        for probe in (f"globex:carol-{tag}", "globex:", f"carol-{tag}"):  # acme cannot reach them by any prefix
            assert acme.get("/v1/scopes", params={"prefix": probe}).json() == {"users": [], "agents": [], "runs": []}
        assert acme.get("/v1/scopes", params={"prefix": alice, "limit": 0}).json()["users"] == []


def test_scopes_errors(server: KeyedServer) -> None:
    with server.http() as anonymous:
        assert anonymous.get("/v1/scopes").status_code == 401
    with server.http("acme_write") as writer:
        assert writer.get("/v1/scopes").status_code == 403  # listing is a read
    with server.http("acme_read") as reader:
        assert reader.get("/v1/scopes", params={"limit": -1}).status_code == 422
        assert reader.get("/v1/scopes", params={"prefix": "x" * 513}).status_code == 422
        assert reader.get("/v1/scopes", params={"prefixes": "a"}).status_code == 422
        bad = reader.get("/v1/scopes?prefix=a%00")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_scope", bad.text


def test_search_presets(server: KeyedServer) -> None:
    with server.http("acme_read") as reader:
        body = reader.get("/v1/search/presets").json()
    assert set(body["presets"]) == set(PRESETS)
    assert body["presets"]["vector"]["lexical_weight"] == 0.0
    with server.http() as anonymous:
        assert anonymous.get("/v1/search/presets").status_code == 401


def test_client_scopes_and_presets(server: KeyedServer) -> None:
    user = f"client-{uuid.uuid4().hex[:8]}"
    with Client(server.url, api_key=server.keys["acme"]) as client:
        client.add("I like tea", user_id=user, infer=False)
        listed = client.scopes(prefix=user)
        assert [(s["id"], s["memories"], s["closed"]) for s in listed["users"]] == [(user, 1, 0)]
        assert listed["agents"] == [] and listed["runs"] == []
        assert set(client.search_presets()) == set(PRESETS)
        with pytest.raises(ScopeError):
            client.scopes(prefix="a\x00")
    with Client(server.url, api_key="mlk_not-a-key", retries=0) as stranger, pytest.raises(AuthError):
        stranger.scopes()


async def test_async_client_scopes(server: KeyedServer) -> None:
    async with AsyncClient(server.url, api_key=server.keys["globex"]) as client:
        found = await client.scopes(prefix="nobody-has-this-id")
        assert found == {"users": [], "agents": [], "runs": []}
