"""The HTTP routes: memories (the Memory API), graph (relations, SPARQL, export), system (health, whoami)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from ..auth import Principal, requires
from ..models import ErrorOut, ScopeId
from ..service import MemoryService

Reader = Annotated[Principal, Depends(requires("read"))]
Writer = Annotated[Principal, Depends(requires("write"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
Anyone = Annotated[Principal, Depends(requires(None))]
UserQ = Annotated[ScopeId | None, Query(description="user id (inside your tenant)")]
AgentQ = Annotated[ScopeId | None, Query(description="agent id (inside your tenant)")]
RunQ = Annotated[ScopeId | None, Query(description="run id (inside your tenant)")]
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in ((400, "the core refused a value"), (401, "no or a bad API key"),
                         (403, "the key lacks the scope"), (404, "not found (or not yours)"),
                         (413, "body too large"), (422, "the request does not match the schema"),
                         (429, "rate limited"), (503, "busy, timed out or a provider is down"))
}


def service(request: Request) -> MemoryService:
    svc: MemoryService = request.app.state.memlayer.service
    return svc


async def answer(request: Request, operation: Callable[[], Awaitable[Any]], status: int = 200) -> JSONResponse:
    """Run a core operation through the server's gate (concurrency, timeout) and answer its JSON."""
    result = await request.app.state.memlayer.gate.run(operation)
    return JSONResponse(result, status_code=status)


def scope_args(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, str | None]:
    return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
