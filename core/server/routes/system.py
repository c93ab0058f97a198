"""``/health`` (the process answers), ``/ready`` (the store is open and accepting), ``/v1/whoami``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import error_response
from ..models import HealthOut, WhoAmI
from . import ERRORS, STRICT, Anyone

router = APIRouter(tags=["system"], dependencies=STRICT)


@router.get("/health", summary="Liveness: the server process answers")
async def alive() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the store is open and requests are accepted")
async def ready(request: Request) -> JSONResponse:
    state = request.app.state.memlayer
    if not state.ready:
        return error_response(503, "not_ready", "the server is starting or shutting down", {"Retry-After": "1"})
    health = await state.memory.health()
    return JSONResponse({"status": "ready", "ok": bool(health.get("ok")), "running": state.gate.running})


@router.get("/v1/health", response_model=HealthOut, responses=ERRORS,
            summary="Whether the store answers and its vector index and graph are caught up")
async def store_health(request: Request, who: Anyone) -> dict[str, object]:
    full = await request.app.state.memlayer.memory.health()
    part = {name: None if full.get(name) is None else {"ok": bool(full[name].get("ok"))} for name in ("vectors", "graph")}
    return {"ok": bool(full.get("ok")), **part}  # counts, positions and errors stay with the operator


@router.get("/v1/whoami", response_model=WhoAmI, responses=ERRORS, summary="The tenant and scopes of your key")
async def whoami(who: Anyone) -> dict[str, object]:
    return who.describe()
