"""Keeps the graph store in step with SQLite's ``graph_log`` outbox.

An add() writes its relations to the outbox inside the same transaction as the memories; they are
applied to the graph right after the commit, and any left unapplied by a crash are applied when the
store is next opened (graph writes are idempotent). A non-persistent graph store is rebuilt from the
outbox at every open.

Forgetting a scope deletes its outbox entries and bumps the ``graph_epoch`` in SQLite's meta table. A
graph that has not seen the current epoch (another instance's or process's forget, or a crash between
the forget's commit and the graph's own delete) is reset and rebuilt from the outbox, so forgotten
relations never survive in a graph.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..storage.sqlite import SQLiteStore
from ..types import Relation, Scope, to_utc

if TYPE_CHECKING:
    from ..search.config import SearchConfig

log = logging.getLogger("memlayer.graph")
WATERMARK_FILE = "graph.watermark"
MAX_TRIES = 3  # attempts at one outbox entry before it is skipped (and logged as an error)
EPOCH_KEY = "graph_epoch"


class GraphSync:
    def __init__(self, store: SQLiteStore, graph: Any, directory: str | None, *, persistent: bool) -> None:
        self.store = store
        self.graph = graph
        self._file = os.path.join(directory, WATERMARK_FILE) if directory and persistent else None
        self._lock = threading.RLock()
        self._failures: dict[int, int] = {}
        self.watermark, self.epoch = self._read_watermark()

    def _read_watermark(self) -> tuple[int, str | None]:
        if self._file is None:
            return 0, self.store.get_meta(EPOCH_KEY)  # rebuilt from the outbox: current by construction
        if not os.path.exists(self._file):
            return 0, None
        try:
            with open(self._file, encoding="utf-8") as fh:
                data = json.load(fh)
            return int(data["watermark"]), data.get("epoch")
        except (OSError, ValueError, KeyError, TypeError):
            return 0, None  # replay everything: graph writes are idempotent

    def _write_watermark(self) -> None:
        if self._file is None:
            return
        tmp = self._file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"watermark": self.watermark, "epoch": self.epoch}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._file)

    def apply(self) -> dict[int, list[dict[str, Any]]]:
        """Apply outbox entries after the watermark; returns each entry's graph events by seq."""
        with self._lock:
            epoch = self.store.get_meta(EPOCH_KEY)
            if epoch != self.epoch:
                self._rebuild(epoch)
            if self.store.max_seq("graph_log") <= self.watermark:
                return {}
            rows = self.store.query("SELECT * FROM graph_log WHERE seq > ? ORDER BY seq", (self.watermark,))
            out: dict[int, list[dict[str, Any]]] = {}
            for row in rows:
                scope = Scope(row["user_id"], row["agent_id"], row["run_id"])
                payload = json.loads(row["payload"])
                seq = int(row["seq"])
                try:
                    out[seq] = self._apply_one(scope, row["op"], payload)
                except Exception:
                    # A passing fault is retried on the next apply (graph writes are idempotent);
                    # an entry that keeps failing must not wedge the outbox forever.
                    tries = self._failures[seq] = self._failures.get(seq, 0) + 1
                    if tries < MAX_TRIES:
                        log.warning("graph outbox entry %s (%s) failed (try %d of %d); will retry",
                                    seq, row["op"], tries, MAX_TRIES, exc_info=True)
                        break
                    log.exception("graph outbox entry %s (%s) failed %d times; skipped", seq, row["op"], tries)
                self._failures.pop(seq, None)
                self.watermark = seq
            self._write_watermark()
            return out

    def _rebuild(self, epoch: str | None) -> None:
        """A scope was forgotten elsewhere: start the graph over and replay the whole outbox."""
        reset = getattr(self.graph, "reset", None)
        if callable(reset):
            log.info("a scope was forgotten by another instance: rebuilding the graph from the outbox")
            reset()
            self.watermark = 0
        else:
            log.warning("graph store %r has no reset(); forgotten scopes may remain in it", self.graph)
        self.epoch = epoch
        self._write_watermark()

    def forgotten(self, scope: Scope | None, epoch: str | None) -> None:
        """This instance forgot ``scope`` (None: everything) in the transaction that set ``epoch``."""
        with self._lock:
            if scope is None:
                self._rebuild(epoch)
                return
            self.graph.delete_scope(scope)
            if int(epoch or 0) != int(self.epoch or 0) + 1:
                self._rebuild(epoch)  # another forget happened in between: that one is not applied here
            self.epoch = epoch
            self._write_watermark()

    def _apply_one(self, scope: Scope, op: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
        if op == "add":
            at = to_utc(payload["at"])
            assert at is not None
            result: list[dict[str, Any]] = self.graph.add(
                scope, [Relation(**payload["relation"])], memory_id=payload["memory_id"],
                source_text=payload["source_text"], message_ids=payload.get("message_ids"), at=at,
            )
            return result
        if op == "forget_memory":
            self.graph.forget_memory(scope, payload["memory_id"])
            return []
        raise ValueError(f"unknown graph outbox op {op!r}")

    async def search(
        self, scope: Scope, query: str, *, as_of: datetime | None, config: SearchConfig
    ) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            self.apply()
            result: list[dict[str, Any]] = self.graph.search(
                scope, query, hops=config.relation_hops, as_of=as_of, limit=config.relation_limit
            )
            return result

        return await asyncio.to_thread(run)

    def memory_rids(
        self, scope: Scope, query: str, *, as_of: datetime | None, allowed: np.ndarray
    ) -> dict[int, float]:
        """Rows of ``allowed`` linked to graph hits for the query, with the graph's score."""
        self.apply()
        by_id: dict[str, float] = self.graph.memory_ids_for(scope, query, as_of=as_of)
        if not by_id:
            return {}
        ids = list(by_id)
        out: dict[int, float] = {}
        allowed_set = set(allowed.tolist())
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for rid, mid in self.store.query(f"SELECT rid, id FROM memories WHERE id IN ({marks})", chunk):
                if int(rid) in allowed_set:
                    out[int(rid)] = by_id[mid]
        return out

    def delete_scope(self, scope: Scope) -> None:
        with self._lock:
            self.graph.delete_scope(scope)

    def close(self) -> None:
        with self._lock:
            self.graph.close()
