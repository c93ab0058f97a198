"""Exact vector storage: float32 rows in append-only segments, addressed by slot, keyed by id.

One copy of every vector, nothing else: the exact scorer reads it and the approximate index (if any)
re-ranks from it. Removal is O(1) (the id's slot is tombstoned and its row zeroed); tombstones are
compacted away when a snapshot is written or when they outgrow a quarter of the live rows.

A snapshot's rows can be memory-mapped copy-on-write (cold open costs no reading) and become the
first segment; new rows go to in-memory chunks after it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import faiss as _faiss
import numpy as np

faiss: Any = _faiss  # FAISS's type stubs miss the SWIG helpers used here

CHUNK = 1 << 15  # rows per in-memory segment (untouched capacity is never resident)
MAX_ID = (1 << 31) - 1  # ids index a dense id → slot table; memory row ids are dense
_BLOCK = 1 << 14  # rows per block when scoring large sets (bounds temporary memory)


def dot(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``rows @ q`` with FAISS's single-threaded SIMD kernel: a threaded BLAS matrix-vector product is
    no faster (memory-bound) and collapses on a busy machine (measured 10-30x slower under load)."""
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32)
    out = np.empty(len(rows), dtype=np.float32)
    if len(rows):
        faiss.fvec_inner_products_ny(faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(rows), len(q), len(rows))
    return out


