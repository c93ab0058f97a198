"""The approximate index: IVF with 8-bit scalar-quantised codes, candidates re-ranked exactly.

Why IVF-SQ8 (measured on 2 cores, 384 dims; see BENCHMARKS.md): it trains and fills in seconds to a
minute where HNSW takes minutes, it supports removal (FAISS's HNSW does not, and memories are
updated and forgotten), its codes are a quarter of the float vectors (no second full copy: the exact
rows stay in the VectorStore, which re-ranks the candidates) and it serialises compactly.

``nprobe`` is calibrated at build time on the data itself: sampled rows are used as queries (their
own hit left out) and the smallest nprobe whose re-ranked recall@k reaches the target plus a margin
is kept. A filtered search over a fraction ``f`` of the rows probes ``nprobe / sqrt(f)`` lists: the
k best of a subset lie deeper in the global ranking, and this rule matched measured recall.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faiss as _faiss
import numpy as np

from .store import Frozen, dot, topk

faiss: Any = _faiss  # FAISS's type stubs miss the SWIG helpers used here

log = logging.getLogger("memlayer.vectors")
MARGIN = 0.02  # calibrate above the target: queries differ from the sample a little
CALIBRATION_QUERIES = 64
KMEANS_ITERATIONS = 10
SQ8_COST = 0.1  # scanning one SQ8 code vs gathering and scoring one float row (measured 0.03-0.08 at 1M)


def choose_nlist(n: int) -> int:
    """About sqrt(n) lists, a power of two in [16, 4096]: lists of ~sqrt(n) codes."""
    return int(min(4096, max(16, 2 ** round(math.log2(max(1.0, math.sqrt(n)))))))


@dataclass
class Ann:
    index: Any  # faiss.IndexIVFScalarQuantizer
    nprobe: int
    trained_n: int
    recall: float  # re-ranked recall@k measured at calibration

    @property
    def nlist(self) -> int:
        return int(self.index.nlist)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def probes(self, frac: float) -> int:
        return int(min(self.nlist, math.ceil(self.nprobe / math.sqrt(max(frac, 1e-9)))))

    def scan_cost(self, frac: float) -> float:
        """Expected work of a search over a fraction ``frac`` of the rows, in exact-row units."""
        return SQ8_COST * self.probes(frac) / self.nlist * len(self)

    def candidates(self, q: np.ndarray, k: int, frac: float = 1.0, sel: Any = None) -> np.ndarray:
        params = faiss.SearchParametersIVF(nprobe=self.probes(frac), sel=sel)
        _, found = self.index.search(q.reshape(1, -1), k, params=params)
        return found[0][found[0] >= 0]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))

    # -- persistence: streamed through the caller's file object ------------------------------------
    def meta(self) -> dict[str, Any]:
        return {"kind": "ivf-sq8", "nprobe": self.nprobe, "trained_n": self.trained_n, "recall": self.recall}

    def write(self, fh: Any) -> None:
        faiss.write_index(self.index, faiss.PyCallbackIOWriter(fh.write))

    @classmethod
    def read(cls, fh: Any, meta: dict[str, Any]) -> Ann:
        index = faiss.read_index(faiss.PyCallbackIOReader(fh.read))
        return cls(index, int(meta["nprobe"]), int(meta["trained_n"]), float(meta["recall"]))


def build(
    rows: Frozen, *, k: int, target_recall: float, oversample: int, threads: int,
    cancelled: Callable[[], bool], seed: int = 0,
) -> Ann | None:
    """Train, fill and calibrate an IVF-SQ8 index over ``rows`` (None when cancelled)."""
    faiss.omp_set_num_threads(threads)  # OpenMP settings are per calling thread: foreground untouched
    n, dims = len(rows.slots), rows.dims
    nlist = min(choose_nlist(n), max(1, n // 8))
    index = faiss.index_factory(dims, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)  # already the IVF type
    rng = np.random.default_rng(seed)
    sample = rows.gather(rows.slots[np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))])
    centroids = None
    for _ in range(KMEANS_ITERATIONS):  # one k-means iteration per call: cancellable in between
        if cancelled():
            return None
        km = faiss.Kmeans(dims, nlist, niter=1, spherical=True, seed=seed)
        km.train(sample, init_centroids=centroids)
        centroids = km.centroids
    index.quantizer.add(centroids)
    index.train(sample)  # the quantizer is trained: this only fits the scalar quantizer
    step = 1 << 15
    for s in range(0, n, step):
        if cancelled():
            return None
        index.add_with_ids(rows.gather(rows.slots[s:s + step]), rows.ids[s:s + step])
    ann = Ann(index, 1, n, 0.0)
    tuned = calibrate(ann, rows, k=k, target=target_recall, oversample=oversample, rng=rng, cancelled=cancelled)
    if tuned is None:
        return None
    ann.nprobe, ann.recall = tuned
    log.info("approximate index ready: %d rows, %d lists, nprobe %d, recall@%d %.3f", n, nlist, ann.nprobe, k,
             ann.recall)
    return ann


def calibrate(
    ann: Ann, rows: Frozen, *, k: int, target: float, oversample: int, rng: np.random.Generator,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[int, float] | None:
    """The smallest nprobe (a power of two) reaching ``target`` + MARGIN re-ranked recall@k."""
    n = len(rows.slots)
    pick = rng.choice(n, size=min(CALIBRATION_QUERIES, n), replace=False)
    q, q_ids = rows.gather(rows.slots[pick]), rows.ids[pick]
    truth = _exact_truth(rows, q, q_ids, k, cancelled)
    nprobe, recall = 1, 0.0
    while truth is not None and not cancelled():
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        _, found = ann.index.search(q, oversample * k + 1, params=params)
        hits = 0
        for i in range(len(q)):
            cand = found[i][(found[i] >= 0) & (found[i] != q_ids[i])]
            ids, vecs = rows.vectors_of(cand)
            best = topk(dot(vecs, q[i]), ids, min(k, len(ids)))[1] if len(ids) else ids
            hits += len(set(best.tolist()) & truth[i])
        recall = hits / max(1, sum(len(t) for t in truth))
        if recall >= min(0.999, target + MARGIN) or nprobe >= ann.nlist:
            return min(nprobe, ann.nlist), recall
        nprobe *= 2
    return None


def _exact_truth(
    rows: Frozen, q: np.ndarray, q_ids: np.ndarray, k: int, cancelled: Callable[[], bool]
) -> list[set[int]] | None:
    """Each query's exact top-k among the rows, itself left out (FAISS's blocked exact k-NN)."""
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    step = 1 << 15
    for s in range(0, len(rows.slots), step):
        if cancelled():
            return None
        block_ids = rows.ids[s:s + step]
        scores, pos = faiss.knn(q, rows.gather(rows.slots[s:s + step]), min(k + 1, len(block_ids)),
                                metric=faiss.METRIC_INNER_PRODUCT)
        ids = np.where(pos >= 0, block_ids[np.clip(pos, 0, None)], -1)
        scores = np.where((ids == q_ids[:, None]) | (ids < 0), -np.inf, scores)
        all_s, all_i = np.concatenate([best_s, scores], axis=1), np.concatenate([best_i, ids], axis=1)
        keep = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(all_s, keep, 1), np.take_along_axis(all_i, keep, 1)
    return [set(best_i[i][np.isfinite(best_s[i])].tolist()) for i in range(len(q))]


class BuildState:
    """Bookkeeping of one background build: ids touched since its snapshot, and cancellation."""

    def __init__(self) -> None:
        self.touched: set[int] = set()
        self.cancel = threading.Event()
        self.thread: threading.Thread | None = None
        self._ids, self._of = np.empty(0, np.int64), self.touched  # ``touched`` as an array (``ids``)

    def touch(self, ids: np.ndarray) -> None:
        self.touched.update(np.asarray(ids, dtype=np.int64).tolist())

    def ids(self) -> np.ndarray:
        """``touched`` as a sorted array (kept until more ids are touched: the set only grows)."""
        if self._of is not self.touched or len(self._ids) != len(self.touched):
            self._ids = np.sort(np.fromiter(self.touched, dtype=np.int64, count=len(self.touched)))
            self._of = self.touched
        return self._ids
