"""Small helpers that render dates, existing memories and conversations into prompt text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime

from ..types import ExistingMemory, Message

# Roles that carry conversation content; "system" text is instructions to the agent, not facts.
_SKIPPED_ROLES = frozenset({"system", "developer"})
_TAG_RE = re.compile(r"<(/?)(conversation|memories)", re.IGNORECASE)


def format_day(moment: datetime) -> str:
    """``2024-05-03 (Friday)``: an ISO date with its weekday, in the moment's own timezone."""
    return f"{moment.date().isoformat()} ({moment.strftime('%A')})"


def format_existing(existing: Iterable[ExistingMemory]) -> str:
    """The existing memories as a JSON list of ``{"ref", "text"[, "attribute"]}`` (never raw ids)."""
    rows: list[dict[str, object]] = []
    for memory in existing:
        row: dict[str, object] = {"ref": memory.ref, "text": memory.text}
        if memory.attribute:
            row["attribute"] = memory.attribute
        rows.append(row)
    return json.dumps(rows, ensure_ascii=False)


def neutralise_tags(text: str) -> str:
    """Stop message content from closing (or opening) the prompt's own delimiting tags."""
    return _TAG_RE.sub(lambda m: f"‹{m.group(1)}{m.group(2)}", text)


def format_conversation(messages: Iterable[Message]) -> str:
    """One ``role: content`` block per message (``role (name): ...`` when a name is given)."""
    lines: list[str] = []
    for message in messages:
        role = (message.role or "user").strip().lower()
        if role in _SKIPPED_ROLES or not message.content.strip():
            continue
        label = f"{role} ({message.name})" if message.name else role
        lines.append(f"{label}: {neutralise_tags(message.content.strip())}")
    return "\n".join(lines)
