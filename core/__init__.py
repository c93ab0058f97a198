"""memlayer: long-term memory for LLM agents."""

from .errors import MemlayerError

__version__ = "0.1.0"


def __getattr__(name: str) -> object:  # lazy: keep `import memlayer` cheap
    if name == "AsyncMemory":
        from .memory import AsyncMemory

        return AsyncMemory
    if name == "Memory":
        from .sync import Memory

        return Memory
    if name in ("MemoryConfig",):
        from .config import MemoryConfig

        return MemoryConfig
    if name in ("SearchConfig",):
        from .search.config import SearchConfig

        return SearchConfig
    if name in ("Client", "AsyncClient"):
        from . import client

        return getattr(client, name)
    if name == "Scope":
        from .types import Scope

        return Scope
    if name in _RECORDS:
        from . import records

        return getattr(records, name)
    raise AttributeError(f"module 'memlayer' has no attribute {name!r}")


_RECORDS = ("MemoryRecord", "SearchHit", "SearchAnswer", "RelationRecord", "AddAnswer", "ChangeRecord", "HistoryEvent")

__all__ = ["AsyncClient", "AsyncMemory", "Client", "Memory", "MemoryConfig", "MemlayerError", "Scope", "SearchConfig", "__version__", *_RECORDS]
