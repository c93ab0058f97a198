"""The vector index: exact while cheap, approximate (FAISS IVF-SQ8) past ``approximate_after`` rows.

Every vector is kept once, exactly, in a ``VectorStore``. Scoped searches pass the scope's ids
(computed in SQLite). A set of ids is scored exactly by gathering its rows whenever that is cheaper
than an approximate search — always for a user's hundreds or thousands of rows — so a small scope
always gets its own true top-k, whatever the rest of the index holds. Only a large set (or a search
without one) uses the approximate index: it proposes ``oversample * k`` candidates inside the set
(an id selector), which are re-ranked exactly; when it proposes too few, the search is done exactly.

The approximate index is built on a background thread from a frozen picture of the rows; searches
stay exact until it is built and has caught up with the writes made meanwhile. It is rebuilt (in the
background, the old one serving meanwhile) when the index has grown ``retrain_growth`` times.

Snapshots: ``save`` writes the index while it serves (``snapfile`` holds the file's layout); ``load`` reads
one back, its rows memory-mapped.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import threading
from typing import Any

import numpy as np

try:
    import faiss as _faiss
except ImportError as exc:  # pragma: no cover - faiss-cpu is a core dependency
    raise ImportError('faiss is not installed: pip install "memlayer" (it depends on faiss-cpu)') from exc

from . import ann as ann_mod
from . import snapfile
from .store import Frozen, VectorStore, id_mask

faiss: Any = _faiss  # FAISS's type stubs miss the SWIG helpers used here
log = logging.getLogger("memlayer.vectors")
SMALL_SET = 2048  # sets this small are always scored exactly


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, np.float32), np.empty(0, np.int64)


class FaissIndex:
    """Inner-product index over unit vectors keyed by int64 ids (the ``VectorIndex`` protocol).

    approximate_after: build the approximate index once this many vectors are held (None: never).
    kind: "ivf" (IVF-SQ8 with exact re-ranking) or "flat" (always exact).
    target_recall: recall@10 of the approximate path against exact search, calibrated at build time.
    oversample: candidates asked of the approximate index per result wanted, before re-ranking.
    background: build on a thread (False: build inline, in the write that crosses the threshold).
    build_threads: threads for building (default: all cores but one, so searches keep a core).
    mmap: memory-map snapshot rows on load instead of reading them.
    """

    def __init__(
        self, dims: int, *, approximate_after: int | None = 200_000, kind: str = "ivf",
        target_recall: float = 0.95, oversample: int = 4, background: bool = True,
        build_threads: int | None = None, retrain_growth: float = 4.0, mmap: bool = True,
    ) -> None:
        if kind not in ("ivf", "flat"):
            raise ValueError(f"unknown vector index kind {kind!r}: choose 'ivf' or 'flat'")
        if not 0 < target_recall <= 1:
            raise ValueError("target_recall must be in (0, 1]")
        self.dims = int(dims)
        self.approximate_after = None if kind == "flat" else approximate_after
        self.target_recall = float(target_recall)
        self.oversample = max(1, int(oversample))
        self.background = background
        self.build_threads = build_threads or max(1, (os.cpu_count() or 2) - 1)
        self.retrain_growth = float(retrain_growth)
        self.mmap = mmap
        self._store = VectorStore(self.dims)
        self._ann: ann_mod.Ann | None = None
        self._build: ann_mod.BuildState | None = None
        self._saving: ann_mod.BuildState | None = None  # a save in progress: the ids touched since its picture
        self._held: ann_mod.Ann | None = None  # the approximate index a save is writing: updated once it is written
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()
        self.builds = 0  # approximate indexes installed (for tests and benchmarks)
        self.build_error: str | None = None

    # -- the protocol ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._store)

    def ids(self) -> np.ndarray:
        with self._lock:
            return self._store.ids()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dims)
        with self._lock:
            replaced = self._store.remove(ids)
            self._store.add(ids, vectors)
            if self._ann is not None and self._ann is not self._held:  # (held: redone when the save ends)
                self._ann.remove(replaced)
                live_ids, live_vecs = self._store.get(ids)  # a repeated id: its last vector
                self._ann.add(live_ids, live_vecs)
            for state in (self._build, self._saving):
                if state is not None:
                    state.touch(ids)
            self._maybe_build()

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            gone = self._store.remove(np.asarray(ids, dtype=np.int64))
            if self._ann is not None and self._ann is not self._held:
                self._ann.remove(gone)
            for state in (self._build, self._saving):
                if state is not None:
                    state.touch(gone)
            if self.approximate_after and len(self) < self.approximate_after // 2 and self._ann is not None:
                self._ann = None  # shrunk far below the threshold: exact is cheap again
                self.close()

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(self.dims)
        with self._lock:
            self._maybe_build()
            n = len(self._store)
            if k <= 0 or n == 0:
                return _empty()
            if allowed is None:
                if self._ann is not None:
                    found = self._approximate(q, k, 1.0, None, n)
                    if found is not None:
                        return found
                return self._store.scan(q, k)
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                return _empty()
            if len(allowed) <= SMALL_SET:
                return self._store.score_ids(q, allowed, k)
            frac = min(1.0, len(allowed) / n)
            if self._ann is not None and self._ann.scan_cost(frac) < len(allowed):
                present = int((self._store.slots_of(allowed) >= 0).sum())
                found = self._approximate(q, k, frac, allowed, present)
                if found is not None:
                    return found
            if len(allowed) < n // 2:
                return self._store.score_ids(q, allowed, k)
            return self._store.scan(q, k, id_mask(allowed))

    def _approximate(
        self, q: np.ndarray, k: int, frac: float, allowed: np.ndarray | None, present: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Re-ranked approximate top-k; None when it found fewer than the set holds (search exactly).
        While a save writes the approximate index, the ids written since (absent from it, or held there with an
        older vector) are scored exactly beside its candidates."""
        assert self._ann is not None
        sel, bitmap, mask = None, None, None
        if allowed is not None:
            mask = id_mask(allowed)
            bitmap = np.packbits(mask, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        cand = self._ann.candidates(q, self.oversample * k, frac, sel)
        del sel, bitmap  # the selector points into the bitmap: both live until here
        if self._ann is self._held and self._saving is not None and self._saving.touched:
            pending = self._saving.ids()
            if mask is not None:
                pending = pending[pending < len(mask)]
                pending = pending[mask[pending]]
            cand = np.union1d(cand, pending)
        scores, ids = self._store.score_ids(q, cand, k)
        return (scores, ids) if len(ids) >= min(k, present) else None

    # -- compatibility: a few callers (and tests) read vectors back by id ---------------------------
    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        with self._lock:
            found, vectors = self._store.get(np.asarray(ids, dtype=np.int64))
        if len(found) != len(ids):
            raise KeyError("some ids are not in the index")
        return vectors

    @property
    def _index(self) -> FaissIndex:  # the FAISS IndexIDMap2 this class used to wrap offered reconstruct_batch
        return self

    # -- the approximate index ------------------------------------------------------------------
    @property
    def approximate_ready(self) -> bool:
        return self._ann is not None

    @property
    def approximate(self) -> dict[str, Any] | None:
        """The approximate index's parameters (lists, nprobe, calibrated recall), or None."""
        ann = self._ann
        return None if ann is None else {**ann.meta(), "nlist": ann.nlist, "size": len(ann)}

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for a running background build; True when the approximate index is in use."""
        build = self._build
        if build is not None and build.thread is not None:
            build.thread.join(timeout)
        return self._ann is not None

    def close(self) -> None:
        """Stop a background build (the index stays usable, exact until a later build)."""
        build = self._build
        if build is not None:
            build.cancel.set()

    def _maybe_build(self) -> None:
        if self.approximate_after is None or self._build is not None:
            return
        n = len(self._store)
        due = self._ann is None and n >= max(1, self.approximate_after)
        if due or (self._ann is not None and n >= self.retrain_growth * self._ann.trained_n):
            build = self._build = ann_mod.BuildState()
            rows = self._store.freeze()
            if self.background:
                build.thread = threading.Thread(target=self._run_build, args=(build, rows), daemon=True,
                                                name="memlayer-ann-build")
                with _BUILDS_LOCK:
                    _BUILDS.add(build)
                build.thread.start()
            else:
                self._run_build(build, rows)

    def _run_build(self, build: ann_mod.BuildState, rows: Any) -> None:
        try:
            ann = ann_mod.build(rows, k=10, target_recall=self.target_recall, oversample=self.oversample,
                                threads=self.build_threads, cancelled=build.cancel.is_set)
            del rows
            while ann is not None and not build.cancel.is_set():
                with self._lock:  # catch up with the writes made meanwhile; install once few are left
                    if build.cancel.is_set() or self._build is not build:
                        return
                    touched, build.touched = build.touched, set()
                    ids = np.fromiter(touched, dtype=np.int64, count=len(touched))
                    found, vectors = self._store.get(ids)
                    if len(touched) <= 4096:
                        ann.remove(ids)
                        ann.add(found, vectors)
                        self._ann = ann
                        self.builds += 1
                        _trim()
                        return
                ann.remove(ids)  # the heavy part outside the lock; ids touched again are redone
                ann.add(found, vectors)
        except Exception as exc:  # a failed build leaves exact search in place
            log.warning("building the approximate vector index failed: %s", exc)
            self.build_error = str(exc)
        finally:
            with self._lock:
                if self._build is build:
                    self._build = None
            with _BUILDS_LOCK:
                _BUILDS.discard(build)

    # -- persistence ----------------------------------------------------------------------------
    saves_while_in_use = True  # (VectorIndex.save)

    def save(self, path: str) -> int:
        """Write the index as it is when the call starts, while searches and writes go on: under the lock only a
        picture is taken (the live rows' ids and slots). Rows are never rewritten in place, so the picture's rows
        stay readable; one removed meanwhile may be written as zeros (the vector projection publishes a snapshot
        with the change-log position read before the picture, so replaying the log removes it). The approximate
        index is written as it stands: writes made meanwhile leave it alone (searches score their ids exactly
        beside its candidates) and are applied to it when the file is written. Then, with ``mmap``, the index
        continues on the file, redoing the ids touched meanwhile."""
        with self._save_lock:  # one save at a time
            with self._lock:
                ann = self._held = self._ann
                rows = self._store.freeze()
                saving = self._saving = ann_mod.BuildState()
            try:
                header = self._write(path, rows, ann)
            except BaseException:
                with self._lock:
                    self._end_save(saving)
                raise
            del rows, ann
            with self._lock:
                self._end_save(saving)
                if self.mmap and header["count"]:
                    self._continue_on(path, header, saving.touched)
            return int(header["count"])

    def _end_save(self, saving: ann_mod.BuildState) -> None:
        """The file is written (or failed): the approximate index it held takes the writes made meanwhile (unless a
        rebuild replaced or a shrink dropped it)."""
        held, self._held, self._saving = self._held, None, None
        if held is not None and held is self._ann and saving.touched:
            ids = saving.ids()
            found, vectors = self._store.get(ids)
            held.remove(ids)
            held.add(found, vectors)

    def _write(self, path: str, rows: Frozen, ann: ann_mod.Ann | None) -> dict[str, Any]:
        return snapfile.write(path, self.dims, rows, ann)

    def _continue_on(self, path: str, header: dict[str, Any], touched: set[int]) -> None:
        """Rows from the file just written (compacted, and not resident), then those touched since its picture
        as they are now (under the lock)."""
        ids = np.fromiter(touched, dtype=np.int64, count=len(touched))
        now_ids, now_rows = self._store.get(ids)
        self._store.adopt(snapfile.read_ids(path, header), snapfile.rows_of(path, header, mmap=True))
        if len(ids):
            self._store.remove(ids)
            self._store.add(now_ids, now_rows)

    def load(self, path: str) -> None:
        found = snapfile.read(path, self.dims)
        if found is None:  # written by an earlier version
            ids, rows = snapfile.read_faiss(path, self.dims)
            with self._lock:
                self._store.adopt(ids, rows)
                self._ann = None
            return
        header, ann = found
        ids, rows = snapfile.read_ids(path, header), snapfile.rows_of(path, header, mmap=self.mmap)
        with self._save_lock, self._lock:  # (not while a save of this index is continuing on its file)
            self.close()
            self._build = None
            self._store.adopt(ids, rows)
            self._ann = ann if ann is not None and len(ann) == len(ids) else None


_BUILDS: set[ann_mod.BuildState] = set()  # running background builds
_BUILDS_LOCK = threading.Lock()


@atexit.register
def _stop_builds() -> None:
    """Cancel and join background builds before the interpreter goes: a daemon thread still inside
    FAISS when Python finalises aborts the process. Each build checks between steps of ~1 s."""
    with _BUILDS_LOCK:
        builds = list(_BUILDS)
    for build in builds:
        build.cancel.set()
    for build in builds:
        if build.thread is not None:
            build.thread.join(timeout=60)


def _trim() -> None:
    """Hand freed heap back to the OS after a build (glibc keeps it otherwise: RSS stays high)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
