"""The one recall formatter: memories found for a query, as the text block an LLM sees.

Bullets in rank order (optionally with each memory's date), then the graph relations; memories under
the relevance floor are left out; a token budget drops the lowest-ranked bullets first, never the
header alone. ``truncate_recall`` shrinks an already formatted block (LlamaIndex's memory-block
truncation) and accepts whatever a framework hands it: an empty block, None, or a list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal

from ..errors import ConfigError
from ..records import RelationRecord, SearchHit

# The relevance floor: the similarity (cosine) under which a memory is not recalled. A floor only means
# something on the scale of one embedder, so it is calibrated per model. all-MiniLM-L6-v2 (memlayer's
# default) was measured by benchmarks/recall_floor.py (BENCHMARKS.md, "Recall floor"): at 0.1 recall keeps
# 92% of the LOCOMO evidence turns their questions need and drops 72% of unrelated turns (0.004 for
# "what do I eat?" against "The meeting moved to Tuesday", 0.505 against "I'm vegetarian"). An embedder
# may declare its own with a ``recall_floor`` attribute; others (the lexical hash embedder, models not
# measured) get no floor.
DEFAULT_MIN_SIMILARITY = 0.1
CALIBRATED_FLOORS = {"all-MiniLM-L6-v2": DEFAULT_MIN_SIMILARITY,
                     "sentence-transformers/all-MiniLM-L6-v2": DEFAULT_MIN_SIMILARITY}
AUTO: Final = "auto"
FloorSetting = float | Literal["auto"] | None


def floor_for(embedder: Any) -> float | None:
    """The calibrated relevance floor of ``embedder`` (None when it has none)."""
    declared = getattr(embedder, "recall_floor", None)
    if isinstance(declared, (int, float)) and not isinstance(declared, bool):
        return float(declared)
    name = getattr(embedder, "model_name", None)
    return CALIBRATED_FLOORS.get(name) if isinstance(name, str) else None


def resolve_floor(setting: FloorSetting, embedder: Any) -> float | None:
    """A ``min_similarity`` setting as a number: ``"auto"`` is the floor calibrated for ``embedder``."""
    if setting == AUTO:
        return floor_for(embedder)
    if setting is None:
        return None
    if isinstance(setting, bool) or not isinstance(setting, (int, float)):
        raise ConfigError(f"min_similarity must be a number, 'auto' or None, got {setting!r}")
    return float(setting)


BULLET = "- "
RELATIONS_HEADER = "Known relations:"


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def relation_line(rel: RelationRecord) -> str:
    return f"{_one_line(rel.source)} -[{_one_line(rel.relationship)}]-> {_one_line(rel.destination)}"


def above_floor(hits: Iterable[SearchHit], min_similarity: float | None) -> list[SearchHit]:
    """The hits whose similarity reaches ``min_similarity`` (all of them when it is None)."""
    return [h for h in hits if min_similarity is None or h.similarity >= min_similarity]


def unseen(hits: Iterable[SearchHit], seen_texts: Iterable[str]) -> list[SearchHit]:
    """The hits whose text is not already in ``seen_texts`` (the conversation the LLM is shown)."""
    seen = {_one_line(t).casefold() for t in seen_texts if t}
    return [h for h in hits if _one_line(h.memory).casefold() not in seen]


def format_recall(
    hits: Sequence[SearchHit], relations: Sequence[RelationRecord] = (), *, header: str | None = None,
    show_dates: bool = False, min_similarity: float | None = None, max_tokens: int | None = None,
    count: Callable[[str], int] | None = None,
) -> str:
    """Hits as ``- text (date)`` bullets in rank order under ``header``, then the relations; "" for none.

    ``min_similarity`` drops hits under the floor; ``max_tokens`` drops the lowest-ranked bullets (the
    relations first) until the block fits, counted with ``count`` (tiktoken's cl100k_base by default).
    """
    lines = []
    for hit in above_floor(hits, min_similarity):
        text = _one_line(hit.memory)
        if text:
            date = (hit.created_at or "")[:10] if show_dates else ""
            lines.append(f"{BULLET}{text}" + (f" ({date})" if date else ""))
    out = [header, *lines] if lines and header else lines
    rels = [f"{BULLET}{relation_line(r)}" for r in relations]
    if rels:
        out += [RELATIONS_HEADER, *rels]
    text = "\n".join(out)
    if max_tokens is not None and text:
        counter = count or _tiktoken_count
        if counter(text) > max_tokens:
            return truncate_recall(text, counter(text) - max_tokens, counter) or ""
    return text


def truncate_recall(content: Any, tokens_to_truncate: int, count: Callable[[str], int]) -> str | None:
    """``content`` less about ``tokens_to_truncate`` tokens: bullets go from the end (relations, then the
    lowest-ranked memories), headers left without bullets go too. None when nothing is left.

    Anything that is not a non-empty string (None, "", an empty list from a framework) is nothing."""
    if not isinstance(content, str) or not content.strip():
        return None
    if tokens_to_truncate <= 0:
        return content
    target = count(content) - tokens_to_truncate
    lines = content.splitlines()
    while any(line.startswith(BULLET) for line in lines):
        del lines[max(i for i, line in enumerate(lines) if line.startswith(BULLET))]
        lines = _drop_empty_headers(lines)
        text = "\n".join(lines)
        if count(text) <= target:
            return text or None
    return None


def _drop_empty_headers(lines: list[str]) -> list[str]:
    kept: list[str] = []
    for i, line in enumerate(lines):
        next_is_bullet = i + 1 < len(lines) and lines[i + 1].startswith(BULLET)
        if line.startswith(BULLET) or next_is_bullet:
            kept.append(line)
    return kept


def _tiktoken_count(text: str) -> int:
    from ..tokens import count_tokens

    return count_tokens(text)

