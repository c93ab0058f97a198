"""The shapes the pattern rules work with: a Clause in, Facts out, plus shared regex pieces."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..types import Relation
from .common import clean_relation, normalise_attribute
from .dates import resolve_dates
from .text import strip_article, third_person, titled, words

IGNORECASE = re.IGNORECASE

# Words after which a value ends: "I live in Paris [since 2019 | with my wife | now ...]".
TAIL = (
    r"(?:,?\s+(?:since|because|as of|for now|right now|now|these days|at the moment|currently|"
    r"anymore|any more|nowadays|recently|lately|full[- ]time|part[- ]time|"
    r"for (?:\d+|a|an|one|two|three|four|five|several|many|a few|the past|the last|over) .*|"
    r"with .*|last .*|next .*|this .*|in \d{4}.*|(?:about |around |over )?(?:\d+|a|an|one|two|three|a few) \w+ ago.*|"
    r"yesterday.*|today.*|tomorrow.*|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday).*|"
    r"(?:and|but|so|which|where|who|though|although|if|when|to) .*))?"
)
# A value: lazily everything up to the tail.
VALUE = r"(?P<value>[^,;:!?()\"]+?(?:,\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*)*)?)"
# A name: one word, then up to two more capitalised ones (case-sensitive even in re.I patterns).
NAME = r"(?P<name>[A-Za-z][\w'.-]*(?-i:(?:\s+[A-Z][\w'.-]*){0,2}))"
NAME_ANY = r"(?P<name>[A-Za-z][\w'.-]*(?:\s+[A-Za-z][\w'.-]*){0,2})"
# Where a free phrase stops being about the fact: "I started surfing in 2019 [and it has been great]".
_CLAUSE_TAIL = re.compile(
    r"(?:(?:,\s*|\s+)(?:and|but|so|because|as|since|though|although|which|while|cause|cuz)\s+"
    r"(?:it|this|that|they|he|she|we|you|there|everyone|everything|people|nobody)\b"
    r"|,\s*(?:it|this|that|which|so|but|and|especially|though)\b|\s+because\b).*$",
    IGNORECASE,
)
# Pronouns whose referent lives outside the clause: a memory built on them would be meaningless.
_CONTEXT_PRONOUN = re.compile(
    r"\b(?:it|its|them|him|his|her|hers|he|she|this|these|those|you|your|yours|we|us|our|ours)\b", IGNORECASE
)
NOT_NAMES = words(
    "a an the he she it they them him her his hers someone somebody anyone people everyone a lot "
    "friends some up with from at for to and but so in on is was be back new lots many few all other old "
    "again there here us you your"
)


@dataclass
class Fact:
    """One extracted fact: its memory text, the attribute slot it fills and the value within it."""

    text: str
    attribute: str | None = None
    value: str | None = None  # compared against an existing memory's text to tell same vs new value
    negative: bool = False  # "no longer ...", "does not like ..."
    relations: list[Relation] = field(default_factory=list)
    expires_at: datetime | None = None  # when a time-bound fact stops being true ("this week")


@dataclass(frozen=True)
class Clause:
    """A normalised first-person clause ("I live in New York") and who is speaking."""

    text: str
    subject: str = "User"  # how memory texts name the speaker
    entity: str = "user"  # how relations name the speaker
    prefix: str = ""  # attribute prefix for facts about someone other than the scope's owner
    when: datetime | None = None  # reference time for relative dates
    casual: bool = False  # the message was typed without capitals, so capitals cannot mark names

    @property
    def possessive(self) -> str:
        return f"{self.subject}'s"

    def fact(
        self,
        text: str,
        attribute: str | None = None,
        value: str | None = None,
        negative: bool = False,
        relations: list[Relation | None] | None = None,
    ) -> Fact:
        text = self.dated(text.strip())
        text = text[:1].upper() + text[1:]
        attr = normalise_attribute(f"{self.prefix}{attribute}") if attribute else None
        rels = [r for r in (relations or []) if r is not None]
        return Fact(text, attr, value.strip() if value else None, negative, rels)

    def rel(
        self, source: str, relationship: str, destination: str, stype: str | None, dtype: str | None
    ) -> Relation | None:
        source = self.entity if source == "self" else source
        return clean_relation(source, relationship, strip_article(destination), stype, dtype)

    def dated(self, text: str) -> str:
        return resolve_dates(text, self.when) if self.when is not None else text

    def phrase(self, text: str) -> str:
        """A phrase from the speaker's mouth, made third person with dates resolved."""
        return self.dated(third_person(text.strip()))

    def free(self, text: str) -> str | None:
        """A free-form phrase trimmed to its own clause and made third person; None when it leans
        on context a memory would not have ("I made it", "I will send you ...")."""
        trimmed = trim_clause(self.dated(text.strip()))
        if not trimmed or _CONTEXT_PRONOUN.search(trimmed):
            return None
        return third_person(trimmed)


