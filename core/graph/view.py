"""GraphView: the knowledge graph as users reach it, ``memory.graph``.

It takes ``user_id=`` / ``agent_id=`` / ``run_id=`` like every other call of the memory API (``scope=`` keeps
working), validates them the same way, and first brings the graph up to date with the memories (pending
outbox entries are applied), so what it shows matches what ``search`` would see::

    memory.graph.relations("who works at Google?", user_id="alice")   # the neighbourhood search
    memory.graph.relations(user_id="alice", include_expired=True)     # every relation, with history
    memory.graph.sparql("SELECT ?who WHERE { ?w ml:WORKS_AT ?o . ?o rdfs:label ?org . ?w rdfs:label ?who }",
                        {"org": "Google"}, user_id="alice")
    memory.graph.export("turtle", user_id="alice")
    memory.graph.graph(user_id="alice")                               # a read-only rdflib Graph

What a query may reach: with a scope, only that scope's graphs (the user's own and, for a user-wide scope,
its agent and run graphs); never ``SERVICE`` or data from elsewhere. Without any scope, ``sparql`` and
``export`` act for the owner of the store and cover every graph in it: pass a scope whenever the query or
the ids come from an end user. The store itself (merge, unmerge, import, compact, ...) is ``.store``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import MemlayerError, ScopeError
from ..messages import make_scope, search_args
from ..records import RelationRecord
from ..types import Scope

if TYPE_CHECKING:
    from rdflib import Graph

    from .rdf import RDFGraphStore


class GraphView:
    """The user-facing graph API over a graph store; ``catch_up()`` is called before every read."""

    def __init__(self, store: RDFGraphStore, catch_up: Callable[[], object]) -> None:
        self._graph_store = store
        self._catch_up = catch_up

    @property
    def store(self) -> RDFGraphStore:
        """The graph store itself (operator tools: merge, unmerge, import_, compact, refresh)."""
        return self._graph_store

    def relations(
        self,
        query: str | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        as_of: datetime | str | float | None = None,
        include_expired: bool = False,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """With a ``query``: the relations within two hops of the entities it names, best first (what
        ``search`` returns under "relations"). Without one: the scope's relations, oldest first. Current
        relations only, unless ``as_of`` (true at that time) or ``include_expired`` (all history). Each is
        a dict of the shape of :class:`memlayer.records.RelationRecord`."""
        scope = make_scope(user_id, agent_id, run_id)
        count, _, _ = search_args(limit, None, None)
        if query is not None and not isinstance(query, str):
            raise MemlayerError(f"query must be a string or None, got {type(query).__name__}")
        self._catch_up()
        if query is None:
            found = self.store.relations(scope, as_of=as_of, include_expired=include_expired, limit=count)
        else:
            found = self.store.search(scope, query, as_of=as_of, include_expired=include_expired, limit=count)
        return [RelationRecord.from_dict(r).to_dict() for r in found]

    def sparql(
        self,
        query: str,
        bindings: dict[str, Any] | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        scope: Scope | None = None,
    ) -> list[dict[str, Any]]:
        """A read-only SPARQL query over the scope's graphs only (see the module docstring); values go in
        ``bindings``. SELECT gives one dict per row, ASK ``[{"ask": bool}]``, CONSTRUCT/DESCRIBE triples."""
        target = _scope(user_id, agent_id, run_id, scope, required=False)
        self._catch_up()
        return self.store.sparql(query, bindings, scope=target)

    def export(
        self,
        fmt: str = "trig",
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        scope: Scope | None = None,
    ) -> str:
        """The scope's graphs (every graph without a scope) as "trig", "turtle", "json-ld" or "nquads"."""
        target = _scope(user_id, agent_id, run_id, scope, required=False)
        self._catch_up()
        return self.store.export(fmt, scope=target)

    def graph(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        scope: Scope | None = None,
    ) -> Graph:
        """A read-only rdflib Graph of exactly the scope's data (the merge of its graphs), live over the
        store; its ``query()`` is checked and scoped like :meth:`sparql`."""
        target = _scope(user_id, agent_id, run_id, scope, required=True)
        self._catch_up()
        return self.store.scoped_graph(target)  # type: ignore[arg-type]  # required: never None

    def counts(self) -> dict[str, int]:
        """Sizes of the whole graph: graphs, entities, relations, current_relations, memories, messages, triples."""
        self._catch_up()
        return self.store.counts()

    def __repr__(self) -> str:
        return f"GraphView({self.store!r})"


def _scope(user_id: Any, agent_id: Any, run_id: Any, scope: Scope | None, *, required: bool) -> Scope | None:
    """The validated scope of a call: from the ids, or from ``scope=`` (not both); None only when not required."""
    if scope is not None:
        if any(v is not None for v in (user_id, agent_id, run_id)):
            raise ScopeError("pass either scope= or user_id=/agent_id=/run_id=, not both")
        if not isinstance(scope, Scope):
            raise ScopeError(f"scope must be a memlayer Scope, got {type(scope).__name__}")
        return make_scope(scope.user_id, scope.agent_id, scope.run_id)
    made = make_scope(user_id, agent_id, run_id, required=required)
    return None if made.is_empty() else made
