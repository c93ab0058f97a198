"""PatternExtractor: the deterministic, offline extractor used when no LLM is configured.

It reads plain first-person English statements with compiled regular expressions: who the speaker
is (name, age, nationality), where they live and come from, work and studies, relationship status,
family, friends and pets, possessions, likes and dislikes, diet and health, languages, plans,
meetings and notable events, habits, and "my X is Y" details. Each becomes a third-person memory
("User lives in San Francisco") with an ``attribute`` slot and relations (user LIVES_IN San
Francisco), then is decided against the related memories exactly like the LLM extractor does:
same slot and value -> NONE, richer text -> UPDATE, new value of a slot -> DELETE old + ADD new.

Its reach is honest but narrow: no coreference ("she", "it"), no sarcasm or hypotheticals, no
third-person narration, English only, and phrasing outside its patterns is ignored rather than
guessed. Questions and chatter produce nothing. Configure an LLM for anything beyond this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..types import Decision, Event, ExistingMemory, Extraction, Message, Usage
from . import rules_misc, rules_self, rules_social, rules_time
from .base import ExtractContext, RelatedLookup
from .common import AGENT_ENTITY, USER_ENTITY, dedupe_relations, normalise_attribute, reads_role
from .expiry import proposed_expiry
from .facts import NAME, Clause, Fact, Rule, rx, typed_casually
from .text import (
    clean_clause,
    contains_phrase,
    content_tokens,
    is_negative,
    is_question,
    normalise,
    similarity,
    split_clauses,
    split_sentences,
    strip_tag_question,
    topic_key,
)

RULES: list[Rule] = [
    *rules_self.RULES,
    *rules_social.RULES,
    *rules_misc.RULES,
    *rules_social.LATE_RULES,
    *rules_time.RULES,
    *rules_misc.LATE_RULES,
]
_AGENT_ROLES = ("assistant", "ai", "agent")
_FIRST_PERSON = re.compile(r"\b(?:I|my|me)\b", re.IGNORECASE)
_YOUR_NAME = rx(
    rf"(?:your name is|you are called|I will call you|I am going to call you|I am calling you) {NAME}"
)
# Memories written without an attribute that still fill a known slot (e.g. by an older extractor).
_TEXT_SLOTS = {
    "residence": re.compile(
        r"^\w+ (?:lives|resides|is living|is based|moved|relocated) (?:in|to|near)\b|^\w+ no longer lives\b",
        re.I,
    ),
    "employer": re.compile(
        r"^\w+ (?:works|is working|is employed) (?:at|for|by)\b|^\w+ no longer works\b", re.I
    ),
    "name": re.compile(r"^\w+'s name is\b", re.I),
    "age": re.compile(r"^\w+ is \d+ years old\b", re.I),
}
_PREFERENCE_TEXT = re.compile(
    r"\b(?:likes|loves|enjoys|adores|prefers|is (?:a )?(?:big |huge )?fan of|is into|dislikes|hates|"
    r"does not (?:like|eat|drink|enjoy)|no longer (?:likes|eats|drinks|enjoys)|cannot stand)\b",
    re.I,
)
NEAR_DUPLICATE = 0.8


class PatternExtractor:
    """Offline, rule-based extractor (no LLM, no network). ``llm`` is accepted and ignored so every
    extractor can be built the same way."""

    def __init__(self, llm: object | None = None) -> None:
        self.llm = llm

    async def extract(
        self, messages: list[Message], *, lookup: RelatedLookup, context: ExtractContext
    ) -> Extraction:
        facts = parse_facts(messages, context)
        if not facts:
            return Extraction()
        existing = await lookup([f.text for f in facts], lookup_attributes(facts) or None)
        relations = dedupe_relations(r for f in facts for r in f.relations)
        return Extraction(decisions=reconcile(facts, existing), relations=relations, usage=Usage())


# --- reading -----------------------------------------------------------------------------------
def clauses(messages: Iterable[Message], context: ExtractContext) -> Iterator[Clause]:
    """The normalised first-person clauses of the messages facts are read from."""
    when = context.conversation_time or context.now
    for message in messages:
        if not reads_role(message.role, context):
            continue
        by_agent = message.role.strip().lower() in _AGENT_ROLES
        subject, entity = ("Agent", AGENT_ENTITY) if by_agent else ("User", USER_ENTITY)
        # Facts about someone other than the scope's owner get that someone as attribute prefix.
        prefix = "" if by_agent == context.agent_facts else ("user:" if context.agent_facts else "agent:")
        content = normalise(message.content)
        casual = typed_casually(content)
        for sentence in split_sentences(content):
            sentence = strip_tag_question(sentence)
            if not sentence or is_question(sentence):
                continue
            for raw in split_clauses(sentence):
                text = clean_clause(raw)
                if not text or is_question(text):
                    continue
                if context.agent_facts and not by_agent and (m := _YOUR_NAME.match(text)):
                    yield Clause(f"my name is {m.group('name')}", "Agent", AGENT_ENTITY, "", when, casual)
                elif _FIRST_PERSON.search(text):
                    yield Clause(text, subject, entity, prefix, when, casual)


def facts_of(clause: Clause) -> list[Fact]:
    """The facts of one clause: those of the first rule that recognises it, each lapsing when the clause
    bounds it in time ("this week", "until Friday": see ``expiry``)."""
    for rule in RULES:
        found = rule(clause)
        if found:
            ends = proposed_expiry(clause.text, clause.when) if clause.when is not None else None
            for fact in found:
                fact.expires_at = fact.expires_at or ends
            return [f for f in found if f.text]
    return []


def parse_facts(messages: Iterable[Message], context: ExtractContext) -> list[Fact]:
    """Every fact in the messages; a later statement of the same slot replaces an earlier one."""
    facts: list[Fact] = []
    for clause in clauses(messages, context):
        for fact in facts_of(clause):
            if fact.attribute:
                key = slot_key(fact.attribute)
                facts = [f for f in facts if not (f.attribute and slot_key(f.attribute) == key)]
            elif any(f.text.lower() == fact.text.lower() for f in facts):
                continue
            facts.append(fact)
    return facts


def slot_key(attribute: str) -> str:
    """A loose key for comparing attributes: "preference:hiking" ~ "preference:hike"."""
    norm = normalise_attribute(attribute) or ""
    return ":".join(topic_key(part) or part for part in norm.split(":"))


def _variants(attribute: str) -> set[str]:
    """Spellings of an attribute the store may hold (exact-match lookup): plural, -ing, favorite."""
    head, sep, last = attribute.rpartition(":")
    forms = {last, last + "s", last + "ing", last.replace("favourite", "favorite")}
    if last.endswith("s"):
        forms.add(last[:-1])
    if last.endswith("ing"):
        forms |= {last[:-3], last[:-3] + "e"}
    if last.endswith("e"):
        forms.add(last[:-1] + "ing")
    return {f"{head}{sep}{form}" for form in forms if form}


def lookup_attributes(facts: Iterable[Fact]) -> set[str]:
    found: set[str] = set()
    for fact in facts:
        if fact.attribute:
            found |= _variants(fact.attribute)
    return found


def hint_attributes(messages: Iterable[Message], context: ExtractContext) -> set[str]:
    """The attributes the messages seem to touch (used by the LLM extractor to widen its lookup)."""
    return lookup_attributes(parse_facts(messages, context))


# --- deciding ----------------------------------------------------------------------------------
def _in_text_slot(fact: Fact, memory: ExistingMemory) -> bool:
    """Whether an attribute-less memory reads like the fact's slot ("User lives in ...")."""
    base = (fact.attribute or "").rsplit(":", 1)
    pattern = _TEXT_SLOTS.get(base[-1]) if len(base) == 1 or base[0] in ("user", "agent") else None
    if pattern is not None:
        return bool(pattern.search(memory.text))
    if base[0].endswith("preference") and len(base) == 2 and _PREFERENCE_TEXT.search(memory.text):
        topic = content_tokens(base[1])
        return bool(topic) and topic <= content_tokens(memory.text)
    return False


