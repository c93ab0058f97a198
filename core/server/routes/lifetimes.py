"""``/v1/memories/refresh``, ``/v1/sweep``, ``/v1/retention``: memory lifetimes (expiry, sweeps, policies)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..jsonbody import StrictJSONRoute
from ..models import RefreshBody, RefreshOut, RetentionBody, RetentionOut, SweepBody, SweepOut
from . import ERRORS, STRICT, AgentQ, Reader, RunQ, UserQ, Writer, answer, scope_args, service

router = APIRouter(prefix="/v1", route_class=StrictJSONRoute, responses=ERRORS, dependencies=STRICT,
                   tags=["lifetimes"])


@router.post("/memories/refresh", response_model=RefreshOut,
             summary="Keep memories alive: extend their expiry by their own TTL or ttl (Memory.refresh)")
async def refresh(request: Request, body: RefreshBody, who: Writer) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.refresh(who.tenant, body.ids, ttl=body.ttl, **body.scope()))


@router.post("/sweep", response_model=SweepOut,
             summary="Forget expired memories past the grace period and enforce budgets, of your tenant's scopes "
                     "or the one named (Memory.sweep)")
async def sweep(request: Request, body: SweepBody, who: Writer) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.sweep(who.tenant, **body.scope(), filters=body.filters,
                                                   grace_period=body.grace_period))


@router.get("/retention", response_model=RetentionOut,
            summary="The lifetime policy in force for a scope, and what it sets itself (Memory.get_retention)")
async def get_retention(request: Request, who: Reader, user_id: UserQ = None, agent_id: AgentQ = None,
                        run_id: RunQ = None) -> JSONResponse:
    svc = service(request)
    return await answer(request, lambda: svc.get_retention(who.tenant, **scope_args(user_id, agent_id, run_id)))


@router.put("/retention", response_model=RetentionOut,
            summary="Set a scope's default TTL and/or cap of current memories; fields left out stay as they are "
                    "(Memory.set_retention)")
async def set_retention(request: Request, body: RetentionBody, who: Writer) -> JSONResponse:
    svc = service(request)
    changes: dict[str, object] = {name: getattr(body, name) for name in ("ttl", "max_memories")
                                  if name in body.model_fields_set}
    return await answer(request, lambda: svc.set_retention(who.tenant, changes, **body.scope()))
