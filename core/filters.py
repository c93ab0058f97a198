"""Metadata and scope filters: parsed and checked here into a small typed tree that each store compiles.

Grammar (JSON-friendly)::

    {"key": value}                          equality
    {"key": {"eq"|"ne"|"gt"|"gte"|"lt"|"lte": value}}
    {"key": {"in"|"nin": [values]}}
    {"key": {"contains": value}}            substring of a string, or element of a list
    {"AND": [f, ...]}  {"OR": [f, ...]}  {"NOT": f}
    several keys in one mapping are ANDed.

Keys are metadata keys, except the reserved fields ``user_id``, ``agent_id``, ``run_id`` (string or None
values), ``created_at``, ``updated_at``, ``valid_from``, ``valid_to`` and ``expires_at`` (times as ISO
strings, datetimes or epoch seconds; ``valid_to`` and ``expires_at`` may be None: not closed, never
expires), which address columns. Comparisons are JSON-typed: ``5`` never equals ``"5"`` nor ``true``, ``"abc"`` is not
``> 3``; ``{"key": None}`` matches a stored ``null`` (not a missing key). ``in`` means "equals one of",
``contains`` an element of a list (typed like equality) or a substring of a string (string argument).
``ne``/``nin`` are the exact negations of ``eq``/``in``, so they match rows where the key is missing.
A store binds keys and values as parameters; nothing from a filter is ever formatted into query text.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .errors import FilterError, MemlayerError, MetadataError
from .types import to_utc

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains")
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
TIME_FIELDS = ("created_at", "updated_at", "valid_from", "valid_to", "expires_at")
NULLABLE_TIME_FIELDS = ("valid_to", "expires_at")  # None: not closed / never expires
MAX_DEPTH = 32  # nesting of AND/OR/NOT
MAX_TERMS = 1_000  # conditions in one filter
INT_RANGE = (-(2**63), 2**63 - 1)  # what every store's JSON numbers hold exactly

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "contains"]
Kind = Literal["scope", "time", "meta"]


@dataclass(frozen=True, slots=True)
class Cond:
    """``key op value``: a scope column, a time column (value in epoch seconds) or a metadata key."""

    key: str
    op: Op
    value: Any
    kind: Kind


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]  # empty: matches nothing


@dataclass(frozen=True, slots=True)
class Not:
    item: Filter  # a condition that is unknown (e.g. a missing key) counts as false before negation


Filter = Cond | And | Or | Not


def parse_filters(filters: Any) -> Filter | None:
    """The checked tree of a filter mapping (None for no filter); a FilterError says what is wrong."""
    if filters is None or filters == {}:
        return None
    parser = _Parser()
    return parser.node(filters, 0)


class _Parser:
    def __init__(self) -> None:
        self.terms = 0

    def node(self, node: Any, depth: int) -> Filter:
        if depth > MAX_DEPTH:
            raise FilterError(f"filters nest more than {MAX_DEPTH} levels deep; flatten them")
        if not isinstance(node, dict) or not node:
            raise FilterError(f"a filter must be a non-empty mapping, got {_short(node)}")
        parts = [self._entry(k, v, depth) for k, v in node.items()]
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _entry(self, key: Any, value: Any, depth: int) -> Filter:
        if key in ("AND", "OR"):
            if not isinstance(value, list) or not value:
                raise FilterError(f"{key} takes a non-empty list of filters, got {_short(value)}")
            items = tuple(self.node(v, depth + 1) for v in value)
            return And(items) if key == "AND" else Or(items)
        if key == "NOT":
            return Not(self.node(value, depth + 1))
        key = _check_key(key)
        if isinstance(value, dict):
            if not value:
                raise FilterError(f"empty operator mapping for key {key!r}")
            parts = [self._op(key, op, arg) for op, arg in value.items()]
            return parts[0] if len(parts) == 1 else And(tuple(parts))
        return self._op(key, "eq", value)

    def _op(self, key: str, op: Any, arg: Any) -> Filter:
        if op not in OPERATORS:
            raise FilterError(f"unknown filter operator {op!r} for key {key!r}; use one of {', '.join(OPERATORS)}")
        if op in ("in", "nin"):  # "eq one of" (same typing as eq), and its negation
            if not isinstance(arg, (list, tuple, set)):
                raise FilterError(f"{op!r} for key {key!r} takes a list, got {_short(arg)}")
            any_eq = Or(tuple(self._op(key, "eq", v) for v in arg))
            return any_eq if op == "in" else Not(any_eq)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise FilterError(f"a filter may hold at most {MAX_TERMS} conditions")
        kind: Kind = "scope" if key in SCOPE_FIELDS else "time" if key in TIME_FIELDS else "meta"
        if op == "contains" and (kind == "time" or (kind == "scope" and not isinstance(arg, str))):
            raise FilterError(f"'contains' on {key} takes a string, got {_short(arg)}")
        value = self._value(key, kind, arg)
        if value is None and op not in ("eq", "ne", "contains"):
            raise FilterError(f"{op!r} for key {key!r} cannot compare with None")
        return Cond(key, op, value, kind)

    def _value(self, key: str, kind: Kind, value: Any) -> Any:
        if kind == "time":
            try:
                ts = to_utc(value)
            except (MemlayerError, ValueError, TypeError) as exc:
                raise FilterError(f"{key} filter needs a time, got {_short(value)}: {exc}") from None
            if ts is None:
                if key in NULLABLE_TIME_FIELDS:
                    return None
                raise FilterError(f"{key} filter needs a time, got None")
            return ts.timestamp()
        if kind == "scope" and value is not None and not isinstance(value, str):
            raise FilterError(f"{key} filter values must be strings (or None), got {_short(value)}")
        return _scalar(value, key)


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise FilterError(f"filter keys must be non-empty strings, got {_short(key)}")
    if not _encodable(key):
        raise FilterError(f"filter keys must be valid Unicode (no lone surrogates), got {key!r}")
    return key


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and not _encodable(value):
        raise FilterError(f"{where}: filter strings must be valid Unicode (no lone surrogates), got {value!r}")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise FilterError(f"{where}: integers in filters must fit in 64 bits, got {_short(value)}")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError(f"{where}: filter numbers must be finite, got {value!r}")
        return value
    raise FilterError(f"{where}: filter values must be str, int, float, bool or None, got {type(value).__name__}")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_metadata(metadata: Any) -> dict[str, Any]:
    """Metadata must be a JSON-serialisable mapping with string keys, the integers filters read within 64
    bits (a wider one would be stored and never matched exactly); returns a copy."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MetadataError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        text = json.dumps(metadata, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")  # lone surrogates cannot be stored
        copy: dict[str, Any] = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise MetadataError(f"metadata must be JSON-serialisable (str keys, no NaN, valid Unicode, not nested "
                            f"too deeply): {str(exc)[:200]}") from None
    _check_integers(copy)
    return copy


def _check_integers(metadata: dict[str, Any]) -> None:
    """A MetadataError for an integer that does not fit in 64 bits where a filter reads it: a key's value, or
    an element of a key's list (``contains``). Deeper values are stored as given: no filter reaches them."""
    for key, value in metadata.items():
        read: list[tuple[str, Any]] = ([(f"[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list)
                                       else [("", value)])
        for at, item in read:
            if isinstance(item, int) and not isinstance(item, bool) and not INT_RANGE[0] <= item <= INT_RANGE[1]:
                raise MetadataError(f"metadata[{key!r}]{at}: integers must fit in 64 bits, as filters compare them, "
                                    f"got {_short(item)}; store a wider number as a string")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
