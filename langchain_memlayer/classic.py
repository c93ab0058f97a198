"""Compatibility with langchain-classic: ``MemlayerMemory`` (a chain ``BaseMemory``) and
``MemlayerChatMessageHistory`` (a ``BaseChatMessageHistory``).

``MemlayerMemory`` recalls the memories relevant to a chain's input into one prompt variable
(``history`` by default, for ``ConversationChain``) and adds each exchange to memlayer. The chat history
keeps every message as one verbatim memory with metadata ``lc_history`` (the session id), ``role`` (the
LangChain message type), ``sequence`` (its position) and ``lc_message`` (the serialised message, so
messages round-trip exactly); ``messages`` reads them back in sequence order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, SystemMessage, message_to_dict, messages_from_dict
from pydantic import ConfigDict, Field

from memlayer.errors import missing_extra

from ._memory import ALL, ROLES, MemoryClient, and_filters, format_memories, message_text, scope_kwargs

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

    @property
    def memory_variables(self) -> list[str]:
        return [self.memory_key]

    @property
    def _scope(self) -> dict[str, str | None]:
        return scope_kwargs(self.user_id, self.agent_id, self.run_id)

    def _pick(self, values: dict[str, Any], key: str | None, what: str) -> str:
        if key is not None:
            return str(values[key])
        rest = [k for k in values if k not in (self.memory_key, "stop")]
        if len(rest) != 1:
            raise ValueError(f"cannot tell which {what} to use from {sorted(rest)}; set {what}_key")
        return str(values[rest[0]])

    def _variables(self, found: dict[str, Any]) -> dict[str, Any]:
        text = format_memories(found["results"], self.header)
        if self.return_messages:
            return {self.memory_key: [SystemMessage(content=text)] if text else []}
        return {self.memory_key: text}

    def _search_args(self) -> dict[str, Any]:
        return {**self.search_kwargs, **self._scope, "limit": self.k, "filters": and_filters(self.filters)}

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        query = self._pick(inputs, self.input_key, "input")
        return self._variables(MemoryClient(self.memory).call("search", query, **self._search_args()))

    async def aload_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        query = self._pick(inputs, self.input_key, "input")
        return self._variables(await MemoryClient(self.memory).acall("search", query, **self._search_args()))

    def _exchange(self, inputs: dict[str, Any], outputs: dict[str, str]) -> list[dict[str, str]]:
        return [
            {"role": "user", "content": self._pick(inputs, self.input_key, "input")},
            {"role": "assistant", "content": self._pick(outputs, self.output_key, "output")},
        ]

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> None:
        MemoryClient(self.memory).call(
            "add", self._exchange(inputs, outputs), **self._scope, infer=self.infer, metadata=self.metadata
        )

    async def asave_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> None:
        await MemoryClient(self.memory).acall(
            "add", self._exchange(inputs, outputs), **self._scope, infer=self.infer, metadata=self.metadata
        )

    def clear(self) -> None:
        MemoryClient(self.memory).call("delete_all", **self._scope)

    async def aclear(self) -> None:
        await MemoryClient(self.memory).acall("delete_all", **self._scope)


class MemlayerChatMessageHistory(BaseChatMessageHistory):
    """A chat message history kept in memlayer, one verbatim memory per message.

    The scope is ``user_id``/``agent_id``/``run_id``; ``run_id`` defaults to ``session_id``. Several
    histories can share a scope: each only sees the memories marked with its own ``session_id``.
    """

    def __init__(
        self, memory: Any, session_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self._client = MemoryClient(memory)
        self.memory = memory
        self.session_id = session_id
        self.scope = scope_kwargs(user_id, agent_id, session_id if run_id is None else run_id)

    def _list_args(self) -> dict[str, Any]:
        return {**self.scope, "filters": {"lc_history": self.session_id}, "limit": ALL}

    @staticmethod
    def _ordered(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: r["metadata"].get("sequence", 0))

    def _to_add(self, messages: Sequence[BaseMessage], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        start = max((r["metadata"].get("sequence", -1) for r in rows), default=-1) + 1
        out = []
        for i, m in enumerate(messages):
            meta = {"lc_history": self.session_id, "role": m.type, "sequence": start + i,
                    "lc_message": message_to_dict(m)}
            out.append({"role": ROLES.get(m.type, m.type),
                        "content": message_text(m) or f"[{m.type} message]", "metadata": meta})
        return out

    @staticmethod
    def _messages(rows: Sequence[dict[str, Any]]) -> list[BaseMessage]:
        return messages_from_dict([r["metadata"]["lc_message"] for r in MemlayerChatMessageHistory._ordered(rows)])

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        return self._messages(self._client.call("get_all", **self._list_args())["results"])

    async def aget_messages(self) -> list[BaseMessage]:
        return self._messages((await self._client.acall("get_all", **self._list_args()))["results"])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        if messages:
            rows = self._client.call("get_all", **self._list_args())["results"]
            self._client.call("add", self._to_add(messages, rows), **self.scope, infer=False)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        if messages:
            rows = (await self._client.acall("get_all", **self._list_args()))["results"]
            await self._client.acall("add", self._to_add(messages, rows), **self.scope, infer=False)

    def clear(self) -> None:
        for row in self._client.call("get_all", **self._list_args())["results"]:
            self._client.call("delete", row["id"])

    async def aclear(self) -> None:
        for row in (await self._client.acall("get_all", **self._list_args()))["results"]:
            await self._client.acall("delete", row["id"])
