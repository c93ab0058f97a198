"""Typed results: one record model for a memory, a search answer, an add answer and a history event.

The core builds these; the public API hands out their ``to_dict()`` (the documented dict shapes, which
do not change), and the adapters and the HTTP client read answers back with ``from_dict()`` instead of
indexing dicts by string keys. Times are ISO 8601 strings in UTC, as in the dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_ID_CHARS = 256  # the longest memory id memlayer takes (a caller's own, in bulk_add; any it is given)
MEMORY_FIELDS = _MEMORY_KEYS = (
    "id", "memory", "metadata", "user_id", "agent_id", "run_id", "attribute", "created_at", "updated_at",
    "valid_from", "valid_to", "superseded_by", "expires_at",
)


@dataclass(slots=True)
class MemoryRecord:
    """One memory as the API shows it (``get``, ``get_all``, and the base of a search hit)."""

    id: str
    memory: str
    metadata: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    attribute: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    superseded_by: str | None = None
    expires_at: str | None = None  # when it lapses (None: never)

    @property
    def scope(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id}

    @property
    def current(self) -> bool:
        return self.valid_to is None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _MEMORY_KEYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemoryRecord:
        fields: dict[str, Any] = {k: data.get(k) for k in _MEMORY_KEYS}
        fields["metadata"] = dict(fields["metadata"] or {})
        return cls(**fields)


@dataclass(slots=True)
class SearchHit(MemoryRecord):
    """A memory found by ``search``: ``score`` ranks it (fused, memlayer's own scale); ``similarity`` is
    the cosine similarity of its text to the query (the number to compare with a threshold)."""

    score: float = 0.0
    similarity: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = MemoryRecord.to_dict(self)
        out["score"] = self.score
        out["similarity"] = self.similarity
        return out

    @classmethod
    def of(cls, memory: MemoryRecord, score: float, similarity: float) -> SearchHit:
        return cls(**{k: getattr(memory, k) for k in _MEMORY_KEYS}, score=score, similarity=similarity)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchHit:
        base = MemoryRecord.from_dict(data)
        return cls(**{k: getattr(base, k) for k in _MEMORY_KEYS},
                   score=float(data.get("score") or 0.0), similarity=float(data.get("similarity") or 0.0))


@dataclass(slots=True)
class RelationRecord:
    """A relation of the knowledge graph, as ``search(...)["relations"]`` lists them."""

    source: str
    relationship: str
    destination: str
    valid_from: str | None = None
    valid_to: str | None = None
    memory_ids: list[str] = field(default_factory=list)
    score: float = 0.0
    hops: int = 1
    statement: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "relationship": self.relationship, "destination": self.destination,
            "valid_from": self.valid_from, "valid_to": self.valid_to, "memory_ids": list(self.memory_ids),
            "score": self.score, "hops": self.hops, "statement": self.statement,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RelationRecord:
        return cls(
            source=str(data["source"]), relationship=str(data["relationship"]), destination=str(data["destination"]),
            valid_from=data.get("valid_from"), valid_to=data.get("valid_to"),
            memory_ids=list(data.get("memory_ids") or []), score=float(data.get("score") or 0.0),
            hops=int(data.get("hops") or 1), statement=data.get("statement"),
        )


@dataclass(slots=True)
class SearchAnswer:
    """What ``search`` returns: ranked memories and the graph relations the query reached."""

    results: list[SearchHit] = field(default_factory=list)
    relations: list[RelationRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "relations": [r.to_dict() for r in self.relations]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchAnswer:
        return cls(
            results=[SearchHit.from_dict(r) for r in data.get("results") or []],
            relations=[RelationRecord.from_dict(r) for r in data.get("relations") or []],
        )


@dataclass(slots=True)
class ChangeRecord:
    """One decision an ``add`` (or ``update``/``delete``) carried out on one memory."""

    id: str
    event: str  # ADD, UPDATE, DELETE, NONE
    memory: str | None = None
    previous_memory: str | None = None
    superseded_by: str | None = None
    valid_to: str | None = None  # an ADD stated before a memory already stored: added closed, as history

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "memory": self.memory, "event": self.event}
        if self.event == "UPDATE" and self.previous_memory is not None:
            out["previous_memory"] = self.previous_memory
        if self.event == "DELETE":
            out["superseded_by"] = self.superseded_by
        if self.event == "ADD" and self.valid_to is not None:
            out["superseded_by"], out["valid_to"] = self.superseded_by, self.valid_to
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeRecord:
        return cls(id=str(data["id"]), event=str(data["event"]), memory=data.get("memory"),
                   previous_memory=data.get("previous_memory"), superseded_by=data.get("superseded_by"),
                   valid_to=data.get("valid_to"))


@dataclass(slots=True)
class AddAnswer:
    """What ``add`` returns: the changes made, the graph relations added and closed, and LLM usage."""

    results: list[ChangeRecord] = field(default_factory=list)
    relations_added: list[dict[str, Any]] = field(default_factory=list)
    relations_closed: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "relations": {"added": list(self.relations_added), "closed": list(self.relations_closed)},
            "usage": dict(self.usage),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AddAnswer:
        relations = data.get("relations") or {}
        return cls(
            results=[ChangeRecord.from_dict(r) for r in data.get("results") or []],
            relations_added=list(relations.get("added") or []), relations_closed=list(relations.get("closed") or []),
            usage=dict(data.get("usage") or {}),
        )


SCOPE_KINDS = (("user_id", "users"), ("agent_id", "agents"), ("run_id", "runs"))


@dataclass(slots=True)
class ScopeSummary:
    """One user, agent or run id of a store and how much it holds (``scopes()`` lists them): ``memories``
    current memories, ``closed`` ones no longer current (kept for ``as_of``), ``expired`` ones past their expiry
    that no sweep has forgotten yet (neither current nor closed), the earliest ``valid_from`` and the latest
    ``updated_at`` among them all."""

    id: str
    memories: int = 0
    closed: int = 0
    first_at: str | None = None
    last_at: str | None = None
    expired: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "memories": self.memories, "closed": self.closed, "expired": self.expired,
                "first_at": self.first_at, "last_at": self.last_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScopeSummary:
        return cls(id=str(data["id"]), memories=int(data.get("memories") or 0), closed=int(data.get("closed") or 0),
                   first_at=data.get("first_at"), last_at=data.get("last_at"), expired=int(data.get("expired") or 0))


@dataclass(slots=True)
class SourceMessage:
    role: str
    content: str
    name: str | None = None
    created_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content, "name": self.name, "created_at": self.created_at}


@dataclass(slots=True)
class HistoryEvent:
    """One entry of ``history(id)``: what happened to a memory, when, and from which messages."""

    id: int
    memory_id: str
    event: str
    old_memory: str | None
    new_memory: str | None
    created_at: str | None
    actor: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    source_messages: list[SourceMessage] = field(default_factory=list)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id, "memory_id": self.memory_id, "event": self.event, "old_memory": self.old_memory,
            "new_memory": self.new_memory, "created_at": self.created_at, "actor": self.actor,
            "user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id,
            "source_messages": [m.to_dict() for m in self.source_messages],
        }
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryEvent:
        return cls(
            id=int(data["id"]), memory_id=str(data["memory_id"]), event=str(data["event"]),
            old_memory=data.get("old_memory"), new_memory=data.get("new_memory"), created_at=data.get("created_at"),
            actor=data.get("actor"), user_id=data.get("user_id"), agent_id=data.get("agent_id"),
            run_id=data.get("run_id"), reason=data.get("reason"),
            source_messages=[SourceMessage(**m) for m in data.get("source_messages") or []],
        )
