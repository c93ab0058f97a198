"""Request bodies are plain JSON: what Python's ``json`` module accepts beyond that is refused with a 422.

Python's decoder takes ``NaN``/``Infinity``, numbers like ``1e999`` (infinite), integers of any size,
lone UTF-16 surrogates (``"\\ud800"``) and nesting deep enough to exhaust the stack. None of those can be
stored or answered as JSON, so every body passes through :func:`loads` (installed on every route by
:class:`StrictJSONRoute`) and such values become a clear 422 instead of a failure later on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

MAX_DEPTH = 64
INT_RANGE = (-(2**63), 2**63 - 1)


def _bad(message: str, doc: str = "", pos: int = 0) -> json.JSONDecodeError:
    return json.JSONDecodeError(message, doc, pos)


def _constant(name: str) -> Any:
    raise _bad(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _bad(f"the number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    value = int(text)
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise _bad(f"the integer {text[:40]}{'…' if len(text) > 40 else ''} is out of the 64-bit range")
    return value


def _check(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise _bad(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad("a string holds a lone UTF-16 surrogate (not valid Unicode)") from None


def loads(data: bytes | str) -> Any:
    """Decode a request body, refusing what is not plain, storable JSON (a JSONDecodeError)."""
    try:
        value = json.loads(data, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise _bad(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except UnicodeDecodeError as exc:
        raise _bad(f"the body is not UTF-8 ({exc.reason})") from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise _bad(str(exc)) from None  # e.g. an integer with more digits than Python converts
    _check(value)
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An APIRoute whose request bodies are decoded by :func:`loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
