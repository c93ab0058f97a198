"""Selections and filter trees compiled to parameterised SQLite WHERE clauses.

Metadata is a JSON text column: a condition compares only values of the same JSON type (``5`` never
equals ``"5"``), reads keys with ``json_extract`` (or ``json_each`` for keys a JSON path cannot address
verbatim), and binds every key and value as a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...filters import And, Cond, Filter, Not, Or
from ...types import Scope
from ..base import Selection
from ..sqlreads import Clause, Dialect

_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


#: a combined scope is read from the index of its narrowest field: a run (one conversation), else a user, else an
#: agent (which many users may share)
LEAD_ORDER = ("run_id", "user_id", "agent_id")


def scope_clause(scope: Scope, *, exact: bool = False, prefix: str = "", lead: bool = True) -> tuple[str, list[Any]]:
    """Given fields must match; with ``exact`` the others must be NULL.

    ``lead`` (the memories table): only the narrowest given field (LEAD_ORDER) may choose the index; the others
    are written ``+column``, which SQLite never looks up in an index. Without statistics its planner would
    otherwise read, for one user's memories with one agent, every memory of that agent (which every user may
    share) from the agent's index; the scope indexes cover all three fields, so the others are checked inside
    the lead's index. Other tables (history, messages, logs) index the user only: ``lead=False``."""
    fields = scope.as_dict()
    first = next((f for f in LEAD_ORDER if fields.get(f) is not None), None) if lead else None
    parts, params = [], []
    for name, value in fields.items():
        column = f"{prefix}{name}" if not lead or name == first else f"+{prefix}{name}"
        if value is not None:
            parts.append(f"{column} = ?")
            params.append(value)
        elif exact:
            parts.append(f"{column} IS NULL")
    return (" AND ".join(parts) or "1=1"), params


def where(selection: Selection, prefix: str = "") -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) of the memories a selection covers."""
    s_sql, s_params = scope_clause(selection.scope, exact=selection.exact, prefix=prefix)
    if selection.include_expired:
        v_sql, v_params = "1=1", []
    elif selection.as_of is not None:  # valid then: opened, not yet closed, not yet expired
        t = selection.as_of.timestamp()
        v_sql = (f"({prefix}valid_from <= ? AND ({prefix}valid_to IS NULL OR {prefix}valid_to > ?) AND "
                 f"{unexpired(prefix)})")
        v_params = [t, t, t]
    elif selection.now is not None:
        v_sql, v_params = f"{prefix}valid_to IS NULL AND {unexpired(prefix)}", [selection.now.timestamp()]
    else:
        v_sql, v_params = f"{prefix}valid_to IS NULL", []
    if selection.transcripts is not None:  # a column the scope indexes cover
        v_sql += f" AND {prefix}transcript = {int(selection.transcripts)}"
    if selection.filters is None:
        return f"{s_sql} AND {v_sql}", [*s_params, *v_params]
    compiler = _Compiler(f"{prefix}metadata", prefix)
    f_sql = compiler.compile(selection.filters)
    return f"{s_sql} AND {v_sql} AND {f_sql}", [*s_params, *v_params, *compiler.params]


def unexpired(prefix: str = "") -> str:
    """Not expired by the time bound to its one parameter."""
    return f"({prefix}expires_at IS NULL OR {prefix}expires_at > ?)"


def current(at: float | None, prefix: str = "") -> tuple[str, list[Any]]:
    """Not closed, and not expired by ``at`` when given."""
    if at is None:
        return f"{prefix}valid_to IS NULL", []
    return f"{prefix}valid_to IS NULL AND {unexpired(prefix)}", [at]


def any_of(column: str, values: Sequence[Any], kind: str) -> Clause:
    """``column`` is one of ``values`` (an IN list: at most ``DIALECT.chunk`` of them)."""
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


DIALECT = Dialect(mark="?", chunk=900,  # values per IN list, under SQLite's default limit of 999 parameters
                   any_of=any_of, where=where, current=current, scope_clause=scope_clause)


def fts_match(terms: Sequence[str]) -> str | None:
    """An FTS5 query OR-ing the terms, each quoted (no FTS syntax from users)."""
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _json_path(key: str) -> str:
    return '$."' + key + '"'


def _simple_key(key: str) -> bool:
    """Keys SQLite's JSON path can address verbatim: printable ASCII without quotes or backslashes
    (stored JSON escapes nothing else, and SQLite matches path labels against the raw JSON text)."""
    return all(" " <= ch <= "~" and ch not in '"\\' for ch in key)


def _json_types(value: Any) -> str:
    if isinstance(value, bool):
        return "'true','false'"
    if isinstance(value, (int, float)):
        return "'integer','real'"
    return "'text'"


class _Compiler:
    def __init__(self, column: str, prefix: str) -> None:
        self.column = column
        self.prefix = prefix
        self.params: list[Any] = []

    def compile(self, node: Filter) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.compile(n) for n in node.items) + ")"
        if isinstance(node, Or):
            return "(" + (" OR ".join(self.compile(n) for n in node.items) or "0") + ")"
        if isinstance(node, Not):
            return f"(NOT COALESCE({self.compile(node.item)}, 0))"
        if node.kind == "meta":
            return self._json_op(node)
        return self._column_op(node)

    def _column_op(self, cond: Cond) -> str:
        col = self.prefix + cond.key
        if cond.op == "contains":
            self.params.append(cond.value)
            return f"(instr({col}, ?) > 0)"
        if cond.value is None:
            return f"({col} IS {'NOT ' if cond.op == 'ne' else ''}NULL)"
        self.params.append(cond.value)
        if cond.op == "ne":
            return f"({col} IS NULL OR {col} != ?)"
        return f"({col} {_COMPARE[cond.op]} ?)"

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

    def _json_text(self, key: str) -> str:
        """SQL for metadata[key] as JSON text (strings quoted and escaped, NUL as \\u0000)."""
        if _simple_key(key):
            self.params.append(_json_path(key))
            return f"({self.column} -> ?)"
        self.params.append(key)
        return f"(SELECT {self.column} -> fullkey FROM json_each({self.column}) WHERE key = ?)"

    def _nul_op(self, key: str, op: str, value: str) -> str:
        """A string holding NUL: SQLite's json_extract and json_each cut text at a NUL, so these compare JSON
        texts (json_quote renders the value exactly as SQLite renders the stored one)."""
        if op == "contains":  # every `?` gets its parameter in the order the text shows it
            a1, a2, a3 = self._json_text(key), self._json_text(key), self._json_text(key)
            self.params.append(value)
            element = (f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({a1}) = 'array' THEN {a2} ELSE '[]' END)"
                       f" AS el WHERE el.type = 'text' AND ({a3} -> ('$[' || el.key || ']')) = json_quote(?))")
            t1, t2 = self._json_text(key), self._json_text(key)
            self.params += [value, value]
            return (f"({element} OR (json_type({t1}) = 'text' AND "
                    f"instr({t2}, substr(json_quote(?), 2, length(json_quote(?)) - 2)) > 0))")
        same = f"{self._json_text(key)} = json_quote(?)"
        self.params.append(value)
        return f"(NOT COALESCE({same}, 0))" if op == "ne" else f"({same})"

    def _json_op(self, cond: Cond) -> str:
        key, op, value = cond.key, cond.op, cond.value
        if isinstance(value, str) and "\x00" in value and op in ("eq", "ne", "contains"):
            return self._nul_op(key, op, value)
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
