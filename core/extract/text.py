"""Text helpers for the pattern extractor: normalising, splitting, person/verb conversion, similarity."""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    """A frozenset of the whitespace-separated words of ``text`` (for long word lists)."""
    return frozenset(text.split())


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u201c": '"', "\u201d": '"'})
_I = re.IGNORECASE

_CONTRACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern, _I), repl)
    for pattern, repl in [
        (r"\bi'm\b|\bim\b", "I am"),
        (r"\bi've\b|\bive\b", "I have"),
        (r"\bi'll\b", "I will"),
        (r"\bi'd\b", "I would"),
        (r"\bcan't\b|\bcant\b", "cannot"),
        (r"\bwon't\b", "will not"),
        (r"\b(do|does|did|is|are|was|were|have|has|had|would|should|could)n't\b", r"\1 not"),
        (r"\b(do|does|did)nt\b", r"\1 not"),
        (r"\b(it|that|what|he|she|there|who)'s been\b", r"\1 has been"),
        (r"\b(name|it|that|what|he|she|there|who)'s\b", r"\1 is"),
        (r"\bgonna\b", "going to"),
        (r"\bwanna\b", "want to"),
    ]
]
_LONE_I = re.compile(r"(?<![\w'])i(?![\w'])")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:mr|mrs|ms|dr|st|jr|sr|prof|inc|ltd|co|corp|vs|etc|mt|ave|no|approx)|\b[a-z]|\be\.g|\bi\.e)\.$",
    _I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")
_CLAUSE_SPLIT = re.compile(
    r"\s*;\s*|\s*,?\s+(?:and|but|so|plus|also|though|although)\s+(?=(?:I|my)\b)"
    r"|\s*,\s*(?=(?:I|my)\b)|\s+-{1,2}\s+",
    _I,
)
_FILLER = re.compile(
    r"^(?:(?:oh|ah|well|so|also|and|but|plus|anyway|anyways|actually|btw|by the way|fyi|hey|hi|hello|"
    r"yes|yeah|yep|yup|no|nope|nah|ok|okay|sure|right|honestly|basically|fun fact|guess what|"
    r"just so you know|for the record|for your information|as you know|as i said|from now on|"
    r"(?:please )?(?:remember|note|keep in mind|don't forget|do not forget)(?: that)?|"
    r"you should know(?: that)?|"
    r"I (?:just )?(?:want(?:ed)? to|would like to) (?:let you know|tell you|mention|say|share)(?: that)?)"
    r"(?:[\s,:!.-]+|$))+",
    _I,
)
_ADVERBS = re.compile(
    r"\bI\s+(?:(?:really|actually|just|also|still|now|currently|recently|truly|totally|absolutely|"
    r"definitely|honestly|finally|officially|genuinely|kind of|sort of|kinda|literally|even|do(?!\s+not\b))\s+)+",
    _I,
)
_QUESTION_START = re.compile(
    r"^(?:(?:what|where|who|whom|whose|which|when|why|how)(?:\s+(?!(?:I|we|you|he|she|they|it)\b)\w+)?\s+"
    r"(?:do|does|did|am|is|are|was|were|can|could|should|would|will|have|has)\b"
    r"|(?:do|does|did|am|is|are|was|were|can|could|should|would|will|have|has)\s+(?:I|you|we|my)\b"
    r"|(?:tell me|remind me|guess)\b)",
    _I,
)
_PRONOUNS = [
    (re.compile(r"\bmyself\b", _I), "themselves"),
    (re.compile(r"\bmy\b", _I), "their"),
    (re.compile(r"\bmine\b", _I), "theirs"),
    (re.compile(r"\bme\b", _I), "them"),
    (re.compile(r"\bI am\b"), "they are"),
    (re.compile(r"\bI was\b"), "they were"),
    (re.compile(r"\bI\b"), "they"),
    (re.compile(r"\byourself\b", _I), "the assistant"),
    (re.compile(r"\byour\b", _I), "the assistant's"),
    (re.compile(r"\byou\b", _I), "the assistant"),
]
_IRREGULAR = {"be": "is", "am": "is", "have": "has", "do": "does", "go": "goes"}
_SMALL_WORDS = {"of", "the", "and", "de", "la", "du", "von", "van", "in", "on", "at", "for", "a", "an"}
_TOKEN = re.compile(r"[a-z0-9]+(?:[.@+'-][a-z0-9]+)*")
STOPWORDS = words(
    "a an the is are am was were be been being to of in on at for with and or but by as from user "
    "agent users they them their it its this that these those has have had do does did very really "
    "so also now currently still just s"
)


