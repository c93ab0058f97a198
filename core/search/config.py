"""Search settings as data: a ``SearchConfig`` and its named presets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ConfigError
from ..retention import parse_duration


class SearchConfig(BaseModel):
    """How ``search()`` finds and ranks memories.

    Each retriever (dense vectors, lexical BM25 over SQLite FTS5, the knowledge graph) proposes up to
    ``candidates`` memories of the scope; their lists are fused with the given weights (a weight of 0
    turns a retriever off): ``rrf`` is reciprocal-rank fusion; ``weighted`` adds the scores, dense
    similarity min-max scaled over its candidates and the others divided by their best, after every
    candidate has been re-scored densely. Then, all optional (0 or None turns each off):

    * context — memories are ordered by insertion within what the search may see; adjacent ones (at
      most ``context_gap_s`` apart, same ``context_key`` metadata value when set) are one conversation.
      A memory inherits ``context_inherit`` times the score of the memory before it when that is
      higher than its own (a reply is as relevant as what it replies to), and adds
      ``context_prev_weight``/``context_next_weight`` times its neighbours' scores.
    * speakers — with ``speaker_key``, the metadata key naming who said a memory: when the query names
      some (not all) of the scope's speakers, their memories gain ``speaker_boost``; with
      ``strip_speakers`` the names are left out of the dense query (they would pull in every memory
      that mentions them instead of the ones about the topic).
    * ``length_prior`` — a bonus of ``length_prior * log(1 + tokens)``: longer memories hold more.
    * ``temporal_boost`` — when the query names a time ("in May 2023", "last week", "3 days ago", resolved
      against ``as_of`` or now), memories created inside that span gain it.
    * ``expansion_weight`` — pseudo-relevance feedback: the content words that co-occur in at least two of the
      ``expansion_docs`` best memories (and are not in the query) are searched lexically, ``expansion_terms``
      of them at most, and each memory found gains this weight times its score over the best one.
    * lifetimes — ``recency_weight * 0.5 ** (age / recency_half_life)``, the age counted from a memory's last
      write, re-statement or recall, plus ``reinforcement_weight * min(1, log(1 + n) / log(1 +
      reinforcement_saturation))`` for a memory re-stated or recalled n times (see ``search/decay.py``).
    * ``rerank_weight`` — last, the ``rerank_pool`` best memories are read beside the query by the memory's
      reranker (``reranker=`` of ``Memory``: "late" or a cross-encoder) and its scores, standardised over the
      pool, are added with this weight, on the scale of the pool's spread (see ``search/rerank.py``).

    Boosts and priors are on the ``weighted`` scale (each retriever adds at most its weight); with
    ``rrf`` the fused scores are first divided by the best one. Metadata keys used (``context_key``,
    ``speaker_key``) are read from the memories the search may see, nothing else.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dense_weight: float = Field(1.0, ge=0)
    lexical_weight: float = Field(0.0, ge=0)
    graph_weight: float = Field(0.0, ge=0)
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = Field(60, ge=1)
    candidates: int = Field(100, ge=1)
    include_relations: bool = True
    relation_hops: int = Field(2, ge=1, le=2)
    relation_limit: int = Field(20, ge=0)
    # conversational context (see context.py)
    context_inherit: float = Field(0.0, ge=0, le=1)
    context_prev_weight: float = Field(0.0, ge=0)
    context_next_weight: float = Field(0.0, ge=0)
    context_gap_s: float | None = Field(6 * 3600.0, ge=0)
    context_key: str | None = None
    context_pool: int = Field(50, ge=1)
    # speakers
    speaker_key: str | None = None
    speaker_boost: float = Field(0.0, ge=0)
    strip_speakers: bool = False
    # priors
    length_prior: float = Field(0.0, ge=0)
    # query hints (see hints.py)
    temporal_boost: float = Field(0.0, ge=0)
    expansion_weight: float = Field(0.0, ge=0)
    expansion_docs: int = Field(5, ge=1)
    expansion_terms: int = Field(8, ge=1)
    # lifetimes (search/decay.py)
    recency_weight: float = Field(0.0, ge=0)
    recency_half_life: float = Field(30 * 86_400.0, gt=0, description="seconds (or '30d')")
    reinforcement_weight: float = Field(0.0, ge=0)
    reinforcement_saturation: int = Field(10, ge=1)

    rerank_weight: float = Field(0.0, ge=0)
    rerank_pool: int = Field(50, ge=2)

    @field_validator("recency_half_life", mode="before")
    @classmethod
    def _half_life(cls, value: Any) -> Any:
        return parse_duration(value, "recency_half_life", allow_never=False)

    @property
    def uses_context(self) -> bool:
        return bool(self.context_inherit or self.context_prev_weight or self.context_next_weight)

    @property
    def uses_times(self) -> bool:
        """Whether the search reads when each memory was created (context gaps, time hints)."""
        return self.uses_context or bool(self.temporal_boost)

    @property
    def uses_lifetimes(self) -> bool:
        return bool(self.recency_weight or self.reinforcement_weight)

    @property
    def uses_speakers(self) -> bool:
        return self.speaker_key is not None and bool(self.speaker_boost or self.strip_speakers)

    @classmethod
    def preset(cls, name: str) -> SearchConfig:
        try:
            return PRESETS[name]
        except KeyError:
            raise ConfigError(f"unknown search preset {name!r}; choose one of {', '.join(sorted(PRESETS))}") from None

    @classmethod
    def coerce(cls, value: Any) -> SearchConfig:
        """A SearchConfig from an instance, a preset name, or a mapping of fields."""
        if value is None:
            return PRESETS["default"]
        if isinstance(value, SearchConfig):
            return value
        if isinstance(value, str):
            return cls.preset(value)
        if isinstance(value, dict):
            base = value.get("preset")
            fields = {k: v for k, v in value.items() if k != "preset"}
            try:
                return cls.preset(base).model_copy(update=cls(**fields).model_dump(exclude_unset=True)) if base else cls(**fields)
            except ValueError as exc:
                raise ConfigError(f"invalid search config: {exc}") from exc
        raise ConfigError(f"search config must be a SearchConfig, a preset name or a dict, got {type(value).__name__}")


