"""Metadata and scope filters, compiled to a parameterised SQL WHERE clause.

Grammar (JSON-friendly)::

    {"key": value}                          equality
    {"key": {"eq"|"ne"|"gt"|"gte"|"lt"|"lte": value}}
    {"key": {"in"|"nin": [values]}}
    {"key": {"contains": value}}            substring of a string, or element of a list
    {"AND": [f, ...]}  {"OR": [f, ...]}  {"NOT": f}
    several keys in one mapping are ANDed.

Keys are metadata keys, except the reserved fields ``user_id``, ``agent_id``, ``run_id``, ``created_at``
and ``updated_at`` (times as ISO strings, datetimes or epoch seconds), which address columns.
``ne``/``nin`` match rows where the key is missing. Keys and values are always bound parameters;
nothing from a filter is formatted into SQL text.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .errors import FilterError
from .types import to_utc

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains")
_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
TIME_FIELDS = ("created_at", "updated_at")


def _json_path(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise FilterError(f"filter keys must be non-empty strings, got {key!r}")
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
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
            ts = to_utc(value)
            if ts is None:
                raise FilterError(f"{key} filter needs a time, got None")
            return ts.timestamp()
        return _scalar(value, key)

    def _op(self, key: str, op: str, arg: Any) -> str:
        if op not in OPERATORS:
            raise FilterError(f"unknown filter operator {op!r} for key {key!r}; use one of {', '.join(OPERATORS)}")
        if key in SCOPE_FIELDS or key in TIME_FIELDS:
            return self._column_op(key, op, arg)
        return self._json_op(_json_path(key), op, arg, key)

    def _values(self, key: str, op: str, arg: Any) -> list[Any]:
        if not isinstance(arg, (list, tuple, set)):
            raise FilterError(f"{op!r} for key {key!r} takes a list, got {arg!r}")
        return [self._value(key, v) for v in arg]

    def _column_op(self, col: str, op: str, arg: Any) -> str:
        if op in ("in", "nin"):
            values = self._values(col, op, arg)
            if not values:
                return "(1=0)" if op == "in" else "(1=1)"
            self.params.extend(values)
            marks = ",".join("?" * len(values))
            if op == "in":
                return f"({col} IN ({marks}))"
            return f"(NOT COALESCE({col} IN ({marks}), 0))"
        if op == "contains":
            self.params.append(str(_scalar(arg, col)))
            return f"(instr({col}, ?) > 0)"
        value = self._value(col, arg)
        if value is None and op in ("eq", "ne"):
            return f"({col} IS {'NOT ' if op == 'ne' else ''}NULL)"
        self.params.append(value)
        if op == "ne":
            return f"({col} IS NULL OR {col} != ?)"
        return f"({col} {_COMPARE[op]} ?)"

    def _json_op(self, path: str, op: str, arg: Any, key: str) -> str:
        c = self.column
        if op in ("in", "nin"):
            values = self._values(key, op, arg)
            if not values:
                return "(1=0)" if op == "in" else "(1=1)"
            marks = ",".join("?" * len(values))
            if op == "in":
                self.params.extend([path, *values])
                return f"(json_extract({c}, ?) IN ({marks}))"
            self.params.extend([path, *values])
            return f"(NOT COALESCE(json_extract({c}, ?) IN ({marks}), 0))"
        if op == "contains":
            value = _scalar(arg, key)
            self.params.extend([path, path, value, path, path, str(value)])
            return (
                f"(CASE json_type({c}, ?) WHEN 'array' THEN "
                f"EXISTS (SELECT 1 FROM json_each({c}, ?) WHERE json_each.value = ?) "
                f"ELSE (json_type({c}, ?) = 'text' AND instr(json_extract({c}, ?), ?) > 0) END)"
            )
        value = self._value(key, arg)
        if value is None and op in ("eq", "ne"):
            self.params.append(path)
            return f"(json_type({c}, ?) {'!=' if op == 'ne' else '='} 'null')"
        if value is None:
            raise FilterError(f"{op!r} for key {key!r} cannot compare with None")
        # Compare only values of the same JSON type: 5 never equals "5" and "abc" is not > 3.
        types = _json_types(value)
        self.params.extend([path, path, value])
        same = f"json_type({c}, ?) IN ({types}) AND json_extract({c}, ?) {_COMPARE['eq' if op == 'ne' else op]} ?"
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
        return json.loads(json.dumps(metadata, allow_nan=False))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise FilterError(f"metadata must be JSON-serialisable (str keys, no NaN): {exc}") from exc