def dot_slots(segs: list[np.ndarray], starts: list[int], slots: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``rows[slots] @ q`` over a segment list, each row read where it lies (FAISS's by-index kernel): no gathered
    copy, about half the time of gather + dot for a user's rows scattered through a large store."""
    slots = np.ascontiguousarray(slots, dtype=np.int64)
    q = np.ascontiguousarray(q, dtype=np.float32)
    out = np.empty(len(slots), dtype=np.float32)
    if not len(slots):
        return out
    if len(segs) == 1:
        return _dot_at(segs[0], slots, q)
    # the slots grouped by segment once (a rebuilt or growing store holds many 32k-row segments)
    seg_of = np.searchsorted(np.asarray(starts), slots, side="right") - 1
    order = np.argsort(seg_of, kind="stable")
    bounds = np.searchsorted(seg_of[order], np.arange(len(segs) + 1))
    for i in np.flatnonzero(np.diff(bounds)).tolist():
        at = order[bounds[i]:bounds[i + 1]]
        out[at] = _dot_at(segs[i], slots[at] - starts[i], q)
    return out


def _dot_at(seg: np.ndarray, local: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``seg[local] @ q``, each row read in place."""
    if seg.dtype != np.float32 or not seg.flags.c_contiguous:  # (segments are; a copy would be slower)
        return dot(np.asarray(seg[local], dtype=np.float32), q)
    scores = np.empty(len(local), dtype=np.float32)
    local = np.ascontiguousarray(local, dtype=np.int64)
    faiss.fvec_inner_products_by_idx(faiss.swig_ptr(scores), faiss.swig_ptr(q), faiss.swig_ptr(seg),
                                     faiss.swig_ptr(local), len(q), 1, len(local))
    return scores


def topk(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (score, id), best first, ties broken by id for determinism."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        scores, ids = scores[part], ids[part]
    order = np.lexsort((ids, -scores))
    return scores[order].astype(np.float32, copy=False), ids[order]


def id_mask(ids: np.ndarray) -> np.ndarray:
    """A table of flags over ids (ids are dense row ids): True at each of ``ids`` (negative ones left out)."""
    mask = np.zeros(int(ids.max()) + 1 if len(ids) else 0, dtype=bool)
    mask[ids[ids >= 0]] = True
    return mask


def _distinct(ids: np.ndarray) -> bool:
    """Whether ``ids`` (in [0, MAX_ID]) hold no value twice: one pass over a table of flags (np.unique of a
    million ids takes ~0.5 s, this ~10 ms)."""
    return int(np.count_nonzero(id_mask(ids))) == len(ids)


def gather_rows(segs: list[np.ndarray], starts: list[int], slots: np.ndarray, dims: int) -> np.ndarray:
    """The rows at ``slots`` of a segment list (contiguous: segment i covers ``starts[i]`` onwards), in order."""
    slots = np.asarray(slots, dtype=np.int64)
    if len(segs) == 1 or not len(slots):
        return np.asarray(segs[0][slots] if segs else np.empty((0, dims)), dtype=np.float32)
    lo, hi = int(slots.min()), int(slots.max())
    first = bisect.bisect_right(starts, lo) - 1
    if hi < starts[first] + len(segs[first]):  # all in one segment (a user's rows usually are)
        return np.asarray(segs[first][slots - starts[first]], dtype=np.float32)
    out = np.empty((len(slots), dims), dtype=np.float32)
    for i in range(first, len(segs)):
        start = starts[i]
        if start > hi:
            break
        mask = (slots >= start) & (slots < start + len(segs[i]))
        out[mask] = segs[i][slots[mask] - start]
    return out


@dataclass(frozen=True)
class Frozen:
    """The live rows at one moment, readable from another thread while the store moves on (rows are
    never moved in place: compaction builds new segments; a removed row may read as zeros)."""

    dims: int
    segs: list[np.ndarray]
    starts: list[int]
    slots: np.ndarray  # live slots
    ids: np.ndarray  # their ids
    slot_of: np.ndarray  # id → slot (a copy)

    def gather(self, slots: np.ndarray) -> np.ndarray:
        return gather_rows(self.segs, self.starts, slots, self.dims)

    def vectors_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        ok = (ids >= 0) & (ids < len(self.slot_of))
        slots = np.full(len(ids), -1, dtype=np.int64)
        slots[ok] = self.slot_of[ids[ok]]
        keep = slots >= 0
        return ids[keep], self.gather(slots[keep])


class VectorStore:
    def __init__(self, dims: int) -> None:
        self.dims = int(dims)
        self._segs: list[np.ndarray] = []
        self._starts: list[int] = []
        self._cap = 0  # total slots of all segments
        self._used = 0  # next free slot
        self._slot_ids = np.full(0, -1, dtype=np.int64)  # slot → id, -1 when free or removed
        self._slot_of = np.full(0, -1, dtype=np.int64)  # id → slot, -1 when absent
        self._live = 0

    # -- sizes --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._live

    @property
    def dead(self) -> int:
        return self._used - self._live

    def ids(self) -> np.ndarray:
        ids = self._slot_ids[: self._used]
        return ids[ids >= 0].copy()

    def slots_of(self, ids: np.ndarray) -> np.ndarray:
        """Slots of ``ids`` (-1 where absent)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), -1, dtype=np.int64)
        ok = (ids >= 0) & (ids < len(self._slot_of))
        out[ok] = self._slot_of[ids[ok]]
        return out

    def freeze(self) -> Frozen:
        slots = np.flatnonzero(self._slot_ids[: self._used] >= 0)
        return Frozen(self.dims, list(self._segs), list(self._starts), slots, self._slot_ids[slots],
                      self._slot_of.copy())

    # -- writes -------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dims)
        if not len(ids):
            return
        if ids.min() < 0 or ids.max() > MAX_ID:
            raise ValueError(f"vector ids must be in [0, {MAX_ID}]")
        if len(np.unique(ids)) != len(ids):  # the last vector of a repeated id wins
            _, last = np.unique(ids[::-1], return_index=True)
            keep = np.sort(len(ids) - 1 - last)
            ids, vectors = ids[keep], vectors[keep]
        self.remove(ids)  # a re-added id replaces its old row
        self._grow_ids(int(ids.max()))
        done = 0
        while done < len(ids):
            if self._used == self._cap:
                self._append_segment(np.empty((CHUNK, self.dims), dtype=np.float32))
            seg = len(self._segs) - 1
            row = self._used - self._starts[seg]
            n = min(len(ids) - done, len(self._segs[seg]) - row)
            self._segs[seg][row:row + n] = vectors[done:done + n]
            slots = np.arange(self._used, self._used + n, dtype=np.int64)
            self._slot_ids[slots] = ids[done:done + n]
            self._slot_of[ids[done:done + n]] = slots
            self._used += n
            done += n
        self._live += len(ids)

    def remove(self, ids: np.ndarray) -> np.ndarray:
        """Tombstone ``ids`` (absent ones are ignored); returns the ids that were present."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        slots = self.slots_of(ids)
        present = slots >= 0
        if not present.any():
            return np.empty(0, np.int64)
        slots = slots[present]
        self._slot_ids[slots] = -1
        self._slot_of[ids[present]] = -1
        self._live -= len(slots)
        for seg, rows in self._by_segment(slots):  # forgotten vectors do not linger in memory
            seg[rows] = 0.0
        if self.dead > max(CHUNK, self._live // 4):
            self.compact()
        return ids[present]

    def compact(self) -> None:
        """Rewrite the live rows into fresh segments (drops tombstones and any mapped snapshot)."""
        live = np.flatnonzero(self._slot_ids[: self._used] >= 0)
        ids = self._slot_ids[live]
        segs: list[np.ndarray] = []
        for s in range(0, len(live), CHUNK):
            seg = np.empty((CHUNK, self.dims), dtype=np.float32)
            part = live[s:s + CHUNK]
            seg[: len(part)] = self.gather(part)
            segs.append(seg)
        self._reset()
        for seg in segs:
            self._append_segment(seg)
        self._place(ids)

    def adopt(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents with ``vectors`` (e.g. a memory-mapped snapshot), rows in ``ids`` order."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() > MAX_ID or not _distinct(ids)):
            raise ValueError("snapshot ids must be unique and in range")
        self._reset()
        if len(ids):
            self._append_segment(vectors)
        self._place(ids)

    def _reset(self) -> None:
        self._segs, self._starts, self._cap, self._used, self._live = [], [], 0, 0, 0
        self._slot_ids = np.full(0, -1, dtype=np.int64)
        self._slot_of = np.full(0, -1, dtype=np.int64)

    def _place(self, ids: np.ndarray) -> None:
        n = len(ids)
        self._slot_ids[:n] = ids
        if n:
            self._grow_ids(int(ids.max()))
            self._slot_of[ids] = np.arange(n, dtype=np.int64)
        self._used = self._live = n

    def _append_segment(self, seg: np.ndarray) -> None:
        self._segs.append(seg)
        self._starts.append(self._cap)
        self._cap += len(seg)
        grown = np.full(self._cap, -1, dtype=np.int64)
        grown[: len(self._slot_ids)] = self._slot_ids
        self._slot_ids = grown

    def _grow_ids(self, max_id: int) -> None:
        if max_id >= len(self._slot_of):
            grown = np.full(max(max_id + 1, 2 * len(self._slot_of), 1024), -1, dtype=np.int64)
            grown[: len(self._slot_of)] = self._slot_of
            self._slot_of = grown

    # -- reads --------------------------------------------------------------------------------
    def _by_segment(self, slots: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        if len(self._segs) == 1:
            return [(self._segs[0], slots)]
        seg_of = np.searchsorted(np.asarray(self._starts), slots, side="right") - 1
        out = []
        for i in np.unique(seg_of):
            mask = seg_of == i
            out.append((self._segs[i], slots[mask] - self._starts[i]))
        return out

    def gather(self, slots: np.ndarray) -> np.ndarray:
        """The rows at ``slots`` (allocated ones), in order."""
        return gather_rows(self._segs, self._starts, slots, self.dims)

    def get(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(present ids, their vectors)."""
        ids = np.asarray(ids, dtype=np.int64)
        slots = self.slots_of(ids)
        keep = slots >= 0
        return ids[keep], self.gather(slots[keep])

    def score_ids(self, q: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k among ``ids`` (absent ones skipped), gathering rows in bounded blocks."""
        ids = np.asarray(ids, dtype=np.int64)
        slots = self.slots_of(ids)
        keep = slots >= 0
        ids, slots = ids[keep], slots[keep]
        if not len(ids) or k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        best_s, best_i = np.empty(0, np.float32), np.empty(0, np.int64)
        for s in range(0, len(slots), _BLOCK):
            scores = dot_slots(self._segs, self._starts, slots[s:s + _BLOCK], q)
            best_s, best_i = topk(np.concatenate([best_s, scores]), np.concatenate([best_i, ids[s:s + _BLOCK]]),
                                  min(k, len(best_s) + len(scores)))
        return best_s, best_i

    def scan(self, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k over every live row (``mask``: a boolean table over ids restricting them)."""
        best_s, best_i = np.empty(0, np.float32), np.empty(0, np.int64)
        if k <= 0:
            return best_s, best_i
        for seg, start in zip(self._segs, self._starts, strict=True):
            n = min(len(seg), self._used - start)
            if n <= 0:
                break
            for b in range(0, n, 4 * _BLOCK):
                rows = slice(b, min(n, b + 4 * _BLOCK))
                ids = self._slot_ids[start + rows.start:start + rows.stop]
                ok = ids >= 0
                if mask is not None:
                    ok &= mask[np.clip(ids, 0, len(mask) - 1)] & (ids < len(mask))
                if not ok.any():
                    continue
                scores = dot(seg[rows], q)
                scores, ids = scores[ok], ids[ok]
                best_s, best_i = topk(np.concatenate([best_s, scores]), np.concatenate([best_i, ids]),
                                      min(k, len(best_s) + len(scores)))
        return best_s, best_i
