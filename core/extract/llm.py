"""LLMExtractor: one LLM call per add() extracts the facts, decides them against the related
memories (ADD/UPDATE/DELETE/NONE) and lists the relations.

The answer is checked, never trusted: decisions on refs the model was not shown are dropped
(and logged), an ADD that names a ref stays an ADD, empty texts are dropped, and at most
``max_facts`` facts and ``max_relations`` relations of one answer are used (the rest is dropped
with a warning). Only an ``LLMError`` from the LLM itself propagates.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone

from pydantic import ValidationError

from ..errors import ConfigError, MemlayerError
from ..llm.base import LLM, LLMResult
from ..llm.jsonparse import parse_model
from ..prompts.extraction import ExtractionAnswer, FactDecision
from ..prompts.sets import PromptSet, PromptSpec, configured_prompts
from ..types import Decision, ExistingMemory, Extraction, Message, Relation, Usage, to_utc
from .base import ExtractContext, RelatedLookup
from .common import clean_relation, dedupe_relations, normalise_attribute, source_texts

log = logging.getLogger(__name__)

DEFAULT_MAX_FACTS = 100
DEFAULT_MAX_RELATIONS = 100


class LLMExtractor:
    """Extractor backed by a chat model.

    ``prompt`` overrides the prompt: a function ``(messages, existing, context) -> chat messages``,
    a ``PromptSet``, or the name of a set registered with ``memlayer.prompts.register_prompts``.
    ``focus`` keeps the default prompt but replaces its "What to remember" guidance with your text;
    ``instructions`` are appended to the system message of whichever prompt is used. Both are plain
    text, so they can come from a config file.
    ``max_related`` caps how many existing memories the model is shown. With ``attribute_hints``
    the offline pattern parser names the attributes the messages seem to touch (e.g. "residence"),
    so that the lookup also returns the memories holding them, even when they are worded differently.
    ``max_facts`` and ``max_relations`` cap what one answer may create (default 100 each): a
    runaway or hostile answer with 100k facts never becomes 100k memories.
    """

    def __init__(
        self,
        llm: LLM,
        prompt: PromptSpec = None,
        max_related: int = 10,
        attribute_hints: bool = True,
        *,
        focus: str | None = None,
        instructions: str | None = None,
        max_facts: int = DEFAULT_MAX_FACTS,
        max_relations: int = DEFAULT_MAX_RELATIONS,
    ) -> None:
        if llm is None or not callable(getattr(llm, "complete", None)):
            raise ConfigError(
                "the 'llm' extractor needs an LLM (an object with an async complete()): pass llm=... to "
                "Memory (e.g. llm='openai' or llm='ollama') or to LLMExtractor"
            )
        for name, cap in (("max_facts", max_facts), ("max_relations", max_relations)):
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, got {cap!r}")
        self.llm = llm
        self.prompts: PromptSet = configured_prompts(prompt, focus=focus, instructions=instructions)
        self.max_related = max(0, int(max_related))
        self.attribute_hints = attribute_hints
        self.max_facts = max_facts
        self.max_relations = max_relations

    async def extract(
        self, messages: list[Message], *, lookup: RelatedLookup, context: ExtractContext
    ) -> Extraction:
        texts = source_texts(messages, context)
        if not texts:
            return Extraction()
        hints = self._hints(messages, context)
        related = await lookup(texts, hints or None)
        shown = _select(related, hints, self.max_related)
        prompt_messages = self.prompts.extraction(messages, shown, context)
        result = await self.llm.complete(prompt_messages, response_model=ExtractionAnswer)
        usage = _usage(result)
        answer = _answer(result)
        if answer is None:
            return Extraction(usage=usage)
        answer = self._capped(answer)
        return Extraction(
            decisions=to_decisions(answer.facts, shown, context.conversation_time or context.now),
            relations=to_relations(answer),
            usage=usage,
        )

    def _capped(self, answer: ExtractionAnswer) -> ExtractionAnswer:
        facts, relations = answer.facts, answer.relations
        if len(facts) > self.max_facts:
            log.warning("the LLM answered %d facts for one add(); using the first %d (max_facts), dropping %d",
                        len(facts), self.max_facts, len(facts) - self.max_facts)
            facts = facts[: self.max_facts]
        if len(relations) > self.max_relations:
            log.warning("the LLM answered %d relations for one add(); using the first %d (max_relations), dropping %d",
                        len(relations), self.max_relations, len(relations) - self.max_relations)
            relations = relations[: self.max_relations]
        if facts is answer.facts and relations is answer.relations:
            return answer
        return ExtractionAnswer.model_construct(facts=facts, relations=relations)

    def _hints(self, messages: list[Message], context: ExtractContext) -> set[str]:
        if not self.attribute_hints:
            return set()
        from .patterns import hint_attributes  # local: keeps the modules independent at import

        try:
            return hint_attributes(messages, context)
        except Exception:  # a hint is an optimisation; never let it break extraction
            log.exception("attribute hints failed; continuing without them")
            return set()


def _select(related: list[ExistingMemory], hints: set[str], limit: int) -> list[ExistingMemory]:
    """At most ``limit`` memories, those holding a hinted attribute first, then lookup order."""
    unique: dict[int, ExistingMemory] = {}
    for memory in related:
        unique.setdefault(memory.ref, memory)
    memories = list(unique.values())
    if hints:
        first = [m for m in memories if normalise_attribute(m.attribute) in hints]
        first_refs = {m.ref for m in first}
        memories = first + [m for m in memories if m.ref not in first_refs]
    return memories[:limit]


def _usage(result: LLMResult) -> Usage:
    usage = Usage()
    if result.usage is not None:
        usage.add(result.usage)
    usage.llm_calls = max(usage.llm_calls, 1)
    return usage


def _answer(result: LLMResult) -> ExtractionAnswer | None:
    """The parsed answer, re-validated from ``parsed`` or ``content``; None (logged) if unusable."""
    parsed = result.parsed
    try:
        if isinstance(parsed, ExtractionAnswer):
            return parsed
        if parsed is not None:
            return ExtractionAnswer.model_validate(parsed.model_dump())
        if result.content and result.content.strip():
            return parse_model(result.content, ExtractionAnswer)
    except (ValidationError, ValueError) as exc:
        log.warning("extraction answer could not be read (%s); nothing extracted", exc)
        return None
    log.warning("extraction answer was empty; nothing extracted")
    return None


def to_decisions(
    facts: list[FactDecision], shown: list[ExistingMemory], reference: datetime | None = None
) -> list[Decision]:
    """Turn the model's facts into Decisions, dropping (and logging) the unusable ones.

    - ADD keeps no target, even when the model named a ref.
    - UPDATE without a ref is read as ADD (the text is new information); with a ref the model was
      not shown it is dropped, like DELETE and NONE with a missing or unknown ref.
    - DELETE/NONE with an empty text take the target's text; ADD/UPDATE with an empty text are dropped.
    - One decision per target (the first wins) and one ADD per distinct text.
    - ``expires_at`` (ADD, UPDATE, NONE) is kept when it reads as a time after ``reference`` (the
      conversation's time); a bare date means the end of that day (UTC).
    """
    by_ref = {m.ref: m for m in shown}
    decisions: list[Decision] = []
    targeted: set[int] = set()
    added: set[str] = set()
    for fact in facts:
        text = " ".join(fact.text.split())
        attribute = normalise_attribute(fact.attribute)
        event = fact.event
        target = by_ref.get(fact.ref) if fact.ref is not None else None
        if event == "UPDATE" and fact.ref is None and text:
            event = "ADD"
        if event == "ADD":
            if not text:
                log.info("dropped ADD with an empty text")
                continue
            if text.lower() in added:
                continue
            added.add(text.lower())
            decisions.append(Decision("ADD", text, None, attribute, _expiry(fact.expires_at, reference)))
            continue
        if target is None:
            log.info("dropped %s with ref %r: not among the memories shown", event, fact.ref)
            continue
        if not text:
            if event == "UPDATE":
                log.info("dropped UPDATE of ref %d with an empty text", target.ref)
                continue
            text = target.text
        if target.ref in targeted:
            log.info("dropped a second %s of ref %d", event, target.ref)
            continue
        targeted.add(target.ref)
        decisions.append(
            Decision(event, text, target.ref, attribute or normalise_attribute(target.attribute),
                     None if event == "DELETE" else _expiry(fact.expires_at, reference))
        )
    return decisions


def _expiry(raw: str | None, reference: datetime | None) -> datetime | None:
    """The model's ``expires_at`` as an aware time, or None when it is missing, unreadable or not after
    ``reference`` (a fact would be born expired)."""
    if not raw:
        return None
    try:
        if len(raw) == 10 and raw[4] == "-":  # a date: the end of that day
            when = datetime.combine(date.fromisoformat(raw) + timedelta(days=1), time(0), tzinfo=timezone.utc)
        else:
            when = to_utc(raw)  # type: ignore[assignment]
    except (ValueError, MemlayerError):
        log.info("ignored an unreadable expires_at %r", raw)
        return None
    if when is None or (reference is not None and when <= reference):
        return None
    return when


def to_relations(answer: ExtractionAnswer) -> list[Relation]:
    """Normalised, de-duplicated relations; incomplete ones are dropped."""
    relations: list[Relation] = []
    for item in answer.relations:
        relation = clean_relation(
            item.source, item.relationship, item.destination, item.source_type, item.destination_type
        )
        if relation is not None:
            relations.append(relation)
    return dedupe_relations(relations)
