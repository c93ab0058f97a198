"""LangGraph's ``index=`` for ``MemlayerStore``: its own embeddings, one vector per indexed field.

With an ``IndexConfig`` (``dims``, ``embed`` as a LangChain ``Embeddings``, a sync or async callable or a
``"provider:model"`` string, and ``fields``), each text an item's fields yield is embedded with that
``embed`` and kept with the item (float32, base64, in the ``lg_vectors`` metadata entry); a query is
scored against every vector of an item and the best one counts, as cosine similarity, as in LangGraph's
own stores. Without an index the store ranks with memlayer's own embedder (one vector per item).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from langgraph.store.base import IndexConfig, ensure_embeddings, get_text_at_path, tokenize_path

from memlayer.errors import ConfigError

VECTORS_KEY = "lg_vectors"
DISTANCES = ("cosine", "inner_product", "l2")  # as LangGraph's PostgreSQL store: higher scores rank first


class StoreIndex:
    """The embeddings and fields of one store's ``index=`` configuration."""

    def __init__(self, config: IndexConfig) -> None:
        if not isinstance(config, Mapping):
            raise ConfigError(f"index must be a LangGraph IndexConfig dict (dims, embed, fields), got {config!r}")
        if "embed" not in config:
            raise ConfigError("index needs 'embed': an Embeddings, a callable, or a 'provider:model' string")
        dims = config.get("dims")
        if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
            raise ConfigError(f"index needs 'dims', the size of the embed function's vectors, got {dims!r}")
        self.config: IndexConfig = dict(config)  # type: ignore[assignment]
        self.dims = dims
        self.embeddings = ensure_embeddings(config["embed"])
        self.fields = list(config.get("fields") or ["$"])
        self.distance = str(config.get("distance_type") or "cosine")
        if self.distance not in DISTANCES:
            raise ConfigError(f"index distance_type must be one of {sorted(DISTANCES)}, got {self.distance!r}")

    def texts(self, value: Mapping[str, Any], index: Sequence[str] | None) -> list[str]:
        """The texts to embed for ``value``: each field (``index`` fields when given) and each of its elements."""
        out: list[str] = []
        for path in self.fields if index is None else index:
            found = get_text_at_path(value, path if path == "$" else tokenize_path(path))
            out.extend(t for t in found if t)
        return out

    def _check(self, vectors: Any, n: int) -> np.ndarray:
        mat = np.asarray(vectors, dtype=np.float32).reshape(n, -1) if n else np.zeros((0, self.dims), np.float32)
        if mat.shape[1] != self.dims:
            raise ConfigError(f"index dims is {self.dims} but the embed function returned {mat.shape[1]}-dim vectors")
        return mat

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._check(self.embeddings.embed_documents(texts) if texts else [], len(texts))

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return self._check(await self.embeddings.aembed_documents(texts) if texts else [], len(texts))

    def embed_query(self, text: str) -> np.ndarray:
        return self._check([self.embeddings.embed_query(text)], 1)[0]

    async def aembed_query(self, text: str) -> np.ndarray:
        return self._check([await self.embeddings.aembed_query(text)], 1)[0]


def pack(vectors: np.ndarray) -> list[str]:
    return [base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode("ascii") for v in vectors]


def unpack(packed: Any) -> np.ndarray | None:
    if not packed:
        return None
    return np.stack([np.frombuffer(base64.b64decode(p), dtype="<f4") for p in packed])


def best_score(query: np.ndarray, vectors: np.ndarray, distance: str = "cosine") -> float:
    """The best score of ``query`` against any row of ``vectors``: cosine similarity, inner product, or
    the negated euclidean distance (``l2``), so that higher is always better."""
    q, v = query.astype(np.float64), vectors.astype(np.float64)
    if distance == "l2":
        return float(-np.linalg.norm(v - q, axis=1).min())
    dots = v @ q
    if distance == "inner_product":
        return float(dots.max())
    norms = np.linalg.norm(v, axis=1) * float(np.linalg.norm(q))
    return float((dots / np.where(norms == 0, 1.0, norms)).max())


def describe(config: IndexConfig | None) -> str:
    """The index configuration without its embed object, for reprs and errors."""
    if config is None:
        return "None"
    return json.dumps({k: v for k, v in config.items() if k != "embed"}, default=str)
