"""Selections and filter trees compiled to parameterised PostgreSQL WHERE clauses (psycopg ``%s`` style).

The semantics are exactly SQLite's (``storage.sqlite.sql``; the conformance suite checks both):
comparisons are JSON-typed (``5`` never equals ``"5"`` nor ``true``), strings order by code point (the
"C" collation), ``ne``/``NOT`` match rows where the key is missing, ``contains`` is list membership (typed
like ``eq``) or a substring of a string. Metadata is read from the jsonb column ``meta`` whose strings are
NUL-escaped (``codec``): keys and values are encoded the same way before they are bound. Every key and value
is a bound parameter; nothing from a filter is formatted into the query text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...filters import And, Cond, Filter, Not, Or
from ...types import Scope
from ..base import Selection
from ..sqlreads import Clause, Dialect
from . import codec

_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
MAX_TERMS = 64  # query words given to the full-text search


def scope_clause(scope: Scope, *, exact: bool = False, prefix: str = "") -> tuple[str, list[Any]]:
    """Given fields must match; with ``exact`` the others must be NULL."""
    parts, params = [], []
    for name, value in scope.as_dict().items():
        if value is not None:
            parts.append(f"{prefix}{name} = %s")
            params.append(value)
        elif exact:
            parts.append(f"{prefix}{name} IS NULL")
    return (" AND ".join(parts) or "true"), params


def where(selection: Selection, prefix: str = "") -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) of the memories a selection covers."""
    s_sql, params = scope_clause(selection.scope, exact=selection.exact, prefix=prefix)
    if selection.include_expired:
        v_sql = "true"
    elif selection.as_of is not None:  # valid then: opened, not yet closed, not yet expired
        t = selection.as_of.timestamp()
        v_sql = (f"({prefix}valid_from <= %s AND ({prefix}valid_to IS NULL OR {prefix}valid_to > %s) AND "
                 f"{unexpired(prefix)})")
        params += [t, t, t]
    elif selection.now is not None:
        v_sql = f"{prefix}valid_to IS NULL AND {unexpired(prefix)}"
        params.append(selection.now.timestamp())
    else:
        v_sql = f"{prefix}valid_to IS NULL"
    if selection.transcripts is not None:  # a column the scope indexes cover
        v_sql += f" AND {'' if selection.transcripts else 'NOT '}{prefix}transcript"
    if selection.filters is None:
        return f"{s_sql} AND {v_sql}", params
    compiler = _Compiler(prefix)
    f_sql = compiler.compile(selection.filters)
    return f"{s_sql} AND {v_sql} AND {f_sql}", [*params, *compiler.params]


def unexpired(prefix: str = "") -> str:
    """Not expired by the time bound to its one parameter."""
    return f"({prefix}expires_at IS NULL OR {prefix}expires_at > %s)"


def current(at: float | None, prefix: str = "") -> tuple[str, list[Any]]:
    """Not closed, and not expired by ``at`` when given."""
    if at is None:
        return f"{prefix}valid_to IS NULL", []
    return f"{prefix}valid_to IS NULL AND {unexpired(prefix)}", [at]


def any_of(column: str, values: Sequence[Any], kind: str) -> Clause:
    """``column`` is one of ``values`` (one array parameter of the given element type)."""
    return f"{column} = ANY(%s::{kind}[])", [list(values)]


DIALECT = Dialect(mark="%s", chunk=5_000, any_of=any_of, where=where, current=current, scope_clause=scope_clause)


def lexical(selection: Selection, terms: Sequence[str], limit: int) -> tuple[str, list[Any]] | None:
    """The full-text query of a selection: rows matching any of ``terms``, best ``ts_rank`` first (None
    without terms). Each term is parsed as plain words (no query syntax from users ever reaches PostgreSQL's
    parser) and stemmed like the indexed text. The scope's equalities and the tsquery meet in one GIN index
    (scope columns + tsvector, see schema), so the cost follows the scope, not the table."""
    words = [t for t in dict.fromkeys(terms) if t.strip()][:MAX_TERMS]
    if not words:
        return None
    q = "(" + " || ".join(["plainto_tsquery('english'::regconfig, %s)"] * len(words)) + ")"
    w_sql, w_params = where(selection)
    return (f"SELECT rid, ts_rank(tsv, {q}) AS s FROM memories WHERE tsv @@ {q} AND {w_sql} "
            "ORDER BY s DESC, rid LIMIT %s", [*words, *words, *w_params, int(limit)])


