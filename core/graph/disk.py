"""The on-disk Oxigraph directory: opening it (a damaged or missing one is replaced by an empty store, and
the caller is told so), rewriting it so forgotten text leaves the disk, and finishing a rewrite that a crash
interrupted.

Why a rewrite: Oxigraph keeps every string it has seen in its ``id2str`` table and never deletes from it,
and RocksDB keeps deleted values in its SST and WAL files until a compaction happens to drop them; so after
a forget the text is still in the files (``Store.optimize()`` does not remove it). The only way to have it
gone is to copy what is left into a fresh directory and delete the old one: :func:`rewrite` does that with
pyoxigraph's own dump (N-Quads) and bulk loader, then swaps the directories.

The swap, and what :func:`settle` does with what a crash left (``<dir>.new`` is the copy being built,
``<dir>.old`` the original after its rename)::

    <dir> and <dir>.new   -> the copy was not finished: remove <dir>.new (the rewrite runs again later)
    <dir>.old and <dir>.new -> the copy was finished: <dir>.new becomes <dir>, remove <dir>.old
    <dir> and <dir>.old   -> the swap was done: remove <dir>.old
    only <dir>.old        -> put it back (its pending marker makes the rewrite run again)
"""

from __future__ import annotations

import gc
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import StoreError
from . import owner

logger = logging.getLogger("memlayer.graph")
#: a file in the directory saying "data was forgotten since the last rewrite" (RocksDB ignores it)
PENDING = "memlayer-rewrite-pending"
#: a file in the directory saying "damage was found while closing": the next open replaces the store
DAMAGED = "memlayer-damaged"


class StoreInUse(StoreError):
    """The store could not be rewritten because something else in the process still holds it open."""


def sibling(location: Path, suffix: str) -> Path:
    return location.with_name(location.name + suffix)


def settle(location: Path) -> None:
    """Finish or undo a rewrite a crash interrupted (see the module docstring)."""
    new, old = sibling(location, ".new"), sibling(location, ".old")
    if old.exists() and new.exists() and not location.exists():
        new.rename(location)
    if location.exists():
        for leftover in (new, old):
            if leftover.exists():
                shutil.rmtree(leftover)
    elif old.exists():
        old.rename(location)
        (location / PENDING).touch()


def is_damage(exc: BaseException) -> bool:
    """Whether an error of pyoxigraph means the files are damaged (RocksDB says "Corruption")."""
    return "corruption" in str(exc).lower()


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("hold" in text or "resource temporarily unavailable" in text or "lock file" in text)


def open_dir(location: Path) -> tuple[Any, str | None]:
    """The opened pyoxigraph Store at ``location`` and, when it started empty instead of opening existing
    data, the reason (missing directory, or damaged data moved aside). This process is then noted as the
    store's holder (:mod:`memlayer.graph.owner`); a store another holds is a StoreError naming the holder."""
    opened = _open_dir(location)
    owner.record(location)
    return opened


def _open_dir(location: Path) -> tuple[Any, str | None]:
    import pyoxigraph

    settle(location)
    if not location.exists():
        location.mkdir(parents=True)
        return pyoxigraph.Store(str(location)), f"no graph store at {location}; started an empty one"
    fresh = not any(location.iterdir())
    marker = location / DAMAGED
    if marker.exists():
        return _replace(location, marker.read_text(encoding="utf-8", errors="replace"))
    damage = None
    inner: Any = None
    try:
        inner = pyoxigraph.Store(str(location))
        len(inner)  # reads every key of an index: finds much damage now rather than at the first query
        return inner, (f"no graph store at {location}; started an empty one" if fresh else None)
    except Exception as exc:
        if is_lock_error(exc):
            raise StoreError(owner.lock_message(location, exc)) from exc
        damage = f"{type(exc).__name__}: {exc}"
    inner = None  # outside the except block, so nothing holds the half-open store any more
    return _replace(location, damage)


def _replace(location: Path, damage: str) -> tuple[Any, str]:
    """Move a damaged directory aside and open an empty store in its place."""
    import pyoxigraph

    gc.collect()  # drop a half-opened store's handles before moving its files
    aside = sibling(location, f".damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        location.rename(aside)
        location.mkdir()
    except OSError as exc:
        raise StoreError(f"the graph store at {location} could not be read ({damage}), and moving it aside "
                         f"failed ({exc}); move or remove it yourself, memlayer then rebuilds it") from exc
    reason = f"the graph store at {location} could not be read ({damage}); moved it to {aside} and started an empty one"
    logger.warning("%s; its data is rebuilt from the memory store's outbox", reason)
    try:
        return pyoxigraph.Store(str(location)), reason
    except OSError as exc:  # the damaged store is still held open in this process
        raise StoreError(f"{reason}, but cannot open the new one: {exc}. Close every use of the graph store "
                         "and open it again") from exc


def replace_damaged(location: Path, damage: str) -> tuple[Any, str]:
    """Damage found while the store was in use (the caller has dropped it): move it aside, open an empty one."""
    replaced = _replace(location, damage)
    owner.record(location)
    return replaced


def mark_damaged(location: Path, damage: str) -> None:
    """Damage found while closing: leave word for the next open, which replaces the store."""
    (location / DAMAGED).write_text(damage, encoding="utf-8")


def rewrite(box: list[Any], location: Path) -> Any:
    """Copy what the store holds into a fresh directory and swap it in; returns the new open store.

    ``box`` holds the only reference to the open store (taken out here, so that dropping it closes the
    store before the directories are renamed). If something else still holds the store, nothing is done:
    :class:`StoreInUse` is raised with the store back in ``box``."""
    import pyoxigraph as ox

    inner = box.pop()
    if sys.getrefcount(inner) > 2:  # this frame's name and getrefcount's argument
        box.append(inner)
        raise StoreInUse(f"cannot rewrite the graph store at {location} now: it is still in use elsewhere in "
                         "this process; the rewrite is left for its next open")
    new, old = sibling(location, ".new"), sibling(location, ".old")
    if new.exists():
        shutil.rmtree(new)
    dump = sibling(location, ".dump.nq")
    try:
        inner.flush()
        graphs = list(inner.named_graphs())
        inner.dump(str(dump), ox.RdfFormat.N_QUADS)
        copy = ox.Store(str(new))
        copy.bulk_load(path=str(dump), format=ox.RdfFormat.N_QUADS)
        for graph in graphs:  # empty named graphs too
            copy.add_graph(graph)
        copy.flush()
        del copy
    finally:
        dump.unlink(missing_ok=True)
    del inner
    gc.collect()
    try:
        probe = ox.Store(str(location))  # opens only once the original is really closed
    except OSError as exc:
        shutil.rmtree(new)
        raise StoreError(f"cannot rewrite the graph store at {location}: it is still open elsewhere in this process "
                         f"({exc}); the rewrite is left for its next open. Open the store again to use it") from exc
    del probe
    gc.collect()
    location.rename(old)
    new.rename(location)
    shutil.rmtree(old)
    reopened = ox.Store(str(location))
    owner.record(location)
    return reopened
