"""LangChain and LangGraph adapters for memlayer.

``MemlayerRetriever`` (a retriever over memlayer search), ``MemlayerStore`` (a LangGraph ``BaseStore``),
``MemlayerMiddleware`` (recall and record for ``create_agent``) and ``create_memory_tools``. They are
imported on first use, so a missing ``langgraph``/``langchain`` only fails where it is needed, with the
install hint ``pip install "memlayer[langchain]"``. The langchain-classic ``MemlayerMemory`` and
``MemlayerChatMessageHistory`` (``langchain_memlayer.classic``) import from here too, with the
``langchain-classic`` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .classic import (
        MemlayerChatMessageHistory as MemlayerChatMessageHistory,  # classic extra: not in __all__
    )
    from .classic import MemlayerMemory as MemlayerMemory
    from .middleware import MemlayerMiddleware
    from .retriever import MemlayerRetriever
    from .store import MemlayerStore
    from .tools import create_memory_tools

_EXPORTS = {
    "MemlayerRetriever": "retriever",
    "MemlayerStore": "store",
    "MemlayerMiddleware": "middleware",
    "create_memory_tools": "tools",
    "MemlayerMemory": "classic",
    "MemlayerChatMessageHistory": "classic",
}

__all__ = ["MemlayerMiddleware", "MemlayerRetriever", "MemlayerStore", "create_memory_tools"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_memlayer' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__, *_EXPORTS])
