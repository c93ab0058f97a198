"""Helpers shared by the extractors: attribute keys, relation clean-up, which messages are read.

Attribute convention (the core stores ``attribute`` per memory; both extractors follow it):

- lowercase words separated by single spaces, "favorite" spelled "favourite";
- a bare key is a single-valued slot about the scope's owner: ``name``, ``age``, ``nationality``,
  ``residence``, ``origin``, ``birthplace``, ``birthday``, ``birth year``, ``employer``,
  ``job title``, ``school``, ``field of study``, ``work location``, ``relationship status``,
  ``diet``, ``children``, ``car``, single roles (``wife``, ``boss``, ``best friend`` ...) and
  every "my X is Y" key (``order number``, ``email``, ``favourite colour``);
- ``kind:key`` names one slot among many: ``preference:cricket``, ``pet:max``, ``sister:anna``,
  ``allergy:peanuts``, ``language:spanish``, ``possession:tesla``, ``education:mit``;
  a further ``:part`` is a slot of that entity: ``sister:anna:residence``, ``mother:residence``;
- facts about someone other than the scope's owner get a prefix: ``user:residence`` among an
  agent's memories (the pattern extractor only);
- one-off events and plans have no attribute (None).

A slot holds one current memory: a new value closes the old one (DELETE + ADD).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..types import Message, Relation
from .base import ExtractContext

USER_ENTITY = "user"
AGENT_ENTITY = "agent"

_SELF_NAMES = {
    "user": USER_ENTITY,
    "the user": USER_ENTITY,
    "i": USER_ENTITY,
    "me": USER_ENTITY,
    "myself": USER_ENTITY,
    "speaker": USER_ENTITY,
    "agent": AGENT_ENTITY,
    "the agent": AGENT_ENTITY,
    "assistant": AGENT_ENTITY,
    "the assistant": AGENT_ENTITY,
    "ai": AGENT_ENTITY,
}
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")
_SPACES = re.compile(r"\s+")
_FAVOURITE = re.compile(r"\bfavou?rite\b")


def normalise_attribute(attribute: str | None) -> str | None:
    """Lowercase, single spaces, ``_`` read as a space, "favorite" spelled "favourite"; '' -> None."""
    if attribute is None:
        return None
    key = _SPACES.sub(" ", attribute.replace("_", " ").strip().lower())
    key = re.sub(r"\s*:\s*", ":", key)
    key = _FAVOURITE.sub("favourite", key)
    return key or None


def relationship_name(name: str) -> str:
    """``works at`` / ``worksAt`` / ``works-at`` -> ``WORKS_AT``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return _NON_WORD.sub("_", spaced).strip("_").upper()


def entity_name(name: str) -> str:
    """Trim an entity; the speaker's own aliases become ``user`` / ``agent``."""
    cleaned = _SPACES.sub(" ", name.strip().strip("\"'`.,;:!?"))
    return _SELF_NAMES.get(cleaned.lower(), cleaned)


def entity_type(kind: str | None) -> str | None:
    if kind is None:
        return None
    cleaned = _NON_WORD.sub("_", kind.strip().lower()).strip("_")
    return cleaned or None


def clean_relation(
    source: str,
    relationship: str,
    destination: str,
    source_type: str | None = None,
    destination_type: str | None = None,
) -> Relation | None:
    """A normalised Relation, or None when a part is empty or it points at itself."""
    src, rel, dst = entity_name(source), relationship_name(relationship), entity_name(destination)
    if not src or not rel or not dst or src.lower() == dst.lower():
        return None
    return Relation(src, rel, dst, entity_type(source_type), entity_type(destination_type))


def dedupe_relations(relations: Iterable[Relation]) -> list[Relation]:
    """Drop repeats (same source, relationship, destination; case-insensitive), keep first order."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Relation] = []
    for relation in relations:
        key = (relation.source.lower(), relation.relationship, relation.destination.lower())
        if key not in seen:
            seen.add(key)
            out.append(relation)
    return out


def reads_role(role: str, context: ExtractContext) -> bool:
    """Whether facts are read from a message of this role: the user's, plus the agent's own
    messages when the memories are about the agent."""
    role = (role or "").strip().lower()
    if role in ("user", "human"):
        return True
    return context.agent_facts and role in ("assistant", "ai", "agent")


def source_texts(messages: Iterable[Message], context: ExtractContext) -> list[str]:
    """The non-empty contents of the messages facts are read from."""
    return [m.content.strip() for m in messages if reads_role(m.role, context) and m.content.strip()]
