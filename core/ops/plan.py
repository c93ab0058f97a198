"""Plans: what one add() (or one record of a bulk import) intends to write, decided before any lock.

An extractor's decisions refer to the memories it was shown by small integer refs (``RefBook``); they
become ``Planned`` steps. Verbatim adds plan one memory per message. Plans are checked again when they
are committed (see ``ops.write``): the store may have changed while the LLM was thinking.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..messages import clean_text
from ..records import ChangeRecord
from ..retention import Lifetime
from ..storage.base import StoredMemory
from ..types import Decision, ExistingMemory, Message, Relation, Scope

log = logging.getLogger("memlayer.add")


def said_by(metadata: dict[str, Any] | None) -> str | None:
    """The speaker a memory's metadata names (its "speaker" key: an override of the message's name and role),
    without NUL like every text a store keeps (the metadata keeps it as written)."""
    said = (metadata or {}).get("speaker")
    said = clean_text(said) if isinstance(said, str) else None
    return said if said is not None and said.strip() else None


def metadata_key(metadata: dict[str, Any]) -> str:
    """Metadata as filters compare it: JSON values, so ``True`` and ``1`` differ (Python's ``==`` says they are
    equal) while ``1`` and ``1.0`` are one number."""
    return json.dumps(_json_value(metadata), sort_keys=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def text_hash(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


@dataclass
class Planned:
    event: str  # ADD, UPDATE, DELETE, NONE; SKIP for a duplicate inside one write
    text: str
    target: ExistingMemory | None = None
    attribute: str | None = None
    new_id: str | None = None
    embedding: np.ndarray | None = None
    superseded_by: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    message_index: int | None = None  # the one source message of a verbatim memory
    result: ChangeRecord | None = None
    lifetime: Lifetime | None = None  # the fact's own expiry, when it says one ("until Friday")

    @property
    def hash(self) -> str:
        return text_hash(self.text)


@dataclass
class WriteItem:
    """One add()'s worth of writing: its scope, messages, time, author, planned steps and relations.
    ``seen``: the memories the extractor was shown (a commit re-checks the others)."""

    scope: Scope
    messages: list[Message]
    when: float
    plans: list[Planned]
    relations: list[Relation] = field(default_factory=list)
    seen: dict[str, float] = field(default_factory=dict)  # memory id -> updated_at (epoch) when shown
    inferred: bool = False  # decided by an extractor (not verbatim)
    updated: float | None = None  # a restored memory's own updated_at (epoch), when later than ``when``
    # how long what it says stays current: the caller's (explicit), else the scope's default (filled by write)
    lifetime: Lifetime = field(default_factory=Lifetime)

    def lifetime_of(self, plan: Planned) -> Lifetime:
        """The caller's explicit lifetime, else the fact's own, else the default."""
        if self.lifetime.explicit or plan.lifetime is None:
            return self.lifetime
        return plan.lifetime

    @property
    def actor(self) -> str | None:
        return next((m.name for m in self.messages if m.name), None)


class RefBook:
    """Existing memories shown to the extractor, under small integer refs stable within one add."""

    def __init__(self) -> None:
        self.by_ref: dict[int, ExistingMemory] = {}
        self._by_id: dict[str, ExistingMemory] = {}
        self.seen: dict[str, float] = {}  # memory id -> its updated_at (epoch) when shown

    def admit(self, memory: StoredMemory) -> ExistingMemory:
        if memory.id in self._by_id:
            return self._by_id[memory.id]
        em = ExistingMemory(len(self.by_ref), memory.id, memory.memory, memory.attribute, memory.metadata)
        self.by_ref[em.ref] = em
        self._by_id[em.id] = em
        self.seen[memory.id] = memory.updated_ts
        return em


def from_decisions(decisions: list[Decision], book: RefBook, metadata: dict[str, Any]) -> list[Planned]:
    plans: list[Planned] = []
    touched: set[str] = set()
    for d in decisions:
        text = (d.text or "").strip()
        target = book.by_ref.get(d.target) if d.target is not None else None
        own = None if d.expires_at is None else Lifetime(expires_at=d.expires_at.timestamp(), explicit=True)
        if d.event == "ADD":
            if text:
                plans.append(Planned("ADD", text, attribute=d.attribute, metadata=dict(metadata), lifetime=own))
            continue
        if target is None:
            log.warning("ignoring %s decision with unknown memory ref %r (text %r)", d.event, d.target, text)
            continue
        if target.id in touched:
            log.warning("ignoring a second decision (%s) on memory ref %r", d.event, d.target)
            continue
        touched.add(target.id)
        if d.event == "UPDATE" and text and text != target.text:
            plans.append(Planned("UPDATE", text, target, attribute=d.attribute or target.attribute, lifetime=own))
        elif d.event == "DELETE":
            plans.append(Planned("DELETE", target.text, target, attribute=target.attribute))
        else:
            plans.append(Planned("NONE", target.text, target, attribute=target.attribute, lifetime=own))
    # A closed memory is superseded by the new memory of the same attribute, when there is one.
    for p in plans:
        if p.event == "DELETE" and p.attribute:
            for q in plans:
                if q.event == "ADD" and q.attribute == p.attribute:
                    q.new_id = q.new_id or str(uuid.uuid4())
                    p.superseded_by = q.new_id
                    break
    return plans


def verbatim(messages: list[Message], metadata: dict[str, Any]) -> list[Planned]:
    """One memory per message; a message's own metadata is merged over the call's."""
    return [
        Planned("ADD", m.content, metadata={**metadata, **(m.metadata or {})}, message_index=i)
        for i, m in enumerate(messages)
    ]


def dedupe_items(items: list[WriteItem], existing: dict[Scope, dict[str, list[StoredMemory]]]) -> None:
    """``dedupe`` for every item of one write: a repeat in a later item of the same scope (two records of one
    bulk import, two concurrent add()s) is a SKIP too."""
    seen: dict[Scope, set[tuple[str, str]]] = {}
    for item in items:
        dedupe(item.plans, existing.get(item.scope, {}), seen.setdefault(item.scope, set()))


def dedupe(plans: list[Planned], existing: dict[str, list[StoredMemory]],
           seen: set[tuple[str, str]] | None = None) -> None:
    """An ADD whose text and metadata already are a current memory of the scope becomes NONE; a repeat
    inside the same write (``seen``: the ADDs before these plans) becomes SKIP."""
    seen = set() if seen is None else seen
    for p in plans:
        if p.event != "ADD":
            continue
        h = p.hash
        key = (h, metadata_key(p.metadata))
        row = next((m for m in existing.get(h, []) if metadata_key(m.metadata) == key[1]), None)
        if row is not None:
            p.event, p.target = "NONE", ExistingMemory(-1, row.id, row.memory, row.attribute)
            p.result = ChangeRecord(row.id, "NONE", row.memory)
        elif key in seen:
            p.event = "SKIP"
        seen.add(key)
