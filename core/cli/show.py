"""``memlayer show ID``: one memory with its history and provenance (source messages, graph relations)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import NotFoundError
from .base import command, emit, open_memory, short_time
from .graph import relations


def collect(memory: Any, memory_id: str) -> dict[str, Any]:
    """The memory (None once deleted), its history with source messages, and the relations it yielded."""
    row = memory.get(memory_id)
    history = memory.history(memory_id)
    if row is None and not history:
        raise NotFoundError(f"no memory with id {memory_id!r} (try `memlayer list --user ...` for ids)")
    first = row or history[0]
    ids = {k: first[k] for k in ("user_id", "agent_id", "run_id")}
    linked = relations(memory, memory_id=memory_id, **ids) if memory.graph is not None else []
    return {"memory": row, "history": history, "relations": linked}


def _status(row: dict[str, Any] | None) -> str:
    if row is None:
        return "deleted"
    if row["valid_to"] is None:
        return f"current since {short_time(row['valid_from'])}"
    later = f", superseded by {row['superseded_by']}" if row["superseded_by"] else ""
    return f"valid {short_time(row['valid_from'])} to {short_time(row['valid_to'])}{later}"


def render(data: dict[str, Any], memory_id: str) -> str:
    row = data["memory"]
    scope = row or data["history"][0]
    owner = ", ".join(f"{k}={scope[k]}" for k in ("user_id", "agent_id", "run_id") if scope[k])
    lines = [f"memory   {memory_id}"]
    if row is not None:
        lines.append(f"text     {row['memory']}")
    lines += [f"scope    {owner}", f"status   {_status(row)}"]
    if row is not None:
        lines.append(f"created  {short_time(row['created_at'])}   updated {short_time(row['updated_at'])}")
        if row["metadata"]:
            lines.append(f"metadata {json.dumps(row['metadata'], ensure_ascii=False)}")
    lines.append("\nhistory")
    for h in data["history"]:
        change = f"{h['old_memory'] or ''} -> {h['new_memory'] or '(closed)'}" if h["old_memory"] else h["new_memory"]
        lines.append(f"  {short_time(h['created_at'])}  {h['event']:<6} {change}")
        for msg in h["source_messages"]:
            who = msg["role"] + (f" ({msg['name']})" if msg.get("name") else "")
            lines.append(f"      from {who}: {msg['content']!r}")
    if data["relations"]:
        lines.append("\nrelations (knowledge graph)")
        for r in data["relations"]:
            until = "current" if r["current"] else f"until {short_time(r['valid_to'])}"
            lines.append(f"  {r['source']} -[{r['relationship']}]-> {r['destination']}   "
                         f"from {short_time(r['valid_from'])}, {until}")
    return "\n".join(lines)


def _show_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("memory_id")


@command("show", "one memory with its history and provenance (source messages, graph relations)", _show_arguments)
def run_show(args: argparse.Namespace) -> int:
    with open_memory(args) as m:
        data = collect(m, args.memory_id)
    emit(args, data, lambda d: render(d, args.memory_id))
    return 0
