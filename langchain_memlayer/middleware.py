"""``MemlayerMiddleware``: long-term memory for ``langchain.agents.create_agent`` agents.

Before every model call the memories relevant to the latest user message are recalled and appended to
the system message of that request (the agent state is left unchanged; in a tool loop each model call
searches again, with the same latest user message). After the agent run the run's
new user and assistant messages are added to memlayer, with inference on by default, so the extractor
keeps facts rather than transcripts.

*New messages* are those after the last message recorded in this thread (a private state key
remembers its id, so with a checkpointer each turn is recorded once); when that id is unknown, e.g.
without a checkpointer, the run's messages from the last user message on are recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from langchain_core.messages import AnyMessage, SystemMessage
from typing_extensions import NotRequired

from memlayer.errors import missing_extra
from memlayer.kit import AUTO, FloorSetting, Op, format_recall, ops, resolve_floor, unseen
from memlayer.records import SearchAnswer

from ._memory import MemoryHandle, Scope, and_filters, message_text, resolve_scope, to_memlayer_messages

try:
    from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
    from langchain.agents.middleware.types import ModelCallResult, PrivateStateAttr
    from langgraph.runtime import Runtime
except ImportError as exc:  # pragma: no cover - exercised by a test that hides langchain
    raise missing_extra("langchain", "langchain") from exc

__all__ = ["MemlayerMiddleware", "MemlayerState"]

DEFAULT_HEADER = "Relevant long-term memories about the user (from earlier conversations):"


class MemlayerState(AgentState[Any]):
    """Agent state plus the id of the last message recorded into memlayer (private)."""

    memlayer_last_id: NotRequired[Annotated[str | None, PrivateStateAttr]]


class MemlayerMiddleware(AgentMiddleware[MemlayerState, Any]):
    """Recall memories into each model request and record each run's conversation.

    Args:
        memory: a ``memlayer.Memory``, ``memlayer.AsyncMemory`` or a client with their methods.
        user_id: a fixed user id, or a callable of the ``Runtime`` returning one; when None it is read
            from the runtime context as ``context[context_key]`` (mapping, dataclass or object).
        agent_id, run_id: fixed scope ids (optional).
        k, filters, search_kwargs: what ``search()`` gets for recall.
        min_similarity: the relevance floor of recall; ``"auto"`` is the one calibrated for the memory's
            embedder (0.1 for the bundled all-MiniLM-L6-v2), None recalls the top ``k`` whatever they are.
        recall, record: turn either half off.
        infer: ``add(..., infer=...)`` for recording (default True: extract facts).
        metadata: metadata for recorded memories.
        header: the line above the recalled memories in the system message.
        tools: also give the agent ``search_memory``/``save_memory`` tools on the same scope.
    """

    state_schema = MemlayerState

    def __init__(
        self, memory: Any, *, user_id: str | Callable[[Any], str | None] | None = None,
        agent_id: str | None = None, run_id: str | None = None, context_key: str | None = "user_id",
        k: int = 5, filters: dict[str, Any] | None = None, search_kwargs: dict[str, Any] | None = None,
        recall: bool = True, record: bool = True, infer: bool = True, metadata: dict[str, Any] | None = None,
        header: str = DEFAULT_HEADER, tools: bool = False, min_similarity: FloorSetting = AUTO,
    ) -> None:
        super().__init__()
        self._handle = MemoryHandle(memory)
        self.memory = memory
        self.user_id, self.agent_id, self.run_id, self.context_key = user_id, agent_id, run_id, context_key
        self.k, self.filters, self.search_kwargs = k, filters, dict(search_kwargs or {})
        self.recall, self.record, self.infer, self.metadata, self.header = recall, record, infer, metadata, header
        self.min_similarity = min_similarity
        self.tools = []
        if tools:
            from .tools import create_memory_tools

            self.tools = create_memory_tools(
                memory, user_id=user_id, agent_id=agent_id, run_id=run_id, context_key=context_key, k=k,
                min_similarity=min_similarity,
            )

    def _scope(self, runtime: Any) -> Scope:
        return resolve_scope(self.user_id, self.agent_id, self.run_id, self.context_key, runtime)

    # -- recall -------------------------------------------------------------------------------
    def _recall_op(self, request: ModelRequest[Any]) -> Op[SearchAnswer] | None:
        if not self.recall:
            return None
        query = next((message_text(m) for m in reversed(request.messages) if m.type == "human"), "")
        if not query:
            return None
        options = {"threshold": resolve_floor(self.min_similarity, self._handle.embedder), **self.search_kwargs}
        return ops.search(query, self._scope(request.runtime), **options, limit=self.k,
                          filters=and_filters(self.filters))

    def _with_memories(self, request: ModelRequest[Any], found: SearchAnswer) -> ModelRequest[Any]:
        shown = [message_text(m) for m in request.messages]  # what the model sees already is not recalled
        block = format_recall(unseen(found.results, shown), found.relations, header=self.header)
        if not block:
            return request
        current = request.system_message
        if current is None:
            return request.override(system_message=SystemMessage(content=block))
        if isinstance(current.content, str):
            content: Any = f"{current.content}\n\n{block}" if current.content else block
        else:
            content = [*current.content, {"type": "text", "text": block}]
        return request.override(system_message=current.model_copy(update={"content": content}))

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelCallResult[Any]:
        op = self._recall_op(request)
        if op is not None:
            request = self._with_memories(request, self._handle.run(op))
        return handler(request)

    async def awrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]]
    ) -> ModelCallResult[Any]:
        op = self._recall_op(request)
        if op is not None:
            request = self._with_memories(request, await self._handle.arun(op))
        return await handler(request)

    # -- record -------------------------------------------------------------------------------
    @staticmethod
    def new_messages(messages: Sequence[AnyMessage], last_id: str | None) -> Sequence[AnyMessage]:
        """The messages after ``last_id``; without it, from the last user message on."""
        ids = [m.id for m in messages]
        if last_id is not None and last_id in ids:
            return messages[ids.index(last_id) + 1:]
        humans = [i for i, m in enumerate(messages) if m.type == "human"]
        return messages[humans[-1]:] if humans else messages

    def _record_op(self, state: MemlayerState, runtime: Runtime[Any]) -> tuple[Op[Any] | None, str | None]:
        messages = state.get("messages", [])
        last = messages[-1].id if messages else None
        if not self.record:
            return None, last
        turn = to_memlayer_messages(self.new_messages(messages, state.get("memlayer_last_id")), ("human", "ai"))
        if not turn:
            return None, last
        return ops.add(turn, self._scope(runtime), infer=self.infer, metadata=self.metadata), last

    def after_agent(self, state: MemlayerState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        op, last = self._record_op(state, runtime)
        if op is not None:
            self._handle.run(op)
        return {"memlayer_last_id": last} if last else None

    async def aafter_agent(self, state: MemlayerState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        op, last = self._record_op(state, runtime)
        if op is not None:
            await self._handle.arun(op)
        return {"memlayer_last_id": last} if last else None
