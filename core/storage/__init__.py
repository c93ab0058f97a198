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

__all__ = ["DATABASE_URL_VARIABLE", "Selection", "Store", "StoredMemory", "open_store"]

#: the store URL used when a config names none (a deployment sets it once for every process)
DATABASE_URL_VARIABLE = "MEMLAYER_DATABASE_URL"


def open_store(spec: Any, directory: str | None) -> Store:
    """The store a config names: None (the URL in $MEMLAYER_DATABASE_URL when set, else SQLite in
    ``directory``, or in memory), a URL whose scheme names a registered store (``postgresql://…``), a
    registered name, or a ready Store object."""
    if spec is None:
        spec = os.environ.get(DATABASE_URL_VARIABLE, "").strip() or None
    if spec is None or spec == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.in_directory(directory)
    if isinstance(spec, str):
        scheme = spec.split(":", 1)[0].lower() if ":" in spec else spec
        if scheme.startswith("postgres"):
            scheme = "postgresql"
        factory = registry.get("stores", scheme)
        return factory(spec, directory=directory)  # type: ignore[no-any-return]
    if callable(getattr(spec, "transaction", None)) and callable(getattr(spec, "read_log", None)):
        return spec  # type: ignore[no-any-return]
    raise ConfigError(
        f"store must be a store URL (e.g. 'postgresql://user:pass@host/db'), a registered store name or a Store "
        f"object, got {type(spec).__name__}"
    )
