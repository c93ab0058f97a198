"""Scores of a search's candidates as arrays: row ids (ascending, unique) and one number each.

A search adjusts the scores of a few hundred candidates many times over (fusion, context, speakers, times,
lengths); as arrays each step is a handful of numpy operations instead of a Python object per candidate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

EMPTY_IDS = np.empty(0, dtype=np.int64)


def id_array(rids: Iterable[int] | np.ndarray) -> np.ndarray:
    """Row ids as an int64 array."""
    if isinstance(rids, np.ndarray):
        return rids.astype(np.int64, copy=False)
    return np.fromiter(rids, dtype=np.int64)


def union(*parts: np.ndarray) -> np.ndarray:
    """The ascending unique ids of several id arrays (negative ids, meaning none, left out)."""
    ids = np.unique(np.concatenate([EMPTY_IDS, *parts]))
    return ids[ids >= 0]


def search_order(values: np.ndarray, similarity: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions of candidates in the order a search returns them: score, then similarity, then the older
    memory (the lower row id) first."""
    return np.lexsort((ids, -similarity, -values))


@dataclass
class Scores:
    ids: np.ndarray  # int64, ascending, unique
    values: np.ndarray  # float64, aligned with ids

    @classmethod
    def of(cls, ids: np.ndarray | Iterable[int], values: np.ndarray | Iterable[float]) -> Scores:
        """From ids in any order (unique) and their values."""
        ids = id_array(ids)
        values = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], values[order])

    @classmethod
    def of_dict(cls, scores: Mapping[int, float]) -> Scores:
        return cls.of(np.fromiter(scores.keys(), np.int64, len(scores)),
                      np.fromiter(scores.values(), np.float64, len(scores)))

    @classmethod
    def of_pairs(cls, pairs: list[tuple[int, float]]) -> Scores:
        return cls.of([r for r, _ in pairs], [s for _, s in pairs])

    @classmethod
    def empty(cls) -> Scores:
        return cls(EMPTY_IDS, np.empty(0, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.ids)

    def to_dict(self) -> dict[int, float]:
        return dict(zip(self.ids.tolist(), self.values.tolist(), strict=True))

    def find(self, rids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(whether each of ``rids`` has a score, its score or 0)."""
        if not len(self.ids) or not len(rids):
            return np.zeros(len(rids), dtype=bool), np.zeros(len(rids))
        pos = np.minimum(np.searchsorted(self.ids, rids), len(self.ids) - 1)
        held = self.ids[pos] == rids
        return held, np.where(held, self.values[pos], 0.0)

    def get(self, rids: np.ndarray, default: float) -> np.ndarray:
        held, values = self.find(rids)
        return np.where(held, values, default)

    def best(self) -> float:
        return float(self.values.max()) if len(self.values) else 0.0

    def top(self, n: int) -> np.ndarray:
        """The ids of the ``n`` best scores (ties: the lower id first)."""
        return self.ids[np.lexsort((self.ids, -self.values))[:n]]

    def _slots(self, rids: np.ndarray) -> np.ndarray | None:
        """The positions of ``rids`` among these ids when every one of them has a score (else None)."""
        if not len(self.ids):
            return None if len(rids) else rids[:0]
        pos = np.minimum(np.searchsorted(self.ids, rids), len(self.ids) - 1)
        return pos if bool((self.ids[pos] == rids).all()) else None

    def added(self, rids: np.ndarray, amounts: np.ndarray) -> Scores:
        """These scores with ``amounts`` added to ``rids`` (unique; one without a score starts from 0)."""
        pos = self._slots(rids)
        if pos is not None:
            values = self.values.copy()
            values[pos] += amounts
            return Scores(self.ids, values)
        ids = union(self.ids, rids)
        values = self.get(ids, 0.0)
        values[np.searchsorted(ids, rids)] += amounts
        return Scores(ids, values)

    def with_values(self, rids: np.ndarray, values: np.ndarray) -> Scores:
        """These scores with ``rids`` (unique) set to ``values`` (added when they had none)."""
        pos = self._slots(rids)
        if pos is not None:
            out = self.values.copy()
            out[pos] = values
            return Scores(self.ids, out)
        ids = union(self.ids, rids)
        out = self.get(ids, 0.0)
        out[np.searchsorted(ids, rids)] = values
        return Scores(ids, out)
