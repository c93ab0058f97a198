"""The one OpenAI transport under the OpenAI LLM (async) and the OpenAI embedder (sync).

It owns what both need from the ``openai`` client:

- **client setup** (in ``openai_client``): OpenAI, Azure OpenAI, any OpenAI-compatible ``base_url``, and
  the api key rules (``api_key=``, else ``OPENAI_API_KEY``/``AZURE_OPENAI_API_KEY``; a local ``base_url``
  needs none);
- **error mapping**: every failure becomes either a retryable problem or the provider's own
  ``ProviderError`` subclass, with a message that says what to do;
- **one retry policy** (tenacity): 408/409/429/5xx, timeouts, connection errors and unusable replies
  are retried ``max_retries`` times with capped exponential backoff and jitter, and a server's
  ``Retry-After`` (seconds, ``retry-after-ms`` or an HTTP date) is honoured;
- **a total deadline per call**: connecting, every read, every retry and every backoff fit in
  ``deadline`` seconds (default 60). ``timeout`` (default 30) bounds one attempt's connect and each
  read. The async path cancels an attempt when the deadline passes, so a server trickling one byte
  at a time cannot hold a call; the sync path caps each attempt's timeouts by the time left and checks
  the deadline between the chunks of a reply.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import inspect
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
import tenacity

from .errors import MemlayerError, ProviderError
from .openai_client import CONNECT_TIMEOUT, Deadline, DeadlinePassed, client_for, current_deadline

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0  # seconds: one attempt's connect and each of its reads
DEFAULT_DEADLINE = 60.0  # seconds: a whole call, every attempt, read, retry and backoff included
MAX_BACKOFF = 8.0  # seconds: the longest backoff of our own between two attempts
MAX_RETRY_AFTER = 60.0  # seconds: with deadline=None, a longer Retry-After ends the retries

CHECK_SERVER = "Check base_url and that the server is running."
SLOW_SERVER = "Raise timeout= or check that the server is up and not overloaded."
OVERLOADED = "Check that the server is up and not overloaded."
NOT_OPENAI = "Check that base_url is an OpenAI-compatible endpoint (it usually ends in /v1)."


class Retryable(Exception):
    """One failed attempt that may succeed if tried again (``advice`` says what to do if it never does)."""

    def __init__(self, problem: str, advice: str = "", retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.advice = advice
        self.retry_after = retry_after


class _TooSlow(Retryable):
    """The call's deadline passed during an attempt."""


class BadRequest(Exception):
    """HTTP 400/422: the server refused the request as built. Each provider says what it means."""

    def __init__(self, error: Any) -> None:
        super().__init__(describe_status(error))
        self.error = error


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


