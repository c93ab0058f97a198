"""The file a ``FaissIndex`` snapshot is written to, and read back from.

Layout: a 4 KiB header (a magic string, then JSON: format, dims, count and the offsets), the ids (int64), the
float32 rows (aligned to 4 KiB, so they can be memory-mapped copy-on-write: a cold open reads almost nothing),
then the approximate index when there is one. Snapshots written by earlier versions (a FAISS ``IndexIDMap2``
over a flat index) are still read.
"""

from __future__ import annotations

import json
from typing import Any

import faiss as _faiss
import numpy as np

from .ann import Ann
from .store import CHUNK, Frozen

faiss: Any = _faiss  # FAISS's type stubs miss the SWIG helpers used here
MAGIC = b"memlayer-vectors"  # 16 bytes
HEADER = 4096
Header = dict[str, Any]


def _align(n: int) -> int:
    return (n + HEADER - 1) // HEADER * HEADER


def write(path: str, dims: int, rows: Frozen, ann: Ann | None) -> Header:
    """Write ``rows`` (and ``ann``) to ``path``; returns the header written."""
    n = len(rows.ids)
    ids_offset = HEADER
    vec_offset = _align(ids_offset + 8 * n)
    header = {"format": 1, "dims": dims, "count": n, "ids_offset": ids_offset, "vectors_offset": vec_offset,
              "ann_offset": vec_offset + 4 * dims * n, "ann": None if ann is None else ann.meta()}
    raw = json.dumps(header).encode()
    if len(raw) > HEADER - len(MAGIC) - 1:
        raise ValueError("vector snapshot header too large")
    with open(path, "wb") as fh:
        fh.write(MAGIC + raw + b"\n" + b" " * (HEADER - len(MAGIC) - len(raw) - 1))
        fh.write(rows.ids.astype("<i8").tobytes())
        fh.write(b"\0" * (vec_offset - ids_offset - 8 * n))
        for start in range(0, n, CHUNK):
            fh.write(np.ascontiguousarray(rows.gather(rows.slots[start:start + CHUNK]), dtype="<f4").data)
        if ann is not None:
            ann.write(fh)
    return header


def read(path: str, dims: int) -> tuple[Header, Ann | None] | None:
    """The header and approximate index of a snapshot at ``path`` (None: a file of the earlier FAISS format)."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER)
        if not head.startswith(MAGIC):
            return None
        header = json.loads(head[len(MAGIC):].decode().strip())
        if header.get("format") != 1:
            raise ValueError(f"unknown vector snapshot format {header.get('format')!r} in {path}")
        if int(header["dims"]) != dims:
            raise ValueError(f"index at {path} has {header['dims']} dims, expected {dims}")
        ann = None
        if header["ann"] is not None:
            fh.seek(int(header["ann_offset"]))
            ann = Ann.read(fh, header["ann"])
    return header, ann


def read_ids(path: str, header: Header) -> np.ndarray:
    n = int(header["count"])
    return np.fromfile(path, dtype="<i8", count=n, offset=int(header["ids_offset"])).astype(np.int64)


def rows_of(path: str, header: Header, *, mmap: bool) -> np.ndarray:
    """The rows: memory-mapped copy-on-write (``mmap``), else read."""
    n, dims = int(header["count"]), int(header["dims"])
    if n == 0:
        return np.empty((0, dims), dtype=np.float32)
    if not mmap:
        return np.fromfile(path, dtype="<f4", count=n * dims, offset=int(header["vectors_offset"])).reshape(n, dims)
    rows = np.memmap(path, dtype=np.float32, mode="c", offset=int(header["vectors_offset"]), shape=(n, dims))
    return np.asarray(rows)  # a plain ndarray view (it keeps the map alive): memmap's indexing costs ~2x


def read_faiss(path: str, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, rows) of a snapshot written by earlier versions: a FAISS IndexIDMap2 over a flat index."""
    index = faiss.read_index(path)
    if index.d != dims:
        raise ValueError(f"index at {path} has {index.d} dims, expected {dims}")
    if index.ntotal and not isinstance(index, faiss.IndexIDMap2):
        raise ValueError(f"index at {path} is not an id-mapped index")
    ids = faiss.vector_to_array(index.id_map).astype(np.int64) if index.ntotal else np.empty(0, np.int64)
    rows = np.empty((0, dims), np.float32)
    if index.ntotal:  # rows in id_map order, read from the wrapped flat index (owned by ``index``)
        rows = faiss.downcast_index(index.index).reconstruct_n(0, index.ntotal)
    return ids, rows
