"""FAISS flat inner-product index keyed by memory row ids.

Scoped searches pass the scope's ids (computed in SQLite): small sets are scored exactly from the
reconstructed vectors, larger ones with an ``IDSelectorBatch`` — exact either way, so a scope always
gets its own true top-k, whatever other scopes hold.
"""

from __future__ import annotations

import numpy as np

try:
    import faiss
except ImportError as exc:  # pragma: no cover - faiss-cpu is a core dependency
    raise ImportError('faiss is not installed: pip install "memlayer" (it depends on faiss-cpu)') from exc

SMALL_SET = 2048  # up to this many allowed ids: gather and score them directly


def _topk(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        scores, ids = scores[part], ids[part]
    order = np.lexsort((ids, -scores))  # best first, ties by id for determinism
    return scores[order], ids[order]


class FaissIndex:
    def __init__(self, dims: int) -> None:
        self.dims = int(dims)
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dims))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dims)
        if allowed is not None:
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            if len(allowed) == 0 or k <= 0:
                return np.empty(0, np.float32), np.empty(0, np.int64)
            if len(allowed) <= SMALL_SET:
                vecs = self._index.reconstruct_batch(allowed)
                return _topk(vecs @ q[0], allowed, min(k, len(allowed)))
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed)))  # type: ignore[call-arg]
            scores, found = self._index.search(q, min(k, len(allowed)), params=params)
        else:
            if len(self) == 0 or k <= 0:
                return np.empty(0, np.float32), np.empty(0, np.int64)
            scores, found = self._index.search(q, min(k, len(self)))
        keep = found[0] >= 0
        return scores[0][keep], found[0][keep]

    def save(self, path: str) -> None:
        faiss.write_index(self._index, path)

    def load(self, path: str) -> None:
        index = faiss.read_index(path)
        if index.d != self.dims:
            raise ValueError(f"index at {path} has {index.d} dims, expected {self.dims}")
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"index at {path} is not an id-mapped index")
        self._index = index
