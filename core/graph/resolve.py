"""Entity names: normalisation, the per-scope label index, and embedding-based resolution.

Resolution order for a name: normalised exact label, then alias (``skos:altLabel``), then (only when an
embedder is configured) cosine similarity of the name against the scope's entity labels, at or above the
threshold. An embedding match is a *merge*: the name is recorded as an alias of the matched entity, logged,
and undone by ``RDFGraphStore.unmerge``.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rdflib import URIRef

from ..errors import ProviderError

logger = logging.getLogger("memlayer.graph")

_WORD = re.compile(r"[^\W_]+")
ARTICLES = frozenset({"the", "a", "an"})
MAX_NGRAM = 32  # longest label (in words) a query can match
# Words that never carry a relation's meaning (used only for the relationship-name bonus).
STOPWORDS = frozenset({
    "a", "an", "the", "at", "in", "on", "of", "to", "for", "with", "by", "from", "is", "are", "was",
    "were", "be", "has", "have", "had", "do", "does", "did", "who", "whom", "what", "which", "where",
    "when", "why", "how", "i", "me", "my", "we", "our", "you", "your", "he", "she", "it", "they", "them",
    "their", "that", "this", "and", "or", "not",
})


def fold(text: str) -> str:
    """Caseless, compatibility-normalised text: "Café" (one code point or e + accent), "CAFÉ" and "Ｃａｆé"
    read alike."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def tokens(text: str) -> list[str]:
    """Folded word tokens (see :func:`fold`); punctuation and underscores separate words."""
    return _WORD.findall(fold(text))


def entity_key(name: str) -> str:
    """The matching key of a name: folded, words only, single spaces, no leading article."""
    toks = tokens(name)
    if len(toks) > 1 and toks[0] in ARTICLES:
        toks = toks[1:]
    return " ".join(toks) or " ".join(fold(name).split())


def _stem(tok: str) -> str:
    return tok[:4] if len(tok) > 4 else tok


def relation_overlap(relationship: str, query_tokens: set[str]) -> float:
    """Share of a relationship's content words (``WORKS_AT`` -> works) that the query mentions."""
    words = [t for t in tokens(relationship.replace("_", " ")) if t not in STOPWORDS]
    if not words:
        return 0.0
    stems = {_stem(t) for t in query_tokens}
    return sum(_stem(w) in stems for w in words) / len(words)


@dataclass
class EntityIndex:
    """Label/alias keys of one scope graph's entities, kept in memory for fast query matching."""

    labels: dict[str, URIRef] = field(default_factory=dict)
    aliases: dict[str, URIRef] = field(default_factory=dict)
    names: dict[URIRef, str] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.monotonic)
    max_len: int = 1
    vec_keys: list[str] = field(default_factory=list)
    vec_entities: list[URIRef] = field(default_factory=list)
    vectors: np.ndarray | None = None

    def add_label(self, entity: URIRef, name: str) -> None:
        key = entity_key(name)
        self.labels.setdefault(key, entity)
        self.names.setdefault(entity, name)
        self.max_len = max(self.max_len, min(MAX_NGRAM, len(key.split())))

    def add_alias(self, entity: URIRef, name: str) -> None:
        key = entity_key(name)
        self.aliases.setdefault(key, entity)
        self.max_len = max(self.max_len, min(MAX_NGRAM, len(key.split())))

    def drop_entity(self, entity: URIRef) -> None:
        for table in (self.labels, self.aliases):
            for key in [k for k, e in table.items() if e == entity]:
                del table[key]
        self.names.pop(entity, None)
        if entity in self.vec_entities:
            keep = [i for i, e in enumerate(self.vec_entities) if e != entity]
            self.vec_keys = [self.vec_keys[i] for i in keep]
            self.vec_entities = [self.vec_entities[i] for i in keep]
            self.vectors = self.vectors[keep] if self.vectors is not None else None

    def drop_alias(self, key: str) -> None:
        self.aliases.pop(key, None)

    def lookup(self, name: str) -> tuple[URIRef | None, str]:
        """(entity, how) by exact label then alias; (None, "") when neither matches."""
        key = entity_key(name)
        if key in self.labels:
            return self.labels[key], "label"
        if key in self.aliases:
            return self.aliases[key], "alias"
        return None, ""

    def match(self, query: str) -> dict[URIRef, int]:
        """Entities whose label or alias appears in the query as a word n-gram -> times mentioned.
        Longest match wins: "New York" does not also match an entity "York"."""
        toks = tokens(query)
        taken = [False] * len(toks)
        found: dict[URIRef, int] = {}
        for n in range(min(self.max_len, len(toks)), 0, -1):
            for i in range(len(toks) - n + 1):
                if any(taken[i : i + n]):
                    continue
                key = " ".join(toks[i : i + n])
                entity = self.labels.get(key) or self.aliases.get(key)
                if entity is not None:
                    found[entity] = found.get(entity, 0) + 1
                    taken[i : i + n] = [True] * n
        return found

def _unit(vectors: Any, n: int) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.shape[0] != n or not np.isfinite(arr).all():
        raise ProviderError(f"embedder returned shape {arr.shape} for {n} texts (or non-finite values)")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.asarray(arr / np.where(norms == 0, 1.0, norms), dtype=np.float32)


class EmbeddingResolver:
    """Finds an existing entity whose label embeds within ``threshold`` cosine of a new name."""

    def __init__(self, embedder: Any, threshold: float = 0.9) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def _ensure(self, index: EntityIndex) -> None:
        have = set(index.vec_entities)
        missing = [(e, n) for e, n in index.names.items() if e not in have]
        if not missing:
            return
        vecs = _unit(self.embedder.embed([n for _, n in missing]), len(missing))
        index.vec_entities += [e for e, _ in missing]
        index.vec_keys += [entity_key(n) for _, n in missing]
        index.vectors = vecs if index.vectors is None else np.vstack([index.vectors, vecs])

    def best(self, index: EntityIndex, names: Iterable[str]) -> dict[str, tuple[URIRef, float]]:
        """For each name, the most similar existing entity if its cosine >= threshold."""
        names = list(dict.fromkeys(names))
        if not names:
            return {}
        self._ensure(index)
        if index.vectors is None or not len(index.vec_entities):
            return {}
        query = _unit(self.embedder.embed(names), len(names))
        sims = query @ index.vectors.T
        out: dict[str, tuple[URIRef, float]] = {}
        for i, name in enumerate(names):
            j = int(np.argmax(sims[i]))
            if float(sims[i, j]) >= self.threshold:
                out[name] = (index.vec_entities[j], float(sims[i, j]))
        return out
