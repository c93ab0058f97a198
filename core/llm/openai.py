"""An LLM provider for OpenAI and OpenAI-compatible servers (vLLM, Ollama, LM Studio, Azure OpenAI).

Client setup, error mapping, retries and the deadline come from ``memlayer.openai_transport``: 429,
5xx, timeouts, connection errors and unusable answers (empty, malformed JSON) are retried
``max_retries`` times with capped exponential backoff and jitter (a server's Retry-After is
honoured); other 4xx errors fail at once; a whole ``complete()`` call, retries included, ends within
``deadline`` seconds (default 60). Everything raised is ``memlayer.errors.LLMError``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import LLMError
from ..openai_transport import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, BadRequest, OpenAITransport, Retryable
from ..types import Usage
from .base import LLMResult
from .jsonparse import JSONParseError, parse_model
from .structured import FALLBACK, MODES, ask_again, response_format, strict_schema, with_json_instructions

__all__ = ["JsonMode", "OpenAILLM", "strict_schema"]

log = logging.getLogger("memlayer.llm")

JsonMode = Literal["auto", "json_schema", "json_object", "none"]
_BAD_ANSWER = "Try a stronger model, a simpler response_model, or another json_mode."


class OpenAILLM:
    """Chat completions through the official ``openai`` async client.

    ``max_retries`` counts retries after the first attempt; ``timeout`` bounds one attempt's connect
    and each read; ``deadline`` (seconds, None for no bound) bounds the whole call. ``json_mode`` says
    how a ``response_model`` answer is requested: ``"json_schema"`` (strict structured outputs),
    ``"json_object"`` (JSON mode), ``"none"`` (instructions only) or ``"auto"`` (json_schema, falling
    back to json_object and then plain text when the server answers 400; the mode that worked is kept
    for later calls). Answers are always parsed tolerantly. ``model=None`` asks the server which
    models it serves (``/v1/models``) and uses the first: what a local vLLM, Ollama or LM Studio
    expects.
    """

    def __init__(
        self,
        model: str | None = "gpt-4o-mini",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        temperature: float = 0.0,
        max_retries: int = 3,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float | None = DEFAULT_DEADLINE,
        backoff: float = 0.5,
        json_mode: JsonMode = "auto",
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        client: Any = None,
    ) -> None:
        if json_mode not in MODES:
            raise LLMError(f"json_mode={json_mode!r} is not one of {', '.join(MODES)}")
        self.model = model
        self.temperature = temperature
        self.json_mode: str = json_mode
        self.total_usage = Usage()
        self._structured: str = "json_schema" if json_mode == "auto" else json_mode
        self._transport = OpenAITransport(
            model=model or "(the server's first model)", error=LLMError, action="no usable answer",
            asynchronous=True, api_key=api_key, base_url=base_url, azure_endpoint=azure_endpoint,
            api_version=api_version, client=client, max_retries=max_retries, backoff=backoff, timeout=timeout,
            deadline=deadline,
        )
        self.base_url = self._transport.base_url
        self.max_retries = self._transport.max_retries
        self.timeout = self._transport.timeout
        self.deadline = self._transport.deadline
        self.backoff = self._transport.backoff

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"OpenAILLM(model={self.model!r}{where}, json_mode={self.json_mode!r})"

    async def aclose(self) -> None:
        """Close the underlying HTTP client (``AsyncMemory.close()`` does it for the LLM it built)."""
        await self._transport.aclose()

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        response_model: type[BaseModel] | None = None,
    ) -> LLMResult:
        """Send ``messages``; with ``response_model``, return the answer parsed into it."""
        usage = Usage()
        try:
            model = self.model or await self._discover_model()
            return await self._complete(model, messages, response_model, usage)
        finally:
            self.total_usage.add(usage)

    async def _complete(
        self, model: str, messages: list[dict[str, str]], response_model: type[BaseModel] | None, usage: Usage
    ) -> LLMResult:
        convo = list(messages)

        async def attempt() -> LLMResult:
            nonlocal convo
            completion = await self._request(model, convo, response_model, usage)
            content = self._content(completion)
            if response_model is None:
                return LLMResult(content=content, usage=usage, raw=completion)
            try:
                parsed = parse_model(content, response_model)
            except JSONParseError as exc:
                convo = [*messages, *ask_again(content, str(exc))]
                cut = completion.choices[0].finish_reason == "length"
                raise Retryable(str(exc) + (" (the answer hit the token limit)" if cut else ""), _BAD_ANSWER) from exc
            return LLMResult(content=content, parsed=parsed, usage=usage, raw=completion)

        return await self._transport.arun(attempt)

    async def _request(
        self, model: str, messages: list[dict[str, str]], response_model: type[BaseModel] | None, usage: Usage
    ) -> Any:
        """One chat call, walking the structured-output fallback chain in auto mode."""
        mode = self._structured
        while True:
            kwargs: dict[str, Any] = {"model": model, "messages": messages, "temperature": self.temperature}
            if response_model is not None:
                kwargs["messages"] = with_json_instructions(messages, response_model, mode)
                fmt = response_format(response_model, mode)
                if fmt is not None:
                    kwargs["response_format"] = fmt
            try:
                completion = await self._transport.asend(self._transport.client.chat.completions.create, **kwargs)
            except BadRequest as exc:
                if response_model is None or self.json_mode != "auto" or mode not in FALLBACK:
                    hint = ""
                    if response_model is not None and mode != "none":
                        hint = " If the server does not support response_format, try json_mode='none'."
                    raise LLMError(
                        f"{model}: the server rejected the request: {exc}. Check the model name, "
                        f"the messages and json_mode={self.json_mode!r}.{hint}"
                    ) from exc.error
                mode = FALLBACK[mode]
                continue
            self._structured = mode
            usage.llm_calls += 1
            if getattr(completion, "usage", None) is not None:
                usage.prompt_tokens += int(completion.usage.prompt_tokens or 0)
                usage.completion_tokens += int(completion.usage.completion_tokens or 0)
            return completion

    def _content(self, completion: Any) -> str:
        """The answer text; raises Retryable when there is none."""
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise Retryable("the server returned no choices", _BAD_ANSWER)
        choice = choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise LLMError(f"{self.model} refused to answer: {refusal}")
        content = choice.message.content or ""
        if not content.strip():
            raise Retryable(f"the answer is empty (finish_reason={choice.finish_reason})", _BAD_ANSWER)
        return str(content)

    async def _discover_model(self) -> str:
        """The first model the server lists (for local servers configured without a model name)."""
        transport = self._transport

        async def attempt() -> Any:
            return await transport.asend(transport.client.models.list)

        try:
            page = await transport.arun(attempt)
        except BadRequest as exc:
            raise LLMError(f"could not list the models at {transport.where()}: {exc}; pass model=...") from exc
        served = [str(m.id) for m in (getattr(page, "data", None) or []) if getattr(m, "id", None)]
        if not served:
            raise LLMError(f"no model is served at {transport.where()}; pass model=... (the name the server knows)")
        if len(served) > 1:
            log.info("%s serves %d models; using %r (pass model=... to choose)", transport.where(), len(served), served[0])
        self.model = transport.model = served[0]
        return served[0]