def _same_value(fact: Fact, memory: ExistingMemory) -> bool:
    if is_negative(memory.text) != fact.negative:
        return False
    if not fact.value or not fact.attribute:
        return True
    last = fact.attribute.rsplit(":", 1)[-1]
    if ":" in fact.attribute and topic_key(last) == topic_key(fact.value):
        return True  # the value is part of the slot itself (preference:cricket, pet:max)
    return contains_phrase(memory.text, fact.value)


def _richer(new: str, old: str) -> bool:
    """Whether ``new`` says more than ``old``: words ``old`` lacks and at least as many words."""
    tn, to = content_tokens(new), content_tokens(old)
    return not tn <= to and len(tn) >= len(to)


def _decide_slot(fact: Fact, same: list[ExistingMemory]) -> list[Decision]:
    """Decide a fact against the memories holding its slot; keeps the stored attribute spelling."""
    attribute = next((normalise_attribute(m.attribute) for m in same if m.attribute), None) or fact.attribute
    matching = [m for m in same if _same_value(fact, m)]
    decisions = [Decision("DELETE", m.text, m.ref, attribute) for m in same if m not in matching]
    if matching:
        keep = matching[0]
        event: Event = "UPDATE" if _richer(fact.text, keep.text) else "NONE"
        decisions.append(Decision(event, fact.text, keep.ref, attribute))
    else:
        decisions.append(Decision("ADD", fact.text, None, attribute))
    return decisions


