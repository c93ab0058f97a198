"""Conversational context: a memory's neighbours and speaker within what a search may see.

Memories are ordered by insertion (``rid``). Two memories are *adjacent* when they are consecutive in
that order among the memories the search may see (its scope, validity and filters — so nothing from
another scope is ever looked at), were created at most ``gap_s`` seconds apart (when set) and share
the value of the metadata key ``context_key`` (when set). In a conversation a turn usually answers
the one before it, so a memory next to one that matches the query is likely relevant too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..storage.base import ScopeRows
from .scores import Scores, id_array, union

SPEAKER_COLUMN = "speaker"  # the speaker_key that means the memories' speaker column
ROLES = frozenset({"user", "assistant", "system", "tool", "developer", "function"})  # speakers that are roles


@dataclass(frozen=True)
class Links:
    """Memories and their previous and next adjacent memory (-1: none), aligned arrays."""

    ids: np.ndarray
    prev: np.ndarray
    next: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def to_dict(self) -> dict[int, tuple[int | None, int | None]]:
        return {r: (p if p >= 0 else None, n if n >= 0 else None)
                for r, p, n in zip(self.ids.tolist(), self.prev.tolist(), self.next.tolist(), strict=True)}

    def neighbour_ids(self) -> np.ndarray:
        return union(self.prev, self.next)


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
    tokens: np.ndarray | None = None  # token counts, aligned with rids (-1: unknown), when the store read them
    _adjacency: dict[float | None, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    _speakers: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

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
                   segments, rows.tokens)

    def __len__(self) -> int:
        return len(self.rids)

    def _positions(self, rids: Iterable[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rids, their indexes) for those of ``rids`` that this order holds."""
        wanted = id_array(rids)
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

    def neighbours(self, rids: Iterable[int] | np.ndarray, gap_s: float | None) -> Links:
        """The previous and next adjacent memory of each of ``rids`` that this order holds."""
        found, at = self._positions(rids)
        if not len(found):
            return Links(found, found, found)
        ok = self.adjacent_to_previous(gap_s)
        after = np.minimum(at + 1, len(self.rids) - 1)
        prev = np.where(ok[at], self.rids[at - 1], -1)
        nxt = np.where((at + 1 < len(self.rids)) & ok[after], self.rids[after], -1)
        return Links(found, prev, nxt)

    def speakers_named(self, query: str) -> set[str]:
        """The speakers of these memories that the query names (whole words, any case)."""
        return named_in(query, self.all_speakers())

    def all_speakers(self) -> set[str]:
        return {s for s in set(self.speakers or ()) if isinstance(s, str) and s.strip()}

    def tokens_of(self, rids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(those of ``rids`` whose token count this order holds, their counts)."""
        if self.tokens is None:
            return rids[:0], rids[:0]
        found, at = self._positions(rids)
        counts = self.tokens[at]
        known = counts >= 0
        return found[known], counts[known]

    def times_of(self, rids: Iterable[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(those of ``rids`` this order holds, their creation times)."""
        found, at = self._positions(rids)
        return found, self.times[at]

    def speakers_of(self, rids: np.ndarray) -> np.ndarray | None:
        """Who said each of ``rids`` (an object array aligned with them: None where unknown or not held), or
        None when this order knows no speakers."""
        if not self.speakers:
            return None
        said = self._speakers.get("all")
        if said is None:  # built once per order (fromiter: a speaker that is a sequence stays one object)
            said = self._speakers["all"] = np.fromiter(self.speakers, dtype=object, count=len(self.speakers))
        out = np.full(len(rids), None, dtype=object)
        if len(self.rids) and len(rids):
            pos = np.minimum(np.searchsorted(self.rids, rids), len(self.rids) - 1)
            held = self.rids[pos] == rids
            out[held] = said[pos[held]]
        return out

    def speaker_of(self, rids: Iterable[int]) -> dict[int, Any]:
        found, _ = self._positions(rids)
        said = self.speakers_of(found)
        return {} if said is None else dict(zip(found.tolist(), said.tolist(), strict=True))


def propagate(base: Scores, links: Links, inherit: float, prev_w: float, next_w: float,
              order: ScopeOrder | None = None) -> Scores:
    """Scores with context: ``max(own, inherit * previous) + prev_w * previous + next_w * next`` for the
    linked memories (a neighbour without a score counts 0); the others keep their own score. A memory inherits
    only as a reply: not from a previous memory of the same known speaker (the ``order``'s speakers), which it
    continues rather than answers."""
    if not len(links):
        return base
    n = len(links)
    _, found = base.find(np.concatenate([links.ids, links.prev, links.next]))  # (-1, no neighbour: no score)
    own, p, nxt = found[:n], found[n:2 * n], found[2 * n:]
    said = None if order is None else order.speakers_of(np.concatenate([links.ids, links.prev]))
    if said is None:
        reply = np.ones(n, dtype=bool)
    else:
        who, before = said[:n], said[n:]
        unknown = np.fromiter((w is None for w in who), dtype=bool, count=n)
        reply = unknown | (links.prev < 0) | (before != who)
    value = np.where(reply, np.maximum(own, inherit * p), own) + prev_w * p + next_w * nxt
    return base.with_values(links.ids, value)


def expand(order: ScopeOrder, prelim: Scores, pool: int, gap_s: float | None) -> tuple[Links, np.ndarray]:
    """Context links for the best ``pool`` memories and their neighbours, and every memory involved."""
    top = prelim.top(pool)
    first = order.neighbours(top, gap_s)
    linked = union(top, first.prev, first.next)
    links = order.neighbours(linked, gap_s)
    return links, union(linked, links.prev, links.next)


def length_bonus(lengths: np.ndarray, weight: float) -> np.ndarray:
    """``weight * log(1 + length)``: longer memories carry more facts (pivoted-normalisation idea)."""
    return weight * np.log1p(np.maximum(lengths, 0))
