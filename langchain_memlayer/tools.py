"""Memory tools for agents that manage memory themselves: ``search_memory`` and ``save_memory``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from memlayer.errors import missing_extra
from memlayer.kit import AUTO, FloorSetting, Op, format_recall, ops, resolve_floor
from memlayer.records import AddAnswer, SearchAnswer

from ._memory import MemoryHandle, Scope, resolve_scope

try:
    from langgraph.prebuilt import ToolRuntime
except ImportError as exc:  # pragma: no cover - exercised by a test that hides langgraph
    raise missing_extra("langchain", "langgraph") from exc

__all__ = ["create_memory_tools"]

SEARCH_DESCRIPTION = (
    "Search long-term memory for facts about the user or earlier conversations. "
    "Input: what you want to recall, as a short natural-language query."
)
SAVE_DESCRIPTION = (
    "Save a fact to long-term memory so it can be recalled in later conversations. "
    "Input: the fact, as one short self-contained sentence."
)
NOTHING_FOUND = "No relevant memories found."


def _summary(answer: AddAnswer) -> str:
    changes = [f"{c.event}: {c.memory}" for c in answer.results if c.event != "NONE"]
    return "\n".join(changes) if changes else "Nothing new to remember."


def _found(answer: SearchAnswer) -> str:
    return format_recall(answer.results, answer.relations) or NOTHING_FOUND


def create_memory_tools(
    memory: Any, *, user_id: str | Callable[[Any], str | None] | None = None, agent_id: str | None = None,
    run_id: str | None = None, context_key: str | None = "user_id", k: int = 5, infer: bool = False,
    metadata: dict[str, Any] | None = None, search_kwargs: Mapping[str, Any] | None = None,
    min_similarity: FloorSetting = AUTO,
) -> list[BaseTool]:
    """``[search_memory, save_memory]`` tools over one memlayer memory.

    The scope is ``user_id``/``agent_id``/``run_id`` when given; inside an agent a missing ``user_id`` is
    read from the runtime context (``context[context_key]``), and a callable ``user_id`` gets the tool
    runtime. ``save_memory`` stores the text verbatim unless ``infer=True`` (then memlayer's extractor
    decides what to add, update or delete). Memories under ``min_similarity`` are not returned (``"auto"``:
    the floor calibrated for the memory's embedder).
    """
    handle = MemoryHandle(memory)
    extra = {"threshold": resolve_floor(min_similarity, handle.embedder), **(search_kwargs or {})}

    def scope(runtime: Any) -> Scope:
        return resolve_scope(user_id, agent_id, run_id, context_key, runtime)

    def search_op(query: str, runtime: Any) -> Op[SearchAnswer]:
        return ops.search(query, scope(runtime), **extra, limit=k)

    def save_op(text: str, runtime: Any) -> Op[AddAnswer]:
        return ops.add(text, scope(runtime), infer=infer, metadata=metadata)

    def search_memory(query: str, runtime: ToolRuntime[Any, Any] = None) -> str:  # type: ignore[assignment]
        return _found(handle.run(search_op(query, runtime)))

    async def asearch_memory(query: str, runtime: ToolRuntime[Any, Any] = None) -> str:  # type: ignore[assignment]
        return _found(await handle.arun(search_op(query, runtime)))

    def save_memory(text: str, runtime: ToolRuntime[Any, Any] = None) -> str:  # type: ignore[assignment]
        return _summary(handle.run(save_op(text, runtime)))

    async def asave_memory(text: str, runtime: ToolRuntime[Any, Any] = None) -> str:  # type: ignore[assignment]
        return _summary(await handle.arun(save_op(text, runtime)))

    return [
        StructuredTool.from_function(
            search_memory, coroutine=asearch_memory, name="search_memory", description=SEARCH_DESCRIPTION
        ),
        StructuredTool.from_function(
            save_memory, coroutine=asave_memory, name="save_memory", description=SAVE_DESCRIPTION
        ),
    ]
