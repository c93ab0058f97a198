"""The vector index as a projection of the store, which holds every embedding.

Persisted incrementally: each write only appends to the store's ``vectors`` log; the index file is a snapshot
written now and then (on close, and — on a thread of its own, while searches and writes go on — when the
un-snapshotted tail grows past a quarter of the index) under a new name, then published by atomically
replacing a small JSON pointer that records the snapshot's watermark, count and checksum (xxh3-128 of the
whole file). Opening verifies the checksum, loads the snapshot and replays the log after its watermark; a
missing, unreadable, corrupt, stale or foreign snapshot is rebuilt from the store. Snapshot files no pointer
names are removed at open; a forget removes them all, other live processes' included, and a snapshot replays
the log before it is taken.
Other processes' writes are picked up the same way before every search.
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
import xxhash

from ..errors import StoreError
from ..storage.base import LogEntry, Store
from ..vectors.base import VectorIndex
from .base import Projection

log = logging.getLogger("memlayer.vectors")
POINTER = "vectors.json"


class VectorProjection(Projection):
    log_name = "vectors"

    def __init__(
        self, store: Store, factory: Callable[[], VectorIndex], directory: str | None, *, snapshot_min: int = 10_000,
    ) -> None:
        super().__init__(store)
        self._factory = factory
        self.index = factory()
        self.dims = self.index.dims
        self.directory = directory
        self._snapshot_mark = 0
        self._snapshot_min = snapshot_min
        self._saving = threading.Lock()  # one snapshot at a time
        self._saver: threading.Thread | None = None  # the thread writing a due snapshot, if any
        self._closing = False

    # -- loading ------------------------------------------------------------------------------
    def _load(self) -> str | None:
        if self.directory is None:
            return "in-memory store" if self.store.count() else None
        _remove_stale(self.directory)
        for _ in range(3):  # another process may replace the pointer and remove the file it named meanwhile
            reason, published = self._load_published()
            if reason is None or published == self._published():
                return reason
        return reason

    def _published(self) -> Any:
        try:
            with open(os.path.join(self.directory or "", POINTER), encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def _load_published(self) -> tuple[str | None, Any]:
        """Load the published snapshot; return why it cannot be used (or None), and the pointer read."""
        meta = self._published()
        if meta is None:
            exists = os.path.exists(os.path.join(self.directory or "", POINTER))
            if not exists:
                return ("no snapshot" if self.store.count() else None), None
            return "the snapshot pointer is unreadable", None
        try:
            if int(meta["dims"]) != self.dims:
                return f"snapshot has {meta['dims']} dims, embedder has {self.dims}", meta
            if meta.get("store", self.store.location) != self.store.location:  # (older pointers name none)
                return f"snapshot was taken of another store ({meta['store']})", meta
            if int(meta["watermark"]) > self.store.log_head("vectors"):
                return "snapshot is newer than the database (database restored?)", meta
            if "checksum" not in meta:
                return "snapshot has no checksum (written by an older memlayer)", meta
            path = os.path.join(self.directory or "", os.path.basename(meta["file"]))
            if file_checksum(path) != meta["checksum"]:
                return "snapshot checksum does not match (the file is corrupt)", meta
            index = self._factory()
            index.load(path)
            if len(index) != int(meta["count"]):
                return "snapshot count does not match its pointer", meta
        except Exception as exc:  # unreadable or corrupt: rebuild
            return f"snapshot unreadable: {exc}", meta
        self._replace(index)
        self.watermark = self._snapshot_mark = int(meta["watermark"])
        return None, meta

    def _check_after_open(self) -> str | None:
        # the log tail and the row count from one snapshot of the store: another process writing meanwhile
        # cannot make them disagree (that used to trigger needless rebuilds)
        entries, count = self.store.log_and_count("vectors", self.watermark)
        if entries:
            self._apply(entries, {})
            self.watermark = entries[-1].seq
        if len(self.index) != count:
            return f"index holds {len(self.index)} vectors but the store has {count}"
        return None

    def _rebuild(self) -> None:
        index = self._factory()
        with self.store.scan_embeddings() as (head, batches):
            for ids, vectors in batches:
                index.add(ids, vectors.reshape(len(ids), self.dims))
        self._replace(index)
        self.watermark = head

    def _replace(self, index: VectorIndex) -> None:
        old, self.index = self.index, index
        close = getattr(old, "close", None)  # stop the old index's background work, if it has any
        if old is not index and callable(close):
            close()

    # -- keeping up ---------------------------------------------------------------------------
    def _apply(self, entries: list[LogEntry], fresh: dict[int, np.ndarray]) -> dict[int, Any]:
        # Coalesce to the final state of each row, then apply removals before additions.
        final: dict[int, str] = {}
        for e in entries:
            if e.op == "del" or final.get(e.rid) == "del":
                final[e.rid] = "readd" if e.op == "add" else "del"
            else:
                final[e.rid] = "add"
        removals = np.array([r for r, op in final.items() if op in ("del", "readd")], dtype=np.int64)
        additions = [r for r, op in final.items() if op in ("add", "readd")]
        if len(removals):
            self.index.remove(removals)
        if additions:
            # A caller's vector is only current for a row no one re-embedded since: for a row with a 'del'
            # in this batch another writer may have committed a newer vector, so the store decides.
            redone = {e.rid for e in entries if e.op == "del"}
            vectors = {r: v for r, v in fresh.items() if r not in redone}
            missing = [r for r in additions if r not in vectors]
            if missing:
                vectors.update(self.store.embeddings(missing))
            present = [r for r in additions if r in vectors]  # a row deleted since is skipped
            if present:
                mat = np.vstack([vectors[r] for r in present]).astype(np.float32, copy=False)
                self.index.add(np.asarray(present, dtype=np.int64), mat)
        return {}

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            self.catch_up()
            return self.index.search(query, k, allowed)

    # -- persistence --------------------------------------------------------------------------
    def _persist(self, forced: bool) -> None:
        if not self.directory:
            return
        if forced:
            self.snapshot(force=True)
        elif self.watermark - self._snapshot_mark >= max(self._snapshot_min, len(self.index) // 4):
            self._save_behind()

    def _save_behind(self) -> None:
        """A due snapshot, written on a thread of its own: the caller (a catch-up) holds the lock, and written
        there it would stop every search of this process until the index is on disk (seconds at 1M vectors).
        One at a time; not a daemon, so a process that exits without closing still finishes it."""
        saver = self._saver
        if self._closing or (saver is not None and saver.is_alive()):
            return
        self._saver = threading.Thread(target=self._save_quietly, name="memlayer-vector-snapshot")
        self._saver.start()

    def _save_quietly(self) -> None:
        try:
            self.snapshot()
        except StoreError as exc:  # an optimisation: the log replays from the last good snapshot
            log.warning("%s; will retry later", exc)
        except Exception:  # the same: the next catch-up that finds a snapshot due tries again
            log.exception("writing a vector index snapshot failed; will retry later")

    def close(self) -> None:
        self._closing = True
        saver = self._saver
        if saver is not None:
            saver.join()
        self.snapshot()

    def snapshot(self, force: bool = False, *, forgetting: bool = False) -> None:
        """Write the index to a new file and publish it, after replaying the log: a snapshot never holds what
        another process deleted or forgot before it was taken (a process closing long after a forget would
        otherwise publish the vectors it still held). ``forgetting``: also remove the older snapshot files of
        other live processes (a forget must leave no file holding what it removed; a process that was about to
        publish one of them rebuilds its index at the next open instead of loading it).

        Snapshots take turns. An index that ``saves_while_in_use`` (it pictures the state it starts from, at or
        past the watermark read here: replaying the log from there is idempotent) writes itself outside the
        projection's lock, so searches and catch-ups go on; another keeps the lock until it is written."""
        lock: Any = self._lock
        lock.acquire()
        try:
            if self.directory is None:
                return
            with self._saving:  # (always taken after the lock; a snapshot under way never waits for the lock)
                self._catch_up({}, raise_errors=False, persist=False)
                mark, index = self.watermark, self.index
                if not force and mark == self._snapshot_mark:
                    if forgetting:  # nothing new to write; other files may still hold what was forgotten
                        _remove_stale(self.directory, live_too=True)
                    return
                if getattr(index, "saves_while_in_use", False):
                    lock.release()  # (a caller that holds the lock keeps it: written under it, as it asked)
                    lock = None
                name = self._publish(index, mark)
                _remove_stale(self.directory, keep=name, live_too=forgetting)
        finally:
            if lock is not None:
                lock.release()

    def _publish(self, index: VectorIndex, mark: int) -> str:
        """Write ``index`` (at or past ``mark``) under a new name, point the pointer at it with ``mark``, and
        return the name."""
        directory = self.directory or ""
        name = f"vectors-{mark}-{os.getpid()}.faiss"
        tmp = os.path.join(directory, name + ".tmp")
        tmp_pointer = None
        try:
            written = index.save(tmp)
            count = len(index) if written is None else written  # (None: it did not change while it wrote)
            _fsync(tmp)
            checksum = file_checksum(tmp)
            os.replace(tmp, os.path.join(directory, name))
            meta = {"file": name, "watermark": mark, "count": count, "dims": self.dims,
                    "store": self.store.location, "checksum": checksum}
            fd, tmp_pointer = tempfile.mkstemp(dir=directory, prefix=f".vectors-{os.getpid()}-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(meta, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_pointer, os.path.join(directory, POINTER))
        except (OSError, RuntimeError) as exc:  # faiss reports I/O failures as RuntimeError
            for leftover in (tmp, tmp_pointer):
                with contextlib.suppress(OSError, TypeError):
                    os.remove(leftover)  # type: ignore[arg-type]
            raise StoreError(f"cannot write the vector index snapshot in {directory}: {exc}") from exc
        self._snapshot_mark = mark
        return name


def file_checksum(path: str) -> str:
    """xxh3-128 of a file's bytes (about 10 GB/s: a 1M-vector snapshot is checked in a fraction of a second)."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            digest.update(chunk)
    return str(digest.hexdigest())


def _remove_stale(directory: str, keep: str | None = None, *, live_too: bool = False) -> None:
    """Snapshot files that no pointer needs: this process's older ones, and those of processes that are gone
    (a kill leaves them). Another live process's files are left to it (it may be publishing one right now)
    unless ``live_too``; its temporary files always are."""
    pointer = os.path.join(directory, POINTER)
    try:
        with open(pointer, encoding="utf-8") as fh:
            current = os.path.basename(json.load(fh)["file"])
    except (OSError, ValueError, KeyError, TypeError):
        current = None
    for name in os.listdir(directory):
        stale = _dead_temp(name)
        if name.startswith("vectors-") and name.endswith(".faiss") and name not in (current, keep):
            pid = name[: -len(".faiss")].rsplit("-", 1)[-1]
            stale = stale or live_too or (pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))))
        if stale:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(directory, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


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
    return not _alive(int(pid))


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
