"""The everyday commands: add, search, list, history, forget, demo."""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any

from ..errors import NotFoundError
from .base import (
    command,
    emit,
    no_arguments,
    open_memory,
    parse_json_option,
    read_config,
    scope_arguments,
    scope_of,
    short_time,
    table,
    time_option,
)

MEMORY_COLUMNS = [("id", "id", 36), ("memory", "memory", 60), ("updated", "updated", 25)]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="what the user said")
    scope_arguments(p)
    p.add_argument("--metadata", help="JSON object stored with the memory")
    p.add_argument("--no-infer", action="store_true", help="store the text verbatim (no fact extraction)")
    p.add_argument("--timestamp", type=time_option, help="when it was said (ISO 8601 date or datetime, or epoch "
                                                         "seconds; default now): relative dates resolve against it")
    p.add_argument("--ttl", help="how long it stays current: 7d, 12h, 3600 (seconds) or 'never'")
    p.add_argument("--expires-at", help="when it lapses (ISO 8601 date or datetime, or 'never')")


@command("add", "remember a message", _add_arguments)
def run_add(args: argparse.Namespace) -> int:
    meta = parse_json_option("--metadata", args.metadata)
    with open_memory(args, announce_extractor=not args.no_infer) as m:
        out = m.add(args.text, **scope_of(args), metadata=meta, infer=not args.no_infer, timestamp=args.timestamp,
                    ttl=args.ttl, expires_at=args.expires_at)

    def render(d: dict[str, Any]) -> str:
        text = table(d["results"], [("event", "event", 6), ("id", "id", 36), ("memory", "memory", 60)])
        if not d["results"]:
            text = "(nothing new to remember)"
        for rel in d["relations"]["added"]:
            text += f"\ngraph   {rel['source']} -[{rel['relationship']}]-> {rel['destination']}"
        return text

    emit(args, out, render)
    return 0


def _search_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query")
    scope_arguments(p)
    p.add_argument("--limit", "-k", type=int, default=10)
    p.add_argument("--as-of", type=time_option, help="answer as of this time (ISO 8601 date or datetime, or epoch seconds)")


@command("search", "find the memories most relevant to a query", _search_arguments)
def run_search(args: argparse.Namespace) -> int:
    with open_memory(args) as m:
        out = m.search(args.query, **scope_of(args), limit=args.limit, as_of=args.as_of)

    def render(d: dict[str, Any]) -> str:
        text = table(d["results"], [("score", "score", 6), ("memory", "memory", 70), ("id", "id", 36)])
        if d.get("relations"):
            text += "\n\nrelations:\n" + "\n".join(
                f"  {r['source']} -[{r['relationship']}]-> {r['destination']}" for r in d["relations"]
            )
        return text

    emit(args, out, render)
    return 0


def _list_arguments(p: argparse.ArgumentParser) -> None:
    scope_arguments(p)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--all", action="store_true", help="superseded and expired memories too")


@command("list", "list a scope's current memories", _list_arguments)
def run_list(args: argparse.Namespace) -> int:
    with open_memory(args) as m:
        out = m.get_all(**scope_of(args), limit=args.limit, include_expired=args.all)
    rows = [{**r, "updated": short_time(r["updated_at"]) + ("" if r["valid_to"] is None else " (old)")}
            for r in out["results"]]
    emit(args, out, lambda d: table(rows, MEMORY_COLUMNS))
    return 0


def _history_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("memory_id")


@command("history", "every version of one memory", _history_arguments)
def run_history(args: argparse.Namespace) -> int:
    with open_memory(args) as m:
        out = m.history(args.memory_id)
        if not out and m.get(args.memory_id) is None:
            raise NotFoundError(f"no memory with id {args.memory_id!r} (try `memlayer list --user ...` for ids)")
    rows = [{**h, "when": short_time(h["created_at"])} for h in out]
    columns = [("when", "when", 19), ("event", "event", 6), ("old_memory", "before", 40), ("new_memory", "after", 40)]
    if any(h.get("reason") for h in out):
        columns.append(("reason", "why", 60))
    emit(args, out, lambda d: table(rows, columns))
    return 0


def _forget_arguments(p: argparse.ArgumentParser) -> None:
    scope_arguments(p)
    p.add_argument("--id", help="a single memory id")


@command("forget", "delete one memory (--id) or everything of a scope", _forget_arguments)
def run_forget(args: argparse.Namespace) -> int:
    with open_memory(args) as m:
        out: dict[str, Any] = m.delete(args.id) if args.id else m.delete_all(**scope_of(args))
    emit(args, out, lambda d: d.get("message", "done"))
    return 0


@command("demo", "a two-minute offline tour: remember, update, recall, time-travel, forget", no_arguments)
def run_demo(args: argparse.Namespace) -> int:
    from ..demo import run

    path = args.path or tempfile.mkdtemp(prefix="memlayer-demo-")
    return run(path, store=args.store, embedder=args.embedder, config=read_config(args.config), out=sys.stdout)
