"""A tolerant JSON reader for LLM answers.

Models wrap JSON in ``` fences, surround it with prose, add ``<think>`` blocks or leave trailing
commas. ``loads_tolerant`` recovers the JSON value from such text; ``parse_model`` also validates it
into a pydantic model. Both raise ``JSONParseError`` (a ``ValueError``) saying what was wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["JSONParseError", "find_object", "loads_tolerant", "parse_model", "strip_trailing_commas"]

M = TypeVar("M", bound=BaseModel)

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n?(.*?)```", re.DOTALL)


class JSONParseError(ValueError):
    """The text holds no usable JSON value; the message says why."""


def strip_trailing_commas(text: str) -> str:
    """Remove commas that directly precede ``}`` or ``]`` (outside strings)."""
    out: list[str] = []
    in_str = escaped = False
    pending: list[str] = []  # a comma and the whitespace after it, not yet known to be trailing
    for ch in text:
        if in_str:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
            continue
        if pending:
            if ch.isspace():
                pending.append(ch)
                continue
            if ch in "}]":
                out.extend(pending[1:])  # drop the comma, keep the whitespace
            else:
                out.extend(pending)
            pending = []
        if ch == ",":
            pending = [ch]
            continue
        out.append(ch)
        if ch == '"':
            in_str = True
    out.extend(pending)
    return "".join(out)


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the bracket group opening at ``start``, or None if it never closes."""
    depth = 0
    in_str = escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(strip_trailing_commas(text))


def find_object(text: str) -> dict[str, Any] | None:
    """The first balanced ``{...}`` in ``text`` that parses as a JSON object, or None."""
    start = text.find("{")
    while start != -1:
        end = _balanced_end(text, start)
        if end is not None:
            try:
                value = _loads(text[start:end])
            except json.JSONDecodeError:
                pass
            else:
                if isinstance(value, dict):
                    return value
        start = text.find("{", start + 1)
    return None


def loads_tolerant(text: str) -> Any:
    """Parse the JSON value in an LLM answer: plain, fenced, inside prose, or with trailing commas."""
    cleaned = _THINK.sub("", text or "").strip().lstrip("\ufeff")
    if not cleaned:
        raise JSONParseError("the answer is empty")
    candidates = [cleaned]
    candidates += [body.strip() for _, body in _FENCE.findall(cleaned) if body.strip()]
    for candidate in candidates:
        try:
            return _loads(candidate)
        except json.JSONDecodeError:
            continue
    for candidate in candidates:
        found = find_object(candidate)
        if found is not None:
            return found
    brace = cleaned.find("{")
    if brace == -1:
        raise JSONParseError(f"the answer contains no JSON object: {_preview(cleaned)}")
    if _balanced_end(cleaned, brace) is None:
        raise JSONParseError(f"the JSON object is never closed (answer cut off?): {_preview(cleaned)}")
    raise JSONParseError(f"the answer is not valid JSON: {_preview(cleaned)}")


def parse_model(text: str, model: type[M]) -> M:
    """Parse ``text`` tolerantly and validate it into ``model``."""
    value = loads_tolerant(text)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise JSONParseError(f"the JSON does not match {model.__name__}: {problems}") from exc


def _preview(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")
