"""``memlayer import FILE`` and ``memlayer export``: conversations in, memories and the graph out.

The import file format is :data:`FILE_FORMAT` (also printed by ``memlayer import --help``). Every record
is checked — its shape and every value ``add()`` would check: scope, metadata, messages, timestamp, expiry,
id — before the store is written to, so a typo on line 900 does not leave 899 records imported.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compat.mem0_export import read_mem0_export
from ..errors import ConfigError, ConflictError, MemlayerError
from ..messages import check_metadata, make_scope, normalize_messages
from ..ops.bulk import check_id
from ..progress import Progress
from ..retention import check_lifetime, lifetime_arg
from ..types import to_utc, utcnow
from .base import command, emit, open_memory, scope_arguments, scope_of, warn

FILE_FORMAT = """\
file format: one JSON object per line (.jsonl), or a JSON array of them (.json):

  {"messages": [{"role": "user", "content": "I live in Paris"}], "user_id": "alice",
   "agent_id": null, "run_id": null, "metadata": {"source": "crm"}, "timestamp": "2025-03-01T10:00:00Z"}
  {"text": "I moved to Lisbon", "user_id": "alice"}
  {"memory": "User likes tea", "user_id": "alice", ...}      (a line of `memlayer export`)

messages/text go through add() (facts are extracted unless --no-infer); memory records are restored
verbatim, keeping their "id" (an id the store already has is refused) and "updated_at". An "expires_at"
(ISO 8601 or "never") on any record is kept as the memory's expiry. --user/--agent/--run, when given,
apply to every record (over the file's own ids); records without any scope need one of them. Nothing is
written unless every record is valid.

--from mem0: FILE is a mem0 export, the JSON of mem0's get_all() ({"results": [...]}, a list of memories,
or JSON Lines of either). Each memory is restored verbatim with its id, scope, metadata, created_at and
updated_at; mem0's other fields (actor_id, role, categories, ...) join its metadata, its hash is dropped.
"""

SCOPE_KEYS = ("user_id", "agent_id", "run_id")
GRAPH_FORMATS = {"turtle": "turtle", "ttl": "turtle", "trig": "trig", "json-ld": "json-ld", "jsonld": "json-ld"}
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".ttl": "turtle", ".trig": "trig", ".jsonld": "json-ld"}
EVERYTHING = 1_000_000_000  # get_all's limit for an export: no cap


@dataclass
class Record:
    where: str
    messages: Any
    scope: dict[str, str | None]
    metadata: dict[str, Any] | None
    timestamp: Any
    verbatim: bool
    id: str | None = None  # the memory's id, kept on a verbatim import (a restore)
    updated_at: Any = None  # a restored memory's own updated_at
    expires_at: Any = None  # an exported memory's expiry, kept on import


def read_records(path: str) -> list[tuple[str, Any]]:
    """(location, decoded JSON value) for every record of a .json or .jsonl file."""
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix.lower() not in (".jsonl", ".ndjson"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":  # several values: JSON Lines after all
                raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
        else:
            items = data if isinstance(data, list) else [data]
            return [(f"{path}: record {i}", item) for i, item in enumerate(items, 1)]
    out: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"{path}:{number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON (column {exc.colno}): {exc.msg}") from None
    return out


def to_record(where: str, item: Any, overrides: dict[str, str | None], infer: bool) -> Record | None:
    """Check one import record as ``add()`` would (``overrides``: --user/--agent/--run, which win over the
    record's own ids); None for an exported memory that was already superseded."""
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: a record must be a JSON object, got {type(item).__name__}")
    given = [k for k in ("messages", "text", "memory") if item.get(k) not in (None, "", [])]
    if len(given) != 1:
        problem = "has none" if not given else f"has {', '.join(given)}"
        raise ConfigError(f"{where}: a record needs exactly one of 'messages', 'text' or 'memory' ({problem})")
    key = given[0]
    content = item[key]
    if key == "messages" and not isinstance(content, (str, dict, list)):
        raise ConfigError(f"{where}: 'messages' must be a list of {{role, content}} objects or a string")
    if key != "messages" and not isinstance(content, str):
        raise ConfigError(f"{where}: {key!r} must be a string, got {type(content).__name__}")
    scope = {k: overrides.get(k) or item.get(k) for k in SCOPE_KEYS}
    if not any(scope.values()):
        raise ConfigError(f"{where}: no user_id, agent_id or run_id; put one in the record or pass --user")
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ConfigError(f"{where}: 'metadata' must be a JSON object, got {type(metadata).__name__}")
    if metadata and set(metadata) & set(SCOPE_KEYS):
        raise ConfigError(f"{where}: metadata may not hold {sorted(set(metadata) & set(SCOPE_KEYS))}; "
                          "put the scope in the record itself")
    if key == "memory" and item.get("valid_to"):
        return None
    timestamp = item.get("timestamp") or (item.get("valid_from") if key == "memory" else None)
    record = Record(where, content, scope, metadata, timestamp, verbatim=key == "memory" or not infer,
                    id=item.get("id"), updated_at=item.get("updated_at") if key == "memory" else None,
                    expires_at=item.get("expires_at"))
    try:
        _check(record)
    except MemlayerError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return record


def _check(rec: Record) -> None:
    """What ``add()``/``bulk_add`` would refuse: the scope ids, metadata, messages, time, expiry and id."""
    make_scope(rec.scope["user_id"], rec.scope["agent_id"], rec.scope["run_id"])
    check_metadata(rec.metadata)
    messages = normalize_messages(rec.messages)
    for message in messages:
        check_metadata(message.metadata)
    when = to_utc(rec.timestamp)
    to_utc(rec.updated_at)
    check_lifetime(lifetime_arg(rec.expires_at, None), (when or utcnow()).timestamp())
    if rec.id is None:
        return
    if not rec.verbatim:
        raise ConfigError("an 'id' is kept only for memories stored as they are ('memory' records, or --no-infer); "
                          "facts extracted from a conversation get new ids")
    check_id(rec.id)
    if len(messages) != 1:
        raise ConfigError(f"a record with an 'id' must make exactly one memory; this one makes {len(messages)}")


def named_ids(records: list[Record]) -> dict[str, str]:
    """id -> where, for the records that name their memory's id; an id named twice is refused."""
    first: dict[str, str] = {}
    for rec in records:
        if rec.id is None:
            continue
        if rec.id in first:
            raise ConflictError(f"{rec.where}: the id {rec.id!r} is already used by {first[rec.id]}")
        first[rec.id] = rec.where
    return first


def refuse_taken(m: Any, first: dict[str, str]) -> None:
    """Refuse ids the store already has, before anything is written."""
    taken = m.async_memory.store.rids_of(list(first)) if first else {}
    if taken:
        names = ", ".join(f"{first[i]} ({i})" for i in sorted(taken, key=list(first).index)[:3])
        raise ConflictError(f"the store already has memories with the ids of {len(taken)} record(s): {names}. Nothing "
                            "was imported; import into another --path, or forget those memories first")


def _import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a .jsonl or .json file of conversations (format below)")
    p.add_argument("--from", dest="source", choices=["memlayer", "mem0"], default="memlayer",
                   help="the file's format: memlayer's (default) or a mem0 export (mem0's get_all() as JSON)")
    scope_arguments(p)
    p.add_argument("--no-infer", action="store_true", help="store every message verbatim (no fact extraction)")


def _runs(records: list[Record]) -> list[list[Record]]:
    """Consecutive records of the same kind (verbatim or inferred), in file order."""
    runs: list[list[Record]] = []
    for rec in records:
        if runs and runs[-1][0].verbatim == rec.verbatim:
            runs[-1].append(rec)
        else:
            runs.append([rec])
    return runs


def _bulk_record(rec: Record) -> dict[str, Any]:
    key = "text" if isinstance(rec.messages, str) else "messages"
    fields = {key: rec.messages, **rec.scope, "metadata": rec.metadata, "timestamp": rec.timestamp, "id": rec.id,
              "updated_at": rec.updated_at, "expires_at": rec.expires_at}
    return {k: v for k, v in fields.items() if v is not None}


def _import_run(m: Any, run: list[Record], bar: Progress, events: Counter[str]) -> None:
    """Verbatim records go through ``bulk_add`` (a transaction per batch) where the store has it; the
    others through ``add()``, one record at a time, in order (a later fact may supersede an earlier one)."""
    if run[0].verbatim and hasattr(m, "bulk_add"):
        start = bar.done
        out = m.bulk_add([_bulk_record(r) for r in run], progress=lambda done, _total: bar.set(start + done))
        events.update({"ADD": out["added"], "NONE": out["duplicates"]})
        return
    for rec in run:
        try:
            out = m.add(rec.messages, **rec.scope, metadata=rec.metadata, infer=not rec.verbatim,
                        timestamp=rec.timestamp, expires_at=rec.expires_at)
        except MemlayerError as exc:
            raise MemlayerError(f"{rec.where}: {exc} ({bar.done} records before it were imported)") from exc
        events.update(r["event"] for r in out["results"])
        bar.update()


@command("import", "remember conversations from a JSONL/JSON file, with a progress bar", _import_arguments,
         epilog=FILE_FORMAT)
def run_import(args: argparse.Namespace) -> int:
    overrides = scope_of(args)
    if args.source == "mem0":
        export = read_mem0_export(args.file)
        if export.relations:
            warn(f"{args.file} holds {export.relations} relations of mem0's graph: they are not imported (memlayer's "
                 "graph is built by its extractor from what is added with inference)")
        read = export.records
    else:
        read = read_records(args.file)
    checked = [to_record(where, item, overrides, not args.no_infer) for where, item in read]
    records = [r for r in checked if r is not None]
    ids = named_ids(records)
    events: Counter[str] = Counter()
    with open_memory(args, announce_extractor=any(not r.verbatim for r in records)) as m:
        refuse_taken(m, ids)
        if ids and not hasattr(m, "bulk_add"):
            warn("this memory has no bulk_add: the imported memories get new ids (and lose their own updated_at)")
        bar = Progress(len(records), "importing")
        try:
            for run in _runs(records):
                _import_run(m, run, bar, events)
        finally:
            bar.close()
    summary = {"records": len(records), "skipped_superseded": len(checked) - len(records),
               "events": {e: n for e, n in events.items() if n}}

    def render(d: dict[str, Any]) -> str:
        counts = ", ".join(f"{n} {e.lower()}" for e, n in sorted(d["events"].items())) or "nothing new"
        skipped = f"; skipped {d['skipped_superseded']} superseded memories" if d["skipped_superseded"] else ""
        return f"imported {d['records']} records: {counts}{skipped}"

    emit(args, summary, render)
    return 0


def _export_arguments(p: argparse.ArgumentParser) -> None:
    scope_arguments(p)
    p.add_argument("--format", "-f", choices=["jsonl", "turtle", "trig", "json-ld"],
                   help="jsonl: the memories; turtle/trig/json-ld: the knowledge graph (default: from --out, else jsonl)")
    p.add_argument("--out", "-o", help="file to write (default: stdout)")
    p.add_argument("--all", action="store_true", help="jsonl: superseded memories too")


def export_format(fmt: str | None, out: str | None) -> str:
    if fmt:
        return fmt
    return EXTENSIONS.get(Path(out).suffix.lower(), "jsonl") if out else "jsonl"


@command("export", "write a scope's memories (JSONL) or knowledge graph (Turtle, TriG, JSON-LD)", _export_arguments)
def run_export(args: argparse.Namespace) -> int:
    fmt = export_format(args.format, args.out)
    scope = make_scope(args.user, args.agent, args.run)
    with open_memory(args) as m:
        if fmt == "jsonl":
            rows = m.get_all(**scope_of(args), limit=EVERYTHING, include_expired=args.all)["results"]
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            count = f"{len(rows)} memories"
        else:
            if m.graph is None:
                raise ConfigError("this store has no knowledge graph (graph=False in its config); export --format jsonl")
            text = m.graph.export(GRAPH_FORMATS[fmt], **scope_of(args))
            count = "the knowledge graph"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        warn(f"wrote {count} of {scope.key()} to {args.out} ({fmt})")
    else:
        sys.stdout.write(text)
    return 0
