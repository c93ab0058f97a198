"""Query rewriting without an LLM."""

from __future__ import annotations

import re
from collections.abc import Iterable


def strip_names(query: str, names: Iterable[str]) -> str:
    """The query without the given names (and their possessive ``'s``); the query itself when nothing
    would be left."""
    out = query
    for name in sorted(names, key=len, reverse=True):
        out = re.sub(r"(?<!\w)" + re.escape(name) + r"(?:['’]s)?(?!\w)", " ", out, flags=re.IGNORECASE)
    out = " ".join(out.split())
    return out if re.search(r"\w", out) else query
