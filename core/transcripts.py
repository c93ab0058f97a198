"""Transcripts: memories kept word for word to replay a conversation, not recalled as knowledge.

A chat history (LangChain's ``MemlayerChatMessageHistory``, or any caller) stores each message as a
verbatim memory whose metadata has ``TRANSCRIPT_KEY: True``. Such a memory is still a memory — ``get``,
``get_all``, ``history``, ``delete`` and forgetting a scope treat it like any other — but ``search``
leaves it out, so a user-wide search recalls what the user said once, as knowledge, not every message of
every session again. A search whose filters name ``TRANSCRIPT_KEY`` decides for itself
(``{TRANSCRIPT_KEY: True}`` searches only the transcripts).

Stores keep the mark as a column that their scope indexes cover (written from the metadata whenever the
metadata is written), so leaving transcripts out costs a search nothing it would not read anyway, and a
transcript another process just wrote is left out at once.
"""

from __future__ import annotations

from dataclasses import replace

from .filters import And, Cond, Filter, Not, Or
from .storage.base import TRANSCRIPT_KEY, Selection, is_transcript

__all__ = ["TRANSCRIPT_KEY", "for_search", "is_transcript"]


def for_search(selection: Selection) -> Selection:
    """The selection of a search: transcripts left out, unless the caller's filters name the key or the
    selection already says."""
    if selection.transcripts is not None or (selection.filters is not None and _names_key(selection.filters)):
        return selection
    return replace(selection, transcripts=False)


def _names_key(node: Filter) -> bool:
    if isinstance(node, Cond):
        return node.kind == "meta" and node.key == TRANSCRIPT_KEY
    if isinstance(node, Not):
        return _names_key(node.item)
    if isinstance(node, (And, Or)):
        return any(_names_key(n) for n in node.items)
    return False