Rule = Callable[[Clause], "list[Fact] | None"]


def trim_clause(text: str) -> str:
    """``text`` up to where it turns to another subject: "surfing, and it has been great" -> "surfing"."""
    return _CLAUSE_TAIL.sub("", text.strip()).strip(" ,;")


def rx(pattern: str) -> re.Pattern[str]:
    """Compile a rule pattern: case-insensitive, anchored at both ends of the clause."""
    return re.compile(rf"^(?:{pattern})$", IGNORECASE)


def typed_casually(text: str) -> bool:
    """No capitals beyond "I" and sentence starts: names cannot be told by their capitals."""
    stripped = re.sub(r"(^|[.!?]\s+)[A-Z]", r"\1", re.sub(r"\bI\b", "", text.strip()))
    return not any(ch.isupper() for ch in stripped)


def is_capitalised(text: str) -> bool:
    return bool(text) and text[:1].isupper()


def entity(text: str) -> str:
    """A named entity as it should be stored: trimmed, all-lowercase input capitalised."""
    text = text.strip().strip("\"'").rstrip(".")
    if re.match(r"^(?:the|a|an)\s", text, IGNORECASE):
        return text  # "the suburbs", "The New York Times": leave as typed
    return titled(text)


def person_name(text: str | None, *, explicit: bool = False) -> str | None:
    """A person's (or pet's) name: capitalised in the input, or any word(s) when ``explicit``
    ("named X", "my name is X"). None when it reads like an ordinary word."""
    if not text:
        return None
    name = text.strip().strip("\"'").rstrip(".")
    words = name.split()
    if not words or len(words) > 3 or any(w.lower() in NOT_NAMES for w in words):
        return None
    if not explicit and not all(is_capitalised(w) for w in words):
        return None
    return titled(name)


def a_an(word: str) -> str:
    """The indefinite article for ``word``: "an engineer", "a nurse"."""
    return (
        "an"
        if re.match(r"[aeiou]", word.strip(), IGNORECASE)
        and not re.match(r"(?:uni|eu|one)", word, IGNORECASE)
        else "a"
    )


def leading_name(words: list[str], limit: int = 3, *, loose: bool = False) -> tuple[str | None, list[str]]:
    """Split capitalised leading words (a name) from the rest: ["Anna", "lives", ...] -> ("Anna", [...]).

    With ``loose`` (all-lowercase input) the first word counts as the name when it is not a stopword.
    """
    taken: list[str] = []
    for word in words[:limit]:
        bare = word.strip(",")
        if not bare or not bare[:1].isupper() or bare.lower() in NOT_NAMES or bare == "I":
            break
        taken.append(bare)
        if word.endswith(","):
            break
    if not taken and loose and words and words[0].strip(",").lower() not in NOT_NAMES:
        taken = [words[0].strip(",")]
    if not taken:
        return None, words
    return titled(" ".join(taken)), words[len(taken) :]
