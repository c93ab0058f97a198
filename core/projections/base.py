"""One mechanism for everything derived from the store: outbox → watermark → replay → rebuild → snapshot.

A projection (the vector index, the graph) is a copy of part of the store that can always be made
again from it. The store appends to a change log in the same transaction as every write; a projection
remembers the last entry it applied (its watermark, persisted with its own snapshot), replays the entries
after it before it answers, and rebuilds itself from the store when its saved state is missing, corrupt,
stale or from another database. It never skips an entry: one that fails stays pending (retried with
backoff on later catch-ups) and the failure is reported by :meth:`health` and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..storage.base import LogEntry, LogName, Store

log = logging.getLogger("memlayer.projections")
BACKOFF_FIRST_S = 0.5  # after a second failure in a row; the first is retried at the next catch-up
BACKOFF_MAX_S = 60.0


class Projection(ABC):
    """The mechanism; subclasses say how to load, apply, rebuild and persist their target."""

    log_name: LogName
    #: entries read per step of a catch-up (bounds memory while replaying a long log)
    batch: int = 10_000

    def __init__(self, store: Store) -> None:
        self.store = store
        self.watermark = 0
        self.rebuilt_reason: str | None = None
        self._lock = threading.RLock()
        self._error: str | None = None
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._backoff = 0.0

    # -- what a subclass provides -------------------------------------------------------------
    @abstractmethod
    def _load(self) -> str | None:
        """Load the persisted state and set ``self.watermark``; return why it cannot be used, or None."""

    @abstractmethod
    def _apply(self, entries: list[LogEntry], fresh: dict[int, np.ndarray]) -> dict[int, Any]:
        """Apply entries in order; returns results by sequence number. May raise after applying a prefix:
        set ``self.watermark`` to the last entry fully applied before raising."""

    @abstractmethod
    def _rebuild(self) -> None:
        """Make the target again from the store and set ``self.watermark`` to what it now reflects."""

    def _persist(self, forced: bool) -> None:  # noqa: B027 - a hook with nothing to do by default
        """Save the target and its watermark (both or neither). Default: nothing to save."""

    def _check_after_open(self) -> str | None:
        """A consistency check once the log is replayed; return why the target must be rebuilt, or None."""
        return None

    # -- the mechanism ------------------------------------------------------------------------
    def open(self) -> None:
        with self._lock:
            reason = self._load()
            if reason is None:
                try:
                    self._catch_up({}, raise_errors=True)
                    reason = self._check_after_open()
                except Exception as exc:  # replay failed on the loaded state: start over from the store
                    reason = f"replaying the change log failed: {exc}"
            if reason is not None:
                self.rebuild(reason)

    def rebuild(self, reason: str) -> None:
        with self._lock:
            log.warning("rebuilding the %s projection from the store: %s", self.log_name, reason)
            self.rebuilt_reason = reason
            self._rebuild()
            self._catch_up({}, raise_errors=False)  # writes that landed during the rebuild
            self._persist(forced=True)

    def catch_up(self, fresh: dict[int, np.ndarray] | None = None) -> dict[int, Any]:
        """Apply the entries after the watermark (``fresh``: vectors a caller just wrote, by row id)."""
        with self._lock:
            if self._failing_since is not None and time.monotonic() < self._retry_at:
                return {}
            return self._catch_up(fresh or {}, raise_errors=False)

    def _catch_up(self, fresh: dict[int, np.ndarray], *, raise_errors: bool, persist: bool = True) -> dict[int, Any]:
        """Replay the log after the watermark; then (``persist``) save when enough is pending."""
        out: dict[int, Any] = {}
        head = self.store.log_head(self.log_name)
        if head < self.watermark:  # the store was reset or restored under this projection
            self.rebuild(f"the store's {self.log_name} log ends at {head}, before this projection's {self.watermark}")
            return out
        while head > self.watermark:
            entries = self.store.read_log(self.log_name, self.watermark, self.batch)
            if not entries:
                break
            try:
                out.update(self._apply(entries, fresh))
            except Exception as exc:
                if raise_errors:
                    raise
                self._failed(exc)
                break
            self.watermark = entries[-1].seq
            self._recovered()
        if persist:
            self._persist(forced=False)
        return out

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        first = self._failing_since is None
        self._failing_since = self._failing_since or now
        self._error = f"{type(exc).__name__}: {exc}"
        self._retry_at = now + self._backoff
        log.log(logging.ERROR if first else logging.WARNING,
                "the %s projection could not apply the change-log entry after %d (retrying in %.1f s; it stays "
                "pending): %s", self.log_name, self.watermark, self._backoff, self._error, exc_info=first)
        self._backoff = min(BACKOFF_MAX_S, max(BACKOFF_FIRST_S, self._backoff * 2))

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.warning("the %s projection caught up again after: %s", self.log_name, self._error)
        self._failing_since = None
        self._error = None
        self._backoff = 0.0

    def health(self) -> dict[str, Any]:
        """``ok``, how far behind the store it is, and the failure that keeps it behind (if any)."""
        with self._lock:
            head = self.store.log_head(self.log_name)
            return {
                "ok": self._failing_since is None,
                "watermark": self.watermark,
                "behind": max(0, head - self.watermark),
                "error": self._error,
                "failing_for_s": None if self._failing_since is None else round(time.monotonic() - self._failing_since, 3),
                "rebuilt_reason": self.rebuilt_reason,
            }

    def close(self) -> None:
        with self._lock:
            self._persist(forced=False)
