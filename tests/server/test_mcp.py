"""The MCP tools through the official SDK's own client: streamable HTTP on ``memlayer serve`` (bearer keys,
tenants) and stdio through ``memlayer mcp`` (a local store, the --user default)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from memlayer import Memory

from .conftest import KeyedServer
from .harness import HASH_CONFIG, ROOT, child_env

TOOLS = {"add_memory", "search_memories", "list_memories", "get_memory", "update_memory", "delete_memory",
         "memory_history", "graph_relations"}


def over_http(server: KeyedServer, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {server.keys.get(key, key)}"}, timeout=60)
    return Client(streamable_http_client(server.url + "/mcp", http_client=http))


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return str(result.content[0].text)


async def exercise(client: Client, scope: dict[str, str]) -> str:
    """Every tool once; returns the id of the memory it made (then deleted)."""
    assert {t.name for t in (await client.list_tools()).tools} == TOOLS
    added = await call(client, "add_memory", text="I live in Quito and I work at Initech.", **scope)
    ids = [r["id"] for r in added["results"]]
    found = await call(client, "search_memories", query="Where do I live?", limit=1, **scope)
    assert found["results"][0]["memory"] == "User lives in Quito"
    assert len((await call(client, "list_memories", **scope))["results"]) == 2
    assert (await call(client, "get_memory", memory_id=ids[0]))["memory"] == "User lives in Quito"
    await call(client, "update_memory", memory_id=ids[0], text="User lives in Lima")
    events = (await call(client, "memory_history", memory_id=ids[0]))["events"]
    assert [e["event"] for e in events] == ["ADD", "UPDATE"]
    relations = (await call(client, "graph_relations", query="Initech", **scope))["relations"]
    assert relations[0]["destination"] == "Initech"
    await call(client, "delete_memory", memory_id=ids[0])
    assert "no memory" in await refused(client, "get_memory", memory_id=ids[0])
    return ids[1]


async def test_every_tool_over_streamable_http_with_tenants(server: KeyedServer) -> None:
    alice = f"alice-{uuid.uuid4().hex[:6]}"
    async with over_http(server, "acme") as acme:
        kept = await exercise(acme, {"user_id": alice})
    async with over_http(server, "globex") as globex:  # same user name, another tenant: nothing of acme's
        assert (await call(globex, "search_memories", query="Initech", user_id=alice))["results"] == []
        assert "no memory" in await refused(globex, "get_memory", memory_id=kept)
        assert "no memory" in await refused(globex, "delete_memory", memory_id=kept)
        assert (await call(globex, "memory_history", memory_id=kept))["events"] == []
    async with over_http(server, "acme_read") as reader:
        assert "may not write" in await refused(reader, "add_memory", text="x", user_id=alice)
        assert (await call(reader, "get_memory", memory_id=kept))["memory"] == "User works at Initech"
    async with over_http(server, "acme") as acme:  # no scope named: the server's default user ('default')
        await call(acme, "add_memory", text="a default fact", infer=False)
        listed = await call(acme, "list_memories")
        assert [m["user_id"] for m in listed["results"]] == ["default"]
        brief = await call(acme, "add_memory", text="I am at the conference", user_id=alice, infer=False, ttl="3d")
        shown = await call(acme, "get_memory", memory_id=brief["results"][0]["id"])
        assert shown["expires_at"] is not None
        assert "ttl must be" in await refused(acme, "add_memory", text="x", user_id=alice, ttl="a while")
        assert "years 1 to 9999" in await refused(acme, "search_memories", query="x", user_id=alice,
                                                  as_of="0001-01-01T00:00:00+14:00")


def test_mcp_http_needs_a_key(server: KeyedServer) -> None:
    r = httpx.post(server.url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                   headers={"Accept": "application/json, text/event-stream"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


async def test_every_tool_over_stdio(tmp_path: Path) -> None:
    store = tmp_path / "store"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(HASH_CONFIG))
    params = StdioServerParameters(
        command=sys.executable, cwd=str(ROOT), env=child_env(),
        args=["-c", "from memlayer.cli import main; raise SystemExit(main())", "--path", str(store), "--config",
              str(config), "mcp", "--user", "alice"],
    )
    async with Client(params) as client:
        kept = await exercise(client, {})  # no scope: the --user default
        other = await call(client, "add_memory", text="bob's fact", user_id="bob", infer=False)
    with Memory(str(store), embedder=HASH_CONFIG["embedder"]) as local:  # the local store as is: no tenant prefix
        assert local.get(kept)["user_id"] == "alice"
        assert local.get(other["results"][0]["id"])["user_id"] == "bob"

