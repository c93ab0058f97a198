"""MemlayerMemoryBlock: memlayer as a long-term block of LlamaIndex's ``Memory``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.memory.memory import BaseMemoryBlock
from llama_index.core.utils import get_tokenizer

from memlayer import kit
from memlayer.kit import AUTO, FloorSetting, MemoryHandle, Scope, ops

from ._convert import DEFAULT_RECALL_HEADER, message_text, query_from, to_memlayer


class MemlayerMemoryBlock(BaseMemoryBlock[str]):
    """Records messages flushed out of short-term memory into memlayer and recalls the relevant ones.

    ``Memory.from_defaults(memory_blocks=[MemlayerMemoryBlock(memory=m, user_id="alice")])``: messages
    evicted from the chat buffer are added to memlayer for the scope (``infer=True`` extracts facts);
    on ``get()`` the memories relevant to the latest user message(s) are rendered as a bulleted list,
    merged by LlamaIndex into the one system message of the memory. Memories under ``threshold`` (the
    relevance floor; ``"auto"`` = calibrated for the embedder) and memories whose text is already in the
    chat history are left out. Under token pressure :meth:`atruncate` drops the lowest-ranked memories
    first instead of the whole block.
    """

    name: str = Field(default="memlayer", description="The name of the memory block.")
    description: str | None = Field(default="Long-term memories recalled by memlayer.")
    priority: int = Field(
        default=1, description="Truncatable (not 0): the block shrinks bullet by bullet under pressure."
    )
    accept_short_term_memory: bool = Field(
        default=True, description="Record messages flushed from short-term memory (the block's only input)."
    )
    memory: Any = Field(exclude=True, description="A memlayer Memory, AsyncMemory or client.")
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    infer: bool = Field(default=True, description="Extract facts (True) or store each message verbatim.")
    limit: int = Field(default=5, ge=1, description="Memories recalled per get().")
    threshold: FloorSetting = Field(default=AUTO, description="Relevance floor: minimum similarity recalled.")
    query_window: int = Field(default=1, ge=1, description="Latest user messages used as the search query.")
    roles: tuple[str, ...] = Field(default=("user", "assistant"), description="Roles recorded into memlayer.")
    header: str = Field(default=DEFAULT_RECALL_HEADER, description="Line above the recalled memories.")
    show_dates: bool = Field(default=True, description="Append each memory's creation date.")
    tokenizer_fn: Callable[[str], list] | None = Field(default=None, exclude=True)

    _handle: MemoryHandle = PrivateAttr()
    _scope: Scope = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._handle = MemoryHandle(self.memory)  # NotAMemoryError / ScopeError surface as themselves
        self._scope = kit.scope(self.user_id, self.agent_id, self.run_id)

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        """The memories relevant to the latest user message(s), formatted; "" when none."""
        query = query_from(messages or [], self.query_window)
        if not query:
            return ""
        floor = kit.resolve_floor(self.threshold, self._handle.embedder)
        found = await self._handle.arun(ops.search(query, self._scope, limit=self.limit, threshold=floor))
        shown = [message_text(m) for m in messages or []]
        return kit.format_recall(kit.unseen(found.results, shown), found.relations, header=self.header,
                                 show_dates=self.show_dates)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Add the flushed user/assistant messages to memlayer in one call."""
        turns = to_memlayer(messages, self.roles)
        if not turns:
            return
        session = next((m.additional_kwargs.get("session_id") for m in messages if "session_id" in m.additional_kwargs),
                       None)
        metadata = {"session_id": session} if isinstance(session, str) else None
        await self._handle.arun(ops.add(turns, self._scope, infer=self.infer, metadata=metadata))

    async def atruncate(self, content: Any, tokens_to_truncate: int) -> str | None:
        """Drop the lowest-ranked memories until about ``tokens_to_truncate`` tokens are saved; None when
        nothing is left (LlamaIndex also hands over ``[]`` for a block that recalled nothing)."""
        tokenizer = self.tokenizer_fn or get_tokenizer()
        return kit.truncate_recall(content, tokens_to_truncate, lambda text: len(tokenizer(text)))
