"""The HTTP routes: memories (the Memory API), graph (relations, SPARQL, export), system (health, whoami)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ..auth import Principal, requires
from ..errors import ApiError
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
                         (409, "the store has no knowledge graph (graph calls)"),
                         (413, "body too large"), (422, "the request does not match the schema"),
                         (429, "rate limited"), (503, "busy, timed out or a provider is down"))
}


async def strict_query(request: Request) -> None:
    """Query parameters the call does not take, or one given twice, are a 422 (not silently ignored: a typo
    like ``include_expire`` or two ``user_id`` values must not change what the call does unnoticed)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    allowed = _query_names(route.dependant)
    names = [k for k, _ in request.query_params.multi_items()]
    unknown = sorted(set(names) - allowed)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if unknown:
        raise ApiError(422, "invalid_request", f"invalid request: unknown query parameter(s) {', '.join(map(repr, unknown))}"
                       f"; this call takes {', '.join(sorted(allowed)) or 'none'}")
    if repeated:
        raise ApiError(422, "invalid_request", f"invalid request: the query parameter(s) {', '.join(repeated)} "
                       "may be given once only")


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


STRICT = [Depends(strict_query)]


def service(request: Request) -> MemoryService:
    svc: MemoryService = request.app.state.memlayer.service
    return svc


async def answer(request: Request, operation: Callable[[], Awaitable[Any]], status: int = 200) -> JSONResponse:
    """Run a core operation through the server's gate (concurrency, timeout) and answer its JSON."""
    result = await request.app.state.memlayer.gate.run(operation)
    return JSONResponse(result, status_code=status)


def scope_args(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, str | None]:
    return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