class _Compiler:
    def __init__(self, prefix: str) -> None:
        self.column = f"{prefix}meta"
        self.prefix = prefix
        self.params: list[Any] = []

    def compile(self, node: Filter) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.compile(n) for n in node.items) + ")"
        if isinstance(node, Or):
            return "(" + (" OR ".join(self.compile(n) for n in node.items) or "false") + ")"
        if isinstance(node, Not):
            return f"(NOT COALESCE({self.compile(node.item)}, false))"
        if node.kind == "meta":
            return self._json_op(node)
        return self._column_op(node)

    def _column_op(self, cond: Cond) -> str:
        col = self.prefix + cond.key
        if isinstance(cond.value, str) and "\x00" in cond.value:
            return self._nul_scope_op(col, cond.op, cond.value)
        if cond.op == "contains":
            self.params.append(cond.value)
            return f"(strpos({col}, %s) > 0)"
        if cond.value is None:
            return f"({col} IS {'NOT ' if cond.op == 'ne' else ''}NULL)"
        self.params.append(cond.value)
        if cond.op == "ne":
            return f"({col} IS NULL OR {col} <> %s)"
        if cond.kind == "scope" and cond.op != "eq":
            return f'({col} COLLATE "C" {_COMPARE[cond.op]} %s)'  # code-point order, as SQLite compares
        return f"({col} {_COMPARE[cond.op]} %s)"

    def _nul_scope_op(self, col: str, op: str, value: str) -> str:
        """A scope id compared with a string holding NUL, which PostgreSQL cannot bind as text. No scope id holds
        NUL (``messages.make_scope``), so none equals or contains it; in code-point order an id without NUL sorts
        after it exactly when it sorts after its part before the first NUL."""
        if op in ("eq", "contains"):
            return "false"
        if op == "ne":
            return "true"
        self.params.append(value.split("\x00", 1)[0])
        return f'({col} COLLATE "C" {">" if op in ("gt", "gte") else "<="} %s)'

    def _value(self, key: str) -> str:
        """metadata[key] as jsonb (NULL when the key is missing)."""
        self.params.append(codec.encode(key))
        return f"({self.column} -> %s::text)"

    def _text(self, key: str) -> str:
        """metadata[key] as (encoded) text: a string's characters, other values as JSON."""
        self.params.append(codec.encode(key))
        return f"({self.column} ->> %s::text)"

    def _typed(self, key: str, kind: str) -> str:
        self.params.append(codec.encode(key))
        return f"(jsonb_typeof({self.column} -> %s::text) = '{kind}')"

    def _json(self, value: Any) -> str:
        self.params.append(json.dumps(codec.encode_value(value), ensure_ascii=False))
        return "%s::jsonb"

    def _json_op(self, cond: Cond) -> str:
        key, op, value = cond.key, cond.op, cond.value
        if op == "contains":  # an element of an array (same typing as eq), or a substring of a string
            is_array = self._typed(key, "array")
            element = f"({is_array} AND {self._value(key)} @> {self._json([value])})"
            if not isinstance(value, str):
                return f"({element})"
            is_string = self._typed(key, "string")
            text, code = self._text(key), codec.encode(value)  # parameters in the order the text shows them
            if codec.needs_alignment(code):
                self.params.append(codec.substring_pattern(code))
                inside = f"({text} ~ %s)"
            else:
                self.params.append(code)
                inside = f"(strpos({text}, %s) > 0)"
            return f"({element} OR ({is_string} AND {inside}))"
        if value is None:
            same = self._typed(key, "null")
        elif op in ("eq", "ne"):  # jsonb equality is typed: 1 = 1.0, but 1 <> "1" and 1 <> true
            same = f"({self._value(key)} = {self._json(value)})"
        elif isinstance(value, str):
            is_string = self._typed(key, "string")
            text = self._text(key)
            self.params.append(codec.encode(value))  # parameters in the order the text shows them
            same = f'({is_string} AND ({text} COLLATE "C") {_COMPARE[op]} %s)'
        else:
            kind = "boolean" if isinstance(value, bool) else "number"
            same = f"({self._typed(key, kind)} AND {self._value(key)} {_COMPARE[op]} {self._json(value)})"
        if op == "ne":
            return f"(NOT COALESCE({same}, false))"
        return same
