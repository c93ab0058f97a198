"""Recalls, written behind: how often search returned each memory, counted in memory and written in batches.

A search does not write what it returned. ``RecallBuffer.note`` only adds to a dict under a lock (keyed
by row id: the write finds each row by its primary key, in row order, without a lookup by public id); the
counts reach the store (``Tx.reinforce(kind="recall")``, one transaction for the whole batch) once
``flush_size`` memories are pending or ``flush_interval`` seconds of the clock have passed since the first
pending one, and at every sweep and close. Who writes a due batch is the engine's choice (``background``):
for a remote store a helper thread, off the search's path; for a local one the search that completed the
batch, so that the write does not run on the same cores beside the searches that follow (SQLite reads do not
wait for it either way). A crash loses at most the pending counts: they are a ranking and budget signal,
not data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from .base import Store

log = logging.getLogger("memlayer.recalls")


class RecallBuffer:
    def __init__(
        self, store: Store, now: Callable[[], datetime], *, enabled: bool, flush_size: int, flush_interval: float,
        background: Callable[..., Future[Any]] | None = None,
    ) -> None:
        self.store = store
        self.enabled = enabled
        self._now = now
        self._size = flush_size
        self._interval = flush_interval
        self._background = background
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}  # row id -> recalls not yet written
        self._last: float = 0.0  # the time of the latest recall pending
        self._since: float | None = None  # the time of the first recall pending
        self._flushing: Future[Any] | None = None

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(self._pending.values())

    def note(self, rids: Iterable[int]) -> None:
        """Count one recall of each memory (by row id); starts a write when the batch is due."""
        if not self.enabled:
            return
        at = self._now().timestamp()
        with self._lock:
            for rid in rids:
                self._pending[rid] = self._pending.get(rid, 0) + 1
            if not self._pending:
                return
            self._last = max(self._last, at)
            self._since = at if self._since is None else self._since
            due = len(self._pending) >= self._size or at - self._since >= self._interval
            busy = self._flushing is not None and not self._flushing.done()
        if due and not busy:
            if self._background is None:
                self.try_flush()
            else:
                self._flushing = self._background(self.try_flush)

    def flush(self) -> int:
        """Write the pending recalls now (one transaction); returns how many were written."""
        with self._lock:
            batch, at = self._pending, self._last
            self._pending, self._since = {}, None
        if not batch:
            return 0
        try:
            with self.store.transaction() as tx:
                tx.reinforce(batch, at, kind="recall")
        except BaseException:
            with self._lock:  # keep them for the next flush
                for rid, n in batch.items():
                    self._pending[rid] = self._pending.get(rid, 0) + n
                self._since = at if self._since is None else min(self._since, at)
            raise
        return sum(batch.values())

    def try_flush(self) -> int:
        """``flush``, logging instead of raising when the store cannot take the counts now."""
        try:
            return self.flush()
        except Exception:  # a busy or closed store: the counts stay pending for the next flush
            log.warning("could not write recall counts yet; they stay pending", exc_info=True)
            return 0

    def wait(self) -> None:
        """Wait for a background write in progress (tests, close)."""
        flushing = self._flushing
        if flushing is not None:
            flushing.result()
