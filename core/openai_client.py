"""The ``openai`` client under memlayer's OpenAI transport: which client (OpenAI, Azure OpenAI, an
OpenAI-compatible ``base_url``) with which key, and, for the sync client, a deadline checked between the
chunks of a reply body (``current_deadline``, set by the transport for the duration of a call)."""

from __future__ import annotations

import contextvars
import math
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .errors import ProviderError

try:
    import openai
except ImportError as exc:  # pragma: no cover - openai is a core dependency
    raise ImportError('memlayer\'s OpenAI providers need the openai package: pip install "openai>=1.40"') from exc

CONNECT_TIMEOUT = 10.0  # seconds: a host that does not accept the connection is not waited for longer
LOCAL_KEY = "not-needed"  # sent to OpenAI-compatible servers that need no key
# The OpenAI-compatible endpoints local servers usually have (the llm= and embedder= aliases of these names)
LOCAL_ENDPOINTS: dict[str, str] = {
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
    "lmstudio": "http://localhost:1234/v1",
}
AZURE_API_VERSION = "2024-10-21"  # the Azure OpenAI API version when none is given (nor OPENAI_API_VERSION)


def ollama_endpoint(host: str | None = None) -> str:
    """Ollama's OpenAI-compatible base URL for ``host`` as Ollama reads ``OLLAMA_HOST`` ("127.0.0.1",
    "host:port" or a URL; without a scheme the port defaults to 11434), else ``OLLAMA_HOST``, else the
    default ``http://localhost:11434/v1``."""
    text = (host or os.environ.get("OLLAMA_HOST") or "").strip()
    if not text:
        return LOCAL_ENDPOINTS["ollama"]
    explicit = "://" in text  # with a scheme, no port means the scheme's own (as Ollama reads it)
    parts = urlsplit(text if explicit else f"http://{text}")
    name = parts.hostname or "localhost"
    netloc = parts.netloc if parts.port or explicit else f"{f'[{name}]' if ':' in name else name}:11434"
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{netloc}{path if path.endswith('/v1') else path + '/v1'}"


class Deadline:
    """Seconds left of a total budget (``None``: unbounded)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = math.inf if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()


class DeadlinePassed(Exception):
    """Raised from inside a reply's body when the call's deadline passes (sync path)."""


current_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "memlayer_openai_deadline", default=None
)


def client_for(
    error: type[ProviderError], asynchronous: bool, *, client: Any, api_key: str | None, base_url: str | None,
    azure_endpoint: str | None, api_version: str | None, timeout: float,
) -> Any:
    """The ``openai`` client to use: an injected one (its own retries turned off), Azure OpenAI when an
    endpoint or api_version is given, else OpenAI / an OpenAI-compatible ``base_url``."""
    if client is not None:
        with_options = getattr(client, "with_options", None)
        return with_options(max_retries=0) if callable(with_options) else client
    http: dict[str, Any] = {} if asynchronous else {"http_client": openai.DefaultHttpxClient(
        event_hooks={"response": [_guard_body]})}
    try:
        if azure_endpoint or api_version:
            endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
            if not endpoint:
                raise error(
                    "Azure OpenAI needs azure_endpoint=... (or AZURE_OPENAI_ENDPOINT), e.g. "
                    "https://<resource>.openai.azure.com"
                )
            azure = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
            return azure(
                azure_endpoint=endpoint, api_version=api_version,
                api_key=api_key or os.environ.get("AZURE_OPENAI_API_KEY"), timeout=timeout, max_retries=0, **http,
            )
        key = api_key or os.environ.get("OPENAI_API_KEY") or (LOCAL_KEY if base_url else None)
        if not key:
            raise error(
                "no OpenAI API key: pass api_key=... or set OPENAI_API_KEY; for a local "
                "OpenAI-compatible server pass base_url=... (no key needed)"
            )
        plain = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        return plain(api_key=key, base_url=base_url, timeout=timeout, max_retries=0, **http)
    except openai.OpenAIError as exc:
        raise error(f"could not create the OpenAI client: {exc}") from exc


# -- the sync path's deadline inside a reply body ---------------------------------------------------
_GUARDS: dict[type, type] = {}


def _guard_body(response: Any) -> None:
    """httpx response hook: while a call with a deadline is running, check it between body chunks."""
    deadline = current_deadline.get()
    if deadline is None or math.isinf(deadline.remaining()):
        return
    response.stream = _guard_class(type(response.stream))(response.stream, deadline)


def _guard_class(stream_type: type) -> type:
    """A subclass of the HTTP library's own SyncByteStream (httpx or its fork) that checks a deadline."""
    guard = _GUARDS.get(stream_type)
    if guard is not None:
        return guard
    base = next((c for c in stream_type.__mro__ if c.__name__ == "SyncByteStream"), object)

    class DeadlineStream(base):  # type: ignore[valid-type,misc]
        def __init__(self, inner: Any, deadline: Deadline) -> None:
            self._inner = inner
            self._deadline = deadline

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                if self._deadline.remaining() <= 0:
                    raise DeadlinePassed(f"no complete reply before the {self._deadline.seconds:g}s deadline")
                yield chunk

        def close(self) -> None:
            self._inner.close()

    _GUARDS[stream_type] = DeadlineStream
    return DeadlineStream
