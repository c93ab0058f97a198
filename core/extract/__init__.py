"""Extractors turn a conversation into fact decisions (ADD/UPDATE/DELETE/NONE) and relations."""

from .base import ExtractContext, Extractor, RelatedLookup

__all__ = ["ExtractContext", "Extractor", "RelatedLookup"]