def reconcile(facts: list[Fact], existing: list[ExistingMemory]) -> list[Decision]:
    """Decide each fact against the existing memories; each memory is decided at most once."""
    used: set[int] = set()
    decisions: list[Decision] = []
    for fact in facts:
        free = [m for m in existing if m.ref not in used]
        same: list[ExistingMemory] = []
        if fact.attribute:
            key = slot_key(fact.attribute)
            same = [m for m in free if m.attribute and slot_key(m.attribute) == key]
            same = same or [m for m in free if not m.attribute and _in_text_slot(fact, m)]
        decided = _decide_slot(fact, same) if same else [_decide_text(fact, free)]
        for d in decided:
            if d.event != "DELETE":
                d.expires_at = fact.expires_at
        used |= {d.target for d in decided if d.target is not None}
        decisions.extend(decided)
    return decisions


def _decide_text(fact: Fact, free: list[ExistingMemory]) -> Decision:
    """ADD, or NONE/UPDATE against the closest memory when it states the same thing."""
    best = max(free, key=lambda m: similarity(fact.text, m.text), default=None)
    if best is None:
        return Decision("ADD", fact.text, None, fact.attribute)
    tn, tb = content_tokens(fact.text), content_tokens(best.text)
    score = similarity(fact.text, best.text)
    compatible = not best.attribute or (
        fact.attribute and slot_key(best.attribute) == slot_key(fact.attribute)
    )
    if tn and (tn <= tb or score >= NEAR_DUPLICATE):
        if compatible and _richer(fact.text, best.text) and is_negative(best.text) == fact.negative:
            return Decision("UPDATE", fact.text, best.ref, fact.attribute)
        if is_negative(best.text) == fact.negative:
            return Decision("NONE", fact.text, best.ref, fact.attribute or best.attribute)
    if compatible and len(tb) >= 2 and tb < tn and is_negative(best.text) == fact.negative:
        return Decision("UPDATE", fact.text, best.ref, fact.attribute)
    return Decision("ADD", fact.text, None, fact.attribute)


__all__ = ["PatternExtractor", "hint_attributes", "parse_facts", "reconcile"]