def normalise(text: str) -> str:
    """Straight quotes, single spaces, contractions expanded, a lone lowercase ``i`` capitalised."""
    text = " ".join(text.translate(_QUOTES).split())
    text = _LONE_I.sub("I", text)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences (and lines), keeping abbreviations such as "Dr." inside their sentence."""
    parts: list[str] = []
    for piece in _SENTENCE_END.split(text.strip()):
        if not piece:
            continue
        if parts and _ABBREVIATIONS.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    return parts


_TAG_QUESTION = re.compile(
    r"[,;:-]?\s*(?:what about you|how about you|and you|and yours|you know|right|isn't it|"
    r"is not it|don't you think|do not you think|wbu|hbu|thoughts|any tips|any ideas)\s*\?+$",
    _I,
)


def strip_tag_question(sentence: str) -> str:
    """ "I live in Oslo, what about you?" -> "I live in Oslo": the statement before a tag question."""
    return _TAG_QUESTION.sub("", sentence.strip())


def is_question(sentence: str) -> bool:
    s = sentence.strip()
    return s.endswith("?") or bool(_QUESTION_START.match(s))


def split_clauses(sentence: str) -> list[str]:
    """Independent first-person clauses: "I live in Oslo and I work at Equinor" -> two."""
    return [c for c in _CLAUSE_SPLIT.split(sentence) if c and c.strip()]


def clean_clause(clause: str) -> str:
    """Drop fillers ("btw, remember that ..."), intensifying adverbs after "I", end punctuation."""
    text = _FILLER.sub("", clause.strip()).strip()
    text = _ADVERBS.sub("I ", text)
    text = re.sub(r"^(?:that|so)\s+(?=(?:I|my)\b)", "", text, flags=_I)
    return text.strip().rstrip(".!,;: ").strip()


def third_person(phrase: str) -> str:
    """Rewrite the speaker's pronouns in a phrase: my -> their, me -> them, you -> the assistant."""
    for pattern, repl in _PRONOUNS:
        phrase = pattern.sub(repl, phrase)
    return phrase


def conjugate(verb: str) -> str:
    """Third-person singular present: like -> likes, go -> goes, study -> studies."""
    lower = verb.lower()
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if re.search(r"[^aeiou]y$", lower):
        return verb[:-1] + "ies"
    if re.search(r"(?:s|sh|ch|x|z|o)$", lower):
        return verb + "es"
    return verb + "s"


_KEEP_VERBS = words(
    "will would can could should must might may cannot shall had was were did met saw got ran bought went "
    "made took gave flew drove ate wrote won lost left began came sold built taught caught thought found "
    "felt kept spent sent told said heard held brought broke chose rode swam sang drank fell forgot hung "
    "knew led paid put quit shut slept spoke stood threw understood woke wore became"
)


def verb3(phrase: str) -> str:
    """Make a verb phrase's first word agree with a third-person subject: "am going" -> "is going",
    "plan to" -> "plans to"; past forms and modals stay ("met", "will")."""
    first, sep, rest = phrase.partition(" ")
    low = first.lower()
    if low == "am":
        first = "is"
    elif low not in _KEEP_VERBS and not low.endswith("ed"):
        first = conjugate(first)
    return first + sep + rest


def titled(name: str) -> str:
    """Capitalise an all-lowercase name ("new york" -> "New York"); leave typed capitals alone."""
    if name != name.lower():
        return name
    words = name.split()
    return " ".join(w if (i and w in _SMALL_WORDS) else w[:1].upper() + w[1:] for i, w in enumerate(words))


def strip_article(text: str) -> str:
    return re.sub(r"^(?:the|a|an|my|our)\s+", "", text.strip(), flags=_I)


def stem(word: str) -> str:
    """A crude, consistent stem: hiking/hike -> hik, likes/like -> lik, movies/movie -> movi."""
    for suffix in ("ies", "ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_tokens(text: str) -> set[str]:
    """Stemmed content words of a text, without stopwords or the subject."""
    words = (w[:-2] if w.endswith("'s") else w for w in _TOKEN.findall(text.lower()))
    return {stem(w) for w in words if w not in STOPWORDS}


def topic_key(topic: str) -> str:
    return " ".join(sorted(content_tokens(topic)))


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of content tokens (1.0 for two empty texts)."""
    ta, tb = content_tokens(a), content_tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (case-insensitive)."""
    phrase = strip_article(phrase)
    if not phrase:
        return False
    return re.search(rf"(?<![\w]){re.escape(phrase.lower())}(?![\w])", text.lower()) is not None


_NEGATIVE = re.compile(
    r"\b(?:not|never|no longer|dislikes?|hates?|cannot stand|can't stand|doesn't|don't|"
    r"quit|left|stopped|former|ex-)\b",
    _I,
)


def is_negative(text: str) -> bool:
    """Whether a memory text states a negative/ended fact ("User no longer likes cricket")."""
    return _NEGATIVE.search(text) is not None
