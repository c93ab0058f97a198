"""Configuration: one pydantic model; unknown keys are an error that names the key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .compat import mem0
from .errors import ConfigError
from .retention import RetentionConfig

IN_MEMORY = ":memory:"


def default_home() -> str:
    return os.environ.get("MEMLAYER_HOME") or os.path.join(os.path.expanduser("~"), ".memlayer")


class MemoryConfig(BaseModel):
    """Everything ``Memory``/``AsyncMemory`` can be configured with.

    Provider fields (``embedder``, ``llm``, ``extractor``, ``graph``, ``vector_index``, ``reranker``) take an
    object, a registered name, or ``{"provider": name, "config": {...}}``.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    path: str | None = Field(None, description="store directory; ':memory:' keeps everything in RAM")
    store: Any = Field(None, description="the system of record: default SQLite in `path`; a registered store "
                                         "name or URL, or a Store object")
    embedder: Any = Field(None, description="default: sentence-transformers (local extra), else openai")
    llm: Any = Field(None, description="default: openai when OPENAI_API_KEY/OPENAI_BASE_URL is set, else none")
    extractor: Any = Field(None, description="default: 'llm' with an LLM, else the offline 'pattern' extractor")
    reranker: Any = Field(None, description="what searches with a rerank_weight use: 'late' (the embedder's "
                                            "model, token by token) or 'cross-encoder'; default none")
    graph: Any = Field(True, description="True (default store), False, a store name, a spec or an object")
    vector_index: Any = Field("faiss", description="vector index provider")
    search: Any = Field("default", description="a SearchConfig, a preset name or a dict")
    related_memories: int = Field(10, ge=1, le=100, description="existing memories shown to the extractor")
    snapshot_min: int = Field(10_000, ge=1, description="log entries before the vector index is re-snapshotted")
    retention: RetentionConfig = Field(default_factory=RetentionConfig,
                                       description="memory lifetimes: default TTL, budgets, grace period, sweeps")
    clock: Any = Field(None, description="where 'now' comes from: None (the system clock), an object with "
                                         "now() (e.g. memlayer.clock.ManualClock) or a callable")

    @field_validator("path", mode="before")
    @classmethod
    def _fspath(cls, value: Any) -> Any:
        return os.fsdecode(value) if isinstance(value, (os.PathLike, bytes)) else value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is None or value == IN_MEMORY:
            return value
        if "\x00" in str(value):
            raise ValueError("path contains a NUL byte")
        return str(value)

    def resolved_path(self) -> str:
        """The absolute store directory (created if needed), or ':memory:'."""
        raw = self.path or default_home()
        if raw == IN_MEMORY:
            return raw
        try:
            path = Path(raw).expanduser().resolve()
            if path.exists() and not path.is_dir():
                raise ConfigError(f"path {str(path)!r} exists and is not a directory; give a directory for the store")
            path.mkdir(parents=True, exist_ok=True)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            raise ConfigError(f"cannot use {raw!r} as the store directory: {exc}") from None
        return str(path)


def load_config(config: MemoryConfig | dict[str, Any] | None = None, **overrides: Any) -> MemoryConfig:
    """Validate a config mapping; the error names each bad key and why. A mem0 ``Memory.from_config``
    mapping is read as memlayer's (``memlayer.compat.mem0``)."""
    if isinstance(config, MemoryConfig):
        data = config.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
    else:
        data = dict(config or {})
        if mem0.looks_like_mem0(data):
            data = mem0.from_mem0_config(data)
        data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return MemoryConfig(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid memlayer config: {problems}") from None
