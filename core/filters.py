"""Metadata and scope filters, compiled to a parameterised SQL WHERE clause.

Grammar (JSON-friendly)::

    {"key": value}                          equality
    {"key": {"eq"|"ne"|"gt"|"gte"|"lt"|"lte": value}}
    {"key": {"in"|"nin": [values]}}
    {"key": {"contains": value}}            substring of a string, or element of a list
    {"AND": [f, ...]}  {"OR": [f, ...]}  {"NOT": f}
    several keys in one mapping are ANDed.

Keys are metadata keys, except the reserved fields ``user_id``, ``agent_id``, ``run_id`` (string or None
values), ``created_at`` and ``updated_at`` (times as ISO strings, datetimes or epoch seconds), which
address columns. Comparisons are JSON-typed: ``5`` never equals ``"5"`` nor ``true``, ``"abc"`` is not
``> 3``; ``{"key": None}`` matches a stored ``null`` (not a missing key). ``in`` means "equals one of",
``contains`` an element of a list (typed like equality) or a substring of a string (string argument).
``ne``/``nin`` are the exact negations of ``eq``/``in``, so they match rows where the key is missing.
Keys and values are always bound parameters; nothing from a filter is formatted into SQL text.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .errors import FilterError, MemlayerError
from .types import to_utc

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains")
_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
TIME_FIELDS = ("created_at", "updated_at")


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise FilterError(f"filter keys must be non-empty strings, got {key!r}")
    return key


def _json_path(key: str) -> str:
    return '$."' + _check_key(key) + '"'


def _simple_key(key: str) -> bool:
    """Keys SQLite's JSON path can address verbatim: printable ASCII without quotes or backslashes
    (stored JSON escapes nothing else, and SQLite matches path labels against the raw JSON text)."""
    return all(" " <= ch <= "~" and ch not in '"\\' for ch in key)


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and not _encodable(value):
        raise FilterError(f"{where}: filter strings must be valid Unicode (no lone surrogates), got {value!r}")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise FilterError(f"{where}: filter values must be str, int, float, bool or None, got {type(value).__name__}")


class _Compiler:
    def __init__(self, column: str) -> None:
        self.column = column
        self.params: list[Any] = []

    def compile(self, node: Any) -> str:
        if not isinstance(node, dict) or not node:
            raise FilterError(f"a filter must be a non-empty mapping, got {node!r}")
        parts = [self._entry(k, v) for k, v in node.items()]
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _entry(self, key: str, value: Any) -> str:
        if key in ("AND", "OR"):
            if not isinstance(value, list) or not value:
                raise FilterError(f"{key} takes a non-empty list of filters, got {value!r}")
            return "(" + f" {key} ".join(self.compile(v) for v in value) + ")"
        if key == "NOT":
            return f"(NOT COALESCE({self.compile(value)}, 0))"
        if isinstance(value, dict):
            if not value:
                raise FilterError(f"empty operator mapping for key {key!r}")
            parts = [self._op(key, op, arg) for op, arg in value.items()]
            return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
        return self._op(key, "eq", value)

    def _value(self, key: str, value: Any) -> Any:
        if key in TIME_FIELDS:
            try:
                ts = to_utc(value)
            except (MemlayerError, ValueError, TypeError) as exc:
                raise FilterError(f"{key} filter needs a time, got {value!r}: {exc}") from None
            if ts is None:
                raise FilterError(f"{key} filter needs a time, got None")
            return ts.timestamp()
        if key in SCOPE_FIELDS and value is not None and not isinstance(value, str):
            raise FilterError(f"{key} filter values must be strings (or None), got {value!r}")
        return _scalar(value, key)

    def _op(self, key: str, op: str, arg: Any) -> str:
        if op not in OPERATORS:
            raise FilterError(f"unknown filter operator {op!r} for key {key!r}; use one of {', '.join(OPERATORS)}")
        _check_key(key)
        if op in ("in", "nin"):  # "eq one of" (same typing as eq), and its negation
            if not isinstance(arg, (list, tuple, set)):
                raise FilterError(f"{op!r} for key {key!r} takes a list, got {arg!r}")
            any_eq = " OR ".join(self._op(key, "eq", v) for v in arg) or "0"
            return f"({any_eq})" if op == "in" else f"(NOT COALESCE(({any_eq}), 0))"
        if key in SCOPE_FIELDS or key in TIME_FIELDS:
            return self._column_op(key, op, arg)
        return self._json_op(key, op, arg)

    def _column_op(self, col: str, op: str, arg: Any) -> str:
        if op == "contains":
            if col in TIME_FIELDS or not isinstance(arg, str):
                raise FilterError(f"'contains' on {col} takes a string, got {arg!r}")
            self.params.append(arg)
            return f"(instr({col}, ?) > 0)"
        value = self._value(col, arg)
        if value is None:
            if op not in ("eq", "ne"):
                raise FilterError(f"{op!r} for key {col!r} cannot compare with None")
            return f"({col} IS {'NOT ' if op == 'ne' else ''}NULL)"
        self.params.append(value)
        if op == "ne":
            return f"({col} IS NULL OR {col} != ?)"
        return f"({col} {_COMPARE[op]} ?)"

    def _type(self, key: str) -> str:
        """SQL for the JSON type of metadata[key] (NULL when the key is missing)."""
        if _simple_key(key):
            self.params.append(_json_path(key))
            return f"json_type({self.column}, ?)"
        self.params.append(key)
        return f"(SELECT type FROM json_each({self.column}) WHERE key = ?)"

    def _val(self, key: str) -> str:
        """SQL for the value of metadata[key] (arrays and objects as JSON text)."""
        if _simple_key(key):
            self.params.append(_json_path(key))
            return f"json_extract({self.column}, ?)"
        self.params.append(key)
        return f"(SELECT value FROM json_each({self.column}) WHERE key = ?)"

    def _json_op(self, key: str, op: str, arg: Any) -> str:
        value = self._value(key, arg)
        if op == "contains":  # an element of an array (same typing as eq), or a substring of a string
            t = self._type(key)
            v = self._val(key)
            if value is None:
                element = "el.type = 'null'"
            else:
                element = f"el.type IN ({_json_types(value)}) AND el.value = ?"
                self.params.append(value)
            sql = f"EXISTS (SELECT 1 FROM json_each(CASE WHEN {t} = 'array' THEN {v} ELSE '[]' END) AS el WHERE {element})"
            if isinstance(value, str):
                t, v = self._type(key), self._val(key)
                self.params.append(value)
                sql = f"{sql} OR ({t} = 'text' AND instr({v}, ?) > 0)"
            return f"({sql})"
        if value is None:
            if op not in ("eq", "ne"):
                raise FilterError(f"{op!r} for key {key!r} cannot compare with None")
            same = f"{self._type(key)} = 'null'"
        else:
            # Compare only values of the same JSON type: 5 never equals "5" and "abc" is not > 3.
            t = self._type(key)
            v = self._val(key)
            self.params.append(value)
            same = f"{t} IN ({_json_types(value)}) AND {v} {_COMPARE['eq' if op == 'ne' else op]} ?"
        if op == "ne":
            return f"(NOT COALESCE({same}, 0))"
        return f"({same})"


def _json_types(value: Any) -> str:
    if isinstance(value, bool):
        return "'true','false'"
    if isinstance(value, (int, float)):
        return "'integer','real'"
    return "'text'"


def compile_filters(filters: dict[str, Any] | None, column: str = "metadata") -> tuple[str, list[Any]]:
    """Compile a filter mapping to (sql, params). An empty/None filter is ``("1=1", [])``."""
    if not filters:
        return "1=1", []
    comp = _Compiler(column)
    sql = comp.compile(filters)
    return sql, comp.params


def validate_metadata(metadata: Any) -> dict[str, Any]:
    """Metadata must be a JSON-serialisable mapping with string keys; returns a copy."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise FilterError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        text = json.dumps(metadata, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")  # lone surrogates cannot be stored
        return json.loads(text)  # type: ignore[no-any-return]
    except (TypeError, ValueError, RecursionError) as exc:
        raise FilterError(f"metadata must be JSON-serialisable (str keys, no NaN, valid Unicode, not nested "
                          f"too deeply): {str(exc)[:200]}") from None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
