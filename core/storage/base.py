"""The system of record: the ``Store`` protocol every backend implements, and the shapes it speaks in.

``storage/`` is the only part of memlayer that speaks a query language. The core asks a store for typed
things — the rows a ``Selection`` covers, a memory by id, a history, the entries of a change log — and
writes through one transaction object (``Tx``). SQLite (``storage/sqlite``) is the first implementation,
PostgreSQL the second; both pass the same conformance suite (``tests/storage``).

Change logs: every write that a derived projection must see appends to a named log inside the same
transaction: ``"vectors"`` (a memory row added, re-embedded or removed: entries carry the row id) and
``"graph"`` (the graph outbox: entries carry an operation and its JSON payload). Projections read a log
after their watermark (``read_log``), never skipping an entry that became visible late.

Lifetimes: a memory may carry ``expires_at`` (epoch seconds; NULL never lapses) and the ``ttl`` a refresh
extends it by. "Current" means not closed (``valid_to`` NULL) and, when the caller passes the present time
(``Selection.now``, ``at=``), not expired by then. The store never reads a clock itself: callers pass the
time. ``recalls``/``restated`` count how often a memory came back (search, a re-statement) and ``seen_at``
is the last time; the lifetime verbs (``set_expiry``, ``reinforce``, ``expired``, ``count``,
``scope_counts``) are plain, portable statements over those columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from ..filters import Filter
from ..records import HistoryEvent, MemoryRecord, ScopeSummary
from ..types import Scope

LogName = Literal["vectors", "graph"]
#: the metadata mark of a transcript (``memlayer.transcripts``): a store keeps it as a column its scope indexes
#: cover (``Selection.transcripts``), written from the metadata whenever the metadata is
TRANSCRIPT_KEY = "memlayer_transcript"
#: meta key bumped by every forget: graphs rebuilt per process notice it and rebuild (see projections.graph)
GRAPH_EPOCH_KEY = "graph_epoch"
LOGS: tuple[LogName, ...] = ("vectors", "graph")


def is_transcript(metadata: Mapping[str, Any] | None) -> bool:
    """Whether metadata marks a transcript (``TRANSCRIPT_KEY`` is ``true``: not 1, not "yes")."""
    return metadata is not None and metadata.get(TRANSCRIPT_KEY) is True


@dataclass(frozen=True, slots=True)
class Selection:
    """Which memories an operation may see: a scope, filters and a point in time.

    ``exact``: fields of ``scope`` that are None must be NULL (the memories of exactly that scope);
    otherwise a partial scope covers every memory whose given fields match (``user_id="u"`` covers u's
    per-agent and per-run memories). ``as_of``: the memories valid at that time (not yet closed and not yet
    expired then); ``include_expired``: all, current, closed or expired; by default only current memories:
    not closed and, when ``now`` is given, not expired by ``now`` (without ``now`` expiry is not checked).
    ``transcripts``: None covers transcripts and other memories alike, False leaves transcripts out, True
    covers transcripts only (a transcript's metadata holds ``TRANSCRIPT_KEY: true``).
    """

    scope: Scope
    filters: Filter | None = None
    as_of: datetime | None = None
    include_expired: bool = False
    exact: bool = False
    now: datetime | None = None
    transcripts: bool | None = None


@dataclass(slots=True)
class StoredMemory(MemoryRecord):
    """A memory as the store holds it: the public record plus its row id (the vector id) and text hash."""

    rid: int = -1
    hash: str = ""
    updated_ts: float = 0.0  # updated_at as epoch seconds (optimistic re-checks compare it)
    valid_from_ts: float = 0.0  # valid_from as epoch seconds
    speaker: str | None = None  # who said it (a verbatim memory's message name or role; metadata "speaker" wins)
    expires_ts: float | None = None  # expires_at as epoch seconds (None: never)
    ttl: float | None = None  # seconds a refresh extends the expiry by (None: a fixed expiry, or none)
    recalls: int = 0  # how often search returned it
    restated: int = 0  # how often an add said it again
    seen_ts: float | None = None  # the last recall or re-statement (epoch seconds)

    @property
    def fresh_ts(self) -> float:
        """When it was last written, re-stated or recalled (epoch seconds): what recency decays from."""
        return max(self.updated_ts, self.seen_ts or 0.0)

    @property
    def reinforced(self) -> int:
        return self.recalls + self.restated

    def expired(self, at: float) -> bool:
        return self.expires_ts is not None and self.expires_ts <= at

    def record(self) -> MemoryRecord:
        return MemoryRecord(**{k: getattr(self, k) for k in MemoryRecord.__slots__})  # type: ignore[attr-defined]

    def shows(self, scope: Scope) -> bool:
        """Whether this memory belongs to exactly ``scope``."""
        return (self.user_id, self.agent_id, self.run_id) == (scope.user_id, scope.agent_id, scope.run_id)


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A memory to insert."""

    id: str
    scope: Scope
    text: str
    hash: str
    embedding: np.ndarray
    created_at: float
    metadata: dict[str, Any] = field(default_factory=dict)
    attribute: str | None = None
    expires_at: float | None = None
    speaker: str | None = None
    updated_at: float | None = None  # when its text last changed; None: created_at (a restore may keep its own)
    ttl: float | None = None  # kept for refreshes (with expires_at = created_at + ttl)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A raw message to keep (the source of memories, shown in their history)."""

    scope: Scope
    role: str
    content: str
    at: float
    name: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of one memory, written with the change (``message_ids``: the source messages)."""

    memory_id: str
    event: str
    old: str | None
    new: str | None
    at: float
    scope: Scope
    actor: str | None = None
    message_ids: tuple[int, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a change log. ``rid`` for the vectors log; ``op``/``payload``/``scope`` for the graph."""

    seq: int
    rid: int = 0
    op: str = ""
    payload: dict[str, Any] | None = None
    scope: Scope | None = None


@dataclass(frozen=True, slots=True)
class ScopeRows:
    """The memories a selection covers in insertion order, with metadata values the search asks for."""

    rids: np.ndarray  # int64, ascending
    times: np.ndarray  # created_at, epoch seconds (to the millisecond)
    values: dict[str, list[Any]]  # metadata key -> value per row (None where missing)
    speakers: list[Any] | None = None  # the speaker column per row (None where unknown)
    tokens: np.ndarray | None = None  # int64 token counts per row (-1 where unknown), when asked for and kept


@runtime_checkable
class Tx(Protocol):
    """One write transaction: everything written through it commits together or not at all."""

    def lock_scope(self, scope: Scope) -> None:
        """Serialise this transaction with every other one that locks the same scope (across processes)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def delete_meta(self, key: str) -> None: ...

    def current(self, memory_id: str) -> StoredMemory | None:
        """The memory (current or closed) as this transaction sees it."""

    def log_head(self, log: LogName) -> int:
        """The change log's head as this transaction sees it."""

    def current_by_hash(
        self, scopes: Sequence[Scope], hashes: Sequence[str], *, at: float | None = None
    ) -> dict[Scope, dict[str, list[StoredMemory]]]:
        """Current memories (not expired by ``at`` when given) of exactly each scope whose text hash is one of
        ``hashes``."""

    def current_by_attribute(
        self, scope: Scope, attributes: Sequence[str], *, at: float | None = None
    ) -> list[StoredMemory]:
        """Current memories (not expired by ``at`` when given) of exactly ``scope`` holding one of ``attributes``."""

    def first_after(self, scope: Scope, attribute: str, after: float) -> StoredMemory | None:
        """The memory (current or closed) of exactly ``scope`` holding ``attribute`` that became valid first
        after ``after`` (the next value of a slot after a time), or None."""

    def list_memories(self, selection: Selection, limit: int) -> list[StoredMemory]:
        """As ``Store.list_memories``, inside the transaction."""

    def count(self, selection: Selection) -> int:
        """How many memories a selection covers, inside the transaction."""

    def expired(self, before: float, limit: int, within: Selection | None = None) -> list[StoredMemory]:
        """Memories (current or closed) whose ``expires_at`` is at or before ``before``, earliest first; with
        ``within``, only those its scope (``exact`` as there) and filters cover (its time bounds are ignored)."""

    def insert_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        """Insert raw messages; returns their ids, in order."""

    def insert_memories(self, memories: Sequence[NewMemory]) -> list[int]:
        """Insert memories (logged for the vector index); returns their row ids, in order."""

    def rewrite(
        self, rid: int, text: str, text_hash: str, embedding: np.ndarray, at: float, *,
        metadata: dict[str, Any] | None = None, attribute: str | None = None, speaker: str | None = None,
    ) -> None:
        """Replace a memory's text and vector in place (metadata, attribute and speaker too when given); logged."""

    def close(self, memory_id: str, at: float, superseded_by: str | None) -> None:
        """End a memory's validity (it stays, closed, for history and ``as_of``)."""

    def delete(self, memory_id: str) -> StoredMemory | None:
        """Remove a memory row (logged for the vector index); its history stays. None when absent."""

    def delete_many(self, memory_ids: Sequence[str]) -> list[str]:
        """Remove several memory rows at once (logged for the vector index; history stays). Returns the ids
        that were there and are now gone, in the order given (absent ones are skipped)."""

    def set_expiry(self, memory_id: str, expires_at: float | None, ttl: float | None) -> None:
        """Set when a memory lapses (None: never) and the TTL later refreshes extend it by (None: none).
        Neither ``updated_at`` nor the vector changes."""

    def reinforce(self, counts: Mapping[int, int], at: float, *, kind: Literal["recall", "restate"]) -> None:
        """Add ``counts[rid]`` to the recalls (or re-statements) of the memories with these row ids (a row id
        is never reused); ``seen_at`` becomes at least ``at``. Rows that are gone are ignored. Neither
        ``updated_at`` nor the vector changes."""

    def add_history(self, entries: Sequence[HistoryEntry]) -> None: ...

    def log_graph(self, scope: Scope, op: str, payload: dict[str, Any]) -> int:
        """Append to the graph outbox; returns the entry's sequence number. Log graph entries after the
        transaction's other writes: a store may fix their order (and hold its log's lock) from here on."""

    def forget_scope(self, scope: Scope) -> int:
        """Remove every trace of a (partial) scope: memories, history, messages, graph outbox entries.
        Returns the number of memories removed; bumps the graph epoch."""

    def reset(self) -> int:
        """Remove every memory, history entry, message and outbox entry; bumps the graph epoch. Returns the
        number of memories removed."""


@runtime_checkable
class Store(Protocol):
    """A memlayer system of record."""

    #: whether several processes (or hosts) may share this store's data
    shared: bool
    #: whether the data lives in a server that processes on other hosts reach (PostgreSQL), not in local files:
    #: then whatever is kept per host (an on-disk graph) is no longer shared by everyone who writes
    remote: bool
    #: a short description of where the data lives, for messages ("sqlite:/path/memlayer.db")
    location: str
    #: True once close() was called
    closed: bool

    def transaction(self) -> AbstractContextManager[Tx]: ...

    # -- memories -------------------------------------------------------------------------------
    def get(self, memory_id: str) -> StoredMemory | None: ...

    def rows(self, rids: Sequence[int]) -> dict[int, StoredMemory]: ...

    def select_rids(self, selection: Selection) -> np.ndarray:
        """Row ids of the memories a selection covers (int64)."""

    def list_memories(self, selection: Selection, limit: int) -> list[StoredMemory]:
        """The memories a selection covers, most recently updated first."""

    def scope_rows(self, selection: Selection, keys: Sequence[str]) -> ScopeRows: ...

    def scope_rows_upto(
        self, selection: Selection, keys: Sequence[str], cap: int, *, times: bool = True, speakers: bool = True,
        tokens: bool = False,
    ) -> ScopeRows | None:
        """``scope_rows`` with speakers, or None when the selection covers more than ``cap`` memories (found
        without reading more than ``cap + 1`` of them): a search then never materialises the selection.
        ``times``/``speakers`` False: not needed (zeros / None), which a store may skip reading. ``tokens``: the
        token counts too, when the store keeps them beside the scope (else ``ScopeRows.tokens`` stays None and
        ``token_counts`` answers)."""

    def window(self, selection: Selection, rids: Sequence[int], span: int) -> ScopeRows:
        """The selection's memories whose row id lies within ``span`` of one of ``rids`` (ascending, with
        speakers): the neighbourhood of a large selection's candidates, read without reading the selection."""

    def within(self, selection: Selection, rids: Sequence[int]) -> np.ndarray:
        """The row ids among ``rids`` that the selection covers (ascending): post-filtering candidates."""

    def current_by_attribute(
        self, scope: Scope, attributes: Sequence[str], *, at: float | None = None
    ) -> list[StoredMemory]: ...

    def current_by_hash(
        self, scopes: Sequence[Scope], hashes: Sequence[str], *, at: float | None = None
    ) -> dict[Scope, dict[str, list[StoredMemory]]]:
        """Current memories (not expired by ``at`` when given) of exactly each scope whose hash is one of ``hashes``."""

    def rids_of(self, memory_ids: Sequence[str]) -> dict[str, int]: ...

    def lexical(
        self, selection: Selection, terms: Sequence[str], limit: int, size: int | None = None,
        rids: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """(rid, relevance) of the memories a selection covers that contain any of ``terms`` (full-text,
        stemmed), best first. The work follows the selection, not the store (the scope inside the index), and
        so do the statistics where the backend ranks by them (SQLite: BM25 with the selection as the
        collection). ``size``: the number of memories it covers, when the caller knows it; ``rids``: its row
        ids, ascending, when the caller has read them (the store need not read them again). A selection too
        large for that may be ranked with the store's statistics."""

    def token_counts(self, rids: Sequence[int], scope: Scope | None = None) -> dict[int, int]:
        """The number of full-text tokens in each memory's text (the lengths BM25 normalises by). ``scope``: a
        (partial) scope every one of ``rids`` lies in, when the caller knows it (a store may find them faster)."""

    def embeddings(self, rids: Sequence[int]) -> dict[int, np.ndarray]: ...

    def scan_embeddings(
        self, batch: int = 20_000
    ) -> AbstractContextManager[tuple[int, Iterator[tuple[np.ndarray, np.ndarray]]]]:
        """The vectors log head and every memory's (ids, vectors) in batches, from one consistent snapshot
        (valid while the context is open)."""

    def count(self, selection: Selection | None = None) -> int:
        """How many memories the store holds (current or not), or a selection covers."""

    def scope_counts(self, at: float, over: int, within: Scope | None = None) -> dict[Scope, int]:
        """Exact scopes holding more than ``over`` current memories (not closed, not expired by ``at``); with
        ``within``, only the exact scopes it covers (its given fields match)."""

    def list_scopes(self, prefix: str, limit: int, *, at: float | None = None) -> dict[str, list[ScopeSummary]]:
        """Per scope field ("user_id", "agent_id", "run_id"): the ids its memories (current or closed) hold
        that start with ``prefix`` ("" for every id), in id order, at most ``limit`` each, with their counts
        (memories expired by ``at`` counted apart, as ``expired``; without ``at`` none is)."""

    def history(self, memory_id: str) -> list[HistoryEvent]: ...

    def scope_ids(self, prefix: str) -> dict[str, list[str]]:
        """{"user_id": [...], "agent_id": [...], "run_id": [...]}: the distinct ids starting with ``prefix``
        (non-empty; case-exact, no wildcards) anywhere in the store — memories, history, raw messages and the
        graph outbox — each list in code-point order (a server tenant's scopes, to forget them)."""

    # -- change logs ----------------------------------------------------------------------------
    def log_head(self, log: LogName) -> int:
        """The highest sequence number a reader may see now (0 when empty)."""

    def read_log(self, log: LogName, after: int, limit: int | None = None) -> list[LogEntry]:
        """Entries with a sequence number above ``after``, in order."""

    def log_and_count(self, log: LogName, after: int) -> tuple[list[LogEntry], int]:
        """The entries after ``after`` and the number of memories, read from one consistent snapshot."""

    # -- meta (small key-value settings shared by every user of the store) ----------------------
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def delete_meta(self, key: str) -> None: ...

    def meta_items(self, prefix: str) -> dict[str, str]: ...

    # -- several processes ----------------------------------------------------------------------
    def hold(self, name: str, *, wait_s: float = 0.0) -> AbstractContextManager[bool]:
        """Become the one holder of ``name`` among every process using this store (on every host): yields
        True while held (released at exit, and by the store when the holder dies, even by kill -9), False
        when another holder kept it past ``wait_s`` seconds."""

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from a background thread) when other processes may have appended to the change
        logs, so an idle process catches up before it is asked; returns the function that stops it. A store
        without such signals may never call it: every reader catches up before it reads anyway."""

    # -- upkeep ---------------------------------------------------------------------------------
    def compact(self) -> None:
        """Make forgotten data unrecoverable from the store's files (merge indexes, fold logs, sync)."""

    def merge_text_index(self, pages: int) -> bool:
        """Fold the full-text index's recent writes into its main structure, about ``pages`` pages of work
        in one short write; True when work was done (call again until False). Lexical search costs grow
        with the number of structures a term is looked up in; ``bulk_add`` merges until done, each sweep a
        slice."""

    def close(self) -> None: ...
