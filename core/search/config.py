"""Search settings as data: a ``SearchConfig`` and its named presets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError


class SearchConfig(BaseModel):
    """How ``search()`` finds and ranks memories.

    Each retriever (dense vectors, lexical BM25 over SQLite FTS5, the knowledge graph) proposes up to
    ``candidates`` memories of the scope; their ranked lists are fused (reciprocal-rank fusion by
    default) with the given weights. A weight of 0 turns a retriever off.
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
}
PRESETS["default"] = PRESETS["hybrid"]
