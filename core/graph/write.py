"""The write path: entity resolution, statements with provenance and validity, supersession."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import OWL, PROV, RDF, RDFS, SKOS, XSD

from ..types import Relation, Scope, to_utc, utcnow
from .plumbing import StoreCore, Triple, guarded
from .resolve import EntityIndex, entity_key, logger
from .traverse import Q_CURRENT, Q_SPO, Edge, as_datetime
from .vocab import ML, entity_iri, memory_iri, message_iri, predicate_iri, relationship_id, statement_iri


def _dt(value: datetime) -> Literal:
    return Literal(value, datatype=XSD.dateTime)


def _held(row: Any, at: datetime) -> bool:
    """Whether a closed statement's interval started before ``at`` and ends after it."""
    start, end = as_datetime(row.vf), as_datetime(row.vt)
    return start is not None and end is not None and start < at < end


class Writer(StoreCore):
    """``add`` and its helpers."""

    @guarded
    def add(
        self,
        scope: Scope,
        relations: list[Relation],
        *,
        memory_id: str,
        source_text: str,
        message_ids: list[str] | None = None,
        at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Store relations; one result per relation: event ADD (new), UPDATE (new, superseding the old
        object of a functional predicate, listed in ``closed``) or NONE (already current)."""
        self._check()
        when = to_utc(at) or utcnow()
        ids = [str(i) for i in (message_ids or [])]
        if not relations:
            return []
        with self._lock:
            graph = self._register(scope)
            index = self._index(graph)
            mem, msg = memory_iri(scope, memory_id), message_iri(scope, source_text, ids)
            base: list[Triple] = [
                (mem, RDF.type, ML.Memory), (mem, ML.memoryId, Literal(memory_id)),
                (mem, PROV.wasDerivedFrom, msg), (msg, RDF.type, ML.Message),
                (msg, PROV.value, Literal(source_text)), *((msg, ML.messageId, Literal(i)) for i in ids),
            ]
            self._write(graph, adds=base)
            merges: dict[str, tuple[URIRef, float]] = {}
            if self._resolver is not None:
                names = [n for r in relations for n in (r.source, r.destination) if n.strip()]
                merges = self._resolver.best(index, [n for n in names if index.lookup(n)[0] is None])
            out = [self._add_one(scope, graph, index, rel, (mem, memory_id), msg, when, merges) for rel in relations]
            self._commit()
        return out

    def _entity(
        self, scope: Scope, graph: URIRef, index: EntityIndex, name: str, kind: str | None,
        merges: dict[str, tuple[URIRef, float]], adds: list[Triple],
    ) -> URIRef:
        entity, _ = index.lookup(name)
        if entity is None and name in merges:
            entity, similarity = merges[name]
            adds.append((entity, SKOS.altLabel, Literal(name)))
            index.add_alias(entity, name)
            logger.info(
                "graph %s: merged entity %r into %r (cosine %.3f); undo with unmerge(scope, %r)",
                graph, name, index.names.get(entity), similarity, name,
            )
        if entity is None:
            entity = entity_iri(scope, entity_key(name))
            adds += [(entity, RDF.type, ML.Entity), (entity, RDFS.label, Literal(name))]
            index.add_label(entity, name)
        if kind:
            adds.append((entity, ML.entityType, Literal(kind)))
        return entity

    def _add_one(
        self, scope: Scope, graph: URIRef, index: EntityIndex, rel: Relation, memory: tuple[URIRef, str],
        msg: URIRef, at: datetime, merges: dict[str, tuple[URIRef, float]],
    ) -> dict[str, Any]:
        mem, mid = memory
        pid = relationship_id(rel.relationship)
        result: dict[str, Any] = {
            "source": rel.source, "relationship": pid, "destination": rel.destination, "closed": [],
        }
        if not (rel.source.strip() and rel.destination.strip() and rel.relationship.strip()):
            return {**result, "event": "NONE", "skipped": "empty source, relationship or destination"}
        adds: list[Triple] = []
        removes: list[Triple] = []
        s = self._entity(scope, graph, index, rel.source, rel.source_type, merges, adds)
        o = self._entity(scope, graph, index, rel.destination, rel.destination_type, merges, adds)
        p = predicate_iri(rel.relationship)
        adds += [(p, RDF.type, RDF.Property), (p, RDFS.label, Literal(rel.relationship))]
        functional = pid in self.functional
        if functional:
            adds.append((p, RDF.type, OWL.FunctionalProperty))
        result.update(source=index.names.get(s, rel.source), destination=index.names.get(o, rel.destination))
        current = self._select(Q_CURRENT, g=graph, s=s, p=p)
        same = [row.st for row in current if row.o == o]
        if not same:  # the very same fact at the same time (a replayed write), or one known to hold then
            same = [r.st for r in self._select(Q_SPO, g=graph, s=s, p=p, o=o)
                    if as_datetime(r.vf) == at or _held(r, at)]
        if same:
            adds += [(same[0], PROV.wasDerivedFrom, mem), (same[0], PROV.hadPrimarySource, msg)]
            is_current = any(row.st == same[0] for row in current)
            if is_current:
                adds.append((s, p, o))
            self._write(graph, adds, removes)
            self._edges.patch(graph, (s, o), same[0], lambda e: e and replace(e, memory_ids=e.memory_ids | {mid}))
            return {**result, "event": "NONE", "current": is_current, "statement": str(same[0])}
        st = statement_iri(scope, uuid.uuid4().hex)
        adds += [
            (st, RDF.type, RDF.Statement), (st, RDF.subject, s), (st, RDF.predicate, p), (st, RDF.object, o),
            (st, ML.validFrom, _dt(at)), (st, PROV.wasDerivedFrom, mem), (st, PROV.hadPrimarySource, msg),
            (st, ML.subjectLabel, Literal(rel.source)), (st, ML.objectLabel, Literal(rel.destination)),
        ]
        others = [row for row in current if row.o != o] if functional else []
        later = [row for row in others if (as_datetime(row.vf) or at) > at]
        edge = Edge(st, s, p, o, at, None, {mid})
        ended: list[Any] = []
        if later:  # an older fact arriving late: stored as already superseded by the next value after it
            history = [row for row in self._select(Q_SPO, g=graph, s=s, p=p) if row.o != o]  # closed ones too
            later += [row for row in history if (as_datetime(row.vf) or at) > at]
            first = min(later, key=lambda row: as_datetime(row.vf) or at)
            adds += [(st, ML.validTo, first.vf), (st, ML.supersededBy, first.st)]
            edge.valid_to = as_datetime(first.vf)
            # and the value that held when it started ends there (two values never hold at once)
            ended = [row for row in history if _held(row, at)]
            for row in ended:
                adds += [(row.st, ML.validTo, _dt(at)), (row.st, ML.supersededBy, st)]
                removes += [(row.st, ML.validTo, row.vt), (row.st, ML.supersededBy, None)]  # type: ignore[list-item]
        else:
            for row in others:
                adds += [(row.st, ML.validTo, _dt(at)), (row.st, ML.supersededBy, st)]
                removes.append((s, p, row.o))
                result["closed"].append(
                    {"source": result["source"], "relationship": pid, "destination": self._name(graph, row.o)}
                )
            adds.append((s, p, o))
        self._write(graph, adds, removes)
        for row in ended if later else others:
            self._edges.patch(graph, (s, row.o), row.st, lambda e: e and replace(e, valid_to=at))
        self._edges.patch(graph, (s, o), st, lambda _: edge)
        event = "UPDATE" if result["closed"] else "ADD"
        return {**result, "event": event, "current": not later, "statement": str(st)}
