"""memlayer.Client / AsyncClient: Memory's signatures and results over a real server; retries; errors."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from typing import Any

import httpx
import pytest

from memlayer import AsyncClient, AsyncMemory, Client, Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import (
    AuthError,
    ConfigError,
    FilterError,
    MemlayerError,
    NotFoundError,
    QueryError,
    ScopeError,
    ServerError,
)

from .conftest import KeyedServer

METHODS = ("add", "bulk_add", "search", "get", "get_all", "update", "delete", "delete_all", "history", "reset",
           "health", "scopes", "refresh", "sweep", "get_retention", "set_retention")
VOLATILE = {"id", "created_at", "updated_at", "valid_from", "valid_to", "memory_id", "seconds", "score", "similarity"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def test_same_signatures_as_memory() -> None:
    for name in METHODS:
        assert inspect.signature(getattr(Client, name)) == inspect.signature(getattr(Memory, name)), name
        assert inspect.signature(getattr(AsyncClient, name)) == inspect.signature(getattr(AsyncMemory, name)), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
        assert not inspect.iscoroutinefunction(getattr(Client, name)), name


def _script(m: Any, user: str) -> list[Any]:
    out = [
        m.add(["I like tea", "I live in Oslo"], user_id=user, infer=False, metadata={"k": 1}),
        m.add("I like tea", user_id=user, infer=False, metadata={"k": 1}),
        m.add({"role": "user", "content": "run fact"}, user_id=user, run_id="r", infer=False),
        m.search("tea", user_id=user, limit=5),
        m.search("fact", user_id=user, run_id="r", max_tokens=50, config="vector"),
        m.get_all(user_id=user, filters={"k": 1}),
        m.bulk_add([{"text": f"bulk {i}", "user_id": user} for i in range(5)], progress=False),
    ]
    first = m.get_all(user_id=user, filters={"k": 1})["results"][0]["id"]
    out += [m.get(first), m.update(first, "I like green tea", {"k": 2}), m.history(first), m.get("missing-id"),
            m.history("missing-id"), m.delete(first), m.delete_all(user_id=user), m.get_all(user_id=user)]
    return out


def test_same_results_as_memory(server: KeyedServer, tmp_path) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    with Memory(str(tmp_path / "local"), embedder=HashingEmbedder(dims=64)) as local:
        expected = _script(local, user)
    with Client(server.url, server.keys["acme"]) as client:
        got = _script(client, user)
    assert _clean(got) == _clean(expected)


async def test_async_client_same_results_and_any_loop(server: KeyedServer) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    client = AsyncClient(server.url, server.keys["acme"])
    added = await client.add("I live in Lima", user_id=user)
    assert added["results"][0]["memory"] == "User lives in Lima"
    assert (await client.search("Lima", user_id=user))["results"][0]["memory"] == "User lives in Lima"
    assert (await client.graph.relations(user_id=user))[0]["destination"] == "Lima"

    def other_loop() -> Any:  # a pooled connection belongs to its loop: another loop gets its own
        return asyncio.run(client.get_all(user_id=user))

    assert len((await asyncio.to_thread(other_loop))["results"]) == 1
    assert await client.ready()
    await client.close()


def test_graph_client(server: KeyedServer) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    with Client(server.url, server.keys["acme"]) as client:
        client.add("I work at Hooli.", user_id=user)
        assert [r["destination"] for r in client.graph.relations("Hooli", user_id=user)] == ["Hooli"]
        rows = client.graph.sparql("SELECT ?e WHERE { ?e rdfs:label ?name }", {"name": "Hooli"}, user_id=user)
        assert len(rows) == 1
        assert "Hooli" in client.graph.export("turtle", user_id=user)
        assert "User works at Hooli" in client.graph.export("jsonl", user_id=user)
        with pytest.raises(ConfigError):
            client.graph.export("xml", user_id=user)
        with pytest.raises(QueryError):
            client.graph.sparql("DELETE WHERE { ?s ?p ?o }", user_id=user)


def test_errors_are_memlayer_errors(server: KeyedServer) -> None:
    with Client(server.url, server.keys["acme"]) as client:
        with pytest.raises(NotFoundError):
            client.update("missing-id", "text")
        with pytest.raises(NotFoundError):
            client.delete("missing-id")
        with pytest.raises(ScopeError):
            client.search("x")
        with pytest.raises(FilterError):
            client.get_all(user_id="u", filters={"k": {"nope": 1}})
        with pytest.raises(ConfigError):
            client.search("x", user_id="u", as_of="not a time")
        with pytest.raises(MemlayerError, match="non-empty text"):
            client.update("any", "  ")
        with pytest.raises(AuthError, match="admin"):
            client.reset()  # a read,write key
    with Client(server.url, "mlk_000000000000_" + "A" * 43) as stranger, pytest.raises(AuthError):
        stranger.search("x", user_id="u")
    with Client(server.url) as anonymous, pytest.raises(AuthError, match="needs an API key"):
        anonymous.get_all(user_id="u")


def test_dot_ids_name_no_other_endpoint(server: KeyedServer, tmp_path) -> None:
    """"." and ".." are ids like any other: never dropped as dot segments (delete(".") was delete_all)."""
    user = f"u-{uuid.uuid4().hex[:8]}"
    with Memory(str(tmp_path / "local"), embedder=HashingEmbedder(dims=64)) as local:
        local.add("I like tea", user_id=user, infer=False)
        expected = [local.get(".", user_id=user), local.get("..", user_id=user), local.history(".", user_id=user)]
    with Client(server.url, server.keys["acme"]) as client:
        client.add(["I like tea", "I live in Oslo"], user_id=user, infer=False)
        assert [client.get(".", user_id=user), client.get("..", user_id=user),
                client.history(".", user_id=user)] == expected
        for dots in (".", ".."):
            with pytest.raises(NotFoundError, match="no memory"):
                client.delete(dots, user_id=user)
            with pytest.raises(NotFoundError, match="no memory"):
                client.update(dots, "text", user_id=user)
        assert len(client.get_all(user_id=user)["results"]) == 2


def test_bulk_add_sends_batches_and_reports_progress(server: KeyedServer) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    seen: list[tuple[int, int | None]] = []
    with Client(server.url, server.keys["acme"]) as client:
        out = client.bulk_add(({"text": f"row {i}", "user_id": user} for i in range(25)), batch_size=10,
                              progress=lambda done, total: seen.append((done, total)))
        assert (out["added"], out["records"]) == (25, 25)
        assert seen == [(10, 25), (20, 25), (25, 25)]
        assert len(client.get_all(user_id=user, limit=100)["results"]) == 25


def test_bulk_add_and_refresh_take_what_memory_takes(server: KeyedServer, tmp_path) -> None:
    """A batch_size above the server's per-request maximum, and refresh([]), answer as Memory does."""
    from memlayer.client.aclient import MAX_BULK_RECORDS
    from memlayer.server.models import BulkBody

    assert BulkBody.model_fields["batch_size"].metadata[-1].le == MAX_BULK_RECORDS
    user = f"u-{uuid.uuid4().hex[:8]}"
    records = [{"text": f"row {i}", "user_id": user} for i in range(3)]
    with Memory(str(tmp_path / "local"), embedder=HashingEmbedder(dims=64)) as local:
        expected = [local.bulk_add(records, batch_size=20_000, progress=False), local.refresh([])]
        with pytest.raises(ConfigError, match="ttl must be"):
            local.refresh([], ttl="soonish")
    with Client(server.url, server.keys["acme"]) as client:
        got = [client.bulk_add(records, batch_size=20_000, progress=False), client.refresh([])]
        with pytest.raises(ConfigError, match="ttl must be"):
            client.refresh([], ttl="soonish")
    assert _clean(got) == _clean(expected)


