"""MemlayerMemory: a LlamaIndex chat memory with memlayer long-term recall."""

from __future__ import annotations

from typing import Any

from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, SerializeAsAny
from llama_index.core.memory import Memory as ShortTermMemory
from llama_index.core.memory.memory import DEFAULT_TOKEN_LIMIT
from llama_index.core.memory.types import BaseMemory

from ._client import MemlayerClient, Scope
from ._convert import (
    DEFAULT_RECALL_HEADER,
    format_recall,
    inject_recall,
    message_text,
    query_from,
    role_name,
    strip_recall,
    to_memlayer,
    wrap_recall,
)


class MemlayerMemory(BaseMemory):
    """Short-term chat buffer (LlamaIndex ``Memory``) plus memlayer long-term recall.

    * ``get()``/``aget()`` return the buffer with the memories relevant to ``input`` (or, without it,
      to the latest user message(s) of the buffer) as ONE system message: merged into the buffer's
      first system message when there is one, else put in front. Recall is never stored, so it is
      never duplicated across calls, and it is stripped from anything put or set back.
    * ``put()``/``aput()``/``aput_messages()`` append to the buffer and record each completed turn
      (user message(s) + the assistant's final reply) into memlayer in one ``add`` call; tool calls,
      tool results and system messages are not recorded.
    * ``set()``/``aset()`` replace the buffer only (no recording). ``reset()`` clears the buffer only;
      ``reset(long_term=True)`` also forgets the scope in memlayer; ``forget()`` forgets it alone.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(exclude=True, description="A memlayer Memory or AsyncMemory.")
    short_term: SerializeAsAny[BaseMemory] = Field(description="The chat buffer (a LlamaIndex Memory by default).")
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    infer: bool = Field(default=True, description="Extract facts (True) or store each message verbatim.")
    recall: bool = Field(default=True, description="Inject long-term memories on get().")
    record: bool = Field(default=True, description="Record completed turns into memlayer.")
    limit: int = Field(default=5, ge=1, description="Memories recalled per get().")
    threshold: float | None = Field(default=None, description="Minimum similarity of a recalled memory.")
    max_recall_tokens: int | None = Field(default=None, ge=1, description="Token budget of the recalled memories.")
    query_window: int = Field(default=1, ge=1, description="Latest user messages used as the query.")
    roles: tuple[str, ...] = Field(default=("user", "assistant"), description="Roles recorded into memlayer.")
    header: str = Field(default=DEFAULT_RECALL_HEADER, description="Line above the recalled memories.")
    show_dates: bool = Field(default=True, description="Append each memory's creation date.")
    system_role: MessageRole = Field(default=MessageRole.SYSTEM, description="Role of the recall message.")

    _client: MemlayerClient = PrivateAttr()
    _scope: Scope = PrivateAttr()
    _pending: list[ChatMessage] = PrivateAttr(default_factory=list)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._client = MemlayerClient(self.memory)  # TypeError / ScopeError surface as themselves
        self._scope = Scope(self.user_id, self.agent_id, self.run_id)

    @classmethod
    def class_name(cls) -> str:
        return "MemlayerMemory"

    @classmethod
    def from_defaults(  # type: ignore[override]
        cls, memory: Any = None, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, session_id: str | None = None, token_limit: int = DEFAULT_TOKEN_LIMIT,
        chat_history: list[ChatMessage] | None = None, short_term: BaseMemory | None = None, **kwargs: Any,
    ) -> MemlayerMemory:
        """Build from a memlayer memory and a scope; the buffer is ``Memory.from_defaults(session_id=...,
        token_limit=...)`` unless ``short_term`` is given. Other keywords set fields (``infer``, ``limit``...)."""
        if memory is None:
            raise TypeError("MemlayerMemory.from_defaults() needs memory=memlayer.Memory(...) or AsyncMemory")
        if short_term is None:
            short_term = ShortTermMemory.from_defaults(
                session_id=session_id, token_limit=token_limit, chat_history=chat_history
            )
        elif chat_history is not None:
            short_term.set(chat_history)
        return cls(memory=memory, short_term=short_term, user_id=user_id, agent_id=agent_id, run_id=run_id, **kwargs)

    @property
    def session_id(self) -> str | None:
        """The short-term buffer's session id (None for buffers without one)."""
        return getattr(self.short_term, "session_id", None)

    # -- reading ---------------------------------------------------------------------------------
    async def aget(self, input: str | ChatMessage | None = None, **kwargs: Any) -> list[ChatMessage]:  # type: ignore[override]
        """The chat buffer with long-term recall injected as one system message."""
        history = await self.short_term.aget(input=input, **kwargs)  # type: ignore[arg-type]
        if not self.recall:
            return history
        recall = await self.arecall(input, history)
        return inject_recall(history, wrap_recall(recall), self.system_role) if recall else history

    def get(self, input: str | ChatMessage | None = None, **kwargs: Any) -> list[ChatMessage]:  # type: ignore[override]
        return asyncio_run(self.aget(input=input, **kwargs))  # type: ignore[no-any-return]

    async def arecall(self, input: str | ChatMessage | None = None, history: list[ChatMessage] | None = None) -> str:
        """The formatted memories for ``input`` (default: the latest user message(s) of the buffer)."""
        if isinstance(input, ChatMessage):
            query = message_text(input)
        elif input:
            query = str(input)
        else:
            if history is None:
                history = await self.short_term.aget()
            query = query_from(history, self.query_window)
        if not query.strip():
            return ""
        found = await self._client.asearch(
            query, self._scope, limit=self.limit, threshold=self.threshold, max_tokens=self.max_recall_tokens
        )
        return format_recall(
            found.get("results", []), found.get("relations", []), header=self.header, show_dates=self.show_dates
        )

    async def aget_all(self) -> list[ChatMessage]:
        """Everything in the chat buffer, without recall."""
        return await self.short_term.aget_all()

    def get_all(self) -> list[ChatMessage]:
        return asyncio_run(self.aget_all())  # type: ignore[no-any-return]

    # -- writing ---------------------------------------------------------------------------------
    async def aput(self, message: ChatMessage) -> None:
        """Append to the buffer; a final assistant reply records the turn into memlayer."""
        await self.aput_messages([message])

    def put(self, message: ChatMessage) -> None:
        asyncio_run(self.aput(message))

    async def aput_messages(self, messages: list[ChatMessage]) -> None:
        """Append several messages (e.g. an agent's tool calls and final reply) and record completed turns."""
        clean = [c for c in (strip_recall(m) for m in messages) if c is not None]
        if not clean:
            return
        if len(clean) == 1:
            await self.short_term.aput(clean[0])
        else:
            await self.short_term.aput_messages(clean)
        await self._track(clean)

    def put_messages(self, messages: list[ChatMessage]) -> None:
        asyncio_run(self.aput_messages(messages))

    async def aset(self, messages: list[ChatMessage]) -> None:
        """Replace the chat buffer (recall stripped); nothing is recorded into memlayer."""
        await self.short_term.aset([c for c in (strip_recall(m) for m in messages) if c is not None])

    def set(self, messages: list[ChatMessage]) -> None:
        asyncio_run(self.aset(messages))

    async def _track(self, messages: list[ChatMessage]) -> None:
        if not self.record:
            return
        for m in messages:
            role = role_name(m)
            if role == "user":
                self._pending.append(m)
            elif role == "assistant" and to_memlayer([m], self.roles):
                self._pending.append(m)
                await self.aflush()

    async def aflush(self) -> None:
        """Record the pending (unfinished) turn into memlayer now."""
        pending, self._pending = self._pending, []
        turns = to_memlayer(pending, self.roles)
        if turns:
            session = self.session_id
            metadata = {"session_id": session} if isinstance(session, str) else None
            await self._client.aadd(turns, self._scope, infer=self.infer, metadata=metadata)

    def flush(self) -> None:
        asyncio_run(self.aflush())

    # -- clearing --------------------------------------------------------------------------------
    async def areset(self, long_term: bool = False) -> None:
        """Clear the chat buffer. Long-term memories stay (a pending turn is recorded first) unless
        ``long_term=True``, which also deletes every memlayer memory of this scope."""
        if long_term:
            self._pending = []
            await self.aforget()
        else:
            await self.aflush()
        await self.short_term.areset()

    def reset(self, long_term: bool = False) -> None:
        asyncio_run(self.areset(long_term=long_term))

    async def aforget(self) -> None:
        """Delete every memlayer memory of this scope (user_id/agent_id/run_id); the buffer stays."""
        self._pending = []
        await self._client.adelete_all(self._scope)

    def forget(self) -> None:
        asyncio_run(self.aforget())
