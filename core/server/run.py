"""Starting the server: checks that need no running app, then uvicorn (one process or N workers)."""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import ConfigError
from .app import check_exposure, create_app, worker_memory_config
from .keys import KeyRing, open_meta_store
from .settings import ENV_SETTINGS, ServerSettings


def preflight(settings: ServerSettings) -> None:
    """Refuse early, with the reason, what the app would refuse at startup."""
    worker_memory_config(settings)
    store = open_meta_store(settings.memory_config())
    if store is None:
        if settings.workers > 1:
            raise ConfigError("an in-memory store (':memory:') cannot be shared by --workers > 1; give a --path")
        if not settings.loopback:
            raise ConfigError("an in-memory store has no API keys, so it can only be served on 127.0.0.1")
        return
    try:
        check_exposure(settings, KeyRing(store))
    finally:
        store.close()


def serve(settings: ServerSettings) -> None:
    """Run until SIGINT/SIGTERM; then finish running requests (``graceful_timeout_s``) and close the store."""
    import uvicorn

    preflight(settings)
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level,
        "timeout_graceful_shutdown": int(settings.graceful_timeout_s), "server_header": False,
        "proxy_headers": False,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    os.environ[ENV_SETTINGS] = json.dumps(settings.model_dump())
    uvicorn.run("memlayer.server.app:app_from_environment", factory=True, workers=settings.workers, **options)
