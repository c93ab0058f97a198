"""How LangGraph store items are written into memlayer metadata, and LangGraph filters read back.

Namespaces are percent-encoded labels joined by ``/``; a value's scalar leaves become ``lg_f.<path>``
entries, its lists ``lg_l.<path>`` (canonical JSON), every path present is listed in ``lg_paths`` and
every path holding an object in ``lg_objects`` (the value itself too, as ``""``), so LangGraph's value
filters become memlayer metadata filters. ``InMemoryStore`` is the reference: a nested filter
(``{"meta": {...}}``, even ``{}``) matches only where ``meta`` is an object.

Items written before ``lg_objects`` existed (no ``""`` in it) are read alike: for them a path holds an
object when it is in ``lg_paths`` with neither a scalar (``lg_f``) nor a list (``lg_l``) there, which is
what ``flatten_value`` always wrote for an object. The next put of such an item writes ``lg_objects``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from langgraph.store.base import MatchCondition

_OPERATORS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_INT64 = (-(2**63), 2**63 - 1)
NEVER = {"lg_indexed": "never"}  # a condition no item meets (lg_indexed is always a boolean)


def _label(text: str) -> str:
    return quote(text, safe="").replace(".", "%2E")


def encode_namespace(namespace: tuple[str, ...]) -> str:
    return "/".join(_label(label) for label in namespace)


def decode_namespace(encoded: str) -> tuple[str, ...]:
    return tuple(unquote(label) for label in encoded.split("/"))


def _path(path: tuple[str, ...]) -> str:
    return ".".join(_label(p) for p in path)


def _path_key(kind: str, path: tuple[str, ...]) -> str:
    return f"lg_{kind}.{_path(path)}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def flatten_value(value: Mapping[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """The filterable metadata entries of a value: ``lg_f``/``lg_l`` leaves, ``lg_paths`` and ``lg_objects``."""
    out: dict[str, Any] = {"lg_paths": [], "lg_objects": [_path(path)]}
    for field, item in value.items():
        here = (*path, str(field))
        out["lg_paths"].append(_path(here))
        if isinstance(item, Mapping):
            inner = flatten_value(item, here)
            out["lg_paths"] += inner.pop("lg_paths")
            out["lg_objects"] += inner.pop("lg_objects")
            out.update(inner)
        elif isinstance(item, (list, tuple)):
            out[_path_key("l", here)] = _canonical(list(item))
        else:  # a number past 64 bits as the float filters compare it with (``lg_value`` keeps it exact)
            out[_path_key("f", here)] = _comparable(item)
    return out


def _present(key: str) -> dict[str, Any]:
    """``key`` holds any JSON scalar (null, a boolean, a string or a number): typed comparisons cover them all."""
    return {"OR": [{key: None}, {key: {"in": [True, False]}}, {key: {"gte": ""}}, {key: {"gte": 0}},
                   {key: {"lt": 0}}]}


def _is_object(path: tuple[str, ...]) -> dict[str, Any]:
    """The value at ``path`` is an object (what a nested filter requires, as in ``InMemoryStore``)."""
    written = {"lg_objects": {"contains": _path(path)}}
    legacy = {"AND": [  # an item written before lg_objects: a path present that holds no scalar and no list
        {"NOT": {"lg_objects": {"contains": _path(())}}},
        {"lg_paths": {"contains": _path(path)}},
        {"NOT": _present(_path_key("f", path))},
        {"NOT": _present(_path_key("l", path))},
    ]}
    return {"OR": [written, legacy]}


def _equals(path: tuple[str, ...], want: Any) -> dict[str, Any]:
    if isinstance(want, float) and math.isnan(want):
        return dict(NEVER)  # NaN equals nothing, not even a stored NaN
    if isinstance(want, (list, tuple)):
        return {_path_key("l", path): _canonical(list(want))}
    if isinstance(want, Mapping):
        raise ValueError(f"cannot compare the field {'.'.join(path)!r} with an object; filter on its fields")
    key = _path_key("f", path)
    if want is None:  # like ``value.get(field) == None``: a stored null or no such field
        return {"OR": [{key: None}, {"NOT": {"lg_paths": {"contains": _path(path)}}}]}
    return {key: want}


def _comparable(value: Any) -> Any:
    """A number memlayer's filters can bind: an integer beyond 64 bits becomes the float closest to it, and
    infinities (or numbers beyond floats) the largest float of that sign, which orders every stored number
    alike. NaN stays NaN (see ``_compare``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
        return value
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if math.isinf(number):
        return math.copysign(sys.float_info.max, number)
    return number


def _compare(key: str, op: str, value: Any) -> dict[str, Any]:
    bound = _comparable(value)
    if isinstance(bound, float) and math.isnan(bound):
        return dict(NEVER)  # NaN orders with nothing, as in Python
    return {key: {op: bound}}


def _any(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return conditions[0] if len(conditions) == 1 else {"OR": conditions}


def translate_filter(flt: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A LangGraph value filter as a list of memlayer filters to AND.

    A field with dots (``"user.level"``) matches the key spelled so or the nested path, as LangGraph's
    in-memory and SQL stores read it respectively."""
    out: list[dict[str, Any]] = []
    for field, want in flt.items():
        name = str(field)
        candidates = [(*path, name)] + ([(*path, *name.split("."))] if "." in name else [])
        if isinstance(want, Mapping) and any(str(k).startswith("$") for k in want):
            for op, arg in want.items():
                if op not in _OPERATORS:
                    raise ValueError(f"Unsupported operator: {op}")
                if op == "$eq":
                    out.append(_any([_equals(here, arg) for here in candidates]))
                elif op == "$ne":
                    out.append({"NOT": _any([_equals(here, arg) for here in candidates])})
                else:
                    out.append(_any([_compare(_path_key("f", here), _OPERATORS[op], arg) for here in candidates]))
        elif isinstance(want, Mapping):  # the field is an object (even for ``{}``) whose fields match
            out.append(_any([{"AND": [_is_object(here), *translate_filter(want, here)]} for here in candidates]))
        else:
            out.append(_any([_equals(here, want) for here in candidates]))
    return [c for c in out if c]


def matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path):]
    return all(p in ("*", n) for p, n in zip(path, part, strict=True))
