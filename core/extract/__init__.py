"""Extractors turn a conversation into fact decisions (ADD/UPDATE/DELETE/NONE) and relations."""

from typing import Any

from .base import ExtractContext, Extractor, RelatedLookup

__all__ = ["ExtractContext", "Extractor", "LLMExtractor", "PatternExtractor", "RelatedLookup"]


def __getattr__(name: str) -> Any:  # lazy: the extractors compile their patterns on first use
    if name == "LLMExtractor":
        from .llm import LLMExtractor

        return LLMExtractor
    if name == "PatternExtractor":
        from .patterns import PatternExtractor

        return PatternExtractor
    raise AttributeError(f"module 'memlayer.extract' has no attribute {name!r}")
