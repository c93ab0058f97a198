"""Normalising what callers pass to ``add()`` into Message objects."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from .errors import MemlayerError, MetadataError
from .filters import SCOPE_FIELDS, TIME_FIELDS, validate_metadata
from .types import Message, Scope

MAX_MESSAGE_CHARS = 2_000_000
MAX_QUERY_CHARS = 100_000  # a search query (a long one costs seconds in the lexical step and the embedder)
MAX_SEARCH_LIMIT = 10_000
MAX_TOKENS = 10**9
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text as stored: NUL bytes dropped, lone surrogates (not encodable as UTF-8) replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text)


def limit_arg(name: str, value: Any, maximum: int) -> int:
    """A count argument: a non-negative integer (an integral float is accepted) of at most ``maximum``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise MemlayerError(f"{name} must be a non-negative integer, got {value!r}")
    if int(value) > maximum:
        raise MemlayerError(f"{name} may be at most {maximum:,}, got {value:,}")
    return int(value)


def search_args(limit: Any, threshold: Any, max_tokens: Any) -> tuple[int, float | None, int | None]:
    """Check search()'s numeric arguments; a wrong type or value is a MemlayerError, not a TypeError."""
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
                                  or math.isnan(float(threshold))):
        raise MemlayerError(f"threshold must be a number or None, got {threshold!r}")
    return (limit_arg("limit", limit, MAX_SEARCH_LIMIT), None if threshold is None else float(threshold),
            None if max_tokens is None else limit_arg("max_tokens", max_tokens, MAX_TOKENS))


def check_query(query: Any) -> str:
    if not isinstance(query, str):
        raise MemlayerError(f"query must be a string, got {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise MemlayerError(
            f"the query is {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}. Search with a shorter "
            "question (its key words), not a whole document."
        )
    return query


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI-style content parts: keep the text ones
        texts = [p.get("text", "") for p in value if isinstance(p, Mapping) and p.get("type") in (None, "text")]
        return "\n".join(t for t in texts if isinstance(t, str))
    if value is None:
        return ""
    raise MemlayerError(f"message content must be a string or a list of text parts, got {type(value).__name__}")


def normalize_messages(messages: Any) -> list[Message]:
    """A string, a ``{"role", "content"}`` mapping, a Message, or a list of them → non-empty Messages."""
    if isinstance(messages, (str, Mapping, Message)):
        messages = [messages]
    if not isinstance(messages, (list, tuple)):
        raise MemlayerError(
            f"messages must be a string, a {{'role', 'content'}} dict, or a list of them; got {type(messages).__name__}"
        )
    out: list[Message] = []
    for i, m in enumerate(messages):
        if isinstance(m, Message):
            msg = m
        elif isinstance(m, str):
            msg = Message("user", m)
        elif isinstance(m, Mapping):
            if "content" not in m:
                raise MemlayerError(f"message {i} has no 'content' key: {dict(m)!r}")
            role = m.get("role") or "user"
            if not isinstance(role, str):
                raise MemlayerError(f"message {i} has a non-string role {role!r}")
            name = m.get("name")
            meta = m.get("metadata")
            if meta is not None and not isinstance(meta, Mapping):
                raise MemlayerError(f"message {i} has non-mapping metadata {meta!r}")
            msg = Message(role, _content(m["content"]), name if isinstance(name, str) else None,
                          dict(meta) if meta else None)
        else:
            raise MemlayerError(f"message {i} must be a string or a {{'role', 'content'}} dict, got {type(m).__name__}")
        content, name = clean_text(msg.content), None if msg.name is None else clean_text(msg.name)
        role = clean_text(msg.role) or "user"
        if content != msg.content or name != msg.name or role != msg.role:
            msg = Message(role, content, name, msg.metadata)
        if len(msg.content) > MAX_MESSAGE_CHARS:
            raise MemlayerError(
                f"message {i} is {len(msg.content):,} characters; the limit is {MAX_MESSAGE_CHARS:,}. Split it first."
            )
        if msg.content.strip():
            out.append(msg)
    return out


def make_scope(user_id: Any = None, agent_id: Any = None, run_id: Any = None, *, required: bool = True) -> Scope:
    """Validate scope ids (non-empty strings); with ``required``, at least one must be given."""
    from .errors import ScopeError

    values: dict[str, str | None] = {}
    for name, value in (("user_id", user_id), ("agent_id", agent_id), ("run_id", run_id)):
        if value is None:
            values[name] = None
            continue
        if not isinstance(value, str) or not value.strip() or "\x00" in value or _SURROGATE.search(value):
            raise ScopeError(f"{name} must be a non-empty string (no NUL, valid Unicode), got {value!r}")
        values[name] = value
    scope = Scope(**values)
    if required and scope.is_empty():
        raise ScopeError(
            "this operation needs a scope: pass at least one of user_id=..., agent_id=... or run_id=... "
            "(memories are always stored and searched per user, agent or run)"
        )
    return scope


def check_metadata(metadata: Any) -> dict[str, Any]:
    """Metadata as stored (a copy): JSON-serialisable, string keys, none of the keys filters read as the
    memory's own columns (such a key could never be filtered on as metadata)."""
    meta = validate_metadata(metadata)
    for fields, reason in (
        (SCOPE_FIELDS, "scope is given by the user_id/agent_id/run_id arguments"),
        (TIME_FIELDS, "filters read {it} as the memory's own time column, so {it} could never be filtered on as "
                      "metadata; rename {it} (e.g. 'source_created_at'), or give the time as timestamp=/expires_at="),
    ):
        clash = [k for k in fields if k in meta]
        if clash:
            reason = reason.format(it="it" if len(clash) == 1 else "them")
            raise MetadataError(f"metadata may not use the reserved key(s) {clash}: {reason}")
    return meta
