"""MemlayerRetriever: memlayer search as a LlamaIndex retriever (query and chat engines)."""

from __future__ import annotations

import hashlib
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from ._client import MemlayerClient, Scope
from ._convert import format_recall

# Metadata the LLM sees with each memory; the rest (ids, scores) stays out of prompts and embeddings.
LLM_METADATA_KEYS = ("created_at",)


class MemlayerRetriever(BaseRetriever):
    """Retrieves a scope's memories as ``NodeWithScore`` (``TextNode`` id = memory id, text = memory).

    Node metadata holds the memory's own metadata plus ``memory_id``, ``user_id``, ``agent_id``,
    ``run_id``, ``created_at``, ``updated_at``, ``attribute`` and ``similarity``; the score is
    memlayer's ranking score. With ``include_relations=True`` the graph relations found for the
    query come last as one extra node (score None).
    """

    def __init__(
        self, memory: Any, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        limit: int = 5, threshold: float | None = None, filters: dict[str, Any] | None = None,
        include_relations: bool = False, search_options: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None, verbose: bool = False,
    ) -> None:
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self._client = MemlayerClient(memory)
        self._scope = Scope(user_id, agent_id, run_id)
        self._options: dict[str, Any] = {"limit": limit, "threshold": threshold, "filters": filters,
                                         **(search_options or {})}
        self._include_relations = include_relations

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._to_nodes(self._client.search(query_bundle.query_str, self._scope, **self._options))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._to_nodes(await self._client.asearch(query_bundle.query_str, self._scope, **self._options))

    def _to_nodes(self, found: dict[str, Any]) -> list[NodeWithScore]:
        nodes = [to_node(r) for r in found.get("results", [])]
        relations = found.get("relations") or []
        if self._include_relations and relations:
            text = format_recall([], relations)
            digest = hashlib.sha1(text.encode()).hexdigest()[:16]
            node = TextNode(id_=f"memlayer-relations-{digest}", text=text, metadata={"kind": "relations"})
            node.excluded_llm_metadata_keys = ["kind"]
            node.excluded_embed_metadata_keys = ["kind"]
            nodes.append(NodeWithScore(node=node, score=None))
        return nodes


def to_node(result: dict[str, Any]) -> NodeWithScore:
    """One memlayer search result as a scored TextNode."""
    metadata: dict[str, Any] = dict(result.get("metadata") or {})
    metadata.update({
        "memory_id": result["id"], "user_id": result.get("user_id"), "agent_id": result.get("agent_id"),
        "run_id": result.get("run_id"), "created_at": result.get("created_at"),
        "updated_at": result.get("updated_at"), "attribute": result.get("attribute"),
        "similarity": result.get("similarity"),
    })
    hidden = [k for k in metadata if k not in LLM_METADATA_KEYS]
    node = TextNode(
        id_=str(result["id"]), text=str(result.get("memory", "")), metadata=metadata,
        excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=list(metadata),
    )
    score = result.get("score")
    return NodeWithScore(node=node, score=None if score is None else float(score))


__all__ = ["MemlayerRetriever", "to_node"]
