"""``/v1/memories``, ``/v1/search``, ``/v1/reset``: every operation of ``Memory`` over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from ...search.config import PRESETS
from ..jsonbody import StrictJSONRoute
from ..models import (
    MAX_ID_CHARS,
    MAX_LIMIT,
    MAX_SCOPES,
    AddBody,
    AddOut,
    BulkBody,
    BulkOut,
    DeleteAllOut,
    DeleteOut,
    HistoryOut,
    ListOut,
    MemoryOut,
    PresetsOut,
    ResetOut,
    ScopesOut,
    SearchBody,
    SearchOut,
    Time,
    UpdateBody,
    UpdateOut,
)
from ..service import parse_filters
from . import ERRORS, STRICT, Admin, AgentQ, Anyone, Reader, RunQ, UserQ, Writer, answer, scope_args, service

router = APIRouter(prefix="/v1", route_class=StrictJSONRoute, responses=ERRORS, dependencies=STRICT, tags=["memories"])
MemoryId = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, description="a memory id")]
FiltersQ = Annotated[str | None, Query(max_length=100_000, description='a JSON filter, e.g. {"topic": "food"}')]


@router.post("/memories", response_model=AddOut, summary="Remember messages (Memory.add)")
async def add(request: Request, body: AddBody, who: Writer) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.add(
        who.tenant, body.messages, **body.scope(), metadata=body.metadata, infer=body.infer, timestamp=body.timestamp,
        expires_at=body.expires_at, ttl=body.ttl,
    ))


@router.post("/memories/bulk", response_model=BulkOut, summary="Import many verbatim records (Memory.bulk_add)")
async def bulk_add(request: Request, body: BulkBody, who: Writer) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.bulk_add(who.tenant, body.records, batch_size=body.batch_size))


@router.post("/search", response_model=SearchOut, summary="Search a scope's memories (Memory.search)")
async def search(request: Request, body: SearchBody, who: Reader) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.search(
        who.tenant, body.query, **body.scope(), limit=body.limit, filters=body.filters, threshold=body.threshold,
        max_tokens=body.max_tokens, as_of=body.as_of, include_expired=body.include_expired, config=body.config,
    ))


@router.get("/search/presets", response_model=PresetsOut, summary="The search presets a search's config may name")
async def presets(who: Anyone) -> dict[str, object]:
    return {"presets": {name: config.model_dump(mode="json") for name, config in PRESETS.items()}}


@router.get("/scopes", response_model=ScopesOut, summary="Your users, agents and runs with counts (Memory.scopes)")
async def scopes(
    request: Request, who: Reader,
    prefix: Annotated[str | None, Query(max_length=512, description="only ids starting with this")] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_SCOPES, description="at most this many of each kind")] = 1000,
) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.scopes(who.tenant, prefix=prefix, limit=limit))


@router.get("/memories", response_model=ListOut, summary="List a scope's memories (Memory.get_all)")
async def get_all(
    request: Request, who: Reader, user_id: UserQ = None, agent_id: AgentQ = None, run_id: RunQ = None,
    filters: FiltersQ = None, limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 100,
    as_of: Annotated[Time | None, Query()] = None, include_expired: bool = False,
) -> JSONResponse:
    svc = service(request)
    parsed = parse_filters(filters)
    return await answer(request, lambda: svc.get_all(
        who.tenant, **scope_args(user_id, agent_id, run_id), filters=parsed, limit=limit, as_of=as_of,
        include_expired=include_expired,
    ))


@router.delete("/memories", response_model=DeleteAllOut, summary="Forget a whole scope (Memory.delete_all)")
async def delete_all(request: Request, who: Writer, user_id: UserQ = None, agent_id: AgentQ = None,
                     run_id: RunQ = None) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.delete_all(who.tenant, **scope_args(user_id, agent_id, run_id)))


@router.get("/memories/{memory_id}", response_model=MemoryOut, summary="One memory (Memory.get)")
async def get(request: Request, memory_id: MemoryId, who: Reader, user_id: UserQ = None, agent_id: AgentQ = None,
              run_id: RunQ = None, include_expired: Annotated[bool, Query(
                  description="false: only a current memory (a closed or expired one is 404)")] = True) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.get(who.tenant, memory_id, include_expired=include_expired,
                                                 **scope_args(user_id, agent_id, run_id)))


@router.put("/memories/{memory_id}", response_model=UpdateOut,
            summary="Rewrite a memory and/or change when it lapses (Memory.update)")
async def update(request: Request, memory_id: MemoryId, body: UpdateBody, who: Writer, user_id: UserQ = None,
                 agent_id: AgentQ = None, run_id: RunQ = None) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.update(
        who.tenant, memory_id, body.text, body.metadata, expires_at=body.expires_at, ttl=body.ttl,
        **scope_args(user_id, agent_id, run_id),
    ))


@router.delete("/memories/{memory_id}", response_model=DeleteOut, summary="Delete a memory (Memory.delete)")
async def delete(request: Request, memory_id: MemoryId, who: Writer, user_id: UserQ = None, agent_id: AgentQ = None,
                 run_id: RunQ = None) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.delete(who.tenant, memory_id, **scope_args(user_id, agent_id, run_id)))


@router.get("/memories/{memory_id}/history", response_model=list[HistoryOut],
            summary="What happened to a memory (Memory.history); [] when unknown")
async def history(request: Request, memory_id: MemoryId, who: Reader, user_id: UserQ = None,
                  agent_id: AgentQ = None, run_id: RunQ = None) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.history(who.tenant, memory_id, **scope_args(user_id, agent_id, run_id)))


@router.post("/reset", response_model=ResetOut, summary="Forget every scope of your tenant (Memory.reset)")
async def reset(request: Request, who: Admin) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.reset(who.tenant))
