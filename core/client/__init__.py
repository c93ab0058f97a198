"""Clients of a memlayer server: ``Client`` (like ``Memory``) and ``AsyncClient`` (like ``AsyncMemory``).

Only httpx is needed (no server extra)."""

from __future__ import annotations

from .aclient import AsyncClient, AsyncGraphClient
from .sync import Client, GraphClient

__all__ = ["AsyncClient", "AsyncGraphClient", "Client", "GraphClient"]
