"""An embedder for OpenAI and OpenAI-compatible ``/v1/embeddings`` servers.

Texts are sent in batches of ``batch_size``. 429, 5xx, timeouts and connection errors are retried
``max_retries`` times with capped exponential backoff and jitter; other errors fail at once. Everything
raised is ``memlayer.errors.ProviderError``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from ..errors import ProviderError
from ..openai_common import backoff_delay, describe_status, where
from .base import as_matrix

try:
    import openai
except ImportError as exc:  # pragma: no cover - openai is a core dependency
    raise ImportError('the OpenAI embedder needs the openai package: pip install "openai>=1.40"') from exc

KNOWN_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
PROBE_TEXT = "dimension probe"
_LOCAL_KEY = "not-needed"


class _Retryable(Exception):
    pass


class OpenAIEmbedder:
    """Embeddings through the official synchronous ``openai`` client.

    ``dims=None`` uses the known size of OpenAI's models, or embeds one probe text to learn it.
    An explicit ``dims`` is sent as ``dimensions=`` to text-embedding-3 models (which shorten their
    vectors); other models must already produce that size. ``max_retries`` counts retries after the
    first attempt.
    """

    max_backoff: float = 8.0

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        dims: int | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        batch_size: int = 256,
        max_retries: int = 3,
        timeout: float = 30.0,
        client: Any = None,
        backoff: float = 0.5,
    ) -> None:
        if batch_size < 1 or max_retries < 0 or timeout <= 0 or backoff < 0:
            raise ProviderError("batch_size must be >= 1, max_retries and backoff >= 0, timeout > 0")
        if dims is not None and int(dims) < 1:
            raise ProviderError(f"dims must be a positive integer, got {dims!r}")
        self.model = model
        self.batch_size = int(batch_size)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.backoff = float(backoff)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.prompt_tokens = 0
        self._dimensions = int(dims) if dims is not None and model.startswith("text-embedding-3") else None
        if client is not None:
            with_options = getattr(client, "with_options", None)
            self._client = with_options(max_retries=0) if callable(with_options) else client
        else:
            key = api_key or os.environ.get("OPENAI_API_KEY") or (_LOCAL_KEY if self.base_url else None)
            if not key:
                raise ProviderError(
                    "no OpenAI API key: pass api_key=... or set OPENAI_API_KEY; for a local "
                    "OpenAI-compatible server pass base_url=... (no key needed)"
                )
            try:
                self._client = openai.OpenAI(
                    api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=0
                )
            except openai.OpenAIError as exc:
                raise ProviderError(f"could not create the OpenAI client: {exc}") from exc
        if dims is not None:
            self.dims = int(dims)
        elif model in KNOWN_DIMS:
            self.dims = KNOWN_DIMS[model]
        else:
            self.dims = len(self._request([PROBE_TEXT])[0])

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"OpenAIEmbedder(model={self.model!r}, dims={self.dims}{where})"

    def close(self) -> None:
        """Close the underlying HTTP client."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` into a float32 (n, dims) array, ``batch_size`` texts per request."""
        if isinstance(texts, str):
            raise ProviderError("embed() takes a list of texts, not a single string")
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            rows.extend(self._request(list(texts[start : start + self.batch_size])))
        if not rows:
            return np.zeros((0, self.dims), dtype=np.float32)
        wrong = next((len(r) for r in rows if len(r) != self.dims), None)
        if wrong is not None:
            raise ProviderError(
                f"{self.model} returned {wrong}-dimensional vectors but dims={self.dims}; "
                "set dims to the model's size (or leave it None to detect it)"
            )
        return as_matrix(rows, len(texts), self.dims)

    def _request(self, batch: list[str]) -> list[list[float]]:
        """Embed one batch, with bounded retries."""
        # The API rejects empty strings; a single space embeds to a neutral vector instead.
        inputs = [t if t.strip() else " " for t in batch]
        last: _Retryable | None = None
        for attempt in range(self.max_retries + 1):
            if last is not None:
                time.sleep(self._delay(attempt - 1))
            try:
                return self._call(inputs)
            except _Retryable as exc:
                last = exc
        raise ProviderError(
            f"{self.model}: embedding failed after {self.max_retries + 1} attempts; last problem: {last}. "
            "Check that the server is up; lower batch_size or raise max_retries/timeout if it is overloaded."
        )

    def _call(self, inputs: list[str]) -> list[list[float]]:
        kwargs: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "float"}
        if self._dimensions is not None:
            kwargs["dimensions"] = self._dimensions
        try:
            response = self._client.embeddings.create(**kwargs, timeout=self.timeout)
        except openai.APITimeoutError as exc:
            raise _Retryable(f"timed out after {self.timeout}s") from exc
        except openai.APIConnectionError as exc:
            raise _Retryable(f"could not connect to {self._where()}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except openai.OpenAIError as exc:
            raise ProviderError(f"{self.model}: the OpenAI client failed: {exc}") from exc
        except ValueError as exc:  # a reply body that is not JSON
            raise _Retryable(f"the reply from {self._where()} is not JSON ({exc})") from exc
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        data = sorted(getattr(response, "data", None) or [], key=lambda d: d.index)
        if len(data) != len(inputs):
            raise _Retryable(f"asked for {len(inputs)} embeddings, got {len(data)}")
        return [list(d.embedding) for d in data]

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        code = exc.status_code
        detail = describe_status(exc)
        if code == 429 and exc.code == "insufficient_quota":
            return ProviderError(f"{self.model}: quota exhausted ({detail}); check the account's billing")
        if code in (408, 409, 429) or code >= 500:
            return _Retryable(detail)
        if code == 401:
            return ProviderError(f"authentication failed ({detail}); check api_key / OPENAI_API_KEY")
        if code == 404:
            return ProviderError(
                f"not found ({detail}); check the model name {self.model!r} and base_url {self._where()!r}"
            )
        if code == 400 and self._dimensions is not None:
            detail += f" (dimensions={self._dimensions} was sent; check that {self.model} supports it)"
        return ProviderError(f"{self.model}: the server rejected the embedding request ({detail})")

    def _delay(self, retry: int) -> float:
        return backoff_delay(retry, self.backoff, self.max_backoff)

    def _where(self) -> str:
        return where(self._client, self.base_url)
