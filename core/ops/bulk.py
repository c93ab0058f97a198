"""Bulk import: many verbatim memories, committed a batch at a time through the one write path.

``bulk_add`` stores exactly what ``add(..., infer=False)`` would for each record — messages, one memory per
message (deduplicated against the scope's current memories and within the import), history, the vector log
— through the same ``ops.add.write`` (one duplicate check, one embedder call, one transaction and one vector
index catch-up per batch). A batch that fails rolls back whole; earlier batches stay committed.

A record may name the ``id`` of the memory it makes (restoring an export keeps the memories' ids): the id
must be new to the store and to the import, else the batch is refused with a ``ConflictError`` before
anything of it is written.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from itertools import islice
from typing import Any

from ..engine import Engine
from ..errors import ConflictError, MemlayerError, StoreError
from ..messages import check_metadata, make_scope, normalize_messages
from ..progress import Progress
from ..records import MAX_ID_CHARS
from ..retention import Lifetime, check_lifetime, lifetime_arg
from ..types import Message, said_at, to_utc
from .add import after_write, write
from .plan import Planned, WriteItem, verbatim
from .sweep import MERGE_SLICE

RECORD_KEYS = frozenset({"text", "messages", "user_id", "agent_id", "run_id", "metadata", "timestamp", "id",
                         "updated_at", "expires_at", "ttl"})
ProgressFn = Callable[[int, "int | None"], None]


async def bulk_add(
    engine: Engine, records: Iterable[Mapping[str, Any]], *, batch_size: int = 1000,
    progress: bool | ProgressFn = True,
) -> dict[str, Any]:
    """Import ``records`` ({text | messages, user_id, agent_id, run_id, metadata, timestamp, id, updated_at,
    expires_at | ttl}) verbatim.

    ``id`` (optional) is the id the record's memory gets, e.g. the original id when restoring an export;
    a record with an id must make exactly one memory (``text``, or one message). An id that a memory of
    the store (current or superseded) or an earlier record of the same call already has is refused with a
    ``ConflictError`` naming it, before its batch writes anything. A record whose text is already a current
    memory of its scope is a duplicate, as without an id: it is skipped and its id not used.
    ``updated_at`` (optional) is when the memory's text last changed, kept as its ``updated_at``
    (``timestamp`` is its ``created_at`` and ``valid_from``, not later than the clock: ``types.said_at``): a
    restored memory keeps both of its times.
    ``expires_at`` (a datetime or ISO string) or ``ttl`` (seconds, a timedelta or "7d") sets when the record's
    memories lapse, as ``add`` does; without either the store's or the scope's default TTL applies.

    Returns counts: ``added`` memories, ``duplicates`` skipped, ``records`` and ``messages`` read.
    ``progress``: True prints a progress line on stderr, a callable gets (records done, total or None).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MemlayerError(f"batch_size must be a positive integer, got {batch_size!r}")
    total = len(records) if hasattr(records, "__len__") else None  # type: ignore[arg-type]
    bar = Progress(total, "memlayer bulk_add") if progress is True else None
    counts = {"added": 0, "duplicates": 0, "records": 0, "messages": 0}
    started = time.perf_counter()
    given: set[str] = set()  # ids named by the records so far
    for batch in _batches(records, batch_size):
        items = await asyncio.to_thread(_parse_all, batch, counts["records"], engine.clock.now().timestamp())
        await asyncio.to_thread(_write, engine, items, given)
        planned = sum(len(i.plans) for i in items)
        added = sum(1 for i in items for p in i.plans if p.event == "ADD")
        counts["added"] += added
        counts["duplicates"] += planned - added
        counts["messages"] += sum(len(i.messages) for i in items)
        counts["records"] += len(batch)
        if bar is not None:
            bar.set(counts["records"])
        elif callable(progress):
            progress(counts["records"], total)
    if bar is not None:
        bar.close()
    if counts["added"]:  # an import leaves the full-text index in many pieces: merge them, a slice at a time
        while await asyncio.to_thread(engine.store.merge_text_index, MERGE_SLICE):
            pass
    await after_write(engine)
    return {**counts, "seconds": round(time.perf_counter() - started, 3)}


