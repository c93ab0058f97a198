"""What a search sees of its selection.

A selection of up to ``MATERIALISE_MAX`` memories is read whole — row ids, times and speakers, from the
covering scope index — and scored exactly. A larger one (an agent-wide scope over most of a store) is never
read whole: the dense retriever's candidates come from the index over the whole store and are kept when the
selection covers them (post-filtering), and the context and speakers of the candidates are read from the
rows around them (``Store.window``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..storage.base import ScopeRows, Selection, Store
from .config import SearchConfig
from .context import ROLES, SPEAKER_COLUMN, ScopeOrder, named_in

MATERIALISE_MAX = 20_000  # larger selections are post-filtered (BENCHMARKS.md: very large scopes)
SPAN = 3  # rows read on each side of a large selection's candidates (its rows are dense in insertion order)
MAX_ASK_FACTOR = 64  # post-filtering asks for at most this many times the candidates wanted, then reads the selection


@dataclass
class SearchScope:
    """The selection as a search uses it: ``order`` holds all of it (``complete``) or the rows read around
    candidates so far."""

    store: Store
    selection: Selection
    config: SearchConfig
    order: ScopeOrder
    complete: bool

    @classmethod
    def read(cls, store: Store, selection: Selection, config: SearchConfig) -> SearchScope:
        keys = [k for k in (config.context_key, _meta_speaker_key(config)) if k is not None]
        rows = store.scope_rows_upto(selection, keys, MATERIALISE_MAX, times=config.uses_times,
                                     speakers=config.uses_speakers and config.speaker_key == SPEAKER_COLUMN,
                                     tokens=bool(config.length_prior))
        if rows is None:
            empty = ScopeRows(np.empty(0, np.int64), np.empty(0, np.float64), {k: [] for k in keys}, [])
            return cls(store, selection, config, cls._order(config, empty, np.empty(0, np.int64)), False)
        return cls(store, selection, config, cls._order(config, rows, None), True)

    @staticmethod
    def _order(config: SearchConfig, rows: ScopeRows, segments: np.ndarray | None) -> ScopeOrder:
        speakers = config.speaker_key if config.uses_speakers else None
        return ScopeOrder.from_rows(rows, config.context_key, speakers, segments)

    @property
    def empty(self) -> bool:
        return self.complete and not len(self.order)

    @property
    def size(self) -> int | None:
        """The number of memories the selection covers (None: more than MATERIALISE_MAX)."""
        return len(self.order) if self.complete else None

    @property
    def allowed(self) -> np.ndarray | None:
        """The row ids a retriever may return (None: too many to list; post-filter with ``keep``)."""
        return self.order.rids if self.complete else None

    def keep(self, rids: list[int]) -> list[int]:
        """``rids`` that lie in the selection, in the given order."""
        if self.complete:
            allowed = self.order.rids
            pos = np.clip(np.searchsorted(allowed, rids), 0, max(0, len(allowed) - 1))
            return [r for r, p in zip(rids, pos.tolist(), strict=True) if len(allowed) and allowed[p] == r]
        inside = set(self.store.within(self.selection, rids).tolist())
        return [r for r in rids if r in inside]

    def token_counts(self, rids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(those of ``rids`` with a token count, their full-text token counts): read with the scope where the
        store keeps them there, else asked of the store (memories of this selection: it is told the scope)."""
        found, counts = self.order.tokens_of(rids)
        if len(found) == len(rids):
            return found, counts
        rest = np.setdiff1d(rids, found)
        more = self.store.token_counts(rest.tolist(), self.selection.scope)
        ids = np.concatenate([found, np.fromiter(more.keys(), np.int64, len(more))])
        return ids, np.concatenate([counts, np.fromiter(more.values(), np.int64, len(more))])

    def read_around(self, rids: list[int]) -> None:
        """A large selection: read the rows around ``rids`` (their neighbours and speakers), so that context and
        speakers work on them as on a selection read whole (rows are consecutive only within one window)."""
        if self.complete or not rids:
            return
        rows = self.store.window(self.selection, sorted(set(rids)), SPAN)
        if self.config.context_key is not None or _meta_speaker_key(self.config) is not None:
            keys = [k for k in (self.config.context_key, _meta_speaker_key(self.config)) if k is not None]
            rows = _with_metadata(self.store, rows, keys)
        self.order = self._order(self.config, rows, segments_of(rows.rids, sorted(set(rids)), SPAN))

    def speakers_named(self, query: str) -> set[str]:
        """The speakers the query names, among those known (a large selection: those read around candidates)."""
        return named_in(query, self.order.all_speakers())

    def strip_names(self, query: str) -> set[str]:
        """The names to leave out of the dense query: speakers named in it that are names, not roles (a large
        selection's speakers are not known before its candidates: nothing is left out)."""
        if not self.complete:
            return set()
        return {s for s in self.speakers_named(query) if s.lower() not in ROLES}

    def names_everyone(self, named: set[str]) -> bool:
        """Whether the query names every speaker of the selection (then naming says nothing about whom)."""
        return self.complete and named == self.order.all_speakers()


def segments_of(rows: np.ndarray, centres: list[int], span: int) -> np.ndarray:
    """For rows read in windows ``[c - span, c + span]``: the number of the merged window each row lies in
    (all the selection's rows inside one merged window were read, so they are consecutive in it; rows of
    different windows may have unread rows between them)."""
    starts: list[int] = []
    end = None
    for c in centres:  # ascending
        if end is None or c - span > end + 1:
            starts.append(c - span)
        end = c + span
    return np.searchsorted(np.asarray(starts, dtype=np.int64), rows, side="right") - 1


def _meta_speaker_key(config: SearchConfig) -> str | None:
    """A speaker metadata key other than the speaker column, when the config asks for one."""
    key = config.speaker_key if config.uses_speakers else None
    return None if key in (None, SPEAKER_COLUMN) else key


def _with_metadata(store: Store, rows: ScopeRows, keys: list[str]) -> ScopeRows:
    """``rows`` with the metadata values of ``keys`` (read from the memories themselves)."""
    found = store.rows(rows.rids.tolist())
    values = {k: [found[int(r)].metadata.get(k) if int(r) in found else None for r in rows.rids] for k in keys}
    return ScopeRows(rows.rids, rows.times, values, rows.speakers)
