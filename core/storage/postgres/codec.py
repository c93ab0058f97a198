"""Metadata as jsonb, faithfully: jsonb (like PostgreSQL's text) cannot hold the NUL character.

Every string in the filterable copy of the metadata (keys and values, at any depth) goes through an
order-preserving, prefix-free code:

    U+0000 -> U+0001 U+0002        U+0001 -> U+0001 U+0003        any other character -> itself

* injective, so equality (``eq``/``ne``/``in``, list membership) compares codes exactly;
* order-preserving under code-point order (the code of each character sorts like the character, and no
  code is a prefix of another), so ``gt``/``lt`` on strings compare as the originals do (with the binary
  "C" collation, as SQLite compares);
* a substring test needs care only where a match could start inside a two-character code: U+0001 never
  appears except as the first half of a code, so a match is aligned unless it starts right after one —
  :func:`substring_pattern` anchors those cases.

Strings without U+0000 and U+0001 (all but adversarial ones) are stored unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SPECIAL = re.compile("[\x00\x01]")
_CODE = re.compile("\x01([\x02\x03])")


def encode(text: str) -> str:
    if _SPECIAL.search(text) is None:
        return text
    return text.replace("\x01", "\x01\x03").replace("\x00", "\x01\x02")


def decode(text: str) -> str:
    if "\x01" not in text:
        return text
    return _CODE.sub(lambda m: "\x00" if m.group(1) == "\x02" else "\x01", text)


def encode_value(value: Any) -> Any:
    """A JSON value with every string (object keys too) encoded."""
    if isinstance(value, str):
        return encode(value)
    if isinstance(value, dict):
        return {encode(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    return value


def decode_value(value: Any) -> Any:
    if isinstance(value, str):
        return decode(value)
    if isinstance(value, dict):
        return {decode(k): decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def filter_json(metadata: dict[str, Any]) -> str:
    """The jsonb text of the filterable copy of ``metadata``."""
    return json.dumps(encode_value(metadata), ensure_ascii=False, allow_nan=False)


def needs_alignment(code: str) -> bool:
    """Whether a plain substring search for the (encoded) ``code`` could match inside a two-character code:
    only when it starts with a code's second character."""
    return code[:1] in ("\x02", "\x03")


def substring_pattern(code: str) -> str:
    """A PostgreSQL regular expression matching ``code`` only where it starts on a character boundary of the
    original string (not right after a U+0001 that opens a two-character code)."""
    return "(^|[^\x01])" + "".join(ch if ch.isalnum() else "\\" + ch for ch in code)
