"""A tolerant JSON reader for LLM answers.

Models wrap JSON in ``` fences, surround it with prose, add ``<think>`` blocks, leave trailing commas,
use single quotes or Python literals, forget commas between items, or put raw newlines in strings.
``loads_tolerant`` recovers the JSON value from such text; ``parse_model`` also validates it into a
pydantic model. Both raise ``JSONParseError`` (a ``ValueError``) saying what was wrong.

Repairs beyond trailing commas are json-repair's (PyPI ``json-repair``), with two limits of our own so
that a repaired answer never says what the model did not: only a complete value is repaired (an
answer cut off mid-object is refused, so the model is asked again rather than its last fact silently
completed), and a repair json-repair had to guess at (bare words turned into strings, stray quotes or
brackets dropped) is refused; removing comments and reading Python's None as null are kept.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

__all__ = ["JSONParseError", "fenced_blocks", "find_object", "loads_tolerant", "parse_model", "strip_trailing_commas"]

M = TypeVar("M", bound=BaseModel)

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n?(.*?)```", re.DOTALL)
# json-repair's notes for repairs that change nothing the model meant; any other note means a guess.
_LOSSLESS_REPAIRS = ("Found line comment", "Found block comment", "Converted unquoted Python")


class JSONParseError(ValueError):
    """The text holds no usable JSON value; the message says why."""


def fenced_blocks(text: str) -> list[str]:
    """The non-empty bodies of the ``` code fences in ``text`` (the one fence stripper)."""
    return [body.strip() for _, body in _FENCE.findall(text) if body.strip()]


def strip_trailing_commas(text: str) -> str:
    """Remove commas that directly precede ``}`` or ``]`` (outside strings), keeping all else as is."""
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


def _objects(text: str) -> tuple[list[str], bool]:
    """The top-level ``{...}`` groups of ``text`` in one linear pass, and whether one never closes.

    Outside a group the text is prose (its quotes mean nothing); inside, strings and escapes are
    followed so that brackets in strings do not count.
    """
    groups: list[str] = []
    depth, start = 0, -1
    in_str = escaped = False
    for i, ch in enumerate(text):
        if depth == 0:
            if ch == "{":
                depth, start = 1, i
            continue
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
                groups.append(text[start : i + 1])
    return groups, depth > 0


def _strict(text: str) -> Any:
    try:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return json.loads(strip_trailing_commas(text))
    except RecursionError:
        raise JSONParseError("the JSON is nested too deeply to read") from None


def _repaired(group: str) -> Any:
    """A complete value as json-repair reads it; JSONDecodeError when it had to guess."""
    try:
        return _strict(group)
    except json.JSONDecodeError as exc:
        error = exc
    try:
        value, notes = json_repair.repair_json(group, return_objects=True, logging=True)
    except (ValueError, RecursionError):
        raise error from None
    guesses = [n for n in notes if not str(n.get("text", "")).startswith(_LOSSLESS_REPAIRS)]
    if guesses or value in ("", None):
        raise error
    return value


def find_object(text: str) -> dict[str, Any] | None:
    """The first complete ``{...}`` in ``text`` that reads (or is repaired) as a JSON object, or None."""
    for group in _objects(text)[0]:
        try:
            value = _repaired(group)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def loads_tolerant(text: str) -> Any:
    """Parse the JSON value in an LLM answer: plain, fenced, inside prose, or with the flaws above."""
    cleaned = _THINK.sub("", text or "").strip().lstrip("\ufeff")
    if not cleaned:
        raise JSONParseError("the answer is empty")
    candidates = [cleaned, *fenced_blocks(cleaned)]
    for candidate in candidates:
        try:
            return _strict(candidate)
        except json.JSONDecodeError:
            continue
    for candidate in candidates:
        found = find_object(candidate)
        if found is not None:
            return found
    if "{" not in cleaned:
        raise JSONParseError(f"the answer contains no JSON object: {_preview(cleaned)}")
    if _objects(cleaned)[1]:
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
