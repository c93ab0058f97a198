"""The system of record (see ``storage.base``): the only room of memlayer that speaks a query language.

Stores are providers of the kind ``stores``, registered by name (the scheme of a URL: ``sqlite``,
``postgresql``) like every other provider; ``open_store`` picks one from a config value.
"""

from __future__ import annotations

import os
from typing import Any

from .. import registry
from ..errors import ConfigError
from .base import Selection, Store, StoredMemory

__all__ = ["DATABASE_URL_VARIABLE", "Selection", "Store", "StoredMemory", "is_remote", "open_store"]

#: the store URL used when a config names none (a deployment sets it once for every process)
DATABASE_URL_VARIABLE = "MEMLAYER_DATABASE_URL"


def open_store(spec: Any, directory: str | None) -> Store:
    """The store a config names: None (the URL in $MEMLAYER_DATABASE_URL when set, else SQLite in
    ``directory``, or in memory), a URL whose scheme names a registered store (``postgresql://…``), a
    registered name, or a ready Store object."""
    spec = _from_environment(spec)
    if spec is None or spec == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.in_directory(directory)
    if isinstance(spec, str):
        return registry.get("stores", _scheme(spec))(spec, directory=directory)  # type: ignore[no-any-return]
    if callable(getattr(spec, "transaction", None)) and callable(getattr(spec, "read_log", None)):
        return spec  # type: ignore[no-any-return]
    raise ConfigError(
        f"store must be a store URL (e.g. 'postgresql://user:pass@host/db'), a registered store name or a Store "
        f"object, got {type(spec).__name__}"
    )


def is_remote(spec: Any) -> bool:
    """Whether the store a config names (as ``open_store`` reads it) lives in a server that processes on
    many hosts share (PostgreSQL), rather than in files on this host; known without opening it."""
    spec = _from_environment(spec)
    if spec is None or spec == "sqlite":
        return False
    if isinstance(spec, str):
        factory = registry.get("stores", _scheme(spec))
        spec = getattr(factory, "__self__", factory)  # a classmethod factory: its class
    return bool(getattr(spec, "remote", False))


def _from_environment(spec: Any) -> Any:
    if spec is None:
        return os.environ.get(DATABASE_URL_VARIABLE, "").strip() or None
    return spec


def _scheme(url: str) -> str:
    """The registered store name of a URL (or of a bare name): ``postgres://`` is ``postgresql``."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else url
    return "postgresql" if scheme.startswith("postgres") else scheme
