"""Keeps a vector index in step with SQLite, which holds every embedding.

The index is persisted incrementally: each write only appends to SQLite's ``vector_log``; the index
file is a snapshot written now and then (on close, and when the un-snapshotted tail grows past a
quarter of the index) under a new name, then published by atomically replacing a small JSON pointer.
Opening loads the snapshot and replays the log after its watermark. A missing, unreadable, stale
or inconsistent snapshot is rebuilt from SQLite. Other processes' writes are picked up the same way
before every search.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import StoreError
from ..storage.sqlite import SQLiteStore
from .base import VectorIndex

log = logging.getLogger("memlayer.vectors")
POINTER = "vectors.json"


class DerivedIndex:
    def __init__(
        self, store: SQLiteStore, factory: Callable[[], VectorIndex], directory: str | None, *,
        snapshot_min: int = 10_000,
    ) -> None:
        self.store = store
        self._factory = factory
        self.index = factory()
        self.dims = self.index.dims
        self.directory = directory
        self.watermark = 0
        self._snapshot_mark = 0
        self._snapshot_min = snapshot_min
        self._lock = threading.RLock()
        self.rebuilt_reason: str | None = None

    # -- opening ------------------------------------------------------------------------------
    def open(self) -> None:
        with self._lock:
            reason = self._load_snapshot()
            if reason is None:
                self.catch_up()
            if reason is None and len(self.index) != self._expected_count():
                reason = f"index holds {len(self.index)} vectors but SQLite has {self._expected_count()}"
            if reason is not None:
                self.rebuild(reason)

    def _expected_count(self) -> int:
        return int(self.store.scalar("SELECT COUNT(*) FROM memories") or 0)

    def _load_snapshot(self) -> str | None:
        """Load the published snapshot; return why it cannot be used, or None."""
        if self.directory is None:
            return "in-memory store" if self._expected_count() else None
        pointer = os.path.join(self.directory, POINTER)
        if not os.path.exists(pointer):
            return "no snapshot" if self._expected_count() else None
        try:
            with open(pointer, encoding="utf-8") as fh:
                meta = json.load(fh)
            if int(meta["dims"]) != self.dims:
                return f"snapshot has {meta['dims']} dims, embedder has {self.dims}"
            if int(meta["watermark"]) > self.store.max_seq("vector_log"):
                return "snapshot is newer than the database (database restored?)"
            index = self._factory()
            index.load(os.path.join(self.directory, os.path.basename(meta["file"])))
            if len(index) != int(meta["count"]):
                return "snapshot count does not match its pointer"
        except Exception as exc:  # unreadable or corrupt: rebuild
            return f"snapshot unreadable: {exc}"
        self._replace(index)
        self.watermark = self._snapshot_mark = int(meta["watermark"])
        return None

    def rebuild(self, reason: str) -> None:
        with self._lock:
            log.warning("rebuilding the vector index from SQLite: %s", reason)
            self.rebuilt_reason = reason
            index = self._factory()
            # One transaction: the scan and the watermark describe the same committed state.
            with self.store.transaction():
                self.watermark = self.store.max_seq("vector_log")
                last = 0
                while True:
                    rows = self.store.query(
                        "SELECT rid, embedding FROM memories WHERE rid > ? ORDER BY rid LIMIT 20000", (last,)
                    )
                    if not rows:
                        break
                    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    blob = b"".join(r[1] for r in rows)
                    index.add(ids, np.frombuffer(blob, dtype=np.float32).reshape(len(rows), self.dims))
                    last = int(ids[-1])
            self._replace(index)
            self.catch_up()  # writes that landed during the rebuild
            self.snapshot(force=True)

    def _replace(self, index: VectorIndex) -> None:
        old, self.index = self.index, index
        close = getattr(old, "close", None)  # stop the old index's background work, if it has any
        if old is not index and callable(close):
            close()

    # -- keeping up ---------------------------------------------------------------------------
    def catch_up(self, fresh: dict[int, np.ndarray] | None = None) -> int:
        """Apply log entries after the watermark; ``fresh`` holds vectors the caller just wrote."""
        with self._lock:
            top = self.store.max_seq("vector_log")
            if top < self.watermark:  # the store was reset (or restored) under us
                self.rebuild("the database's vector log is behind this index")
                return 0
            if top == self.watermark:
                return 0
            rows = self.store.query(
                "SELECT seq, rid, op FROM vector_log WHERE seq > ? ORDER BY seq", (self.watermark,)
            )
            self._apply(rows, fresh or {})
            self.watermark = int(rows[-1][0]) if rows else top
            self._maybe_snapshot()
            return len(rows)

    def _apply(self, rows: list[Any], fresh: dict[int, np.ndarray]) -> None:
        # Coalesce to the final state of each rid, then apply removals before additions.
        final: dict[int, str] = {}
        for _, rid, op in rows:
            if op == "del" or final.get(int(rid)) == "del":
                final[int(rid)] = "readd" if op == "add" else "del"
            else:
                final[int(rid)] = "add"
        removals = np.array([r for r, op in final.items() if op in ("del", "readd")], dtype=np.int64)
        additions = [r for r, op in final.items() if op in ("add", "readd")]
        if len(removals):
            self.index.remove(removals)
        if additions:
            # A caller's vector is only current for a row no one re-embedded since: for a rid with a 'del'
            # in this batch another writer may have committed a newer vector, so SQLite decides.
            redone = {int(rid) for _, rid, op in rows if op == "del"}
            vectors = {r: v for r, v in fresh.items() if r not in redone}
            missing = [r for r in additions if r not in vectors]
            if missing:
                vectors.update(self.store.embeddings(missing, self.dims))
            present = [r for r in additions if r in vectors]  # a row deleted since is skipped
            if present:
                mat = np.vstack([vectors[r] for r in present]).astype(np.float32, copy=False)
                self.index.add(np.asarray(present, dtype=np.int64), mat)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            self.catch_up()
            return self.index.search(query, k, allowed)

    # -- persistence --------------------------------------------------------------------------
    def _maybe_snapshot(self) -> None:
        pending = self.watermark - self._snapshot_mark
        if self.directory and pending >= max(self._snapshot_min, len(self.index) // 4):
            try:
                self.snapshot()
            except StoreError as exc:  # an optimisation: the log replays from the last good snapshot
                log.warning("%s; will retry later", exc)

    def snapshot(self, force: bool = False) -> None:
        with self._lock:
            if self.directory is None or (not force and self.watermark == self._snapshot_mark):
                return
            name = f"vectors-{self.watermark}-{os.getpid()}.faiss"
            tmp = os.path.join(self.directory, name + ".tmp")
            tmp_pointer = None
            try:
                self.index.save(tmp)
                _fsync(tmp)
                os.replace(tmp, os.path.join(self.directory, name))
                meta = {"file": name, "watermark": self.watermark, "count": len(self.index), "dims": self.dims}
                fd, tmp_pointer = tempfile.mkstemp(dir=self.directory, prefix=f".vectors-{os.getpid()}-", suffix=".json")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(meta, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp_pointer, os.path.join(self.directory, POINTER))
            except (OSError, RuntimeError) as exc:  # faiss reports I/O failures as RuntimeError
                for leftover in (tmp, tmp_pointer):
                    with contextlib.suppress(OSError, TypeError):
                        os.remove(leftover)  # type: ignore[arg-type]
                raise StoreError(f"cannot write the vector index snapshot in {self.directory}: {exc}") from exc
            self._snapshot_mark = self.watermark
            for old in os.listdir(self.directory):
                if (old.startswith("vectors-") and old.endswith(".faiss") and old != name) or _dead_temp(old):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(self.directory, old))


def _dead_temp(name: str) -> bool:
    """A temporary snapshot or pointer file left by a process that died while writing it."""
    if name.endswith(".faiss.tmp") and name.startswith("vectors-"):
        pid = name[: -len(".faiss.tmp")].rsplit("-", 1)[-1]
    elif name.startswith(".vectors-") and name.endswith(".json"):
        pid = name.split("-")[1]
    else:
        return False
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
