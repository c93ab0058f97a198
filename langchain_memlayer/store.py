"""``MemlayerStore``: LangGraph's ``BaseStore`` (long-term memory for graphs and agents) on memlayer.

Mapping
    *Scope.* Items live in memlayer scopes. By default every item goes to one fixed scope,
    ``user_id="langgraph"`` (set ``user_id``/``agent_id``/``run_id``). ``scope_for`` maps a namespace to a
    scope instead, e.g. ``scope_for=lambda ns: {"user_id": ns[1]} if len(ns) > 1 else None`` keeps
    ``("memories", "alice")`` in alice's scope, where ``Memory.search(..., user_id="alice")`` finds it and
    ``delete_all(user_id="alice")`` forgets it. It is called with the item's namespace for get/put, with
    the prefix for search and with the literal leading labels of a prefix condition for
    ``list_namespaces``; returning None means the fixed scope.

    *Item = one memory.* Its metadata holds (``lg_`` keys are reserved):
    ``lg_store`` (the ``name`` of this store, so several stores and plain memories share a scope),
    ``lg_ns`` (the namespace: labels percent-encoded, joined by ``/``), ``lg_prefixes`` (the encodings of
    every non-empty prefix of it), ``lg_key``, ``lg_value`` (the value, verbatim), ``lg_indexed`` and, for
    filters, ``lg_f.<path>`` = every scalar leaf of the value (nested objects flattened; path labels
    percent-encoded, joined by ``.``), ``lg_l.<path>`` = every list, as canonical JSON, and ``lg_paths``
    = every path present (so ``{"field": None}`` can match a missing field, as in ``InMemoryStore``).

    *Text.* The memory text (embedded for semantic search) comes from the ``index`` fields of the put, else
    the store's ``text_fields`` (LangGraph path syntax; ``"$"`` = the whole value as JSON), else the
    value's first non-empty ``text``/``content``/``memory`` string, else the value as JSON. With
    ``index=False``, or when the given fields hold no text, the memory still gets a text (memlayer embeds
    every memory) but is marked unindexed: query searches rank only indexed items and append unindexed
    ones, without a score, when room is left (as ``InMemoryStore`` does).

    ``created_at``/``updated_at`` are memlayer's (an update keeps ``created_at``).

Operations
    Put = ``get_all`` on (namespace, key), then ``update`` of that memory or ``add(..., infer=False)``;
    ``value=None`` deletes it. Get = ``get_all`` of that one item. Search without a query lists matching
    items, most recently updated first; with a query it is memlayer ``search`` (``score`` = memlayer's
    score). Filters take LangGraph's syntax (exact values, nested objects, lists, ``$eq $ne $gt $gte $lt
    $lte``) and become memlayer filters. In a batch, reads see the state before the batch and puts apply
    after them, the last put per (namespace, key) winning, as in ``InMemoryStore``.

Limits
    Values must be JSON-serialisable (no NaN); filters compare JSON types strictly (``1`` does not match
    ``True``, ``"5"`` not ``5``; ``InMemoryStore`` uses Python equality) and an object can only be compared
    field by field. Metadata holds the value twice (verbatim and flattened). A search or listing sees
    only the one scope its prefix maps to. Listing namespaces and paging read whole rows (memlayer has no distinct
    or offset query). TTLs are not supported. One memory has one text, so paths that LangGraph would
    embed element by element (``"tags[*]"``) are joined into that text.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from memlayer.errors import NotFoundError, missing_extra

from ._memory import ALL, MemoryClient, and_filters, scope_kwargs

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        InvalidNamespaceError,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        get_text_at_path,
        validate_op_namespace,
    )
except ImportError as exc:  # pragma: no cover - exercised by a test that hides langgraph
    raise missing_extra("langchain", "langgraph") from exc

__all__ = ["MemlayerStore"]

Scope = dict[str, str | None]
Call = tuple[str, tuple[Any, ...], dict[str, Any]]
Handler = Generator[Call, Any, Result]
DEFAULT_TEXT_FIELDS = ("text", "content", "memory")
_OPERATORS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


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
    """The filterable metadata entries of a value: ``lg_f``/``lg_l`` leaves and ``lg_paths``."""
    out: dict[str, Any] = {"lg_paths": []}
    for field, item in value.items():
        here = (*path, str(field))
        out["lg_paths"].append(_path(here))
        if isinstance(item, Mapping):
            inner = flatten_value(item, here)
            out["lg_paths"] += inner.pop("lg_paths")
            out.update(inner)
        elif isinstance(item, (list, tuple)):
            out[_path_key("l", here)] = _canonical(list(item))
        else:
            out[_path_key("f", here)] = item
    return out


def _equals(path: tuple[str, ...], want: Any) -> dict[str, Any]:
    if isinstance(want, (list, tuple)):
        return {_path_key("l", path): _canonical(list(want))}
    if isinstance(want, Mapping):
        raise ValueError(f"cannot compare the field {'.'.join(path)!r} with an object; filter on its fields")
    key = _path_key("f", path)
    if want is None:  # like ``value.get(field) == None``: a stored null or no such field
        return {"OR": [{key: None}, {"NOT": {"lg_paths": {"contains": _path(path)}}}]}
    return {key: want}


def translate_filter(flt: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A LangGraph value filter as a list of memlayer filters to AND."""
    out: list[dict[str, Any]] = []
    for field, want in flt.items():
        here = (*path, str(field))
        if isinstance(want, Mapping) and any(str(k).startswith("$") for k in want):
            for op, arg in want.items():
                if op not in _OPERATORS:
                    raise ValueError(f"Unsupported operator: {op}")
                if op == "$eq":
                    out.append(_equals(here, arg))
                elif op == "$ne":
                    out.append({"NOT": _equals(here, arg)})
                else:
                    out.append({_path_key("f", here): {_OPERATORS[op]: arg}})
        elif isinstance(want, Mapping):
            out.extend(translate_filter(want, here))
        else:
            out.append(_equals(here, want))
    return out


