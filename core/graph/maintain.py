"""Forgetting and closing memories, deleting scopes, and reversible entity merges (a mixin of RDFGraphStore)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from ..errors import NotFoundError
from ..types import Scope, to_utc
from .plumbing import StoreCore, Triple, guarded
from .resolve import entity_key, logger
from .traverse import as_datetime
from .vocab import ML, entity_iri, graph_iri, memory_iri, predicate_name, scope_of


class Maintenance(StoreCore):
    """forget_memory, close_memory, delete_scope, merge, unmerge: edits that rewrite existing statements."""

    @guarded
    def forget_memory(self, scope: Scope, memory_id: str) -> None:
        """Remove what came only from this memory: its statements (reopening any fact they had
        superseded), its links on statements other memories support too, and entities left unused."""
        self._check()
        with self._lock:
            for graph in self._graphs(scope):
                self._forget_in(graph, memory_iri(scope_of(graph) or scope, memory_id))
            self._commit()
            self._forgot()

    def _forget_in(self, graph: URIRef, mem: URIRef) -> None:
        """One write (one transaction on Oxigraph): a crash leaves the memory fully forgotten or untouched,
        so replaying the outbox entry finishes the job."""
        ctx = self._ctx(graph)
        derived = list(ctx.subjects(PROV.wasDerivedFrom, mem))
        if not derived and next(ctx.predicate_objects(mem), None) is None:
            return  # already forgotten (a replayed outbox entry)
        msg = ctx.value(mem, PROV.wasDerivedFrom)
        adds: list[Triple] = []
        removes: list[Triple] = []
        dropped: dict[Node, dict[Node, Node]] = {}
        for st in derived:
            props = list(ctx.predicate_objects(st))
            others = {o for p, o in props if p == PROV.wasDerivedFrom and o != mem}
            if others:
                removes.append((st, PROV.wasDerivedFrom, mem))
                if msg is not None and msg not in {ctx.value(m, PROV.wasDerivedFrom) for m in others}:
                    removes.append((st, PROV.hadPrimarySource, msg))
            else:
                dropped[st] = dict(props)
        touched = self._drop_statements(ctx, dropped, adds, removes)
        if msg is not None and not [m for m in ctx.subjects(PROV.wasDerivedFrom, msg) if m != mem]:
            removes.append((msg, None, None))  # type: ignore[arg-type]
        # entities no statement mentions once the dropped ones are gone
        orphans = [e for e in touched
                   if {*ctx.subjects(RDF.subject, e), *ctx.subjects(RDF.object, e)} <= set(dropped)]
        removes += [(e, None, None) for e in orphans]  # type: ignore[misc]
        removes.append((mem, None, None))  # type: ignore[arg-type]  # last: a store writing triple by triple can redo
        self._write(graph, adds, removes)
        index = self._index(graph)
        for entity in orphans:
            index.drop_entity(entity)  # type: ignore[arg-type]
        self._edges.invalidate(graph)
        logger.info("graph %s: forgot memory %s (%d entities left unused removed)", graph, mem, len(orphans))

    def _drop_statements(
        self, ctx: Graph, dropped: dict[Node, dict[Node, Node]], adds: list[Triple], removes: list[Triple]
    ) -> set[Node]:
        """Remove the statements (with their properties); a statement one of them had superseded now lasts
        as long as the chain of dropped ones did: reopened if that chain ended current, else closed when
        it ended, by its successor. Returns the entities they mentioned."""
        touched: set[Node] = set()
        for st, props in dropped.items():
            s, p, o = props.get(RDF.subject), props.get(RDF.predicate), props.get(RDF.object)
            removes.append((st, None, None))  # type: ignore[arg-type]
            if ML.validTo not in props:  # current: retract the plain triple
                removes.append((s, p, o))  # type: ignore[arg-type]
            touched |= {n for n in (s, o) if n is not None}
            for prev in ctx.subjects(ML.supersededBy, st):
                if prev in dropped:
                    continue
                last, seen = props, {st}
                while (nxt := last.get(ML.supersededBy)) in dropped and nxt not in seen:
                    last = dropped[nxt]  # type: ignore[index]
                    seen.add(nxt)  # type: ignore[arg-type]
                removes += [(prev, ML.validTo, None), (prev, ML.supersededBy, None)]  # type: ignore[list-item]
                if ML.validTo not in last:  # the chain ended current: the earlier value is current again
                    adds.append((s, p, ctx.value(prev, RDF.object)))  # type: ignore[arg-type]
                    continue
                adds.append((prev, ML.validTo, last[ML.validTo]))
                successor = last.get(ML.supersededBy)
                if successor is not None and successor not in dropped:
                    adds.append((prev, ML.supersededBy, successor))
        return touched

    @guarded
    def close_memory(self, scope: Scope, memory_id: str, at: datetime | str | float) -> list[dict[str, Any]]:
        """The memory stopped being true at ``at`` (contradicted or superseded; it is kept as history): it is
        marked so (``prov:invalidatedAtTime``), and each current statement it supports ends then, unless a
        memory still true supports it too. Returns the statements closed (source, relationship, destination)."""
        self._check()
        when = to_utc(at)
        assert when is not None
        closed: list[dict[str, Any]] = []
        with self._lock:
            for graph in self._graphs(scope):
                closed += self._close_in(graph, memory_iri(scope_of(graph) or scope, memory_id), when)
            self._commit()
        return closed

    def _close_in(self, graph: URIRef, mem: URIRef, at: datetime) -> list[dict[str, Any]]:
        ctx = self._ctx(graph)
        if ctx.value(mem, ML.memoryId) is None or ctx.value(mem, PROV.invalidatedAtTime) is not None:
            return []  # not in this graph, or already closed (a replayed outbox entry)
        adds: list[Triple] = [(mem, PROV.invalidatedAtTime, Literal(at, datatype=XSD.dateTime))]
        removes: list[Triple] = []
        closed: list[dict[str, Any]] = []
        for st in list(ctx.subjects(PROV.wasDerivedFrom, mem)):
            if ctx.value(st, ML.validTo) is not None:
                continue
            others = [m for m in ctx.objects(st, PROV.wasDerivedFrom) if m != mem]
            if any(ctx.value(m, PROV.invalidatedAtTime) is None for m in others):
                continue  # a memory that is still true says it too
            s, p, o = ctx.value(st, RDF.subject), ctx.value(st, RDF.predicate), ctx.value(st, RDF.object)
            start = as_datetime(ctx.value(st, ML.validFrom))
            end = at if start is None or start <= at else start
            adds.append((st, ML.validTo, Literal(end, datatype=XSD.dateTime)))
            removes.append((s, p, o))  # type: ignore[arg-type]
            closed.append({"source": self._name(graph, s), "relationship": predicate_name(p),  # type: ignore[arg-type]
                           "destination": self._name(graph, o)})  # type: ignore[arg-type]
        self._write(graph, adds, removes)
        self._edges.invalidate(graph)
        return closed

    @guarded
    def delete_scope(self, scope: Scope) -> None:
        """Drop every named graph the scope covers (``Scope(user_id=u)`` drops all of u's graphs)."""
        self._check()
        with self._lock:
            for graph in self._graphs(scope):
                self._store.remove_graph(self._ctx(graph))
                self._commit()  # one DROP per request: Oxigraph rejects ';'-joined DROPs with prologues
                self._forget_caches(graph)
            self._forget_caches()
            self._forgot()

    @guarded
    def merge(self, scope: Scope, name: str, into: str) -> None:
        """Merge entity ``name`` into ``into`` in the scope's own graph: statements move over and the old
        labels become aliases. Reversible per alias with :meth:`unmerge`."""
        self._check()
        with self._lock:
            graph = graph_iri(scope)
            index, ctx = self._index(graph), self._ctx(graph)
            old, new = index.lookup(name)[0], index.lookup(into)[0]
            if old is None or new is None:
                missing = name if old is None else into
                raise NotFoundError(f"no entity named {missing!r} in scope {scope.key()}; check the spelling")
            if old == new:
                return
            adds: list[Triple] = []
            removes: list[Triple] = [(old, None, None)]  # type: ignore[list-item]

            def swap(x: Node) -> Node:
                return new if x == old else x

            labels: list[str] = []
            for p, o in ctx.predicate_objects(old):
                if p in (RDFS.label, SKOS.altLabel):
                    labels.append(str(o))
                    adds.append((new, SKOS.altLabel, Literal(str(o))))
                elif p != RDF.type:
                    adds.append((new, p, swap(o)))
            for s, p in ctx.subject_predicates(old):
                if s != old:
                    removes.append((s, p, old))
                    adds.append((s, p, new))
            self._write(graph, adds, removes)
            self._commit()
            self._edges.invalidate(graph)
            index.drop_entity(old)
            for label in labels:
                index.add_alias(new, label)
            logger.info("graph %s: merged entity %r into %r; undo with unmerge(scope, %r)", graph, name, into, name)

    @guarded
    def unmerge(self, scope: Scope, alias: str) -> dict[str, Any]:
        """Split an alias off its entity again: a new entity gets the alias as its label and takes the
        statements that were written under that name (``ml:subjectLabel`` / ``ml:objectLabel``)."""
        self._check()
        with self._lock:
            graph = graph_iri(scope)
            index, ctx = self._index(graph), self._ctx(graph)
            key = entity_key(alias)
            owner = index.aliases.get(key)
            if owner is None or key in index.labels:
                raise NotFoundError(f"{alias!r} is not an alias in scope {scope.key()}; nothing to unmerge")
            new = entity_iri(scope, key)
            adds: list[Triple] = [(new, RDF.type, ML.Entity), (new, RDFS.label, Literal(alias))]
            removes: list[Triple] = [
                (owner, SKOS.altLabel, lab) for lab in ctx.objects(owner, SKOS.altLabel) if entity_key(str(lab)) == key
            ]
            moved = 0
            stmts = set(ctx.subjects(RDF.subject, owner)) | set(ctx.subjects(RDF.object, owner))
            for st in stmts:
                s0, p, o0 = ctx.value(st, RDF.subject), ctx.value(st, RDF.predicate), ctx.value(st, RDF.object)
                s1 = new if s0 == owner and entity_key(str(ctx.value(st, ML.subjectLabel))) == key else s0
                o1 = new if o0 == owner and entity_key(str(ctx.value(st, ML.objectLabel))) == key else o0
                if (s1, o1) == (s0, o0):
                    continue
                moved += 1
                removes += [(st, RDF.subject, s0), (st, RDF.object, o0)]  # type: ignore[list-item]
                adds += [(st, RDF.subject, s1), (st, RDF.object, o1)]  # type: ignore[list-item]
                if ctx.value(st, ML.validTo) is None:
                    removes.append((s0, p, o0))  # type: ignore[arg-type]
                    adds.append((s1, p, o1))  # type: ignore[arg-type]
            self._write(graph, adds, removes)
            self._commit()
            self._edges.invalidate(graph)
            index.drop_alias(key)
            index.add_label(new, alias)
            logger.info("graph %s: unmerged %r from %s (%d statements moved)", graph, alias, owner, moved)
            return {"entity": str(new), "label": alias, "moved": moved}
