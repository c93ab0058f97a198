"""The knowledge graph as a projection of the store's graph outbox.

An add() writes its relations to the outbox (the store's ``graph`` log) in the same transaction as the
memories; they are applied to the graph right after the commit, and any left unapplied by a crash are
applied when the store is next opened or searched (graph writes are idempotent). Where the watermark
lives depends on who owns the graph:

* ``local`` — a graph only this process writes (Oxigraph on disk): a ``graph.watermark`` file beside it.
  A graph directory that is missing or was found corrupt is rebuilt from the outbox.
* ``ephemeral`` — an in-memory graph: rebuilt from the outbox at every open.
* ``shared`` — a graph several processes or hosts share (a SPARQL endpoint): the watermark is in the
  store, and one process at a time applies the outbox, holding the store's ``graph-applier`` lock
  (``Store.hold``: released by the store when its holder dies, even by kill -9), so each entry is applied
  once even with many processes running; an entry applied again after a crash (applied, watermark not yet
  saved) changes nothing, since graph writes are idempotent. A process that sees the shared watermark move
  drops its caches of the graph.

Forgetting a scope deletes its outbox entries and bumps the ``graph_epoch`` in the store. A local or
ephemeral graph that has not seen the current epoch (another instance's forget, or a crash between the
forget's commit and the graph's own delete) is reset and rebuilt from the outbox, so forgotten relations
never survive in it. A shared graph has the scope dropped by the forgetting process, under the applier
lock, before the store's forget commits.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

import numpy as np

from ..errors import StoreError
from ..storage.base import GRAPH_EPOCH_KEY, LogEntry, Store
from ..types import Relation, Scope, to_utc
from .base import Projection

log = logging.getLogger("memlayer.graph")
WATERMARK_FILE = "graph.watermark"
SHARED_WATERMARK_KEY = "projection.graph.watermark"
APPLIER = "graph-applier"  # the store-wide lock (Store.hold) of the one process applying a shared outbox
APPLIER_WAIT_S = 10.0  # a writer waits this long for another applier, so its own entries are applied now
FORGET_WAIT_S = 60.0
Mode = Literal["local", "ephemeral", "shared"]


class GraphProjection(Projection):
    log_name = "graph"
    batch = 500

    def __init__(self, store: Store, graph: Any, directory: str | None, *, mode: Mode) -> None:
        super().__init__(store)
        self.graph = graph
        self.mode = mode
        self._file = os.path.join(directory, WATERMARK_FILE) if directory and mode == "local" else None
        self.epoch: str | None = None
        self._recreated: str | None = None  # the graph store's last "started empty because ..." seen here
        self._seen = -1  # the shared watermark this process last saw (its caches reflect the graph up to it)

    def open(self) -> None:
        if self.mode != "shared":
            super().open()
            return
        with self._lock:  # a shared outbox is only ever applied under the applier lock (catch_up)
            self._load()
            self.catch_up()

    # -- loading and saving the watermark -------------------------------------------------------
    def _load(self) -> str | None:
        recreated = self._recreated = getattr(self.graph, "recreated", None)
        self.epoch = self.store.get_meta(GRAPH_EPOCH_KEY)
        if self.mode == "ephemeral":
            return "the graph is kept in memory" if self.store.log_head("graph") else None
        if self.mode == "shared":
            self.watermark = int(self.store.get_meta(SHARED_WATERMARK_KEY) or 0)
            return None
        if recreated:
            return f"the graph store started empty ({recreated})"
        if self._file is None or not os.path.exists(self._file):
            return "no graph watermark" if self.store.log_head("graph") else None
        try:
            with open(self._file, encoding="utf-8") as fh:
                data = json.load(fh)
            self.watermark, self.epoch = int(data["watermark"]), data.get("epoch")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"the graph watermark is unreadable ({exc})"
        if self.epoch != self.store.get_meta(GRAPH_EPOCH_KEY):
            return "a scope was forgotten since this graph was last brought up to date"
        return None

    def _persist(self, forced: bool) -> None:
        if self._file is None:
            return
        tmp = self._file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"watermark": self.watermark, "epoch": self.epoch}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._file)

    def _rebuild(self) -> None:
        if self.mode == "shared":  # a shared graph is never reset by one process: replay what is pending
            self.watermark = int(self.store.get_meta(SHARED_WATERMARK_KEY) or 0)
            return
        reset = getattr(self.graph, "reset", None)
        if callable(reset):
            reset()
        self.watermark = 0
        self.epoch = self.store.get_meta(GRAPH_EPOCH_KEY)

    # -- applying -------------------------------------------------------------------------------
    def catch_up(self, fresh: dict[int, np.ndarray] | None = None) -> dict[int, Any]:
        with self._lock:
            if self.mode != "shared":
                recreated = getattr(self.graph, "recreated", None)
                if recreated != self._recreated:  # the store found damage and went on empty
                    self._recreated = recreated
                    self.rebuild(f"the graph store started empty ({recreated})")
                    return {}
                epoch = self.store.get_meta(GRAPH_EPOCH_KEY)
                if epoch != self.epoch:
                    self.rebuild("a scope was forgotten since this graph was last brought up to date")
                    return {}
                return super().catch_up(fresh)
            self._follow(int(self.store.get_meta(SHARED_WATERMARK_KEY) or 0))
            if self.store.log_head("graph") <= self._seen:
                return {}
            with self.store.hold(APPLIER, wait_s=APPLIER_WAIT_S) as mine:
                if not mine:
                    return {}  # another process is applying the outbox right now; it stays pending meanwhile
                self.watermark = int(self.store.get_meta(SHARED_WATERMARK_KEY) or 0)
                self._follow(self.watermark)
                try:
                    return super().catch_up(fresh)
                finally:
                    self._seen = self.watermark

    def _follow(self, applied: int) -> None:
        """Another process moved the shared graph on: drop what this process cached of it."""
        if applied != self._seen:
            refresh = getattr(self.graph, "refresh", None)
            if callable(refresh) and self._seen >= 0:
                refresh()
            self._seen = applied

    def _apply(self, entries: list[LogEntry], fresh: dict[int, np.ndarray]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for entry in entries:
            out[entry.seq] = self._apply_one(entry)
            self.watermark = entry.seq
            if self.mode == "shared":
                self._save_shared_watermark()
        return out

    def _apply_one(self, entry: LogEntry) -> list[dict[str, Any]]:
        payload = entry.payload or {}
        scope = entry.scope or Scope()
        if entry.op == "add":
            at = to_utc(payload["at"])
            assert at is not None
            result: list[dict[str, Any]] = self.graph.add(
                scope, [Relation(**payload["relation"])], memory_id=payload["memory_id"],
                source_text=payload["source_text"], message_ids=payload.get("message_ids"), at=at,
            )
            return result
        if entry.op == "forget_memory":
            self.graph.forget_memory(scope, payload["memory_id"])
            return []
        if entry.op == "close_memory":  # the memory was contradicted or superseded: its statements end
            close = getattr(self.graph, "close_memory", None)
            if not callable(close):
                return []  # a graph store without memory closing keeps them current
            closed: list[dict[str, Any]] = close(scope, payload["memory_id"], to_utc(payload["at"]))
            return [{"event": "CLOSE", "closed": closed}]
        raise ValueError(f"unknown graph outbox op {entry.op!r}")

    def _save_shared_watermark(self) -> None:
        """Only the holder of the applier lock writes it (see catch_up)."""
        self.store.set_meta(SHARED_WATERMARK_KEY, str(self.watermark))

    # -- forgetting -----------------------------------------------------------------------------
    @contextmanager
    def forgetting(self, scope: Scope | None) -> Iterator[None]:
        """Around the store's forget of ``scope`` (None: everything). A shared graph drops the scope first,
        holding the applier lock until the store's forget has committed: no process can apply one of the
        scope's outbox entries in between (the forget deletes those it has not applied)."""
        if self.mode != "shared":
            yield
            return
        with self._lock, self.store.hold(APPLIER, wait_s=FORGET_WAIT_S) as mine:
            if not mine:
                raise StoreError(f"another process kept the shared graph busy for {FORGET_WAIT_S:g} s; nothing was "
                                 "forgotten: retry")
            if scope is None:
                self.graph.reset()
            else:
                self.graph.delete_scope(scope)
            yield

    def forgotten(self, scope: Scope | None, epoch: str | None) -> None:
        """This instance forgot ``scope`` (None: everything) in the transaction that set ``epoch``."""
        if self.mode == "shared":
            return
        with self._lock:
            if scope is None:
                self.rebuild("the store was reset")
                return
            self.graph.delete_scope(scope)
            if int(epoch or 0) != int(self.epoch or 0) + 1:
                self.rebuild("another forget happened in between")  # that one is not applied here
                return
            self.epoch = epoch
            self._persist(forced=True)

    def compact(self) -> None:
        """Make forgotten statements unrecoverable from the graph store's files, when it can."""
        compact = getattr(self.graph, "compact", None)
        if callable(compact):
            with self._lock:
                compact()

    # -- reading --------------------------------------------------------------------------------
    def search(
        self, scope: Scope, query: str, *, hops: int, as_of: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        """Relations around the entities the query names (current ones, or those valid ``as_of``)."""
        self.catch_up()
        result: list[dict[str, Any]] = self.graph.search(scope, query, hops=hops, as_of=as_of, limit=limit)
        return result

    def close(self) -> None:
        with self._lock:
            try:
                self._persist(forced=False)
            finally:
                self.graph.close()
