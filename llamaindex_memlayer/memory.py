"""MemlayerMemory: a LlamaIndex chat memory with memlayer long-term recall."""

from __future__ import annotations

from typing import Any

from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, field_serializer, field_validator
from llama_index.core.memory.types import BaseMemory
from llama_index.core.storage.chat_store.sql import MessageStatus

from memlayer import kit
from memlayer.kit import AUTO, FloorSetting, MemoryHandle, Scope, ops

from ._buffer import buffer_from_dict, buffer_to_dict, build_buffer, statuses
from ._convert import (
    DEFAULT_RECALL_HEADER,
    inject_recall,
    message_text,
    query_from,
    role_name,
    strip_recall,
    to_memlayer,
    wrap_recall,
)
from .retriever import retriever_covers


class MemlayerMemory(BaseMemory):
    """Short-term chat buffer (LlamaIndex ``Memory`` by default) plus memlayer long-term recall.

    * ``get()``/``aget()`` return the buffer with the memories relevant to ``input`` (or, without it,
      to the latest user message(s) of the buffer) in ONE system message: merged into the buffer's
      first system message when there is one, else put in front. Memories under ``threshold`` (the
      relevance floor; ``"auto"`` = calibrated for the embedder) and memories whose text is already in
      the buffer are left out; with ``input`` and a live ``MemlayerRetriever`` on the same memory and
      scope (a context chat engine), recall is left to the retriever. Recall is never stored, so it is never duplicated across calls, and it is
      stripped from anything put or set back.
    * ``put()``/``aput()``/``aput_messages()`` append to the buffer and record each completed turn
      (user message(s) + the assistant's final reply) into memlayer in one ``add`` call; tool calls,
      tool results and system messages are not recorded.
    * ``set()``/``aset()`` replace the buffer only (no recording). ``reset()`` clears the buffer only;
      ``reset(long_term=True)`` also forgets the scope in memlayer; ``forget()`` forgets it alone.
    * ``to_dict``/``from_dict`` and pickling keep the settings and the buffer's messages; the memlayer
      memory is found again in the same process (elsewhere pass ``memory=`` to ``from_dict``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(exclude=True, description="A memlayer Memory, AsyncMemory or client.")
    short_term: BaseMemory = Field(description="The chat buffer (a LlamaIndex Memory by default).")
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    infer: bool = Field(default=True, description="Extract facts (True) or store each message verbatim.")
    recall: bool = Field(default=True, description="Inject long-term memories on get().")
    record: bool = Field(default=True, description="Record completed turns into memlayer.")
    limit: int = Field(default=5, ge=1, description="Memories recalled per get().")
    threshold: FloorSetting = Field(default=AUTO, description="Relevance floor: minimum similarity recalled.")
    max_recall_tokens: int | None = Field(default=None, ge=1, description="Token budget of the recalled memories.")
    query_window: int = Field(default=1, ge=1, description="Latest user messages used as the query.")
    roles: tuple[str, ...] = Field(default=("user", "assistant"), description="Roles recorded into memlayer.")
    header: str = Field(default=DEFAULT_RECALL_HEADER, description="Line above the recalled memories.")
    show_dates: bool = Field(default=True, description="Append each memory's creation date.")
    system_role: MessageRole = Field(default=MessageRole.SYSTEM, description="Role of the recall message.")

    _handle: MemoryHandle = PrivateAttr()
    _scope: Scope = PrivateAttr()
    _pending: list[ChatMessage] = PrivateAttr(default_factory=list)

    def __init__(self, **data: Any) -> None:
        memory = data.get("memory")
        if memory is None and "memory_ref" in data:  # rebuilt from to_dict()/pickle in this process
            memory = kit.refs.resolve(data["memory_ref"])
            if memory is None:
                raise kit.ArgumentError(
                    "this MemlayerMemory was serialised with a memlayer memory that is not open in this process; "
                    "rebuild it with MemlayerMemory.from_dict(data, memory=Memory(...))"
                )
        data.pop("memory_ref", None)
        super().__init__(**{**data, "memory": memory})
        self._handle = MemoryHandle(self.memory)  # NotAMemoryError / ScopeError surface as themselves
        self._scope = kit.scope(self.user_id, self.agent_id, self.run_id)

    @field_validator("short_term", mode="before")
    @classmethod
    def _rebuild_buffer(cls, value: Any) -> Any:
        return buffer_from_dict(value) if isinstance(value, dict) else value

    @field_serializer("short_term")
    def _dump_buffer(self, value: BaseMemory) -> dict[str, Any]:
        return buffer_to_dict(value)

    @classmethod
    def class_name(cls) -> str:
        return "MemlayerMemory"

    def to_dict(self, **kwargs: Any) -> dict[str, Any]:
        data = super().to_dict(**kwargs)
        data["memory_ref"] = kit.refs.reference(self.memory)
        return data

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.to_dict()))

    @classmethod
    def from_defaults(  # type: ignore[override]
        cls, memory: Any = None, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, session_id: str | None = None, chat_history: list[ChatMessage] | None = None,
        short_term: BaseMemory | None = None, **kwargs: Any,
    ) -> MemlayerMemory:
        """Build from a memlayer memory and a scope. The buffer is ``short_term`` when given; else a
        LlamaIndex ``ChatMemoryBuffer`` when a ``chat_store`` that is a ``BaseChatStore`` (or a
        ``chat_store_key``) is given, as ``ChatMemoryBuffer.from_defaults`` takes them; else a LlamaIndex
        ``Memory`` built by ``Memory.from_defaults`` with the keywords it takes (``token_limit``,
        ``chat_store``, ``memory_blocks``, ...). The other keywords set fields (``infer``, ``limit``...);
        an unknown keyword is an error naming it."""
        if memory is None:
            raise kit.ArgumentError("MemlayerMemory.from_defaults() needs memory=memlayer.Memory(...) (or AsyncMemory)")
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in cls.model_fields and k not in ("memory", "short_term")}
        if short_term is None:
            short_term = build_buffer(session_id, chat_history, kwargs, cls.model_fields)
        elif kwargs:
            raise kit.ArgumentError(f"MemlayerMemory.from_defaults() got buffer options {sorted(kwargs)} together "
                                    "with short_term=; set them on the buffer you pass")
        elif chat_history is not None:
            short_term.set(chat_history)
        return cls(memory=memory, short_term=short_term, user_id=user_id, agent_id=agent_id, run_id=run_id, **fields)

    # -- the buffer's own settings, reachable on the memory as on LlamaIndex's Memory -------------
    @property
    def session_id(self) -> str | None:
        """The short-term buffer's session id (None for buffers without one)."""
        return getattr(self.short_term, "session_id", None)

    @property
    def token_limit(self) -> int | None:
        return getattr(self.short_term, "token_limit", None)

    @token_limit.setter
    def token_limit(self, value: int) -> None:
        self.short_term.token_limit = value  # type: ignore[attr-defined]

    @property
    def tokenizer_fn(self) -> Any:
        return getattr(self.short_term, "tokenizer_fn", None)

    # -- reading ---------------------------------------------------------------------------------
    async def aget(self, input: str | ChatMessage | None = None, **kwargs: Any) -> list[ChatMessage]:  # type: ignore[override]
        """The chat buffer with long-term recall injected as one system message."""
        history = await self.short_term.aget(input=input, **kwargs)  # type: ignore[arg-type]
        if not self.recall or (input is not None and retriever_covers(self._handle.memory, self._scope)):
            return history  # a context engine's MemlayerRetriever recalls into the engine's system message
        recall = await self.arecall(input, history)
        return inject_recall(history, wrap_recall(recall), self.system_role) if recall else history

    def get(self, input: str | ChatMessage | None = None, **kwargs: Any) -> list[ChatMessage]:  # type: ignore[override]
        return asyncio_run(self.aget(input=input, **kwargs))  # type: ignore[no-any-return]

    async def arecall(self, input: str | ChatMessage | None = None, history: list[ChatMessage] | None = None) -> str:
        """The formatted memories for ``input`` (default: the latest user message(s) of the buffer)."""
        if history is None:
            history = await self.short_term.aget()
        if isinstance(input, ChatMessage):
            query = message_text(input)
        elif input:
            query = str(input)
        else:
            query = query_from(history, self.query_window)
        if not query.strip():
            return ""
        floor = kit.resolve_floor(self.threshold, self._handle.embedder)
        found = await self._handle.arun(ops.search(query, self._scope, limit=self.limit, threshold=floor,
                                                   max_tokens=self.max_recall_tokens))
        hits = kit.unseen(kit.above_floor(found.results, floor), [message_text(m) for m in history])
        return kit.format_recall(hits, found.relations, header=self.header, show_dates=self.show_dates)

    async def aget_all(self, status: MessageStatus | None = None) -> list[ChatMessage]:  # type: ignore[override]
        """Everything in the chat buffer (with ``status``: the messages in that state), without recall."""
        if status is None:
            return await self.short_term.aget_all()
        if statuses(self.short_term):
            return await self.short_term.aget_all(status=status)  # type: ignore[call-arg]
        return await self.short_term.aget_all() if status == MessageStatus.ACTIVE else []

    def get_all(self, status: MessageStatus | None = None) -> list[ChatMessage]:  # type: ignore[override]
        return asyncio_run(self.aget_all(status=status))  # type: ignore[no-any-return]

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
            await self._handle.arun(ops.add(turns, self._scope, infer=self.infer, metadata=metadata))

    def flush(self) -> None:
        asyncio_run(self.aflush())

    # -- clearing --------------------------------------------------------------------------------
    async def areset(self, status: MessageStatus | None = None, *, long_term: bool = False) -> None:  # type: ignore[override]
        """Clear the chat buffer (with ``status``: only the messages in that state). Long-term memories
        stay (a pending turn is recorded first) unless ``long_term=True``, which also deletes every
        memlayer memory of this scope."""
        if long_term:
            self._pending = []
            await self.aforget()
        else:
            await self.aflush()
        if status is None:
            await self.short_term.areset()
        elif statuses(self.short_term):
            await self.short_term.areset(status=status)  # type: ignore[call-arg]
        elif status == MessageStatus.ACTIVE:
            await self.short_term.areset()

    def reset(self, status: MessageStatus | None = None, *, long_term: bool = False) -> None:  # type: ignore[override]
        asyncio_run(self.areset(status, long_term=long_term))

    async def aforget(self) -> None:
        """Delete every memlayer memory of this scope (user_id/agent_id/run_id); the buffer stays."""
        self._pending = []
        await self._handle.arun(ops.delete_all(self._scope))

    def forget(self) -> None:
        asyncio_run(self.aforget())


def _rebuild(cls: type[MemlayerMemory], data: dict[str, Any]) -> MemlayerMemory:
    return cls.from_dict(data)
