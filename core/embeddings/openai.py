"""An embedder for OpenAI, Azure OpenAI and OpenAI-compatible ``/v1/embeddings`` servers.

Texts are sent in batches of ``batch_size``. Client setup, error mapping, retries and the deadline come
from ``memlayer.openai_transport``: 429, 5xx, timeouts and connection errors are retried
``max_retries`` times with capped exponential backoff and jitter (a server's Retry-After is
honoured); other errors fail at once; each batch request, retries included, ends within ``deadline``
seconds (default 60). Everything raised is ``memlayer.errors.ProviderError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ProviderError
from ..openai_transport import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, BadRequest, OpenAITransport, Retryable
from .base import as_matrix

KNOWN_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
PROBE_TEXT = "dimension probe"


class OpenAIEmbedder:
    """Embeddings through the official synchronous ``openai`` client.

    ``dims=None`` uses the known size of OpenAI's models, or embeds one probe text to learn it.
    An explicit ``dims`` is sent as ``dimensions=`` to text-embedding-3 models (which shorten their
    vectors); other models must already produce that size. ``max_retries`` counts retries after the
    first attempt. For Azure OpenAI give ``azure_endpoint`` (or set AZURE_OPENAI_ENDPOINT with
    ``api_version``) and the deployment name as ``model``.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        dims: int | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        batch_size: int = 256,
        max_retries: int = 3,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float | None = DEFAULT_DEADLINE,
        client: Any = None,
        backoff: float = 0.5,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
    ) -> None:
        if batch_size < 1 or max_retries < 0 or timeout <= 0 or backoff < 0:
            raise ProviderError("batch_size must be >= 1, max_retries and backoff >= 0, timeout > 0")
        if dims is not None and int(dims) < 1:
            raise ProviderError(f"dims must be a positive integer, got {dims!r}")
        self.model = model
        self.batch_size = int(batch_size)
        self.prompt_tokens = 0
        self._dimensions = int(dims) if dims is not None and model.startswith("text-embedding-3") else None
        self._transport = OpenAITransport(
            model=model, error=ProviderError, action="embedding failed", asynchronous=False, api_key=api_key,
            base_url=base_url, azure_endpoint=azure_endpoint, api_version=api_version, client=client,
            max_retries=max_retries, backoff=backoff, timeout=timeout, deadline=deadline,
            advice="Lower batch_size if the server is overloaded.",
        )
        self.base_url = self._transport.base_url
        self.max_retries = self._transport.max_retries
        self.timeout = self._transport.timeout
        self.deadline = self._transport.deadline
        self.backoff = self._transport.backoff
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
        """Close the underlying HTTP client (``AsyncMemory.close()`` does it for the embedder it built)."""
        self._transport.close()

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
        """Embed one batch, with bounded retries within the deadline."""
        # The API rejects empty strings; a single space embeds to a neutral vector instead.
        inputs = [t if t.strip() else " " for t in batch]
        return self._transport.run(lambda: self._call(inputs))

    def _call(self, inputs: list[str]) -> list[list[float]]:
        kwargs: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "float"}
        if self._dimensions is not None:
            kwargs["dimensions"] = self._dimensions
        try:
            response = self._transport.send(self._transport.client.embeddings.create, **kwargs)
        except BadRequest as exc:
            detail = str(exc)
            if self._dimensions is not None:
                detail += f" (dimensions={self._dimensions} was sent; check that {self.model} supports it)"
            raise ProviderError(f"{self.model}: the server rejected the embedding request ({detail})") from exc.error
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        data = sorted(getattr(response, "data", None) or [], key=lambda d: d.index)
        if len(data) != len(inputs):
            raise Retryable(f"asked for {len(inputs)} embeddings, got {len(data)}")
        return [list(d.embedding) for d in data]
