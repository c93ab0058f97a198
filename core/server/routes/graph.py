"""``/v1/graph/relations``, ``/v1/graph/sparql`` and ``/v1/export``: the knowledge graph of one scope."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..jsonbody import StrictJSONRoute
from ..models import MAX_QUERY_CHARS, RelationsOut, SparqlBody, SparqlOut, Time
from . import ERRORS, STRICT, AgentQ, Reader, RunQ, UserQ, answer, scope_args, service

router = APIRouter(prefix="/v1", route_class=StrictJSONRoute, responses=ERRORS, dependencies=STRICT, tags=["graph"])
MEDIA = {"jsonl": "application/x-ndjson", "turtle": "text/turtle", "trig": "application/trig",
         "json-ld": "application/ld+json", "nquads": "application/n-quads"}


@router.get("/graph/relations", response_model=RelationsOut,
            summary="A scope's relations; with a query, those near the entities it names")
async def relations(
    request: Request, who: Reader, query: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS)] = None,
    user_id: UserQ = None, agent_id: AgentQ = None, run_id: RunQ = None,
    as_of: Annotated[Time | None, Query()] = None, include_expired: bool = False,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 50,
) -> JSONResponse:
    svc = service(request)

    async def run() -> dict[str, object]:
        found = await svc.relations(who.tenant, query, as_of=as_of, include_expired=include_expired, limit=limit,
                                    **scope_args(user_id, agent_id, run_id))
        return {"relations": found}

    return await answer(request, run)


@router.post("/graph/sparql", response_model=SparqlOut, summary="A read-only SPARQL query over a scope's graphs")
async def sparql(request: Request, body: SparqlBody, who: Reader) -> JSONResponse:
    svc = service(request)

    async def run() -> dict[str, object]:
        return {"rows": await svc.sparql(who.tenant, body.query, body.bindings, **body.scope())}

    return await answer(request, run)


@router.get("/export", summary="A scope's memories (jsonl) or knowledge graph (turtle, trig, json-ld, nquads)",
            responses={200: {"description": "the export, in the format asked for",
                             "content": {media: {} for media in MEDIA.values()}}})
async def export(
    request: Request, who: Reader, format: Literal["jsonl", "turtle", "trig", "json-ld", "nquads"] = "jsonl",
    user_id: UserQ = None, agent_id: AgentQ = None, run_id: RunQ = None, include_expired: bool = False,
) -> Response:
    svc = service(request)
    scope = scope_args(user_id, agent_id, run_id)
    if format == "jsonl":
        lines = await request.app.state.memlayer.gate.run(
            lambda: svc.export_memories(who.tenant, include_expired=include_expired, **scope))
        return StreamingResponse(lines, media_type=MEDIA[format])
    text = await request.app.state.memlayer.gate.run(lambda: svc.export_graph(who.tenant, format, **scope))
    return Response(text, media_type=MEDIA[format])
