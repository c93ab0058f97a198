"""The ASGI application: ``create_app(settings)`` (or ``app_from_environment`` for uvicorn workers).

The store is opened when the app starts (each worker process opens its own) and closed when it stops,
after every running operation has finished: an acknowledged write is committed before its answer goes
out, and nothing in flight is cut off at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from .. import __version__
from ..config import load_config
from ..errors import ConfigError
from ..storage import is_remote
from . import errors, pages
from .auth import Authenticator
from .keys import KeyRing
from .limits import BodyLimit, Gate, HostCheck, OriginCheck, RateLimiter
from .routes import graph, lifetimes, memories, system
from .service import MemoryService
from .settings import ENV_SETTINGS, ServerSettings

log = logging.getLogger("memlayer.server")
NO_KEYS_OFF_LOOPBACK = (
    "refusing to serve {host} without API keys: anyone who can reach it could read and change every memory. "
    "Create a key first (memlayer keys create --tenant NAME{path}) or bind to 127.0.0.1"
)


@dataclass
class ServerState:
    settings: ServerSettings
    gate: Gate
    memory: Any = None
    service: MemoryService | None = None
    auth: Authenticator | None = None
    ready: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    async def is_open(self) -> bool:
        return self.auth is not None and await self.auth.is_open()


def open_memory(settings: ServerSettings) -> Any:
    """The AsyncMemory this server (or worker) serves."""
    from ..memory import AsyncMemory

    return AsyncMemory(config=worker_memory_config(settings))


def worker_memory_config(settings: ServerSettings) -> dict[str, Any]:
    """The store's config for one worker. With several workers, or a store in a database server that other
    servers share (PostgreSQL), the default on-disk graph (which admits one process) becomes an in-memory
    graph per worker, rebuilt from the store's outbox at start and kept in step by it; an explicitly on-disk
    graph is refused (a SPARQL endpoint graph is shared by every worker)."""
    config = settings.memory_config()
    remote = is_remote(load_config(config).store)
    if settings.workers == 1 and not remote:
        return config
    graph = config.get("graph", True)
    spec = graph.get("config", {}) if isinstance(graph, dict) else {}
    if graph == "oxigraph" or spec.get("store") == "oxigraph":
        raise ConfigError(
            "the on-disk Oxigraph graph admits one process, so it cannot serve "
            + ("a store that other processes share (a database server); use " if remote else
               "--workers > 1; use --workers 1, ")
            + 'graph="memory" (each worker rebuilds the graph from the store), or a SPARQL endpoint graph store '
            "every process shares: graph={'provider': 'sparql', 'config': {'query_endpoint': ..., "
            "'update_endpoint': ...}}"
        )
    if graph is True:
        config["graph"] = "memory"
    return config


def check_exposure(settings: ServerSettings, keys: KeyRing) -> None:
    if not settings.loopback and not keys.any():
        where = "" if settings.path is None else f" --path {settings.path}"
        raise ConfigError(NO_KEYS_OFF_LOOPBACK.format(host=settings.host, path=where))


def create_app(settings: ServerSettings | None = None, *, memory: Any = None) -> FastAPI:
    """The memlayer HTTP (and MCP) server. ``memory``: an open AsyncMemory to serve (left open at shutdown);
    by default the store ``settings`` name is opened at startup and closed at shutdown."""
    settings = settings or ServerSettings()
    state = ServerState(settings, Gate(settings.max_inflight, settings.max_waiting, settings.request_timeout_s))
    endpoint = None
    if settings.mcp:
        from . import mcp

        def runtime() -> mcp.Runtime:
            assert state.service is not None, "the server is not started"
            return mcp.Runtime(state.service, settings.mcp_user, state.gate.run)

        def authenticator() -> Authenticator:
            assert state.auth is not None, "the server is not started"
            return state.auth

        endpoint = mcp.HttpEndpoint(mcp.build(runtime), authenticator, settings.max_body_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mem = memory if memory is not None else await asyncio.to_thread(open_memory, settings)
        try:
            keys = KeyRing(mem.store)
            await asyncio.to_thread(check_exposure, settings, keys)
            limiter = None if settings.rate_limit is None else RateLimiter(settings.rate_limit, settings.rate_burst)
            state.memory, state.service = mem, MemoryService(mem)
            state.auth = Authenticator(keys, may_open=settings.open_on_loopback and settings.loopback, limiter=limiter)
            if await state.auth.is_open():
                log.warning("memlayer: no API keys in this store: serving %s:%s WITHOUT authentication (loopback "
                            "only); `memlayer keys create --tenant NAME` turns authentication on", settings.host,
                            settings.port)
            async with contextlib.AsyncExitStack() as stack:
                if endpoint is not None:
                    await stack.enter_async_context(endpoint.sessions.run())
                state.ready = True
                try:
                    yield
                finally:
                    state.ready = False
                    left = await state.gate.drain(settings.graceful_timeout_s)
                    if left:
                        log.error("memlayer: %d operations still running at shutdown", left)
        finally:
            if memory is None:
                await mem.close()

    app = FastAPI(title="memlayer", version=__version__, lifespan=lifespan,
                  description="Long-term memory for LLM agents over HTTP. Send your key as "
                              "`Authorization: Bearer mlk_...`; every scope you name lives inside your key's tenant.")
    app.state.memlayer = state
    errors.install(app)
    for router in (memories.router, lifetimes.router, graph.router, system.router):
        app.include_router(router)
    if endpoint is not None:
        app.router.routes.append(Route("/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    pages.mount_pages(app)

    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, Any]:
        return {"name": "memlayer", "version": __version__, "docs": "/docs", "openapi": "/openapi.json",
                "mcp": "/mcp" if endpoint is not None else None, "health": "/health", "ready": "/ready",
                "browser": pages.MOUNT + "/" if pages.STATIC.is_dir() else None}

    app.add_middleware(OriginCheck)
    app.add_middleware(HostCheck, enabled=state.is_open)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker: settings from $MEMLAYER_SERVER_SETTINGS (set by ``memlayer serve``)."""
    raw = os.environ.get(ENV_SETTINGS)
    return create_app(ServerSettings.build(**json.loads(raw)) if raw else ServerSettings())
