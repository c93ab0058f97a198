"""The memory operations as MCP tools (the official ``mcp`` SDK), over streamable HTTP or stdio.

Tools: add_memory, search_memories, list_memories, get_memory, update_memory, delete_memory,
memory_history, graph_relations. Over HTTP (``/mcp`` on ``memlayer serve``) a call carries the same bearer
key as the REST API and runs in that key's tenant; over stdio (``memlayer mcp``) it runs on the local store
as is. A call that names no user, agent or run uses the server's default user (``--user``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from .. import __version__
from ..errors import MemlayerError
from .auth import Authenticator, Principal
from .errors import ApiError, error_response, from_exception
from .service import MemoryService
from .tenancy import LOCAL

T = TypeVar("T")
PRINCIPAL_KEY = "memlayer.principal"
INSTRUCTIONS = (
    "Long-term memory. Save durable facts about the user with add_memory; before answering, look for what you "
    "already know with search_memories. Memories are per user (user_id), agent or run; leave them out to use "
    "the default user."
)


@dataclass
class Runtime:
    """What the tools run against: the service, how to run an operation, and the default user."""

    service: MemoryService
    default_user: str
    run: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


def _principal(ctx: Context) -> Principal:
    request = ctx.request_context.request
    principal = None if request is None else getattr(request, "scope", {}).get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else Principal(LOCAL, None)


def build(runtime: Callable[[], Runtime]) -> MCPServer:
    """The MCP server with memlayer's tools; ``runtime()`` gives the service once the store is open."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    mcp = MCPServer("memlayer", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    root.handlers[:], root.level = handlers, level  # the SDK configures root logging; that is the app's call

    async def call(ctx: Context, need: str, operation: Callable[[Runtime, Principal], Awaitable[T]]) -> T:
        rt, who = runtime(), _principal(ctx)
        if not who.allows(need):
            raise ToolError(f"this key may not {need}: create one with --scopes including '{need}'")
        try:
            result: T = await rt.run(lambda: operation(rt, who))
        except (ApiError, MemlayerError) as exc:
            raise ToolError(from_exception(exc).message) from None
        return result

    def scope(rt: Runtime, user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, Any]:
        if user_id is None and agent_id is None and run_id is None:
            user_id = rt.default_user
        return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}

    @mcp.tool(description="Remember something about the user: a fact, a preference, an event. Facts are extracted "
              "and reconciled with what is already known (infer=false stores the text verbatim). ttl: how long it "
              "stays true, e.g. '3d' or '12h' for something temporary; leave it out for lasting facts.")
    async def add_memory(ctx: Context, text: str, user_id: str | None = None, agent_id: str | None = None,
                         run_id: str | None = None, metadata: dict[str, Any] | None = None,
                         infer: bool = True, ttl: str | None = None) -> dict[str, Any]:
        return await call(ctx, "write", lambda rt, who: rt.service.add(
            who.tenant, text, **scope(rt, user_id, agent_id, run_id), metadata=metadata, infer=infer, ttl=ttl))

    @mcp.tool(description="Find the memories most relevant to a question (as_of: what was true at an ISO time).")
    async def search_memories(ctx: Context, query: str, user_id: str | None = None, agent_id: str | None = None,
                              run_id: str | None = None, limit: int = 10, filters: dict[str, Any] | None = None,
                              as_of: str | None = None, include_expired: bool = False) -> dict[str, Any]:
        return await call(ctx, "read", lambda rt, who: rt.service.search(
            who.tenant, query, **scope(rt, user_id, agent_id, run_id), limit=limit, filters=filters, as_of=as_of,
            include_expired=include_expired))

    @mcp.tool(description="List the current memories of a user, agent or run, newest first.")
    async def list_memories(ctx: Context, user_id: str | None = None, agent_id: str | None = None,
                            run_id: str | None = None, limit: int = 100,
                            filters: dict[str, Any] | None = None) -> dict[str, Any]:
        return await call(ctx, "read", lambda rt, who: rt.service.get_all(
            who.tenant, **scope(rt, user_id, agent_id, run_id), limit=limit, filters=filters))

    @mcp.tool(description="One memory by its id.")
    async def get_memory(ctx: Context, memory_id: str) -> dict[str, Any]:
        return await call(ctx, "read", lambda rt, who: rt.service.get(who.tenant, memory_id))

    @mcp.tool(description="Rewrite a memory's text (the old text stays in its history).")
    async def update_memory(ctx: Context, memory_id: str, text: str,
                            metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        return await call(ctx, "write", lambda rt, who: rt.service.update(who.tenant, memory_id, text, metadata))

    @mcp.tool(description="Forget one memory by its id.")
    async def delete_memory(ctx: Context, memory_id: str) -> dict[str, Any]:
        return await call(ctx, "write", lambda rt, who: rt.service.delete(who.tenant, memory_id))

    @mcp.tool(description="What happened to a memory: added, updated, closed or deleted, when, from which messages.")
    async def memory_history(ctx: Context, memory_id: str) -> dict[str, Any]:
        async def run(rt: Runtime, who: Principal) -> dict[str, Any]:
            return {"events": await rt.service.history(who.tenant, memory_id)}

        return await call(ctx, "read", run)

    @mcp.tool(description="Relations of the knowledge graph (e.g. Alice WORKS_AT Acme); with a query, those near "
              "the entities it names.")
    async def graph_relations(ctx: Context, query: str | None = None, user_id: str | None = None,
                              agent_id: str | None = None, run_id: str | None = None, as_of: str | None = None,
                              include_expired: bool = False, limit: int = 50) -> dict[str, Any]:
        async def run(rt: Runtime, who: Principal) -> dict[str, Any]:
            found = await rt.service.relations(who.tenant, query, as_of=as_of, include_expired=include_expired,
                                               limit=limit, **scope(rt, user_id, agent_id, run_id))
            return {"relations": found}

        return await call(ctx, "read", run)

    return mcp


class HttpEndpoint:
    """``/mcp``: the bearer key is checked (as for the REST API), then the SDK's streamable HTTP transport
    answers, stateless (any worker can serve any request) with JSON responses."""

    def __init__(self, mcp: MCPServer, auth: Callable[[], Authenticator], max_body_bytes: int) -> None:
        self.auth = auth
        self.sessions = StreamableHTTPSessionManager(
            app=mcp._lowlevel_server, json_response=True, stateless=True, max_request_body_size=max_body_bytes,
            # Host and Origin are checked for every path by the app's HostCheck and OriginCheck.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = await self.auth().principal(Headers(scope=scope).get("authorization"))
        except ApiError as exc:
            await error_response(exc.status, exc.code, exc.message, exc.headers)(scope, receive, send)
            return
        scope[PRINCIPAL_KEY] = principal
        await self.sessions.handle_request(scope, receive, send)


def run_stdio(memory: Any, default_user: str) -> None:
    """Serve the tools over stdin/stdout on ``memory`` (an AsyncMemory) until the host closes them, then
    close the memory (``memlayer mcp``)."""
    import anyio

    async def direct(operation: Callable[[], Awaitable[Any]]) -> Any:
        return await operation()

    rt = Runtime(MemoryService(memory), default_user, direct)

    async def main() -> None:
        try:
            await build(lambda: rt).run_stdio_async()
        finally:
            await memory.close()

    anyio.run(main)
