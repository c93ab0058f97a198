"""What a search result must satisfy to be a fully written memory (used by threads and child processes).

Every memory the concurrency tests write carries ``{"writer": ..., "digest": sha256(text)}``: a result
whose metadata does not match its text, or that has no ADD in its history, was seen half-written.
"""

from __future__ import annotations

import hashlib
from typing import Any

from memlayer.errors import NotFoundError


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_results(mem: Any, results: list[dict[str, Any]]) -> list[str]:
    problems = []
    for r in results:
        meta = r.get("metadata") or {}
        if meta.get("digest") != digest(r["memory"]) or "writer" not in meta:
            problems.append(f"{r['id']}: metadata {meta} does not match text {r['memory']!r}")
        try:
            events = [h["event"] for h in mem.history(r["id"])]
        except NotFoundError:
            continue
        if events and events[0] != "ADD":
            problems.append(f"{r['id']}: history starts with {events[0]}")
        if not events and mem.get(r["id"]) is not None:
            problems.append(f"{r['id']}: a current memory without history")
    return problems
