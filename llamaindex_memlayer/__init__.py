"""LlamaIndex adapters for memlayer: a chat memory, a memory block and a retriever.

Install with ``pip install "memlayer[llamaindex]"``.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    from memlayer.errors import missing_extra

    raise missing_extra("llamaindex", "llama-index-core") from exc

from .block import MemlayerMemoryBlock
from .memory import MemlayerMemory
from .retriever import MemlayerRetriever

__all__ = ["MemlayerMemory", "MemlayerMemoryBlock", "MemlayerRetriever"]
