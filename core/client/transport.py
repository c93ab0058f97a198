"""HTTP to a memlayer server: JSON in and out, bounded retries, and the server's errors as memlayer's.

Retries: a 429 or 503 answer (the server is busy, rate-limits this key, timed out, or a provider is
down) and a connection that could not be opened are retried up to ``retries`` times, waiting the
server's ``Retry-After`` when it sends one, else ``backoff * 2**attempt`` seconds (with jitter), at
most :data:`MAX_WAIT_S`. Nothing else is retried (a write that may have reached the server is not
sent twice). Error answers become the ``MemlayerError`` subclass the server's code names.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
import weakref
from typing import Any

import httpx

from ..errors import (
    AuthError,
    ConfigError,
    ConflictError,
    FilterError,
    LLMError,
    MemlayerError,
    NotFoundError,
    ProviderError,
    QueryError,
    ScopeError,
    ServerError,
    StoreError,
)

MAX_WAIT_S = 30.0
RETRY_STATUSES = (429, 503)
ERRORS_BY_CODE: dict[str, type[MemlayerError]] = {
    "not_found": NotFoundError, "unauthorized": AuthError, "forbidden": AuthError, "invalid_scope": ScopeError,
    "invalid_filter": FilterError, "invalid_query": QueryError, "invalid_argument": ConfigError,
    "invalid_request": ConfigError, "payload_too_large": ConfigError, "graph_disabled": ConfigError,
    "bad_request": MemlayerError, "llm_unavailable": LLMError, "provider_unavailable": ProviderError,
    "store_unavailable": StoreError, "conflict": ConflictError,
}


def error_for(response: httpx.Response) -> MemlayerError:
    """The memlayer error for an error answer (the server's code and message when it sent its JSON shape)."""
    try:
        detail = response.json()["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "", response.text[:500] or response.reason_phrase
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        cls = AuthError if response.status_code in (401, 403) else (
            ServerError if response.status_code >= 500 or response.status_code == 429 else MemlayerError)
    if cls is ServerError or response.status_code in RETRY_STATUSES:
        message = f"the memlayer server at {response.request.url.host} answered {response.status_code}: {message}"
    return cls(message)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(parsed.timestamp() - time.time(), 0.0)


class Transport:
    """One server: its URL, key and retry policy, with one pooled ``httpx.AsyncClient`` per event loop (a
    pooled connection belongs to the loop that opened it)."""

    def __init__(self, url: str, api_key: str | None, *, timeout: float, retries: int, backoff: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"the server url must start with http:// or https://, got {url!r}")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ConfigError("retries and backoff must be >= 0 and timeout > 0")
        self.url, self.timeout, self.retries, self.backoff = url.rstrip("/"), timeout, retries, backoff
        self._headers = {"Accept": "application/json", "User-Agent": "memlayer-client"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._transport = transport
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=self.timeout,
                                       transport=self._transport)
            self._clients[loop] = client
        return client

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, raw: bool = False) -> Any:
        """Send one call; its decoded JSON (``raw``: its text). Errors raise the matching MemlayerError."""
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        content = None if body is None else json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        headers = {"Content-Type": "application/json"} if content is not None else None
        attempt = 0
        while True:
            try:
                response = await self._client().request(method, path, params=query, content=content, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= self.retries:
                    raise ServerError(f"cannot reach the memlayer server at {self.url}: {exc}") from exc
                await asyncio.sleep(self._wait(attempt, None))
                attempt += 1
                continue
            except httpx.HTTPError as exc:
                raise ServerError(f"the call to the memlayer server at {self.url} failed: {exc!r}") from exc
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                await asyncio.sleep(self._wait(attempt, retry_after(response)))
                attempt += 1
                continue
            if response.status_code >= 400:
                raise error_for(response)
            return response.text if raw else response.json()

    def _wait(self, attempt: int, suggested: float | None) -> float:
        if suggested is not None:
            return min(suggested, MAX_WAIT_S)
        return min(self.backoff * (2 ** attempt) * (0.5 + random.random()), MAX_WAIT_S)

    async def aclose(self) -> None:
        """Close this loop's connections (the others' close with their loops)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    return value
