"""A mem0 export read as memlayer import records (``memlayer import --from mem0 FILE``).

The file holds what mem0's ``get_all`` returns, written as JSON: ``{"results": [item, ...]}`` (mem0 1.x), a
bare list of items (mem0's v1.0 answers and its hosted platform), a single item, or JSON Lines of any of
these (e.g. one ``get_all`` per user). An item looks like::

    {"id": "<uuid>", "memory": "User likes tea", "hash": "...", "metadata": {...},
     "created_at": "2025-03-01T10:00:00-08:00", "updated_at": "...", "user_id": "alice",
     "agent_id": null, "run_id": null, "actor_id": "...", "role": "user", ...}

Each item becomes a memlayer ``memory`` record, restored verbatim:

- ``memory`` is the text; ``id`` is kept as the memory's id (mem0's are UUIDs, as memlayer's own are);
- ``user_id`` / ``agent_id`` / ``run_id`` are the scope;
- ``created_at`` is the memory's ``created_at`` and ``valid_from``; ``updated_at`` its ``updated_at``;
  times without an offset are read as UTC;
- ``metadata`` is kept, and every other field mem0 put beside it (``actor_id``, ``role``,
  ``expiration_date``, ``categories``, ...) joins the metadata under its own name;
- ``expiration_date`` (when it reads as a time after ``created_at``; a bare date means the end of that day,
  UTC) is also the memory's ``expires_at``: it lapses then, as memlayer's own expiring memories do;
- ``hash`` (memlayer hashes texts itself) and ``score`` (a search answer's) are dropped.

The records then go through memlayer's own import checks, all of them before anything is written. A
``"relations"`` list (mem0's graph) is counted, not imported: memlayer's graph comes from its extractor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MemlayerError
from ..types import to_utc

SCOPE_KEYS = ("user_id", "agent_id", "run_id")
DROPPED = frozenset({"hash", "score"})  # recomputed by memlayer / meaningful only in a search answer
OWN_KEYS = frozenset({"id", "memory", "metadata", "created_at", "updated_at", *SCOPE_KEYS, *DROPPED})


@dataclass
class Mem0Export:
    """The records of a mem0 export, each with where it came from, and what was left out."""

    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    relations: int = 0  # graph relations present in the file, not imported


def read_mem0_export(path: str) -> Mem0Export:
    """Read a mem0 ``get_all`` export (JSON or JSON Lines) as memlayer import records ({"memory", "id",
    scope, "metadata", "timestamp", "updated_at"}); a malformed item is a ConfigError naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    out = Mem0Export()
    try:
        values = [(path, json.loads(text))]
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":  # several values: JSON Lines
            raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
        values = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                values.append((f"{path}:{number}", json.loads(line)))
            except json.JSONDecodeError as err:
                raise ConfigError(f"{path}:{number}: not valid JSON (column {err.colno}): {err.msg}") from None
    for where, value in values:
        _read_value(where, value, out)
    return out


def _read_value(where: str, value: Any, out: Mem0Export) -> None:
    """The memories of one JSON value of the file: a get_all answer, a list of memories or one memory."""
    if isinstance(value, dict) and "results" in value:
        items = value["results"]
        if not isinstance(items, list):
            raise ConfigError(f"{where}: 'results' must be a list of memories, got {type(items).__name__}")
        relations = value.get("relations")
        out.relations += len(relations) if isinstance(relations, list) else 0
        places = [f"{where}: results[{i}]" for i in range(len(items))]
    elif isinstance(value, list):
        items, places = value, [f"{where}: [{i}]" for i in range(len(value))]
    elif isinstance(value, dict) and "memory" in value:
        items, places = [value], [where]
    else:
        raise ConfigError(
            f"{where}: not a mem0 export; expected what mem0's get_all returns ({{\"results\": [...]}}), a list of "
            "memories, or one memory object with its \"memory\" text"
        )
    out.records.extend((place, to_import_record(place, item)) for place, item in zip(places, items, strict=True))


def to_import_record(where: str, item: Any) -> dict[str, Any]:
    """One mem0 memory as a memlayer import record (checked further by memlayer's import)."""
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: a mem0 memory must be a JSON object, got {type(item).__name__}")
    text = item.get("memory")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: a mem0 memory needs its text in 'memory' (a non-empty string), got {text!r}")
    memory_id = item.get("id")
    if memory_id is not None and not isinstance(memory_id, str):
        raise ConfigError(f"{where}: 'id' must be a string (mem0's ids are UUIDs), got {memory_id!r}")
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ConfigError(f"{where}: 'metadata' must be a JSON object, got {type(metadata).__name__}")
    merged = dict(metadata or {})
    for key in sorted(set(item) - OWN_KEYS):
        if item[key] is None:
            continue
        if key in merged and merged[key] != item[key]:
            raise ConfigError(
                f"{where}: the field {key!r} ({item[key]!r}) and metadata[{key!r}] ({merged[key]!r}) differ; both "
                "would become the memory's metadata key. Rename one of them in the file"
            )
        merged[key] = item[key]
    created, updated = item.get("created_at"), item.get("updated_at")
    record: dict[str, Any] = {
        "memory": text, "id": memory_id, **{k: item.get(k) for k in SCOPE_KEYS},
        "metadata": merged or None, "timestamp": created or updated, "updated_at": updated if created else None,
        "expires_at": _expiry(item.get("expiration_date"), created or updated),
    }
    return {k: v for k, v in record.items() if v is not None}


def _expiry(expiration: Any, stated: Any) -> str | None:
    """mem0's ``expiration_date`` as an ISO time (a date: the end of that day, UTC); None when it is missing,
    unreadable or not after the memory's own time (it stays in the metadata either way)."""
    if not isinstance(expiration, str) or not expiration.strip():
        return None
    try:
        text = expiration.strip()
        if len(text) == 10:  # YYYY-MM-DD
            when = datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(0), tzinfo=timezone.utc)
        else:
            when = to_utc(text)  # type: ignore[assignment]
        since = to_utc(stated) if stated else None
    except (ValueError, MemlayerError):
        return None
    if when is None or (since is not None and when <= since):
        return None
    return when.isoformat()