async def test_bulk_add_splits_a_large_batch_into_requests_the_server_takes() -> None:
    sent: list[dict[str, Any]] = []

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            import json

            body = json.loads(request.content)
            sent.append(body)
            n = len(body["records"])
            return httpx.Response(200, json={"added": n, "duplicates": 0, "records": n, "messages": n, "seconds": 0})

    client = AsyncClient("http://memlayer.test", "k", transport=Counting())
    out = await client.bulk_add([{"text": "x", "user_id": "u"}] * 10_001, batch_size=20_000, progress=False)
    assert out["added"] == 10_001
    assert [(len(b["records"]), b["batch_size"]) for b in sent] == [(10_000, 10_000), (1, 10_000)]


# -- retries, against a scripted transport ------------------------------------------------------
class Script(httpx.AsyncBaseTransport):
    def __init__(self, *answers: Any) -> None:
        self.answers, self.calls = list(answers), 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _busy(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers, json={"error": {"code": "overloaded", "message": "busy",
                                                                   "status": status}})


OK = httpx.Response(200, json={"results": []})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    real = asyncio.sleep

    async def fake(delay: float, *args: Any) -> None:
        waited.append(delay)
        await real(0)

    monkeypatch.setattr("memlayer.client.transport.asyncio.sleep", fake)
    return waited


async def test_retries_429_and_503_honouring_retry_after(sleeps: list[float]) -> None:
    script = Script(_busy(429, "2"), _busy(503, "0"), OK)
    client = AsyncClient("http://memlayer.test", "k", transport=script, retries=3)
    assert await client.get_all(user_id="u") == {"results": []}
    assert script.calls == 3 and sleeps == [2.0, 0.0]


async def test_retries_are_bounded_with_backoff(sleeps: list[float]) -> None:
    script = Script(_busy(503))
    client = AsyncClient("http://memlayer.test", "k", transport=script, retries=3, backoff=0.1)
    with pytest.raises(ServerError, match="503"):
        await client.get_all(user_id="u")
    assert script.calls == 4 and len(sleeps) == 3
    assert all(0.05 <= s / (0.1 * 2**i) <= 1.5 for i, s in enumerate(sleeps))  # exponential, with jitter


async def test_connection_failures_retry_and_other_errors_do_not(sleeps: list[float]) -> None:
    refused = httpx.ConnectError("refused")
    script = Script(refused, OK)
    assert await AsyncClient("http://memlayer.test", transport=script).get_all(user_id="u") == {"results": []}
    assert script.calls == 2
    broken = Script(httpx.Response(500, json={"error": {"code": "internal_error", "message": "boom", "status": 500}}))
    with pytest.raises(ServerError, match="boom"):
        await AsyncClient("http://memlayer.test", transport=broken).get_all(user_id="u")
    assert broken.calls == 1
    timeout = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(ServerError):
        await AsyncClient("http://memlayer.test", transport=timeout).add("x", user_id="u")
    assert timeout.calls == 1  # a write that may have arrived is never sent twice


def test_a_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        AsyncClient("localhost:8765")
