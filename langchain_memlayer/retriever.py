"""``MemlayerRetriever``: memlayer search as a LangChain retriever.

Each memory becomes a ``Document`` with ``id`` = the memory id, ``page_content`` = the memory text and
``metadata`` = the memory's own metadata plus ``score``, ``similarity``, ``user_id``, ``agent_id``,
``run_id``, ``created_at`` and ``updated_at`` (these memlayer fields win over metadata keys of the same
name). ``k`` is the number of memories asked for; ``invoke(query, k=..., filters=..., threshold=...)``
overrides it per call (call filters are ANDed with the retriever's ``filters``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from ._memory import MemoryClient, and_filters, scope_kwargs

_FIELDS = ("score", "similarity", "user_id", "agent_id", "run_id", "created_at", "updated_at")


def to_document(row: dict[str, Any]) -> Document:
    """One memlayer search/get_all result as a Document."""
    metadata = dict(row.get("metadata") or {})
    metadata.update({f: row[f] for f in _FIELDS if f in row})
    return Document(id=row["id"], page_content=row["memory"], metadata=metadata)


class MemlayerRetriever(BaseRetriever):
    """Retrieve the memories of one memlayer scope most relevant to a query.

    ``memory`` is a ``memlayer.Memory`` or ``memlayer.AsyncMemory``; at least one of ``user_id``,
    ``agent_id`` or ``run_id`` is needed. ``search_kwargs`` go to ``search()`` as they are
    (e.g. ``threshold``, ``max_tokens``, ``config``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    k: int = Field(4, ge=0)
    filters: dict[str, Any] | None = None
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    def _search_args(self, k: int | None, filters: dict[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.pop("verbose", None)  # BaseRetriever.invoke passes its own keywords along
        return {
            **scope_kwargs(self.user_id, self.agent_id, self.run_id),
            **self.search_kwargs,
            **kwargs,
            "limit": self.k if k is None else int(k),
            "filters": and_filters(self.filters, filters),
        }

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None,
        filters: dict[str, Any] | None = None, **kwargs: Any,
    ) -> list[Document]:
        found = MemoryClient(self.memory).call("search", query, **self._search_args(k, filters, kwargs))
        return [to_document(r) for r in found["results"]]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, k: int | None = None,
        filters: dict[str, Any] | None = None, **kwargs: Any,
    ) -> list[Document]:
        found = await MemoryClient(self.memory).acall("search", query, **self._search_args(k, filters, kwargs))
        return [to_document(r) for r in found["results"]]
