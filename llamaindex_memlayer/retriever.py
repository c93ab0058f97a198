"""MemlayerRetriever: memlayer search as a LlamaIndex retriever (query and chat engines)."""

from __future__ import annotations

import hashlib
import threading
import weakref
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilters,
)

from memlayer import kit
from memlayer.errors import FilterError
from memlayer.kit import AUTO, FloorSetting, MemoryHandle, Op, Scope, ops
from memlayer.records import SearchAnswer, SearchHit

# Metadata the LLM sees with each memory; the rest (ids, scores) stays out of prompts and embeddings.
LLM_METADATA_KEYS = ("created_at",)
_OPERATORS = {
    FilterOperator.EQ: "eq", FilterOperator.NE: "ne", FilterOperator.GT: "gt", FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt", FilterOperator.LTE: "lte", FilterOperator.IN: "in", FilterOperator.NIN: "nin",
    FilterOperator.CONTAINS: "contains",
}


def to_memlayer_filters(filters: MetadataFilters | dict[str, Any] | None) -> dict[str, Any] | None:
    """LlamaIndex ``MetadataFilters`` (nested, AND/OR/NOT) as memlayer filters; a dict passes as it is."""
    if filters is None or isinstance(filters, dict):
        return filters
    parts: list[dict[str, Any]] = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            nested = to_memlayer_filters(f)
            if nested:
                parts.append(nested)
            continue
        op = _OPERATORS.get(f.operator)
        if op is None:
            raise FilterError(f"memlayer cannot filter with {f.operator.value!r} (on {f.key!r}); "
                              f"use one of {sorted(o.value for o in _OPERATORS)}")
        parts.append({f.key: {op: f.value}})
    if not parts:
        return None
    if filters.condition == FilterCondition.NOT:  # LlamaIndex: none of the parts match
        return {"NOT": parts[0] if len(parts) == 1 else {"OR": parts}}
    if len(parts) == 1:
        return parts[0]
    return {"OR" if filters.condition == FilterCondition.OR else "AND": parts}


class MemlayerRetriever(BaseRetriever):
    """Retrieves a scope's memories as ``NodeWithScore`` (``TextNode`` id = memory id, text = memory).

    Node metadata holds the memory's own metadata plus ``memory_id``, ``user_id``, ``agent_id``,
    ``run_id``, ``created_at``, ``updated_at``, ``attribute`` and ``similarity``; the score is memlayer's
    ranking score (higher is better). ``filters`` are memlayer filters or LlamaIndex ``MetadataFilters``.
    ``threshold`` is the relevance floor (``"auto"``: calibrated for the memory's embedder). While a
    retriever over a memory and scope exists, a ``MemlayerMemory`` on the same memory and scope leaves the
    recall of ``get(input=...)`` to it: context chat engines (CondensePlusContext, Context) call the memory
    with the input and put the retriever's nodes in their own system message, so each memory is shown
    once, in that one system message. With ``include_relations=True`` the graph relations found for the
    query come last as one extra node (score None).
    """

    def __init__(
        self, memory: Any, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        limit: int = 5, threshold: FloorSetting = AUTO, filters: MetadataFilters | dict[str, Any] | None = None,
        include_relations: bool = False, search_options: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None, verbose: bool = False,
    ) -> None:
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self._handle = MemoryHandle(memory)
        self._scope = kit.scope(user_id, agent_id, run_id)
        self._options: dict[str, Any] = {
            "limit": limit, "threshold": kit.resolve_floor(threshold, self._handle.embedder),
            "filters": to_memlayer_filters(filters), **(search_options or {}),
        }
        self._include_relations = include_relations
        _register(self, self._handle.memory, self._scope)

    def _op(self, query_bundle: QueryBundle) -> Op[SearchAnswer]:
        return ops.search(query_bundle.query_str, self._scope, **self._options)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._to_nodes(self._handle.run(self._op(query_bundle)))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._to_nodes(await self._handle.arun(self._op(query_bundle)))

    def _to_nodes(self, found: SearchAnswer) -> list[NodeWithScore]:
        nodes = [to_node(h) for h in found.results]
        if self._include_relations and found.relations:
            text = kit.format_recall([], found.relations)
            digest = hashlib.sha1(text.encode()).hexdigest()[:16]
            node = TextNode(id_=f"memlayer-relations-{digest}", text=text, metadata={"kind": "relations"})
            node.excluded_llm_metadata_keys = ["kind"]
            node.excluded_embed_metadata_keys = ["kind"]
            nodes.append(NodeWithScore(node=node, score=None))
        return nodes


_retrievers: dict[tuple[str, Scope], weakref.WeakSet[MemlayerRetriever]] = {}
_lock = threading.Lock()


def _register(retriever: MemlayerRetriever, memory: Any, scope: Scope) -> None:
    with _lock:
        _retrievers.setdefault((kit.refs.reference(memory), scope), weakref.WeakSet()).add(retriever)


def retriever_covers(memory: Any, scope: Scope) -> bool:
    """Whether a live MemlayerRetriever searches ``memory`` in ``scope``."""
    with _lock:
        return bool(_retrievers.get((kit.refs.reference(memory), scope)))


def to_node(hit: SearchHit | dict[str, Any]) -> NodeWithScore:
    """One memlayer search hit as a scored TextNode."""
    if isinstance(hit, dict):
        hit = SearchHit.from_dict(hit)
    metadata: dict[str, Any] = dict(hit.metadata)
    metadata.update({
        "memory_id": hit.id, "user_id": hit.user_id, "agent_id": hit.agent_id, "run_id": hit.run_id,
        "created_at": hit.created_at, "updated_at": hit.updated_at, "attribute": hit.attribute,
        "similarity": hit.similarity,
    })
    hidden = [k for k in metadata if k not in LLM_METADATA_KEYS]
    node = TextNode(
        id_=str(hit.id), text=hit.memory, metadata=metadata,
        excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=float(hit.score))


__all__ = ["MemlayerRetriever", "retriever_covers", "to_memlayer_filters", "to_node"]
