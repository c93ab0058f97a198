"""``MemlayerRetriever``: memlayer search as a LangChain retriever.

Each memory becomes a ``Document`` with ``id`` = the memory id, ``page_content`` = the memory text and
``metadata`` = the memory's own metadata plus ``score``, ``similarity``, ``user_id``, ``agent_id``,
``run_id``, ``created_at`` and ``updated_at`` (these memlayer fields win over metadata keys of the same
name). ``k`` is the number of memories asked for; ``invoke(query, k=..., filters=..., threshold=...)``
overrides it per call (call filters are ANDed with the retriever's ``filters``). Memories whose similarity
to the query is under ``min_similarity`` are not returned: ``"auto"`` (the default) is the floor calibrated
for the memory's embedder (0.1 for the bundled all-MiniLM-L6-v2; none for embedders not measured).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from memlayer.kit import AUTO, FloorSetting, Op, ops, resolve_floor, scope
from memlayer.records import SearchAnswer, SearchHit

from ._memory import MemoryHandle, Scope, and_filters


def to_document(hit: SearchHit) -> Document:
    """One memlayer search hit as a Document."""
    metadata = dict(hit.metadata)
    metadata.update({
        "score": hit.score, "similarity": hit.similarity, "user_id": hit.user_id, "agent_id": hit.agent_id,
        "run_id": hit.run_id, "created_at": hit.created_at, "updated_at": hit.updated_at,
    })
    return Document(id=hit.id, page_content=hit.memory, metadata=metadata)


class MemlayerRetriever(BaseRetriever):
    """Retrieve the memories of one memlayer scope most relevant to a query.

    ``memory`` is a ``memlayer.Memory``, ``memlayer.AsyncMemory`` or a client with their methods; at least
    one of ``user_id``, ``agent_id`` or ``run_id`` is needed. ``search_kwargs`` go to ``search()`` as they
    are (e.g. ``threshold``, ``max_tokens``, ``config``); a ``threshold`` there or in the call wins over
    ``min_similarity``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    k: int = Field(4, ge=0)
    filters: dict[str, Any] | None = None
    min_similarity: FloorSetting = AUTO
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    _handle: MemoryHandle = PrivateAttr()
    _scope: Scope = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._handle = MemoryHandle(self.memory)  # NotAMemoryError / ScopeError now, in the caller's terms
        self._scope = scope(self.user_id, self.agent_id, self.run_id)

    def _op(self, query: str, k: int | None, filters: dict[str, Any] | None, kwargs: dict[str, Any]) -> Op[SearchAnswer]:
        kwargs.pop("verbose", None)  # BaseRetriever.invoke passes its own keywords along
        options = {"threshold": resolve_floor(self.min_similarity, self._handle.embedder), **self.search_kwargs,
                   **kwargs}
        return ops.search(query, self._scope, **options, limit=self.k if k is None else int(k),
                          filters=and_filters(self.filters, filters))

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None,
        filters: dict[str, Any] | None = None, **kwargs: Any,
    ) -> list[Document]:
        return [to_document(h) for h in self._handle.run(self._op(query, k, filters, kwargs)).results]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, k: int | None = None,
        filters: dict[str, Any] | None = None, **kwargs: Any,
    ) -> list[Document]:
        return [to_document(h) for h in (await self._handle.arun(self._op(query, k, filters, kwargs))).results]
