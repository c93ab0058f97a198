"""``memlayer serve``: the HTTP API and MCP tools over a memlayer store, with tenant API keys.

Needs the ``server`` extra (FastAPI, uvicorn, the MCP SDK). ``create_app(ServerSettings(...))`` is the
ASGI app; ``memlayer.server.run.serve(settings)`` runs it with uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import missing_extra

if TYPE_CHECKING:
    from .app import create_app
    from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        try:
            from . import app, settings
        except ImportError as exc:
            if exc.name and exc.name.split(".")[0] in ("fastapi", "starlette", "uvicorn", "mcp"):
                raise missing_extra("server", exc.name.split(".")[0]) from exc
            raise
        return app.create_app if name == "create_app" else settings.ServerSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