PRESETS: dict[str, SearchConfig] = {
    # Pure dense vector search: the baseline.
    "vector": SearchConfig(dense_weight=1.0, lexical_weight=0.0, graph_weight=0.0),
    # Dense + lexical + graph, fused by reciprocal rank.
    "hybrid": SearchConfig(dense_weight=1.0, lexical_weight=1.0, graph_weight=0.5),
    # The best general setting (see benchmarks/locomo.py and BENCHMARKS.md): weighted dense + lexical (+ graph)
    # fusion, conversational context, speaker awareness through the memories' speaker column (a message's
    # name or role; a "speaker" metadata key overrides), a length prior, the time span a query names.
    "default": SearchConfig(
        dense_weight=1.0, lexical_weight=1.4, graph_weight=0.5, fusion="weighted",
        context_inherit=0.8, context_prev_weight=0.1, context_next_weight=0.1,
        speaker_key="speaker", speaker_boost=0.5, strip_speakers=True, length_prior=0.3, temporal_boost=1.0,
    ),
}
# `default` plus decay and reinforcement (search/decay.py): for stores where what was said or recalled lately
# matters more (add-only stores, drifting preferences). A week's half-life lifts the latest of competing values
# while an old fact that nothing newer contradicts keeps its place; on LOCOMO it costs recall, so it is not the
# default (BENCHMARKS.md, "Memory lifetimes").
PRESETS["lifetimes"] = PRESETS["default"].model_copy(update={
    "recency_weight": 0.3, "recency_half_life": 7 * 86_400.0, "reinforcement_weight": 0.1,
})
# `default`, then its 50 best read again by the memory's reranker (which must be configured): with "late" on
# LOCOMO, R@10 82.1 -> 83.4, multi-hop 53.7 -> 56.3, at 24-29 ms p50 a search once the scope's texts are cached
# (0.7 s for 50 texts never seen; BENCHMARKS.md, stop 32).
PRESETS["rerank"] = PRESETS["default"].model_copy(update={"rerank_weight": 0.3, "rerank_pool": 50})
