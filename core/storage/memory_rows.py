"""A memory's row as every SQL store reads it: the columns in order, and the row decoded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..types import Scope, iso
from .base import StoredMemory

#: the columns of a memory, in the order :func:`memory_from_row` reads them
COLUMNS = (
    "rid, id, user_id, agent_id, run_id, text, hash, attribute, metadata, created_at, updated_at, "
    "valid_from, valid_to, superseded_by, expires_at, speaker, ttl, recalls, restated, seen_at"
)


def group_by_scope_and_hash(
    rows: Sequence[Sequence[Any]], wanted: set[Scope], out: dict[Scope, dict[str, list[StoredMemory]]]
) -> None:
    """The rows (of ``SELECT {COLUMNS}``) of the scopes in ``wanted``, decoded into ``out`` by scope and text hash.
    The rows of other scopes (other tenants' among them) are skipped undecoded: nothing they hold can fail here."""
    for row in rows:
        scope = Scope(row[2], row[3], row[4])
        if scope in wanted:
            memory = memory_from_row(row)
            out.setdefault(scope, {}).setdefault(memory.hash, []).append(memory)


def memory_from_row(row: Sequence[Any]) -> StoredMemory:
    """A memory from a row of ``SELECT {COLUMNS}`` (times as epoch seconds, metadata as JSON text)."""
    (rid, mid, user, agent, run, text, text_hash, attribute, metadata, created, updated, vfrom, vto, sup, exp, who,
     ttl, recalls, restated, seen) = row
    return StoredMemory(
        id=mid, memory=text, metadata=json.loads(metadata), user_id=user, agent_id=agent, run_id=run,
        attribute=attribute, created_at=iso(created), updated_at=iso(updated), valid_from=iso(vfrom),
        valid_to=iso(vto), superseded_by=sup, expires_at=iso(exp), rid=int(rid), hash=text_hash,
        updated_ts=float(updated), valid_from_ts=float(vfrom), speaker=who, expires_ts=exp, ttl=ttl, recalls=int(recalls),
        restated=int(restated), seen_ts=seen,
    )
