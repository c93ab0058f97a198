"""Advisory lock keys: scope locks, the forget lock, schema migrations and named process-wide holds.

PostgreSQL advisory locks live in one key space per database. memlayer's keys are derived from the store's
schema name, so two memlayer stores in one database (two schemas) never contend:

* a scope lock is a 64-bit key (``pg_advisory_xact_lock(bigint)``): a hash of the schema and the scope.
  Two scopes that collide only wait for each other; correctness never depends on the hash;
* named locks (forget, migrate, graph applier...) use the two-integer form ``(namespace, name)``, a key
  space PostgreSQL keeps apart from the 64-bit one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import xxhash

from ...types import Scope
from ..holds import acquired

FORGET = "forget"  # forget/reset: exclusive; every scope-locked writer holds it shared
MIGRATE = "migrate"


def _int32(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def namespace(schema: str) -> int:
    return _int32(xxhash.xxh32_intdigest(f"memlayer:{schema}".encode()))


def named(schema: str, name: str) -> tuple[int, int]:
    """The (namespace, key) pair of a named lock of this store."""
    return namespace(schema), _int32(xxhash.xxh32_intdigest(name.encode()))


def scope_key(schema: str, scope: Scope) -> int:
    """The 64-bit key of exactly this scope (a field's absence differs from every string)."""
    parts = [schema] + ["-" if v is None else f"+{len(v)}:{v}" for v in scope.as_dict().values()]
    return _int64(xxhash.xxh3_64_intdigest("|".join(parts).encode()))


def channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel of this store (an identifier: at most 63 bytes)."""
    name = f"memlayer_{schema}"
    return name if len(name) <= 63 else f"memlayer_{namespace(schema) & 0xFFFFFFFF:08x}"


@contextmanager
def held(conn: Any, key: tuple[int, int], wait_s: float) -> Iterator[bool]:
    """The session advisory lock ``key`` on ``conn`` for the block (False: not had within ``wait_s``)."""
    if not acquired(lambda: bool(conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0]), wait_s):
        yield False
        return
    try:
        yield True
    finally:
        if not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
