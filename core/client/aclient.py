"""AsyncClient: the API of ``AsyncMemory`` on a memlayer server (``memlayer serve``)."""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from ..errors import ConfigError, MemlayerError, NotFoundError
from ..retention import KEEP, parse_duration
from ..search.config import SearchConfig
from .transport import Transport

DEFAULT_URL = "http://127.0.0.1:8765"
MAX_REQUEST_BYTES = 3 * 1024 * 1024  # bulk_add splits its records into requests below this (server default: 4 MiB)
MAX_BULK_RECORDS = 10_000  # the records (and batch_size) one POST /v1/memories/bulk may carry


def jsonable(value: Any) -> Any:
    """Arguments as JSON: times as ISO strings, durations as seconds, a SearchConfig as its fields, Message
    objects as dicts."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in dataclasses.asdict(value).items() if v is not None}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return jsonable(dump())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, str | None]:
    return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}


def _id(memory_id: Any) -> str:
    """The id as one path segment. "." and ".." are written %2E: as they are, the HTTP client removes them as
    dot segments and the request names another endpoint (``delete(".")`` would become ``delete_all``)."""
    if not isinstance(memory_id, str) or not memory_id:
        raise MemlayerError(f"a memory id is a non-empty string, got {memory_id!r}")
    quoted = urllib.parse.quote(memory_id, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


class AsyncClient:
    """The methods, arguments and result dicts of ``memlayer.AsyncMemory``, answered by a memlayer server.

    ``url`` defaults to $MEMLAYER_URL (else http://127.0.0.1:8765), ``api_key`` to $MEMLAYER_API_KEY. Every
    scope named lives in the key's tenant. Busy or unavailable answers (429/503) are retried ``retries``
    times with backoff; other errors raise the memlayer error the server names (``NotFoundError``,
    ``AuthError``, ``ScopeError``, ...). Usable from any event loop.
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0,
                 retries: int = 3, backoff: float = 0.5, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url or os.environ.get("MEMLAYER_URL") or DEFAULT_URL
        key = api_key if api_key is not None else os.environ.get("MEMLAYER_API_KEY")
        self._http = Transport(self.url, key, timeout=timeout, retries=retries, backoff=backoff, transport=transport)
        self.graph = AsyncGraphClient(self._http)

    # -- the Memory API -------------------------------------------------------------------------
    async def add(
        self, messages: Any, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        metadata: dict[str, Any] | None = None, infer: bool = True, timestamp: datetime | str | float | None = None,
        expires_at: datetime | str | float | None = None, ttl: float | str | timedelta | None = None,
    ) -> dict[str, Any]:
        body = {"messages": jsonable(messages), "user_id": user_id, "agent_id": agent_id, "run_id": run_id,
                "metadata": jsonable(metadata), "infer": infer, "timestamp": jsonable(timestamp),
                "expires_at": jsonable(expires_at), "ttl": jsonable(ttl)}
        out: dict[str, Any] = await self._http.request("POST", "/v1/memories", body=body)
        return out

    async def bulk_add(
        self, records: Any, *, batch_size: int = 1000, progress: Any = True
    ) -> dict[str, Any]:
        """Import records verbatim, ``batch_size`` per request (and per transaction on the server); a larger
        ``batch_size`` than the server takes in one request (10,000) is sent in requests of that many."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise MemlayerError("batch_size must be at least 1")
        if not isinstance(records, Iterable) or isinstance(records, (str, bytes, Mapping)):
            raise MemlayerError(f"records must be an iterable of mappings, got {type(records).__name__}")
        items = [jsonable(r) for r in records]
        report = _progress(progress, len(items))
        totals = {"added": 0, "duplicates": 0, "records": 0, "messages": 0, "seconds": 0.0}
        try:
            size = min(batch_size, MAX_BULK_RECORDS)
            for chunk in _chunks(items, size):
                out = await self._http.request("POST", "/v1/memories/bulk", body={"records": chunk, "batch_size": size})
                for key in totals:
                    totals[key] += out.get(key, 0)
                if report is not None:
                    report(totals["records"], len(items))
        finally:
            close = getattr(report, "close", None)
            if callable(close):
                close()
        totals["seconds"] = round(float(totals["seconds"]), 3)
        return totals

    async def search(
        self, query: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        limit: int = 10, filters: dict[str, Any] | None = None, threshold: float | None = None,
        max_tokens: int | None = None, as_of: datetime | str | float | None = None, include_expired: bool = False,
        config: SearchConfig | str | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {"query": query, "user_id": user_id, "agent_id": agent_id, "run_id": run_id, "limit": limit,
                "filters": jsonable(filters), "threshold": threshold, "max_tokens": max_tokens,
                "as_of": jsonable(as_of), "include_expired": include_expired, "config": jsonable(config)}
        out: dict[str, Any] = await self._http.request("POST", "/v1/search", body=body)
        return out

    async def get(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        include_expired: bool = True,
    ) -> dict[str, Any] | None:
        params = {**_scope(user_id, agent_id, run_id), "include_expired": include_expired}
        try:
            out: dict[str, Any] = await self._http.request("GET", f"/v1/memories/{_id(memory_id)}", params=params)
        except NotFoundError:
            return None
        return out

    async def get_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        filters: dict[str, Any] | None = None, limit: int = 100, as_of: datetime | str | float | None = None,
        include_expired: bool = False,
    ) -> dict[str, Any]:
        params = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id, "filters": jsonable(filters),
                  "limit": limit, "as_of": jsonable(as_of), "include_expired": include_expired}
        out: dict[str, Any] = await self._http.request("GET", "/v1/memories", params=params)
        return out

    async def update(
        self, memory_id: str, text: str | None = None, metadata: dict[str, Any] | None = None, *,
        expires_at: datetime | str | float | None = None, ttl: float | str | timedelta | None = None,
        user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        if text is None and expires_at is None and ttl is None:
            raise MemlayerError("update() needs a new text, or expires_at=/ttl= to change only when the memory lapses")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise MemlayerError("update() needs non-empty text")
        body = {"text": text, "metadata": jsonable(metadata), "expires_at": jsonable(expires_at), "ttl": jsonable(ttl)}
        out: dict[str, Any] = await self._http.request("PUT", f"/v1/memories/{_id(memory_id)}", body=body,
                                                       params=_scope(user_id, agent_id, run_id))
        return out

    async def delete(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = await self._http.request("DELETE", f"/v1/memories/{_id(memory_id)}",
                                                       params=_scope(user_id, agent_id, run_id))
        return out

    async def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        params = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        out: dict[str, Any] = await self._http.request("DELETE", "/v1/memories", params=params)
        return out

    async def history(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = await self._http.request("GET", f"/v1/memories/{_id(memory_id)}/history",
                                                             params=_scope(user_id, agent_id, run_id))
        return out

    async def scopes(self, *, prefix: str | None = None, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
        """This key's tenant's users, agents and runs with their counts (see ``AsyncMemory.scopes``)."""
        out: dict[str, list[dict[str, Any]]] = await self._http.request(
            "GET", "/v1/scopes", params={"prefix": prefix, "limit": limit})
        return out

    # -- lifetimes --------------------------------------------------------------------------------
    async def refresh(
        self, memory_ids: str | list[str], *, ttl: float | str | timedelta | None = None, user_id: str | None = None,
        agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        ids = [memory_ids] if isinstance(memory_ids, str) else list(memory_ids)
        if not ids:  # nothing to refresh: Memory's answer, without a request (the server wants at least one id)
            parse_duration(jsonable(ttl), "ttl", allow_never=False)
            return {"results": []}
        body = {"ids": ids, "ttl": jsonable(ttl), **_scope(user_id, agent_id, run_id)}
        out: dict[str, Any] = await self._http.request("POST", "/v1/memories/refresh", body=body)
        return out

    async def sweep(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        filters: dict[str, Any] | None = None, grace_period: float | str | timedelta | None = None,
    ) -> dict[str, Any]:
        """Sweep the scope named, or every scope of this key's tenant."""
        body = {**_scope(user_id, agent_id, run_id), "filters": jsonable(filters), "grace_period": jsonable(grace_period)}
        out: dict[str, Any] = await self._http.request("POST", "/v1/sweep", body=body)
        return out

    async def get_retention(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = await self._http.request("GET", "/v1/retention", params=_scope(user_id, agent_id, run_id))
        return out

    async def set_retention(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        ttl: Any = KEEP, max_memories: Any = KEEP,
    ) -> dict[str, Any]:
        """As ``Memory.set_retention``: an argument not given stays as it was."""
        body = {**_scope(user_id, agent_id, run_id),
                **{k: jsonable(v) for k, v in (("ttl", ttl), ("max_memories", max_memories)) if v is not KEEP}}
        out: dict[str, Any] = await self._http.request("PUT", "/v1/retention", body=body)
        return out

    async def reset(self) -> None:
        """Forget every memory of this key's tenant (needs a key with the admin scope)."""
        await self._http.request("POST", "/v1/reset")

    async def health(self) -> dict[str, Any]:
        """Whether the server's store answers and its vector index and graph are caught up: ``ok`` and each
        projection's ``ok`` (the counts and errors ``Memory.health`` adds stay with the server's operator)."""
        out: dict[str, Any] = await self._http.request("GET", "/v1/health")
        return out

    # -- beyond Memory ----------------------------------------------------------------------------
    async def whoami(self) -> dict[str, Any]:
        """The tenant and scopes of this client's key."""
        out: dict[str, Any] = await self._http.request("GET", "/v1/whoami")
        return out

    async def search_presets(self) -> dict[str, dict[str, Any]]:
        """The search presets the server knows (a search's ``config`` may name one): name -> SearchConfig fields."""
        out = await self._http.request("GET", "/v1/search/presets")
        return dict(out["presets"])

    async def ready(self) -> bool:
        """Whether the server is up and accepting requests."""
        try:
            await self._http.request("GET", "/ready")
        except MemlayerError:
            return False
        return True

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} url={self.url!r}>"


class AsyncGraphClient:
    """``client.graph``: a scope's knowledge graph on the server."""

    def __init__(self, http: Transport) -> None:
        self._http = http

    async def relations(
        self, query: str | None = None, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, as_of: datetime | str | float | None = None, include_expired: bool = False,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        params = {"query": query, "user_id": user_id, "agent_id": agent_id, "run_id": run_id,
                  "as_of": jsonable(as_of), "include_expired": include_expired, "limit": limit}
        out = await self._http.request("GET", "/v1/graph/relations", params=params)
        return list(out["relations"])

    async def sparql(
        self, query: str, bindings: dict[str, Any] | None = None, *, user_id: str | None = None,
        agent_id: str | None = None, run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        body = {"query": query, "bindings": jsonable(bindings), "user_id": user_id, "agent_id": agent_id,
                "run_id": run_id}
        out = await self._http.request("POST", "/v1/graph/sparql", body=body)
        return list(out["rows"])

    async def export(
        self, fmt: str = "trig", *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """The scope's graph as "turtle", "trig", "json-ld" or "nquads" ("jsonl": its memories, one per line)."""
        if fmt not in ("turtle", "trig", "json-ld", "nquads", "jsonl"):
            raise ConfigError(f"export format must be turtle, trig, json-ld, nquads or jsonl, got {fmt!r}")
        params = {"format": fmt, "user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        text: str = await self._http.request("GET", "/v1/export", params=params, raw=True)
        return text


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    """Slices of at most ``size`` records and about MAX_REQUEST_BYTES of JSON each."""
    import json

    chunk: list[Any] = []
    weight = 0
    for item in items:
        cost = len(json.dumps(item, ensure_ascii=False).encode("utf-8")) + 2
        if chunk and (len(chunk) >= size or weight + cost > MAX_REQUEST_BYTES):
            yield chunk
            chunk, weight = [], 0
        chunk.append(item)
        weight += cost
    if chunk:
        yield chunk


def _progress(progress: Any, total: int) -> Any:
    if progress is True:
        from ..progress import Progress

        bar = Progress(total, "importing")

        class _Bar:
            def __call__(self, done: int, _total: int | None) -> None:
                bar.set(done)

            def close(self) -> None:
                bar.close()

        return _Bar()
    return progress if callable(progress) else None
