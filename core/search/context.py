"""Conversational context: a memory's neighbours and speaker within what a search may see.

Memories are ordered by insertion (``rid``). Two memories are *adjacent* when they are consecutive in
that order among the memories the search may see (its scope, validity and filters — so nothing from
another scope is ever looked at), were created at most ``gap_s`` seconds apart (when set) and share
the value of the metadata key ``context_key`` (when set). In a conversation a turn usually answers
the one before it, so a memory next to one that matches the query is likely relevant too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..storage.base import ScopeRows

Links = dict[int, tuple[int | None, int | None]]
SPEAKER_COLUMN = "speaker"  # the speaker_key that means the memories' speaker column
ROLES = frozenset({"user", "assistant", "system", "tool", "developer", "function"})  # speakers that are roles


def named_in(query: str, speakers: Iterable[str]) -> set[str]:
    """The speakers that the query names (whole words, any case)."""
    return {s for s in speakers if re.search(r"(?<!\w)" + re.escape(s) + r"(?!\w)", query, re.IGNORECASE)}


@dataclass(frozen=True)
class ScopeOrder:
    """The memories a search may see, in insertion order, with what adjacency and speakers need."""

    rids: np.ndarray  # sorted ascending
    times: np.ndarray  # created_at (epoch seconds), aligned with rids
    groups: list[Any] | None  # the context_key metadata value of each, aligned with rids
    speakers: list[Any] | None  # who said each (the speaker column, or a metadata key), aligned with rids
    segments: np.ndarray | None = None  # a part of a selection: only rows of one segment are consecutive in it
    _adjacency: dict[float | None, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_rows(
        cls, rows: ScopeRows, context_key: str | None = None, speaker_key: str | None = None,
        segments: np.ndarray | None = None,
    ) -> ScopeOrder:
        """From a store's ``scope_rows(selection, keys)`` read with the keys given here. ``speaker_key``
        ``"speaker"`` reads the speaker column (which holds the ``speaker`` metadata override), any other key
        that metadata key."""
        if speaker_key is None:
            speakers = None
        elif speaker_key == SPEAKER_COLUMN and rows.speakers is not None:
            speakers = rows.speakers
        else:
            speakers = rows.values[speaker_key]
        return cls(rows.rids, rows.times, None if context_key is None else rows.values[context_key], speakers,
                   segments)

    def __len__(self) -> int:
        return len(self.rids)

    def _positions(self, rids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(rids, their indexes) for those of ``rids`` that this order holds."""
        wanted = np.fromiter(rids, dtype=np.int64)
        if not len(wanted) or not len(self.rids):
            return wanted[:0], wanted[:0]
        pos = np.searchsorted(self.rids, wanted)
        pos[pos >= len(self.rids)] = 0
        held = self.rids[pos] == wanted
        return wanted[held], pos[held]

    def adjacent_to_previous(self, gap_s: float | None) -> np.ndarray:
        """For each row, whether it is adjacent to the row before it (computed once per gap)."""
        cached = self._adjacency.get(gap_s)
        if cached is not None:
            return cached
        ok = np.zeros(len(self.rids), dtype=bool)
        if len(self.rids) > 1:
            ok[1:] = True
            if gap_s is not None:
                ok[1:] &= np.abs(np.diff(self.times)) <= gap_s
            if self.segments is not None:
                ok[1:] &= self.segments[1:] == self.segments[:-1]
            if self.groups is not None:
                groups = self.groups
                ok[1:] &= np.array([a == b for a, b in zip(groups[1:], groups[:-1], strict=True)], dtype=bool)
        self._adjacency[gap_s] = ok
        return ok

    def neighbours(self, rids: Iterable[int], gap_s: float | None) -> Links:
        """rid → (previous, next) adjacent memory, None where there is none."""
        found, at = self._positions(rids)
        if not len(found):
            return {}
        ok = self.adjacent_to_previous(gap_s)
        after = np.minimum(at + 1, len(self.rids) - 1)
        prev = np.where(ok[at], self.rids[at - 1], -1).tolist()
        nxt = np.where((at + 1 < len(self.rids)) & ok[after], self.rids[after], -1).tolist()
        return {r: (p if p >= 0 else None, n if n >= 0 else None)
                for r, p, n in zip(found.tolist(), prev, nxt, strict=True)}

    def speakers_named(self, query: str) -> set[str]:
        """The speakers of these memories that the query names (whole words, any case)."""
        return named_in(query, self.all_speakers())

    def all_speakers(self) -> set[str]:
        return {s for s in set(self.speakers or ()) if isinstance(s, str) and s.strip()}

    def times_of(self, rids: Iterable[int]) -> dict[int, float]:
        found, at = self._positions(rids)
        return dict(zip(found.tolist(), self.times[at].tolist(), strict=True))

    def speaker_of(self, rids: Iterable[int]) -> dict[int, Any]:
        if not self.speakers:
            return {}
        speakers = self.speakers
        found, at = self._positions(rids)
        return {r: speakers[i] for r, i in zip(found.tolist(), at.tolist(), strict=True)}


def propagate(
    base: dict[int, float], links: Links, inherit: float, prev_w: float, next_w: float,
    speakers: dict[int, Any] | None = None,
) -> dict[int, float]:
    """Scores with context: ``max(own, inherit * previous) + prev_w * previous + next_w * next`` for the
    linked memories (a neighbour without a score counts 0); the others keep their own score. A memory inherits
    only as a reply: not from a previous memory of the same known speaker (``speakers``: rid -> speaker), which
    it continues rather than answers."""
    out = dict(base)
    for rid, (prev, nxt) in links.items():
        own = base.get(rid, 0.0)
        p = base.get(prev, 0.0) if prev is not None else 0.0
        n = base.get(nxt, 0.0) if nxt is not None else 0.0
        who = speakers.get(rid) if speakers else None
        reply = who is None or prev is None or speakers is None or speakers.get(prev) != who
        out[rid] = (max(own, inherit * p) if reply else own) + prev_w * p + next_w * n
    return out


def expand(order: ScopeOrder, prelim: dict[int, float], pool: int, gap_s: float | None) -> tuple[Links, set[int]]:
    """Context links for the best ``pool`` memories and their neighbours, and every memory involved."""
    top = sorted(prelim, key=lambda r: -prelim[r])[:pool]
    first = order.neighbours(top, gap_s)
    linked = set(top) | {n for pair in first.values() for n in pair if n is not None}
    links = order.neighbours(linked, gap_s)
    involved = linked | {n for pair in links.values() for n in pair if n is not None}
    return links, involved


def length_bonus(lengths: dict[int, int], weight: float) -> dict[int, float]:
    """``weight * log(1 + length)``: longer memories carry more facts (pivoted-normalisation idea)."""
    return {rid: weight * math.log1p(max(n, 0)) for rid, n in lengths.items()}
