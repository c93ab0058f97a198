"""The adapter kit: what the LangChain/LangGraph and LlamaIndex adapters share.

* ``bridge`` — the one sync-over-async bridge (a loop thread; ``memlayer.Memory`` runs on one too);
* ``MemoryHandle`` and ``ops`` — any memory (Memory, AsyncMemory, the server's clients, a stand-in with
  their methods) called from sync or async code, its answers read as ``memlayer.records``;
* ``format_recall`` / ``truncate_recall`` and ``DEFAULT_MIN_SIMILARITY`` — the one recall formatter and
  the relevance floor both adapters use by default ("auto": calibrated per embedder);
* ``scope`` — the one scope type, ``memlayer.Scope``, validated early;
* ``TRANSCRIPT_KEY`` — the metadata mark of a chat history's verbatim rows (``search`` leaves them out);
* ``refs`` — process-local references that let a serialised adapter find its memory again.
"""

from __future__ import annotations

from typing import Any

from ..messages import make_scope
from ..transcripts import TRANSCRIPT_KEY
from ..types import Scope
from . import ops, refs
from .bridge import LoopThread, run_sync, shared_loop
from .handle import ArgumentError, MemoryHandle, NotAMemoryError, Op
from .recall import (
    AUTO,
    DEFAULT_MIN_SIMILARITY,
    FloorSetting,
    above_floor,
    floor_for,
    format_recall,
    resolve_floor,
    truncate_recall,
    unseen,
)


def scope(user_id: Any = None, agent_id: Any = None, run_id: Any = None) -> Scope:
    """The scope an adapter reads and writes; a ScopeError now when none (or a bad id) is given."""
    return make_scope(user_id, agent_id, run_id)


__all__ = [
    "AUTO", "DEFAULT_MIN_SIMILARITY", "ArgumentError", "FloorSetting", "LoopThread", "MemoryHandle", "NotAMemoryError", "Op", "TRANSCRIPT_KEY",
    "Scope", "above_floor", "floor_for", "format_recall", "ops", "refs", "resolve_floor", "run_sync", "scope",
    "shared_loop", "truncate_recall", "unseen",
]
