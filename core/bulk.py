"""Bulk import: many verbatim memories, committed a batch at a time.

``bulk_add`` stores exactly what ``add(..., infer=False)`` would for each record — messages, one
memory per message (deduplicated against the scope's current memories and within the import),
history, FTS rows and vector-log entries — but per batch of records rather than per call: one
hash lookup, one embedder call, one transaction (one fsync) and one vector-index catch-up per batch,
with ``executemany`` inserts. A batch that fails rolls back whole; earlier batches stay committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from . import pipeline
from .errors import MemlayerError
from .messages import make_scope, normalize_messages
from .types import Message, Scope, to_utc, utcnow

if TYPE_CHECKING:
    from .memory import AsyncMemory

RECORD_KEYS = frozenset({"text", "messages", "user_id", "agent_id", "run_id", "metadata", "timestamp"})
Progress = Callable[[int, "int | None"], None]


@dataclass
class _Record:
    scope: Scope
    messages: list[Message]
    when: float | None  # epoch seconds; None: the batch's commit time
    plans: list[pipeline.Planned] = field(default_factory=list)


async def bulk_add(
    mem: AsyncMemory, records: Iterable[Mapping[str, Any]], *, batch_size: int = 1000,
    progress: bool | Progress = True,
) -> dict[str, Any]:
    """Import ``records`` ({text | messages, user_id, agent_id, run_id, metadata, timestamp}) verbatim.

    Returns counts: ``added`` memories, ``duplicates`` skipped, ``records`` and ``messages`` read.
    ``progress``: True prints a progress line on stderr, a callable gets (records done, total or None).
    """
    if batch_size < 1:
        raise MemlayerError("batch_size must be at least 1")
    total = len(records) if hasattr(records, "__len__") else None  # type: ignore[arg-type]
    report = _StderrProgress(total) if progress is True else (progress or None)
    counts = {"added": 0, "duplicates": 0, "records": 0, "messages": 0}
    started = time.perf_counter()
    for batch in _batches(records, batch_size):
        parsed = await asyncio.to_thread(_parse_all, batch, counts["records"])
        added, dups, n_msgs = await _import(mem, parsed)
        counts["added"] += added
        counts["duplicates"] += dups
        counts["messages"] += n_msgs
        counts["records"] += len(batch)
        if report is not None:
            report(counts["records"], total)
    if isinstance(report, _StderrProgress):
        report.finish(counts["records"])
    return {**counts, "seconds": round(time.perf_counter() - started, 3)}


def _batches(records: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def _parse_all(batch: list[Mapping[str, Any]], offset: int) -> list[_Record]:
    return [_parse(r, offset + i) for i, r in enumerate(batch)]


def _parse(record: Mapping[str, Any], index: int) -> _Record:
    from .memory import _check_metadata  # the same validation as add()

    if not isinstance(record, Mapping):
        raise MemlayerError(f"record {index} must be a mapping, got {type(record).__name__}")
    unknown = set(record) - RECORD_KEYS
    if unknown:
        raise MemlayerError(f"record {index} has unknown key(s) {sorted(unknown)}; expected {sorted(RECORD_KEYS)}")
    if ("text" in record) == ("messages" in record):
        raise MemlayerError(f"record {index} needs exactly one of 'text' or 'messages'")
    try:
        scope = make_scope(record.get("user_id"), record.get("agent_id"), record.get("run_id"))
        meta = _check_metadata(record.get("metadata"))
        raw = record["text"] if "text" in record else record["messages"]
        if "text" in record and not isinstance(raw, str):
            raise MemlayerError(f"'text' must be a string, got {type(raw).__name__}")
        msgs = [m if not m.metadata else Message(m.role, m.content, m.name, _check_metadata(m.metadata))
                for m in normalize_messages(raw)]
        when = to_utc(record.get("timestamp"))
    except MemlayerError as exc:
        raise type(exc)(f"record {index}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise MemlayerError(f"record {index}: {exc}") from exc
    rec = _Record(scope, msgs, when.timestamp() if when else None)
    rec.plans = pipeline.raw_plan(msgs, meta)
    return rec


async def _import(mem: AsyncMemory, records: list[_Record]) -> tuple[int, int, int]:
    """Dedupe, embed and commit one batch; returns (added, duplicates, messages)."""
    now = utcnow().timestamp()
    for r in records:
        if r.when is None:
            r.when = now
    scopes = sorted({r.scope for r in records}, key=lambda s: tuple(v or "" for v in s.as_dict().values()))
    async with contextlib.AsyncExitStack() as stack:
        for scope in scopes:  # one global order, so concurrent bulk imports cannot deadlock
            await stack.enter_async_context(mem._lock_for(scope))
        existing = await asyncio.to_thread(_current, mem, records)
        by_scope: dict[Scope, list[pipeline.Planned]] = {}
        for r in records:
            by_scope.setdefault(r.scope, []).extend(r.plans)
        for scope, plans in by_scope.items():
            pipeline.dedupe(plans, existing.get(scope, {}))
        adds = [p for r in records for p in r.plans if p.event == "ADD"]
        if adds:
            vectors = await mem._embed([p.text for p in adds])
            for p, v in zip(adds, vectors, strict=True):
                p.embedding = v
        n_msgs = sum(len(r.messages) for r in records)
        await asyncio.to_thread(_commit, mem, records, n_msgs)
    planned = sum(len(r.plans) for r in records)
    return len(adds), planned - len(adds), n_msgs


def _current(mem: AsyncMemory, records: list[_Record]) -> dict[Scope, dict[str, list[dict[str, Any]]]]:
    """Current memories whose text hash occurs in the batch, by scope then hash (one query per 500)."""
    hashes = sorted({pipeline.text_hash(p.text) for r in records for p in r.plans})
    wanted = {r.scope for r in records}
    out: dict[Scope, dict[str, list[dict[str, Any]]]] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        rows = mem.store.query(
            "SELECT id, text, hash, attribute, metadata, user_id, agent_id, run_id FROM memories "
            f"INDEXED BY memories_hash WHERE hash IN ({','.join('?' * len(chunk))}) AND valid_to IS NULL", chunk,
        )
        for row in rows:
            scope = Scope(row["user_id"], row["agent_id"], row["run_id"])
            if scope in wanted:
                out.setdefault(scope, {}).setdefault(row["hash"], []).append({
                    "id": row["id"], "memory": row["text"], "attribute": row["attribute"],
                    "metadata": json.loads(row["metadata"]),
                })
    return out


def _commit(mem: AsyncMemory, records: list[_Record], n_msgs: int) -> None:
    """One transaction for the batch, then the vector index catches up with the vectors in hand."""
    with mem.store.transaction() as tx:
        tx.conn.executemany(
            "INSERT INTO messages (user_id, agent_id, run_id, role, name, content, created_at) VALUES (?,?,?,?,?,?,?)",
            [(*r.scope.as_dict().values(), m.role, m.name, m.content, r.when) for r in records for m in r.messages],
        )
        msg_id = _first_rowid(tx, "messages", n_msgs)
        rows, history, adds = [], [], []
        for r in records:
            actor = next((m.name for m in r.messages if m.name), None)
            for p in r.plans:
                if p.event == "ADD":
                    assert p.message_index is not None
                    p.new_id = str(uuid.uuid4())
                    rows.append({**r.scope.as_dict(), "id": p.new_id, "text": p.text, "hash": pipeline.text_hash(p.text),
                                 "metadata": p.metadata, "created_at": r.when, "embedding": p.embedding})
                    history.append((p.new_id, "ADD", None, p.text, r.when, *r.scope.as_dict().values(), actor,
                                    json.dumps([msg_id + p.message_index])))
                    adds.append(p)
            msg_id += len(r.messages)
        rids = tx.insert_memories(rows)  # also logs them for the vector index
        tx.history(history)
    fresh = {rid: p.embedding for rid, p in zip(rids, adds, strict=True) if p.embedding is not None}
    if fresh:
        mem.vectors.catch_up(fresh)


def _first_rowid(tx: Any, table: str, n: int) -> int:
    """The first rowid of the ``n`` rows just inserted by one executemany: consecutive, as AUTOINCREMENT
    rowids are under this transaction's write lock (checked: the range holds exactly ``n`` rows)."""
    if n == 0:
        return 0
    last = int(tx.conn.execute("SELECT last_insert_rowid()").fetchone()[0])
    first = last - n + 1
    got = tx.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE id BETWEEN ? AND ?", (first, last)).fetchone()[0]
    if got != n:  # pragma: no cover - would mean another writer inside our transaction
        raise MemlayerError(f"bulk insert into {table} did not get consecutive row ids")
    return first


class _StderrProgress:
    """A one-line progress report on stderr (rewritten in place on a terminal), at most twice a second."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.start = self.last = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - self.last < (0.5 if self.tty else 10.0):
            return
        self.last = now
        self._write(done, now, final=False)

    def finish(self, done: int) -> None:
        self._write(done, time.perf_counter(), final=True)

    def _write(self, done: int, now: float, *, final: bool) -> None:
        rate = done / max(now - self.start, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        eta = f", {(self.total - done) / rate:,.0f} s left" if self.total and rate and not final else ""
        line = f"memlayer bulk_add: {done:,}{of} records, {rate:,.0f}/s{eta}"
        end = "\n" if final or not self.tty else ""
        with contextlib.suppress(Exception):
            sys.stderr.write(("\r" if self.tty else "") + line + end)
            sys.stderr.flush()
