"""Compatibility with langchain-classic: ``MemlayerMemory`` (a chain ``BaseMemory``) and
``MemlayerChatMessageHistory`` (a ``BaseChatMessageHistory``).

``MemlayerMemory`` recalls the memories relevant to a chain's input into one prompt variable
(``history`` by default, for ``ConversationChain``) and adds each exchange to memlayer. The chat history
keeps every message as one verbatim memory with metadata ``lc_history`` (the session id), ``role`` (the
LangChain message type), ``sequence`` (its position), ``lc_message`` (the serialised message, so
messages round-trip exactly) and memlayer's transcript mark (``memlayer_transcript``: a user-wide
``search`` leaves these rows out; ``get_all`` still lists them); ``messages`` reads them back in sequence
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, SystemMessage, message_to_dict, messages_from_dict
from pydantic import ConfigDict, Field, PrivateAttr

from memlayer.errors import missing_extra
from memlayer.kit import AUTO, TRANSCRIPT_KEY, FloorSetting, Op, format_recall, ops, resolve_floor, scope
from memlayer.records import MemoryRecord, SearchAnswer

from ._memory import ROLES, MemoryHandle, Scope, and_filters, message_text

try:
    from langchain_classic.base_memory import BaseMemory
except ImportError as exc:
    raise missing_extra("langchain-classic", "langchain-classic") from exc

__all__ = ["MemlayerChatMessageHistory", "MemlayerMemory"]


class MemlayerMemory(BaseMemory):
    """Chain memory over one memlayer scope.

    ``load_memory_variables`` searches with the chain input (``input_key``, or the one input that is
    not a memory variable) and returns the ``k`` memories as a bullet list, or as one ``SystemMessage``
    with ``return_messages=True``. ``save_context`` adds the input and output as a user/assistant exchange
    (``infer`` as in ``add()``); ``clear`` forgets the whole scope (``delete_all``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    memory_key: str = "history"
    input_key: str | None = None
    output_key: str | None = None
    k: int = 5
    filters: dict[str, Any] | None = None
    search_kwargs: dict[str, Any] = Field(default_factory=dict)
    return_messages: bool = False
    infer: bool = True
    metadata: dict[str, Any] | None = None
    header: str | None = None
    min_similarity: FloorSetting = AUTO

    _handle: MemoryHandle = PrivateAttr()
    _scope: Scope = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._handle = MemoryHandle(self.memory)
        self._scope = scope(self.user_id, self.agent_id, self.run_id)

    @property
    def memory_variables(self) -> list[str]:
        return [self.memory_key]

    def _pick(self, values: dict[str, Any], key: str | None, what: str) -> str:
        if key is not None:
            return str(values[key])
        rest = [k for k in values if k not in (self.memory_key, "stop")]
        if len(rest) != 1:
            raise ValueError(f"cannot tell which {what} to use from {sorted(rest)}; set {what}_key")
        return str(values[rest[0]])

    def _variables(self, found: SearchAnswer) -> dict[str, Any]:
        text = format_recall(found.results, found.relations, header=self.header)
        if self.return_messages:
            return {self.memory_key: [SystemMessage(content=text)] if text else []}
        return {self.memory_key: text}

    def _search(self, inputs: dict[str, Any]) -> Op[SearchAnswer]:
        query = self._pick(inputs, self.input_key, "input")
        options = {"threshold": resolve_floor(self.min_similarity, self._handle.embedder), **self.search_kwargs}
        return ops.search(query, self._scope, **options, limit=self.k, filters=and_filters(self.filters))

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return self._variables(self._handle.run(self._search(inputs)))

    async def aload_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return self._variables(await self._handle.arun(self._search(inputs)))

    def _exchange(self, inputs: dict[str, Any], outputs: dict[str, str]) -> Op[Any]:
        turn = [
            {"role": "user", "content": self._pick(inputs, self.input_key, "input")},
            {"role": "assistant", "content": self._pick(outputs, self.output_key, "output")},
        ]
        return ops.add(turn, self._scope, infer=self.infer, metadata=self.metadata)

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> None:
        self._handle.run(self._exchange(inputs, outputs))

    async def asave_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> None:
        await self._handle.arun(self._exchange(inputs, outputs))

    def clear(self) -> None:
        self._handle.run(ops.delete_all(self._scope))

    async def aclear(self) -> None:
        await self._handle.arun(ops.delete_all(self._scope))


class MemlayerChatMessageHistory(BaseChatMessageHistory):
    """A chat message history kept in memlayer, one verbatim memory per message.

    The scope is ``user_id``/``agent_id``/``run_id``; ``run_id`` defaults to ``session_id``. Several
    histories can share a scope: each only sees the memories marked with its own ``session_id``.
    """

    def __init__(
        self, memory: Any, session_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self._handle = MemoryHandle(memory)
        self.memory = memory
        self.session_id = session_id
        self.scope = scope(user_id, agent_id, session_id if run_id is None else run_id)

    def _rows(self) -> Op[list[MemoryRecord]]:
        return ops.get_all(self.scope, filters={"lc_history": self.session_id})

    @staticmethod
    def _ordered(rows: Sequence[MemoryRecord]) -> list[MemoryRecord]:
        return sorted(rows, key=lambda r: r.metadata.get("sequence", 0))

    def _to_add(self, messages: Sequence[BaseMessage], rows: Sequence[MemoryRecord]) -> Op[Any]:
        start = max((r.metadata.get("sequence", -1) for r in rows), default=-1) + 1
        out = []
        for i, m in enumerate(messages):
            meta = {"lc_history": self.session_id, "role": m.type, "sequence": start + i,
                    "lc_message": message_to_dict(m), TRANSCRIPT_KEY: True}
            out.append({"role": ROLES.get(m.type, m.type),
                        "content": message_text(m) or f"[{m.type} message]", "metadata": meta})
        return ops.add(out, self.scope, infer=False)

    @staticmethod
    def _messages(rows: Sequence[MemoryRecord]) -> list[BaseMessage]:
        return messages_from_dict([r.metadata["lc_message"] for r in MemlayerChatMessageHistory._ordered(rows)])

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        return self._messages(self._handle.run(self._rows()))

    async def aget_messages(self) -> list[BaseMessage]:
        return self._messages(await self._handle.arun(self._rows()))

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        if messages:
            self._handle.run(self._to_add(messages, self._handle.run(self._rows())))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        if messages:
            await self._handle.arun(self._to_add(messages, await self._handle.arun(self._rows())))

    def clear(self) -> None:
        for row in self._handle.run(self._rows()):
            self._handle.run(ops.delete(row.id))

    async def aclear(self) -> None:
        for row in await self._handle.arun(self._rows()):
            await self._handle.arun(ops.delete(row.id))
