"""Bulk import: many verbatim memories, committed a batch at a time through the one write path.

``bulk_add`` stores exactly what ``add(..., infer=False)`` would for each record — messages, one memory per
message (deduplicated against the scope's current memories and within the import), history, the vector log
— through the same ``ops.add.write`` (one duplicate check, one embedder call, one transaction and one vector
index catch-up per batch). A batch that fails rolls back whole; earlier batches stay committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from ..engine import Engine
from ..errors import MemlayerError
from ..messages import check_metadata, make_scope, normalize_messages
from ..progress import Progress
from ..types import Message, to_utc, utcnow
from .add import write
from .plan import WriteItem, verbatim

RECORD_KEYS = frozenset({"text", "messages", "user_id", "agent_id", "run_id", "metadata", "timestamp"})
ProgressFn = Callable[[int, "int | None"], None]


async def bulk_add(
    engine: Engine, records: Iterable[Mapping[str, Any]], *, batch_size: int = 1000,
    progress: bool | ProgressFn = True,
) -> dict[str, Any]:
    """Import ``records`` ({text | messages, user_id, agent_id, run_id, metadata, timestamp}) verbatim.

    Returns counts: ``added`` memories, ``duplicates`` skipped, ``records`` and ``messages`` read.
    ``progress``: True prints a progress line on stderr, a callable gets (records done, total or None).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MemlayerError(f"batch_size must be a positive integer, got {batch_size!r}")
    total = len(records) if hasattr(records, "__len__") else None  # type: ignore[arg-type]
    bar = Progress(total, "memlayer bulk_add") if progress is True else None
    counts = {"added": 0, "duplicates": 0, "records": 0, "messages": 0}
    started = time.perf_counter()
    for batch in _batches(records, batch_size):
        items = await asyncio.to_thread(_parse_all, batch, counts["records"])
        await asyncio.to_thread(write, engine, items)
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
    return {**counts, "seconds": round(time.perf_counter() - started, 3)}


def _batches(records: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def _parse_all(batch: list[Mapping[str, Any]], offset: int) -> list[WriteItem]:
    now = utcnow().timestamp()
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
        when = to_utc(record.get("timestamp"))
    except MemlayerError as exc:
        raise type(exc)(f"record {index}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise MemlayerError(f"record {index}: {exc}") from exc
    return WriteItem(scope, msgs, when.timestamp() if when else now, verbatim(msgs, meta))
