"""Transcripts: memories kept word for word to replay a conversation, not recalled as knowledge.

A chat history (LangChain's ``MemlayerChatMessageHistory``, or any caller) stores each message as a
verbatim memory whose metadata has ``TRANSCRIPT_KEY: True``. Such a memory is still a memory — ``get``,
``get_all``, ``history``, ``delete`` and forgetting a scope treat it like any other — but ``search``
leaves it out, so a user-wide search recalls what the user said once, as knowledge, not every message of
every session again. A search whose filters name ``TRANSCRIPT_KEY`` decides for itself
(``{TRANSCRIPT_KEY: True}`` searches only the transcripts).

Most stores never hold a transcript, and the exclusion is a metadata condition on every row of the
scope: it is only added once the store has one. The first write of a transcript sets ``FLAG`` in the
store's meta in the same transaction; each engine reads the flag at most once a second until it is set
(a flag once set stays set), so another process's first transcript leaves that process's search results
within a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from .filters import And, Cond, Filter, Not, Or
from .storage.base import Store, Tx

TRANSCRIPT_KEY = "memlayer_transcript"
FLAG = "has_transcripts"
RECHECK = 1.0  # seconds between reads of an unset flag

#: the condition a search adds: the key is missing, or anything but ``true``
NOT_TRANSCRIPT: Filter = Cond(TRANSCRIPT_KEY, "ne", True, "meta")


def is_transcript(metadata: dict[str, Any] | None) -> bool:
    return metadata is not None and metadata.get(TRANSCRIPT_KEY) is True


def note_written(tx: Tx, metadatas: Iterable[dict[str, Any] | None]) -> bool:
    """Inside a write transaction: set the store's flag when any of the written memories is a transcript;
    whether one was (once committed, the writer's engine calls :meth:`TranscriptFlag.seen`)."""
    if not any(is_transcript(m) for m in metadatas):
        return False
    if tx.get_meta(FLAG) is None:
        tx.set_meta(FLAG, "1")
    return True


class TranscriptFlag:
    """Whether a store holds transcripts, as one engine sees it (read at most once a second until set)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._set = False
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def present(self) -> bool:
        if self._set:
            return True
        now = time.monotonic()
        with self._lock:
            if not self._set and now - self._checked >= RECHECK:
                self._set = self._store.get_meta(FLAG) is not None
                self._checked = now
            return self._set

    def seen(self) -> None:
        """This process wrote a transcript: its own next search leaves it out at once."""
        self._set = True


def for_search(filters: Filter | None, flag: TranscriptFlag) -> Filter | None:
    """The filters of a search: the caller's, plus "not a transcript" unless they name the key or the store
    has none."""
    if (filters is not None and _names_key(filters)) or not flag.present():
        return filters
    return NOT_TRANSCRIPT if filters is None else And((filters, NOT_TRANSCRIPT))


def _names_key(node: Filter) -> bool:
    if isinstance(node, Cond):
        return node.kind == "meta" and node.key == TRANSCRIPT_KEY
    if isinstance(node, Not):
        return _names_key(node.item)
    if isinstance(node, (And, Or)):
        return any(_names_key(n) for n in node.items)
    return False
