"""Limits every request meets: body size, operation time, concurrency, rate per key, allowed Host names.

* :class:`BodyLimit` (ASGI middleware) answers 413 before reading a body larger than the limit.
* :class:`Gate` runs core operations: at most ``max_inflight`` at once, ``max_waiting`` queued (more get
  503 ``overloaded``), each answered within ``request_timeout_s`` (else 503 ``timeout``). An operation is
  never cut off half-way: it keeps running to its end (a write commits or rolls back whole), and
  :meth:`Gate.drain` waits for all of them at shutdown.
* :class:`RateLimiter`: a token bucket per key (429 with Retry-After).
* :class:`HostCheck` (ASGI middleware): an open server on loopback answers only requests addressed to a
  loopback name, so a web page cannot reach it through DNS rebinding.
* :class:`OriginCheck` (ASGI middleware): a request that may change something (any method but GET, HEAD and
  OPTIONS) sent by a web page of another origin is refused, so a page cannot write to or wipe a server it can
  reach (a browser sends a "simple" cross-site POST without asking first). Programs send no Origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, error_response

T = TypeVar("T")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = too_large = False

        async def limited() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # the app sees the client go away; the answer is ours
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app answers to the cut-off body is replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "payload_too_large",
                                  f"the request body is larger than this server's limit of {self.max_bytes:,} bytes")
        await response(scope, receive, send)


class HostCheck:
    def __init__(self, app: ASGIApp, enabled: Callable[[], Awaitable[bool]]) -> None:
        self.app, self.enabled = app, enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self.enabled():
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in LOOPBACK_NAMES:
                response = error_response(
                    403, "forbidden", "this server runs without API keys and answers only requests addressed to "
                    "localhost/127.0.0.1; create a key (memlayer keys create) to serve other names",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def _netloc(host: str, scheme: str) -> str:
    """``host[:port]`` lower-cased, without the scheme's default port."""
    host = host.strip().lower()
    default = DEFAULT_PORTS.get(scheme)
    return host[: -len(default) - 1] if default and host.endswith(f":{default}") and not host.endswith("]") else host


def foreign_origin(headers: dict[bytes, bytes], scheme: str) -> str | None:
    """The other site a browser says this request comes from, or None (same origin, or not from a web page).
    ``Sec-Fetch-Site`` is the browser's own verdict (it holds behind a proxy that rewrites Host); without it, an
    ``Origin`` whose host and port are not the request's Host is foreign ("null" too: a sandboxed page)."""
    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
    origin = headers.get(b"origin", b"").decode("latin-1").strip()
    if site:
        return None if site in ("same-origin", "none") else (origin or f"a {site} page")
    if not origin:
        return None
    their_scheme, _, rest = origin.partition("://")
    if not rest or _netloc(rest.split("/", 1)[0], their_scheme.lower()) != _netloc(
            headers.get(b"host", b"").decode("latin-1"), scheme):
        return origin
    return None


class OriginCheck:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            origin = foreign_origin(dict(scope["headers"]), scope.get("scheme", "http"))
            if origin is not None:
                response = error_response(
                    403, "forbidden", f"this server does not take {scope['method']} requests from web pages of other "
                    f"sites (this one came from {origin}); call it from a program, from its own pages, or through "
                    "your site's backend",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Gate:
    def __init__(self, max_inflight: int, max_waiting: int, timeout_s: float) -> None:
        self.max_inflight, self.max_waiting, self.timeout_s = max_inflight, max_waiting, timeout_s
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_inflight)
        slots = self._slots
        deadline = loop.time() + self.timeout_s
        if slots.locked() and self._waiting >= self.max_waiting:
            raise ApiError(503, "overloaded", "the server is busy; retry shortly", {"Retry-After": "1"})
        self._waiting += 1
        try:
            await asyncio.wait_for(slots.acquire(), self.timeout_s)
        except asyncio.TimeoutError:
            raise self._timeout() from None
        finally:
            self._waiting -= 1
        task = loop.create_task(self._hold(operation, slots))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(deadline - loop.time(), 0.001))
        except asyncio.TimeoutError:
            raise self._timeout() from None

    def _timeout(self) -> ApiError:
        return ApiError(503, "timeout", f"the operation did not finish within {self.timeout_s:g} s; a write keeps "
                        "running and may still complete (retrying an add is safe: duplicates are skipped)",
                        {"Retry-After": "1"})

    @staticmethod
    async def _hold(operation: Callable[[], Awaitable[T]], slots: asyncio.Semaphore) -> T:
        try:
            return await operation()
        finally:
            slots.release()

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an answer already went out (e.g. a timeout) or will carry it

    async def drain(self, timeout_s: float) -> int:
        """Wait for every running operation (at most ``timeout_s``); how many were still running after."""
        pending = set(self._tasks)
        if pending:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout_s)
        return sum(not t.done() for t in pending)


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / self.rate)
            self._buckets[key] = (tokens, now)
            raise ApiError(429, "rate_limited", f"this key may send {self.rate:g} requests per second "
                           f"(bursts of {self.burst}); retry after {wait} s", {"Retry-After": str(wait)})
        self._buckets[key] = (tokens - 1.0, now)
