"""A deterministic extractor double: every user message becomes one ADD and one graph relation.

It exercises the full infer=True path (lookup, plan, graph outbox, graph apply) without any LLM and
independently of the offline pattern extractor, so the graph pillar always gets relations to store.
"""

from __future__ import annotations

import re

from memlayer.extract.base import ExtractContext, RelatedLookup
from memlayer.types import Decision, Extraction, Message, Relation

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")


class RelationExtractor:
    """``"I like zqxmarker..."`` -> ADD that text, and ``user -LIKES-> <last word>``."""

    async def extract(self, messages: list[Message], *, lookup: RelatedLookup, context: ExtractContext) -> Extraction:
        texts = [m.content.strip() for m in messages if m.role == "user" and m.content.strip()]
        if texts:
            await lookup(texts, None)  # the same related-memory lookup an LLM extractor does
        out = Extraction()
        for text in texts:
            out.decisions.append(Decision("ADD", text))
            words = _WORD.findall(text)
            if words:
                out.relations.append(Relation("user", "LIKES", words[-1], "person", "thing"))
        return out