def _batches(records: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def _write(engine: Engine, items: list[WriteItem], given: set[str]) -> None:
    """Write one batch, after checking the ids its records name are new (again after a failed commit: a
    concurrent writer may have taken one meanwhile, which the store's unique ids refused)."""
    ids = [p.new_id for i in items for p in i.plans if p.new_id is not None]
    repeated = sorted({i for i, n in Counter(ids).items() if n > 1 or i in given})
    if repeated:
        raise ConflictError(f"memory id(s) {repeated[:5]} are given to more than one record of this import; "
                            "each id can name only one memory")
    _refuse_taken(engine, ids)
    try:
        write(engine, items)
    except StoreError:
        _refuse_taken(engine, ids)
        raise
    given.update(ids)


def _refuse_taken(engine: Engine, ids: list[str]) -> None:
    taken = sorted(engine.store.rids_of(ids)) if ids else []
    if taken:
        raise ConflictError(
            f"the store already has memories with the id(s) {taken[:5]}{' …' if len(taken) > 5 else ''}; "
            "nothing of this batch was written. Leave 'id' out to give the memories new ids, or forget the "
            "existing ones first (delete(id))")


def _parse_all(batch: list[Mapping[str, Any]], offset: int, now: float) -> list[WriteItem]:
    return [_parse(r, offset + i, now) for i, r in enumerate(batch)]


def _parse(record: Mapping[str, Any], index: int, now: float) -> WriteItem:
    if not isinstance(record, Mapping):
        raise MemlayerError(f"record {index} must be a mapping, got {type(record).__name__}")
    unknown = set(record) - RECORD_KEYS
    if unknown:
        raise MemlayerError(f"record {index} has unknown key(s) {sorted(unknown)}; expected {sorted(RECORD_KEYS)}")
    if ("text" in record) == ("messages" in record):
        raise MemlayerError(f"record {index} needs exactly one of 'text' or 'messages'")
    try:
        scope = make_scope(record.get("user_id"), record.get("agent_id"), record.get("run_id"))
        meta = check_metadata(record.get("metadata"))
        raw = record["text"] if "text" in record else record["messages"]
        if "text" in record and not isinstance(raw, str):
            raise MemlayerError(f"'text' must be a string, got {type(raw).__name__}")
        msgs = [m if not m.metadata else Message(m.role, m.content, m.name, check_metadata(m.metadata))
                for m in normalize_messages(raw)]
        when = said_at(record.get("timestamp"), datetime.fromtimestamp(now, timezone.utc))
        updated = _updated(when, to_utc(record.get("updated_at")))
        plans = verbatim(msgs, meta)
        if record.get("id") is not None:
            _name(plans, record["id"])
        lifetime = check_lifetime(lifetime_arg(record.get("expires_at"), record.get("ttl")),
                                  when.timestamp() if when else now)
    except MemlayerError as exc:
        raise type(exc)(f"record {index}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise MemlayerError(f"record {index}: {exc}") from exc
    return WriteItem(scope, msgs, when.timestamp() if when else now, plans, updated=updated,
                     lifetime=lifetime or Lifetime())


def _updated(created: datetime | None, updated: datetime | None) -> float | None:
    """A restored memory's ``updated_at`` as epoch seconds; None when not given or the same as ``created``
    (kept as given otherwise: memlayer itself records an update stated with an earlier timestamp as is)."""
    if updated is None or updated == created:
        return None
    return updated.timestamp()


def _name(plans: list[Planned], memory_id: Any) -> None:
    """Give the one memory of a record the id it names."""
    check_id(memory_id)
    if len(plans) != 1:
        raise MemlayerError(f"a record with an 'id' must make exactly one memory (a 'text' or one non-empty "
                            f"message); this one makes {len(plans)}")
    plans[0].new_id = memory_id


def check_id(memory_id: Any) -> None:
    """A memory id a caller names: a non-empty string, no surrounding spaces, at most MAX_ID_CHARS, no NUL."""
    if not isinstance(memory_id, str) or not memory_id.strip() or memory_id != memory_id.strip():
        raise MemlayerError(f"'id' must be a non-empty string without surrounding spaces, got {memory_id!r}")
    if len(memory_id) > MAX_ID_CHARS or "\x00" in memory_id:
        raise MemlayerError(f"'id' must be at most {MAX_ID_CHARS} characters, without NUL")
