"""Helpers shared by the graph tests."""

from __future__ import annotations

from typing import Any

from memlayer.graph.rdf import RDFGraphStore
from memlayer.types import Relation, Scope

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")


def put(
    store: RDFGraphStore,
    scope: Scope,
    source: str,
    relationship: str,
    destination: str,
    *,
    memory_id: str = "m1",
    at: str = "2024-01-01T00:00:00Z",
    text: str | None = None,
) -> dict[str, Any]:
    """Add one relation and return its result dict."""
    [result] = store.add(
        scope,
        [Relation(source, relationship, destination)],
        memory_id=memory_id,
        source_text=text if text is not None else f"{source} {relationship} {destination}",
        message_ids=[f"msg-{memory_id}"],
        at=at,  # type: ignore[arg-type]
    )
    return result


def triples(found: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["source"], r["relationship"], r["destination"]) for r in found}
