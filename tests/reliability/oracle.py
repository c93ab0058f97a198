"""A pure-Python model of the filter grammar documented in memlayer/filters.py, and of scoping.

Semantics (JSON-typed, two-valued):

- ``eq``: the key is present and its value has the same JSON type and is equal (``5`` never equals
  ``"5"``, ``true`` never equals ``1``); ``eq None`` matches a present ``null`` only.
- ``ne`` is ``not eq`` (so it matches rows where the key is missing); ``in`` is "eq one of", ``nin`` is
  ``not in``.
- ``gt``/``gte``/``lt``/``lte``: present, same JSON type (numbers, strings or booleans), ordered.
- ``contains``: an element of a list (by ``eq``) or a substring of a string (string argument only).
- ``AND``/``OR``/``NOT`` as usual; several keys in one mapping are ANDed.
- ``user_id``/``agent_id``/``run_id`` address the scope columns (a missing id is ``None``).
"""

from __future__ import annotations

from typing import Any

MISSING = object()
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return "array" if isinstance(value, list) else "object"


def eq(stored: Any, value: Any) -> bool:
    if stored is MISSING:
        return False
    if _kind(stored) != _kind(value):
        return False
    return bool(stored == value)


def _order(stored: Any, value: Any, op: str) -> bool:
    if stored is MISSING or _kind(stored) != _kind(value) or _kind(value) not in ("bool", "number", "text"):
        return False
    return {"gt": stored > value, "gte": stored >= value, "lt": stored < value, "lte": stored <= value}[op]


def contains(stored: Any, value: Any) -> bool:
    if isinstance(stored, list):
        return any(eq(e, value) for e in stored)
    if isinstance(stored, str) and isinstance(value, str):
        return value in stored
    return False


def apply_op(stored: Any, op: str, arg: Any) -> bool:
    if op == "eq":
        return eq(stored, arg)
    if op == "ne":
        return not eq(stored, arg)
    if op == "in":
        return any(eq(stored, v) for v in arg)
    if op == "nin":
        return not any(eq(stored, v) for v in arg)
    if op == "contains":
        return contains(stored, arg)
    return _order(stored, arg, op)


def matches(row: dict[str, Any], node: dict[str, Any]) -> bool:
    """Does a memory (``{"metadata", "user_id", "agent_id", "run_id"}``) satisfy a filter mapping?"""
    for key, value in node.items():
        if key == "AND":
            ok = all(matches(row, v) for v in value)
        elif key == "OR":
            ok = any(matches(row, v) for v in value)
        elif key == "NOT":
            ok = not matches(row, value)
        else:
            stored = row[key] if key in SCOPE_FIELDS else row["metadata"].get(key, MISSING)
            ops = value if isinstance(value, dict) else {"eq": value}
            ok = all(apply_op(stored, op, arg) for op, arg in ops.items())
        if not ok:
            return False
    return True


def in_scope(row: dict[str, Any], scope: dict[str, str | None]) -> bool:
    return all(v is None or row[k] == v for k, v in scope.items())