def _time(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path):]
    return all(p in ("*", n) for p, n in zip(path, part, strict=True))


class MemlayerStore(BaseStore):
    """A LangGraph store whose items are memlayer memories (see the module docstring for the mapping).

    ``memory`` is a ``memlayer.Memory`` (sync and async use) or ``memlayer.AsyncMemory``. ``search_kwargs``
    go to memlayer ``search()`` for query searches (e.g. ``config="hybrid"``, ``threshold``).
    """

    def __init__(
        self, memory: Any, *, user_id: str | None = "langgraph", agent_id: str | None = None,
        run_id: str | None = None, scope_for: Callable[[tuple[str, ...]], Mapping[str, str] | None] | None = None,
        text_fields: Iterable[str] | None = None, name: str = "langgraph",
        search_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = MemoryClient(memory)
        self.memory = memory
        self.scope = scope_kwargs(user_id, agent_id, run_id)
        self.scope_for = scope_for
        self.text_fields = None if text_fields is None else list(text_fields)
        self.name = name
        self.search_kwargs = dict(search_kwargs or {})

    # -- mapping ------------------------------------------------------------------------------
    def _scope(self, namespace: tuple[str, ...]) -> Scope:
        mapped = self.scope_for(namespace) if self.scope_for is not None else None
        if mapped:
            return {**scope_kwargs(None, None, None), **mapped}
        return dict(self.scope)

    def _where(self, prefix: tuple[str, ...], exact: bool = False, **extra: Any) -> dict[str, Any]:
        where: dict[str, Any] = {"lg_store": self.name, **extra}
        if exact:
            where["lg_ns"] = encode_namespace(prefix)
        elif prefix:
            where["lg_prefixes"] = {"contains": encode_namespace(prefix)}
        return where

    def _text(self, value: Mapping[str, Any], index: Any) -> tuple[str, bool]:
        fields = self.text_fields if index is None or index is False else list(index)
        if fields is not None:
            texts = [t for f in fields for t in get_text_at_path(value, f) if t.strip()]
        else:
            texts = [value[f] for f in DEFAULT_TEXT_FIELDS if isinstance(value.get(f), str) and value[f].strip()][:1]
        if texts:
            return "\n".join(texts), index is not False
        return json.dumps(value, ensure_ascii=False), index is None and fields is None

    def _metadata(self, namespace: tuple[str, ...], key: str, value: Mapping[str, Any], indexed: bool) -> dict[str, Any]:
        return {
            "lg_store": self.name,
            "lg_ns": encode_namespace(namespace),
            "lg_prefixes": [encode_namespace(namespace[:i]) for i in range(1, len(namespace) + 1)],
            "lg_key": key,
            "lg_value": dict(value),
            "lg_indexed": indexed,
            **flatten_value(value),
        }

    @staticmethod
    def _item(row: Mapping[str, Any], score: float | None = None, search: bool = False) -> Item:
        meta = row["metadata"]
        fields = {
            "namespace": decode_namespace(meta["lg_ns"]), "key": meta["lg_key"], "value": meta["lg_value"],
            "created_at": _time(row["created_at"]), "updated_at": _time(row["updated_at"] or row["created_at"]),
        }
        return SearchItem(**fields, score=score) if search else Item(**fields)

    # -- operations, written once as generators of memlayer calls ------------------------------
    def _find(self, namespace: tuple[str, ...], key: str) -> Call:
        where = self._where(namespace, exact=True, lg_key=key)
        return "get_all", (), {**self._scope(namespace), "filters": where, "limit": ALL}

    def _get(self, op: GetOp) -> Handler:
        rows = (yield self._find(op.namespace, op.key))["results"]
        return self._item(rows[0]) if rows else None

    def _search(self, op: SearchOp) -> Handler:
        if op.limit <= 0:
            return []
        scope, want = self._scope(op.namespace_prefix), op.offset + op.limit
        where = and_filters(self._where(op.namespace_prefix), *translate_filter(op.filter or {}))
        if not op.query:
            rows = (yield "get_all", (), {**scope, "filters": where, "limit": want})["results"]
            return [self._item(r, search=True) for r in rows[op.offset:]]
        ranked = and_filters(where, {"lg_indexed": True})
        found = yield "search", (op.query,), {**self.search_kwargs, **scope, "filters": ranked, "limit": want}
        hits: list[tuple[Mapping[str, Any], float | None]] = [(r, r.get("score")) for r in found["results"]]
        if len(hits) < want:
            unranked = and_filters(where, {"lg_indexed": False})
            rows = (yield "get_all", (), {**scope, "filters": unranked, "limit": want - len(hits)})["results"]
            hits += [(r, None) for r in rows]
        return [self._item(r, score, search=True) for r, score in hits[op.offset:want]]

    def _list_namespaces(self, op: ListNamespacesOp) -> Handler:
        conditions = tuple(op.match_conditions or ())
        prefix: tuple[str, ...] = ()
        for c in conditions:
            if c.match_type == "prefix":
                labels = list(c.path)
                prefix = tuple(labels[: labels.index("*")] if "*" in labels else labels)
                break
        rows = (yield "get_all", (), {**self._scope(prefix), "filters": self._where(prefix), "limit": ALL})["results"]
        found = {decode_namespace(r["metadata"]["lg_ns"]) for r in rows}
        found = {ns for ns in found if all(_matches(c, ns) for c in conditions)}
        if op.max_depth is not None:
            found = {ns[: op.max_depth] for ns in found}
        return sorted(found)[op.offset: op.offset + op.limit]

    def _put(self, op: PutOp) -> Handler:
        rows = (yield self._find(op.namespace, op.key))["results"]
        stale = rows if op.value is None else rows[1:]
        for row in stale:
            with contextlib.suppress(NotFoundError):  # deleted meanwhile: the end state is the same
                yield "delete", (row["id"],), {}
        if op.value is None:
            return None
        text, indexed = self._text(op.value, op.index)
        meta = self._metadata(op.namespace, op.key, op.value, indexed)
        if rows:
            yield "update", (rows[0]["id"], text), {"metadata": meta}
        else:
            yield "add", (text,), {**self._scope(op.namespace), "metadata": meta, "infer": False}
        return None

    def _handlers(self, ops: Iterable[Op]) -> tuple[list[Handler | None], list[Handler]]:
        """Read handlers by op position (None for puts), then the deduplicated puts to run after them."""
        reads: list[Handler | None] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            validate_op_namespace(op)
            if isinstance(op, GetOp):
                reads.append(self._get(op))
            elif isinstance(op, SearchOp):
                reads.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                reads.append(self._list_namespaces(op))
            elif isinstance(op, PutOp):
                if not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
                puts[(tuple(op.namespace), op.key)] = op
                reads.append(None)
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        return reads, [self._put(op) for op in puts.values()]

    # -- drivers ------------------------------------------------------------------------------
    def _drive(self, handler: Handler) -> Result:
        try:
            call = next(handler)
            while True:
                name, args, kwargs = call
                try:
                    answer = self._client.call(name, *args, **kwargs)
                except NotFoundError as exc:
                    call = handler.throw(exc)
                else:
                    call = handler.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _adrive(self, handler: Handler) -> Result:
        try:
            call = next(handler)
            while True:
                name, args, kwargs = call
                try:
                    answer = await self._client.acall(name, *args, **kwargs)
                except NotFoundError as exc:
                    call = handler.throw(exc)
                else:
                    call = handler.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        reads, puts = self._handlers(ops)
        results = [None if h is None else self._drive(h) for h in reads]
        for put in puts:
            self._drive(put)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        reads, puts = self._handlers(ops)
        results = [None if h is None else await self._adrive(h) for h in reads]
        for put in puts:
            await self._adrive(put)
        return results

    def __repr__(self) -> str:
        return f"MemlayerStore(name={self.name!r}, scope={ {k: v for k, v in self.scope.items() if v} })"
