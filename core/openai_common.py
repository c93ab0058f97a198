"""Helpers shared by the OpenAI LLM and embedder providers (error text, backoff)."""

from __future__ import annotations

import random
from typing import Any


def describe_status(exc: Any) -> str:
    """'HTTP <code>: <the server's own message>' for an ``openai.APIStatusError``."""
    body = exc.body
    detail = exc.message
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            detail = str(inner["message"])
        elif isinstance(inner, str):
            detail = inner
    return f"HTTP {exc.status_code}: {detail}"


def backoff_delay(retry: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Capped exponential backoff with jitter; a server's Retry-After wins when it is longer."""
    delay = min(cap, base * (2**retry)) * (0.5 + random.random() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def where(client: Any, base_url: str | None) -> str:
    return str(getattr(client, "base_url", None) or base_url or "the OpenAI API")
