"""Checking a user's SPARQL query before anything runs it: parsed with rdflib's SPARQL parser, never
matched with regular expressions on the text.

A query is accepted only if it is one of the read-only forms (SELECT, ASK, CONSTRUCT, DESCRIBE) and has no
``SERVICE`` anywhere (SERVICE makes the engine send an HTTP request: Oxigraph and rdflib both do). The
graphs its dataset clause names are returned so the caller can check them against
the graphs it may reach (:mod:`memlayer.graph.access`); the query then runs over a dataset the caller
builds, never over the dataset the query text names, so a ``FROM <url>`` is never fetched.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pyparsing import ParseResults
from rdflib import URIRef
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import Query

from ..errors import QueryError

#: longer query texts are refused before parsing (pyparsing's cost grows with the text)
MAX_QUERY_CHARS = 100_000
READ_FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT", "DescribeQuery": "DESCRIBE"}


@dataclass(frozen=True)
class Prepared:
    """A checked query: its text, rdflib's translation of it (without its dataset clause), its form and
    the graphs its FROM / FROM NAMED name."""

    text: str
    query: Query
    form: str
    from_default: tuple[URIRef, ...]
    from_named: tuple[URIRef, ...]
    prefixes: dict[str, str]

    @property
    def names_dataset(self) -> bool:
        return bool(self.from_default or self.from_named)


def prepare(text: Any, prefixes: Mapping[str, Any] | None = None) -> Prepared:
    """Parse and check ``text``; a refused or malformed query is a :class:`QueryError`. Parsing costs
    milliseconds (pyparsing), so the checked form of recent query texts is kept (the same text with other
    bindings is the common case)."""
    if not isinstance(text, str):
        raise QueryError(f"a SPARQL query must be a string, got {type(text).__name__}")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"SPARQL query refused: {len(text)} characters is more than {MAX_QUERY_CHARS}; "
                         "pass values through bindings instead of writing them into the text")
    return _prepare(text, tuple(sorted((p, str(ns)) for p, ns in (prefixes or {}).items())))


@functools.lru_cache(maxsize=256)
def _prepare(text: str, prefixes: tuple[tuple[str, str], ...]) -> Prepared:
    try:
        tree = parseQuery(text)
    except RecursionError:
        raise QueryError("SPARQL query failed: it nests too deeply to parse; simplify it") from None
    except Exception as exc:
        if _is_update(text):
            raise QueryError("SPARQL query refused: only read-only queries (SELECT, ASK, CONSTRUCT, DESCRIBE) "
                             "are accepted; change memories through the memory API") from None
        raise QueryError(f"SPARQL query failed: {exc}") from None
    form = READ_FORMS.get(getattr(tree[1], "name", ""))
    if form is None:  # pragma: no cover - the query grammar has no other forms
        raise QueryError("SPARQL query refused: only SELECT, ASK, CONSTRUCT and DESCRIBE are accepted")
    for node in _nodes(tree):
        if node.name == "ServiceGraphPattern":
            term = node["term"] if "term" in node else ""  # noqa: SIM401 - CompValue.get's 2nd argument is not a default
            raise QueryError(
                f"SPARQL query refused: SERVICE {_n3(term)} would send a request to another server; "
                "memlayer queries run only over this store's graphs"
            )
    known = dict(prefixes)
    try:
        query = translateQuery(tree, None, known)
    except RecursionError:
        raise QueryError("SPARQL query failed: it nests too deeply to evaluate; simplify it") from None
    except Exception as exc:  # e.g. an undeclared prefix
        raise QueryError(f"SPARQL query failed: {exc}") from None
    clauses = query.algebra.get("datasetClause") or []
    default = tuple(URIRef(str(c["default"])) for c in clauses if "default" in c)
    named = tuple(URIRef(str(c["named"])) for c in clauses if "named" in c)
    query.algebra["datasetClause"] = None  # the caller supplies the dataset (rdflib would load FROM IRIs)
    return Prepared(text, query, form, default, named, known)


def _is_update(text: str) -> bool:
    try:
        parseUpdate(text)
    except Exception:
        return False
    return True


def _nodes(tree: Any) -> Iterator[CompValue]:
    """Every CompValue of a parse tree (iteratively: a deep tree must not exhaust the stack)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            yield node
            stack.extend(node.values())
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, ParseResults)):
            stack.extend(node)


def _n3(term: Any) -> str:
    return term.n3() if hasattr(term, "n3") else str(term)