def retry_after(headers: Any) -> float | None:
    """Seconds a reply asks to wait: ``retry-after-ms``, ``retry-after`` in seconds or an HTTP date."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except (TypeError, ValueError):
            if name == "retry-after":
                try:
                    when = email.utils.parsedate_to_datetime(str(value))
                except (TypeError, ValueError):
                    return None
                return max(0.0, when.timestamp() - time.time())
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


@dataclass
class _Call:
    """The state of one call through the transport: its deadline and what happened so far."""

    deadline: Deadline
    attempts: int = 0
    asked_to_wait: float | None = None  # a Retry-After that ended the retries
    left: float = math.inf  # seconds of the deadline left when the retries ended
    stopped_by_deadline: bool = False
    problem: Retryable | None = None  # the last failure that was not the deadline itself


_CURRENT: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("memlayer_openai_call", default=None)


class OpenAITransport:
    """Client, error mapping, retries and deadline for one OpenAI provider.

    ``error`` is the provider's error class (``LLMError``, ``ProviderError``); ``action`` names what
    failed in the final message ("no usable answer", "embedding failed"); ``advice`` is appended to
    that message. ``asynchronous`` picks ``AsyncOpenAI`` or ``OpenAI``.
    """

    def __init__(
        self,
        *,
        model: str,
        error: type[ProviderError],
        action: str,
        asynchronous: bool,
        api_key: str | None = None,
        base_url: str | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        client: Any = None,
        max_retries: int = 3,
        backoff: float = 0.5,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float | None = DEFAULT_DEADLINE,
        advice: str = "",
    ) -> None:
        if max_retries < 0 or backoff < 0 or not timeout > 0 or (deadline is not None and not deadline > 0):
            raise error("max_retries and backoff must be >= 0, timeout > 0 and deadline > 0 (or None for none)")
        self.model = model
        self.error = error
        self.action = action
        self.advice = advice
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.timeout = float(timeout)
        self.deadline = None if deadline is None else float(deadline)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.azure = bool(azure_endpoint or api_version)
        self.client = client_for(
            error, asynchronous, client=client, api_key=api_key, base_url=self.base_url,
            azure_endpoint=azure_endpoint, api_version=api_version, timeout=self.timeout,
        )

    def where(self) -> str:
        return str(getattr(self.client, "base_url", None) or self.base_url or "the OpenAI API")

    # -- running a call --------------------------------------------------------------------------
    async def arun(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` under the retry policy and the deadline (async: attempts are cancelled
        when the deadline passes)."""
        call = _Call(Deadline(self.deadline))
        token = _CURRENT.set(call)
        try:
            async for step in tenacity.AsyncRetrying(**self._policy(call)):
                with step:
                    call.attempts += 1
                    return await self._bounded(attempt, call)
        except Retryable as last:
            raise self._exhausted(last, call) from last
        finally:
            _CURRENT.reset(token)
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def run(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` under the retry policy and the deadline (sync)."""
        call = _Call(Deadline(self.deadline))
        token, guard = _CURRENT.set(call), current_deadline.set(call.deadline)
        try:
            for step in tenacity.Retrying(**self._policy(call)):
                with step:
                    call.attempts += 1
                    self._check_time_left(call)
                    return attempt()
        except Retryable as last:
            raise self._exhausted(last, call) from last
        finally:
            current_deadline.reset(guard)
            _CURRENT.reset(token)
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _bounded(self, attempt: Callable[[], Awaitable[T]], call: _Call) -> T:
        left = self._check_time_left(call)
        if math.isinf(left):
            return await attempt()
        try:
            return await asyncio.wait_for(attempt(), timeout=left)
        except asyncio.TimeoutError as exc:
            raise self._too_slow(call) from exc

    def _check_time_left(self, call: _Call) -> float:
        left = call.deadline.remaining()
        if left <= 0:
            raise self._too_slow(call)
        return left

    def _too_slow(self, call: _Call) -> Retryable:
        call.stopped_by_deadline = True
        return _TooSlow(f"no complete reply before the {call.deadline.seconds:g}s deadline", OVERLOADED)

    def _policy(self, call: _Call) -> dict[str, Any]:
        def wait(state: tenacity.RetryCallState) -> float:
            delay = min(MAX_BACKOFF, self.backoff * 2 ** (state.attempt_number - 1)) * (0.5 + random.random() / 2)
            failure = state.outcome.exception() if state.outcome is not None else None
            if isinstance(failure, Retryable) and not isinstance(failure, _TooSlow):
                call.problem = failure
            asked = getattr(failure, "retry_after", None)
            return delay if asked is None else max(delay, float(asked))

        def stop(state: tenacity.RetryCallState) -> bool:
            if call.stopped_by_deadline or state.attempt_number > self.max_retries:
                return True
            sleep, left = state.upcoming_sleep, call.deadline.remaining()
            if sleep >= left or (self.deadline is None and sleep > MAX_RETRY_AFTER):
                failure = state.outcome.exception() if state.outcome is not None else None
                asked = getattr(failure, "retry_after", None)
                call.asked_to_wait = asked if asked is not None and asked >= sleep else None
                call.stopped_by_deadline = call.asked_to_wait is None
                call.left = left
                return True
            return False

        return {
            "stop": stop,
            "wait": wait,
            "retry": tenacity.retry_if_exception_type(Retryable),
            "reraise": True,
        }

    def _exhausted(self, last: Retryable, call: _Call) -> ProviderError:
        if isinstance(last, _TooSlow) and call.problem is not None:
            last = call.problem  # say why the earlier attempts failed; the deadline is in the message
        advice = " ".join(part for part in (last.advice, self.advice) if part)
        if call.asked_to_wait is not None:
            return self.error(
                f"{self.model}: {self.action}: the server asked to wait {call.asked_to_wait:.3g}s before "
                f"retrying, longer than {self._budget(call)} ({call.attempts} attempt(s); last problem: {last}). "
                f"{advice}".rstrip()
            )
        if call.stopped_by_deadline:
            return self.error(
                f"{self.model}: {self.action} within the {call.deadline.seconds:g}s deadline after "
                f"{call.attempts} attempt(s); last problem: {last}. {advice} Raise deadline= (the seconds a "
                "whole call may take, retries included) if the server is just slow."
            )
        return self.error(
            f"{self.model}: {self.action} after {call.attempts} attempts; last problem: {last}. {advice}".rstrip()
        )

    def _budget(self, call: _Call) -> str:
        if self.deadline is None:
            return f"the {MAX_RETRY_AFTER:g}s memlayer waits at most"
        return f"the {max(call.left, 0.0):.3g}s left of the {self.deadline:g}s deadline"

    # -- one request -----------------------------------------------------------------------------
    def request_timeout(self) -> Any:
        """The timeout for the next request: ``timeout``, capped by what is left of the deadline."""
        call = _CURRENT.get()
        seconds = self.timeout
        if call is not None:
            left = call.deadline.remaining()
            if left <= 0:
                raise self._too_slow(call)
            seconds = min(seconds, left)
        return openai.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT))

    async def asend(self, method: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        """Call an async client method with the capped timeout; failures come out mapped."""
        timeout = self.request_timeout()
        try:
            return await method(**kwargs, timeout=timeout)
        except Exception as exc:
            mapped = self.translate(exc, timeout.read)
            if mapped is exc:
                raise
            raise mapped from exc

    def send(self, method: Callable[..., T], **kwargs: Any) -> T:
        """Call a sync client method with the capped timeout; failures come out mapped."""
        timeout = self.request_timeout()
        try:
            return method(**kwargs, timeout=timeout)
        except Exception as exc:
            mapped = self.translate(exc, timeout.read)
            if mapped is exc:
                raise
            raise mapped from exc

    def translate(self, exc: Exception, timeout: float | None = None) -> Exception:
        """An ``openai`` failure as a ``Retryable``, a ``BadRequest`` or the provider's error."""
        call = _CURRENT.get()
        if isinstance(exc, DeadlinePassed):
            return self._too_slow(call) if call is not None else Retryable(str(exc), SLOW_SERVER)
        if isinstance(exc, openai.APITimeoutError):
            seconds = self.timeout if timeout is None else timeout
            if call is not None and seconds < self.timeout:  # the timeout was what was left of the deadline
                return self._too_slow(call)
            return Retryable(f"timed out after {seconds:g}s", SLOW_SERVER)
        if isinstance(exc, openai.APIConnectionError):
            return Retryable(f"could not connect to {self.where()}: {exc}", CHECK_SERVER)
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APIResponseValidationError):
            return Retryable(f"the reply is not what the OpenAI API sends: {exc}", CHECK_SERVER)
        if isinstance(exc, openai.OpenAIError):
            return self.error(f"{self.model}: the OpenAI client failed: {exc}")
        if isinstance(exc, ValueError) and not isinstance(exc, MemlayerError):  # a body that is not JSON
            return Retryable(f"the reply from {self.where()} is not JSON ({exc})", NOT_OPENAI)
        return exc

    def _status_error(self, exc: Any) -> Exception:
        code, detail = exc.status_code, describe_status(exc)
        if code == 429 and exc.code == "insufficient_quota":
            return self.error(f"{self.model}: quota exhausted ({detail}); check the account's billing")
        if code in (408, 409, 429) or code >= 500:
            advice = (
                "The server is rate limiting: lower concurrency or raise max_retries/backoff."
                if code == 429
                else "The server keeps failing: check its health or try again later."
            )
            return Retryable(detail, advice, retry_after(getattr(exc.response, "headers", None)))
        if code in (400, 422):
            return BadRequest(exc)
        if code == 401:
            key = "AZURE_OPENAI_API_KEY" if self.azure else "OPENAI_API_KEY"
            return self.error(f"authentication failed ({detail}); check api_key / {key}")
        if code == 403:
            return self.error(f"permission denied ({detail}); check that the key may use model {self.model!r}")
        if code == 404:
            what = "deployment name" if self.azure else "model name"
            where = "azure_endpoint" if self.azure else "base_url (it usually ends in /v1)"
            return self.error(f"not found ({detail}); check the {what} {self.model!r} and the {where}: {self.where()!r}")
        return self.error(f"{self.model}: request failed ({detail})")

    # -- closing ---------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the HTTP client (async clients)."""
        result = self.client.close()
        if inspect.isawaitable(result):
            await result

    def close(self) -> None:
        """Close the HTTP client (sync clients)."""
        result = self.client.close()
        if inspect.iscoroutine(result):  # an async client closed from sync code: nothing to await on
            result.close()
