"""``MemlayerStore``: LangGraph's ``BaseStore`` (long-term memory for graphs and agents) on memlayer.

Scopes
    Items are memlayer memories, so ``Memory.search(user_id=...)`` finds them and ``delete_all`` forgets
    them. By default a namespace's second label is the user: ``("memories", "alice")`` is stored with
    ``user_id="alice"`` (``user_label=1``; any position can be chosen), and every item carries
    ``agent_id="langgraph"`` (``agent_id=``), so ``delete_all(user_id="alice")`` forgets alice's items and
    a search whose prefix names no user (``("memories",)``, or ``()``) reads across users through the
    agent scope. Namespaces too short to name a user are stored under the agent scope alone.
    ``user_id="..."`` puts every item in that one user's scope instead; ``scope_for`` maps namespaces to
    scopes with your own function (None = the fixed scope; searches then see the one scope their prefix
    maps to).

Items
    *Item = one memory.* Its metadata holds (``lg_`` keys are reserved): ``lg_store`` (the ``name`` of this
    store, so several stores and plain memories share a scope), ``lg_ns`` (the namespace: labels
    percent-encoded, joined by ``/``), ``lg_prefixes`` (the encodings of every non-empty prefix of it),
    ``lg_key``, ``lg_value`` (the value, verbatim), ``lg_indexed`` and, for filters, ``lg_f.<path>`` = every
    scalar leaf of the value, ``lg_l.<path>`` = every list (canonical JSON), ``lg_paths`` = every path
    present (so ``{"field": None}`` matches a missing field, as in ``InMemoryStore``) and ``lg_objects`` =
    every path holding an object (so a nested filter matches only objects; see ``_store_values`` for items
    written before it).

Search
    With ``index=`` (LangGraph's ``IndexConfig``: ``dims``, ``embed``, ``fields``) the store embeds every
    text of the indexed fields with that ``embed`` (one vector per field and list element, kept with the
    item) and a query's score is the best cosine similarity among an item's vectors, as in LangGraph's own
    stores (``distance_type`` ``"inner_product"`` or ``"l2"`` score as LangGraph's PostgreSQL store
    does: the inner product, or the negated distance). Without it the memory text (the ``index`` fields of the put, else ``text_fields``, else the
    value's first ``text``/``content``/``memory`` string, else the value as JSON) is embedded by memlayer
    and a query search is memlayer's dense search, ``score`` = the cosine similarity (``search_kwargs``
    such as ``{"config": "default"}`` switch to memlayer's hybrid ranking; the score stays the similarity).
    Items put with ``index=False`` are kept but not ranked: a query search appends them, unscored, when
    room is left. Without a query, search lists matching items, most recently updated first. Filters take
    LangGraph's syntax (exact values, nested objects, lists, ``$eq $ne $gt $gte $lt $lte``).

Operations
    Put = read the item, then ``update`` it or ``add(..., infer=False)``; ``value=None`` deletes it.
    One store's puts of one item run one at a time, in the order they come (``_store_locks``). Concurrent
    puts and deletes of one item never fail (a vanished item is added again). Puts no lock orders (other
    store objects, other processes) may each add the item: the put that added it then keeps the newest row
    only, and until then reads show one item per key, paging counting items, not rows. In a batch, reads
    see the state before the batch and puts apply after them, the last put per (namespace, key) winning,
    as in ``InMemoryStore``.

TTL
    On memlayer's memory lifetimes (see ``_store_ttl``): ``put(..., ttl=minutes)`` and ``ttl=`` (LangGraph's
    ``TTLConfig``: ``default_ttl``, ``refresh_on_read``, ``sweep_interval_minutes``, ``omit_expired``);
    reads refresh what they return (one ``Memory.refresh`` per batch); ``sweep_ttl()`` /
    ``start_ttl_sweeper()`` forget the store's expired items (those a search of ``()`` reads).

Limits
    Values must be JSON-serialisable (no NaN); filters compare JSON types strictly. Listing namespaces
    and paging read whole rows (memlayer has no distinct or offset query).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memlayer.errors import ConfigError, NotFoundError, missing_extra
from memlayer.kit import MemoryHandle, Op, Scope, ops, scope
from memlayer.records import MemoryRecord

from ._memory import and_filters
from ._store_locks import ItemLocks
from ._store_rows import distinct_hits, distinct_rows, distinct_search, item_key, row_time

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        IndexConfig,
        InvalidNamespaceError,
        Item,
        ListNamespacesOp,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        get_text_at_path,
        validate_op_namespace,
    )
    from langgraph.store.base import (
        Op as StoreOp,
    )

    from ._store_index import VECTORS_KEY, StoreIndex, best_score, describe, pack, unpack
    from ._store_ttl import StoreTTL, lifetime, touch
    from ._store_values import decode_namespace, encode_namespace, flatten_value, matches, translate_filter
except ImportError as exc:  # pragma: no cover - exercised by a test that hides langgraph
    raise missing_extra("langchain", "langgraph") from exc

__all__ = ["MemlayerStore"]

Handler = Generator[Op[Any], Any, Result]
DEFAULT_TEXT_FIELDS = ("text", "content", "memory")


@dataclass(frozen=True, slots=True)
class _Put:
    op: PutOp
    vectors: np.ndarray | None = None  # with index=: one row per indexed text


class MemlayerStore(StoreTTL, BaseStore):
    """A LangGraph store whose items are memlayer memories (see the module docstring for the mapping).

    ``memory`` is a ``memlayer.Memory``, ``memlayer.AsyncMemory`` or a client with their methods.
    ``search_kwargs`` go to memlayer ``search()`` for query searches without ``index=``. ``ttl`` is
    LangGraph's ``TTLConfig`` (see the module docstring).
    """

    supports_ttl = True

    def __init__(
        self, memory: Any, *, index: IndexConfig | None = None, user_label: int | None = 1,
        user_id: str | None = None, agent_id: str | None = "langgraph", run_id: str | None = None,
        scope_for: Callable[[tuple[str, ...]], Mapping[str, str] | None] | None = None,
        text_fields: Iterable[str] | None = None, name: str = "langgraph",
        search_kwargs: Mapping[str, Any] | None = None, ttl: Any = None,
    ) -> None:
        self._init_ttl(ttl)
        self._handle = MemoryHandle(memory)
        self.memory = memory
        self.index = None if index is None else StoreIndex(index)
        self.index_config: IndexConfig | None = None if self.index is None else self.index.config
        self.embeddings = None if self.index is None else self.index.embeddings
        self.base = Scope(user_id, agent_id, run_id)
        self.scope_for = scope_for
        self.user_label = None if user_id is not None or scope_for is not None else user_label
        if self.user_label is not None and self.base.is_empty():
            raise ConfigError(
                "MemlayerStore needs agent_id or run_id when users come from namespaces (user_label): "
                "searches whose prefix names no user read the items of every user through that scope"
            )
        if self.user_label is None and scope_for is None:
            scope(user_id, agent_id, run_id)  # a ScopeError now when the fixed scope is empty
        self.text_fields = None if text_fields is None else list(text_fields)
        self.name = name
        self.search_kwargs = {"config": "vector", **(search_kwargs or {})}
        self._locks = ItemLocks()

    # -- mapping ------------------------------------------------------------------------------
    def _scope(self, namespace: tuple[str, ...]) -> Scope:
        """The scope items of ``namespace`` live in."""
        if self.scope_for is not None:
            mapped = self.scope_for(namespace)
            return scope(**mapped) if mapped else scope(*self.base.as_dict().values())
        if self.user_label is not None and len(namespace) > self.user_label:
            return scope(namespace[self.user_label], self.base.agent_id, self.base.run_id)
        return scope(*self.base.as_dict().values())

    def _read_scope(self, prefix: tuple[str, ...]) -> Scope:
        """The scope a search or listing of ``prefix`` reads (across users when the prefix names none)."""
        if "*" in prefix and self.user_label is not None and prefix.index("*") <= self.user_label:
            prefix = prefix[: prefix.index("*")]
        return self._scope(prefix)

    def _where(self, prefix: tuple[str, ...], exact: bool = False, *, expired: bool | None = None,
               **extra: Any) -> dict[str, Any]:
        """The filter of this store's items under ``prefix``; ``expired`` (default: unless ``omit_expired``)
        keeps expired, unswept items (reads pass ``include_expired`` and this excludes closed memories)."""
        where: dict[str, Any] = {"lg_store": self.name, **extra}
        if (not self._omit_expired) if expired is None else expired:
            where["valid_to"] = None
        if exact:
            where["lg_ns"] = encode_namespace(prefix)
        elif prefix:
            where["lg_prefixes"] = {"contains": encode_namespace(prefix)}
        return where

    def _text(self, value: Mapping[str, Any], index: Any, indexed_texts: list[str] | None) -> tuple[str, bool]:
        if self.index is not None:
            texts = indexed_texts or []
            return ("\n".join(texts), True) if texts else (json.dumps(value, ensure_ascii=False), False)
        fields = self.text_fields if index is None or index is False else list(index)
        if fields is not None:
            texts = [t for f in fields for t in get_text_at_path(value, f) if t.strip()]
        else:
            texts = [value[f] for f in DEFAULT_TEXT_FIELDS if isinstance(value.get(f), str) and value[f].strip()][:1]
        if texts:
            return "\n".join(texts), index is not False
        return json.dumps(value, ensure_ascii=False), index is None and fields is None

    def _metadata(self, put: _Put, indexed: bool) -> dict[str, Any]:
        op = put.op
        assert op.value is not None
        meta = {
            "lg_store": self.name,
            "lg_ns": encode_namespace(op.namespace),
            "lg_prefixes": [encode_namespace(op.namespace[:i]) for i in range(1, len(op.namespace) + 1)],
            "lg_key": op.key,
            "lg_value": dict(op.value),
            "lg_indexed": indexed,
            **flatten_value(op.value),
        }
        if put.vectors is not None and len(put.vectors):
            meta[VECTORS_KEY] = pack(put.vectors)
        return meta

    @staticmethod
    def _item(row: MemoryRecord, score: float | None = None, search: bool = False) -> Item:
        meta = row.metadata
        fields = {
            "namespace": decode_namespace(meta["lg_ns"]), "key": meta["lg_key"], "value": meta["lg_value"],
            "created_at": row_time(row.created_at), "updated_at": row_time(row.updated_at or row.created_at),
        }
        return SearchItem(**fields, score=score) if search else Item(**fields)

    # -- operations, written once as generators of memlayer calls ------------------------------
    def _reads(self, expired: bool | None = None) -> dict[str, Any]:
        """The ``include_expired`` option that goes with ``_where(expired=...)``."""
        return {"include_expired": (not self._omit_expired) if expired is None else expired}

    def _find(self, namespace: tuple[str, ...], key: str, expired: bool | None = None) -> Op[list[MemoryRecord]]:
        where = self._where(namespace, exact=True, expired=expired, lg_key=key)
        return ops.get_all(self._scope(namespace), filters=where, **self._reads(expired))

    def _get(self, op: GetOp, touched: list[str]) -> Handler:
        rows = yield self._find(op.namespace, op.key)
        if not rows:
            return None
        touch(touched, rows[:1], op.refresh_ttl)
        return self._item(rows[0])  # newest first: a racing duplicate never wins

    def _search(self, op: SearchOp, query: np.ndarray | None, touched: list[str]) -> Handler:
        if op.limit <= 0:
            return []
        read, want, visible = self._read_scope(op.namespace_prefix), op.offset + op.limit, self._reads()
        where = and_filters(self._where(op.namespace_prefix), *translate_filter(op.filter or {}))
        if not op.query:
            page = (yield from distinct_rows(read, where, want, self._reads()))[op.offset:]
            touch(touched, page, op.refresh_ttl)
            return [self._item(r, search=True) for r in page]
        ranked = and_filters(where, {"lg_indexed": True})
        if self.index is not None and query is not None:
            rows = yield ops.get_all(read, filters=ranked, **visible)
            scored: list[tuple[MemoryRecord, float]] = [
                (r, best_score(query, v, self.index.distance))
                for r in rows if (v := unpack(r.metadata.get(VECTORS_KEY))) is not None]
            best = distinct_hits(sorted(scored, key=lambda h: -h[1]))
        else:
            best = yield from distinct_search(op.query, read, ranked, want, self.search_kwargs, self._reads())
        hits: list[tuple[MemoryRecord, float | None]] = [*best[:want]]
        if len(hits) < want:
            unranked = and_filters(where, {"lg_indexed": False})
            shown = {item_key(r) for r, _ in hits}  # a racing duplicate may be ranked and unranked
            rows = yield from distinct_rows(read, unranked, want - len(hits), self._reads(), skip=shown)
            hits += [(r, None) for r in rows]
        touch(touched, [r for r, _ in hits[op.offset:want]], op.refresh_ttl)
        return [self._item(r, score, search=True) for r, score in hits[op.offset:want]]

    def _list_namespaces(self, op: ListNamespacesOp) -> Handler:
        conditions = tuple(op.match_conditions or ())
        prefix: tuple[str, ...] = ()
        for c in conditions:
            if c.match_type == "prefix":
                labels = list(c.path)
                prefix = tuple(labels[: labels.index("*")] if "*" in labels else labels)
                break
        rows = yield ops.get_all(self._read_scope(prefix), filters=self._where(prefix), **self._reads())
        found = {decode_namespace(r.metadata["lg_ns"]) for r in rows}
        found = {ns for ns in found if all(matches(c, ns) for c in conditions)}
        if op.max_depth is not None:
            found = {ns[: op.max_depth] for ns in found}
        return sorted(found)[op.offset: op.offset + op.limit]

    def _put(self, put: _Put) -> Handler:
        op = put.op
        rows = yield self._find(op.namespace, op.key, expired=True)  # an expired, unswept item is put anew
        for row in rows if op.value is None else rows[1:]:
            with contextlib.suppress(NotFoundError):  # deleted meanwhile: the end state is the same
                yield ops.delete(row.id)
        if op.value is None:
            return None
        texts = self.index.texts(op.value, op.index) if self.index is not None and op.index is not False else None
        text, indexed = self._text(op.value, op.index, texts)
        meta = self._metadata(put, indexed)
        life = lifetime(op.ttl)
        if rows:
            keep = op.ttl is None and rows[0].expires_at is None  # nothing to change: no history noise
            try:
                yield ops.update(rows[0].id, text, meta, **({} if keep else life))
                return None
            except NotFoundError:  # deleted meanwhile, or expired (only current memories change): add it anew
                pass
        yield ops.add(text, self._scope(op.namespace), metadata=meta, infer=False, **life)
        # A put this store's locks do not order (another store object or process) may have added the item
        # too: keep the newest row, the one gets and searches show. memlayer orders rows alike for every
        # reader (update time, then insertion), so racing puts all keep the same row.
        rows = yield self._find(op.namespace, op.key, expired=True)
        for row in rows[1:]:
            with contextlib.suppress(NotFoundError):
                yield ops.delete(row.id)
        return None

    # -- batches ------------------------------------------------------------------------------
    def _plan(self, ops_: Iterable[StoreOp]) -> tuple[list[StoreOp | None], list[PutOp]]:
        """The reads by op position (None for puts), then the deduplicated puts to run after them."""
        reads: list[StoreOp | None] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops_:
            validate_op_namespace(op)
            if isinstance(op, (GetOp, SearchOp, ListNamespacesOp)):
                reads.append(op)
            elif isinstance(op, PutOp):
                if not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
                puts[(tuple(op.namespace), op.key)] = op
                reads.append(None)
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        return reads, list(puts.values())

    def _to_embed(self, puts: Sequence[PutOp]) -> list[list[str]]:
        if self.index is None:
            return [[] for _ in puts]
        return [[] if p.value is None or p.index is False else self.index.texts(p.value, p.index) for p in puts]

    def _queries(self, reads: Sequence[StoreOp | None]) -> list[str]:
        if self.index is None:
            return []
        return sorted({op.query for op in reads if isinstance(op, SearchOp) and op.query})

    def _handler(self, op: StoreOp, queries: Mapping[str, np.ndarray], touched: list[str]) -> Handler:
        if isinstance(op, GetOp):
            return self._get(op, touched)
        if isinstance(op, SearchOp):
            return self._search(op, queries.get(op.query) if op.query else None, touched)
        assert isinstance(op, ListNamespacesOp)
        return self._list_namespaces(op)

    def batch(self, ops: Iterable[StoreOp]) -> list[Result]:
        reads, puts = self._plan(ops)
        queries = {q: self.index.embed_query(q) for q in self._queries(reads)} if self.index else {}
        vectors = [self.index.embed(t) if t else None for t in self._to_embed(puts)] if self.index else []
        touched: list[str] = []
        results = [None if op is None else self._drive(self._handler(op, queries, touched)) for op in reads]
        if touched:
            self._drive(self._refresh(list(dict.fromkeys(touched))))
        for i, put in enumerate(puts):
            with self._locks.hold((put.namespace, put.key)):
                self._drive(self._put(_Put(put, vectors[i] if vectors else None)))
        return results

    async def abatch(self, ops: Iterable[StoreOp]) -> list[Result]:
        reads, puts = self._plan(ops)
        queries = {q: await self.index.aembed_query(q) for q in self._queries(reads)} if self.index else {}
        vectors = [await self.index.aembed(t) if t else None for t in self._to_embed(puts)] if self.index else []
        touched: list[str] = []
        results = [None if op is None else await self._adrive(self._handler(op, queries, touched)) for op in reads]
        if touched:
            await self._adrive(self._refresh(list(dict.fromkeys(touched))))
        for i, put in enumerate(puts):
            async with self._locks.ahold((put.namespace, put.key)):
                await self._adrive(self._put(_Put(put, vectors[i] if vectors else None)))
        return results

    def _drive(self, handler: Handler) -> Result:
        try:
            op = next(handler)
            while True:
                try:
                    answer = self._handle.run(op)
                except NotFoundError as exc:
                    op = handler.throw(exc)
                else:
                    op = handler.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _adrive(self, handler: Handler) -> Result:
        try:
            op = next(handler)
            while True:
                try:
                    answer = await self._handle.arun(op)
                except NotFoundError as exc:
                    op = handler.throw(exc)
                else:
                    op = handler.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        where = {k: v for k, v in self.base.as_dict().items() if v}
        return f"MemlayerStore(name={self.name!r}, scope={where}, user_label={self.user_label}, index={describe(self.index_config)})"
