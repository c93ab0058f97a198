"""An LLM provider for OpenAI and OpenAI-compatible servers (vLLM, Ollama, LM Studio, Azure OpenAI).

Retries are ours, not the client's: 429, 5xx, timeouts, connection errors and unusable answers
(empty, malformed JSON) are retried ``max_retries`` times with capped exponential backoff and jitter;
other 4xx errors fail at once. Everything raised is ``memlayer.errors.LLMError``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import LLMError
from ..openai_common import backoff_delay, describe_status, where
from ..types import Usage
from .base import LLMResult
from .jsonparse import JSONParseError, parse_model

try:
    import openai
except ImportError as exc:  # pragma: no cover - openai is a core dependency
    raise ImportError('the OpenAI provider needs the openai package: pip install "openai>=1.40"') from exc

JsonMode = Literal["auto", "json_schema", "json_object", "none"]
_MODES: tuple[str, ...] = ("auto", "json_schema", "json_object", "none")
_FALLBACK: dict[str, str] = {"json_schema": "json_object", "json_object": "none"}
_LOCAL_KEY = "not-needed"


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``model`` in the shape OpenAI's strict structured outputs accept:
    every object closed (``additionalProperties: false``) with all its properties required,
    no ``default``/``title`` keywords, and no keywords beside a ``$ref``."""
    return _strictify(copy.deepcopy(model.model_json_schema()))


def _strictify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    node.pop("default", None)
    node.pop("title", None)
    for key in ("properties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            node[key] = {name: _strictify(sub) for name, sub in node[key].items()}
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        if isinstance(node.get(key), list):
            node[key] = [_strictify(sub) for sub in node[key]]
    if isinstance(node.get("items"), dict):
        node["items"] = _strictify(node["items"])
    if node.get("type") == "object" or "properties" in node:
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties", {}))
    return node


_BAD_ANSWER = "Try a stronger model, a simpler response_model, or another json_mode."
_CHECK_SERVER = "Check base_url and that the server is running."


class _Retryable(Exception):
    """One failed attempt that may succeed if tried again."""

    def __init__(self, problem: str, advice: str = _BAD_ANSWER, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.advice = advice
        self.retry_after = retry_after


class _BadRequest(Exception):
    """A 400/422: the server refused the request as built."""

    def __init__(self, error: openai.APIStatusError) -> None:
        super().__init__(describe_status(error))
        self.error = error


class OpenAILLM:
    """Chat completions through the official ``openai`` async client.

    ``max_retries`` counts retries after the first attempt. ``json_mode`` says how a
    ``response_model`` answer is requested: ``"json_schema"`` (strict structured outputs),
    ``"json_object"`` (JSON mode), ``"none"`` (instructions only) or ``"auto"`` (json_schema,
    falling back to json_object and then plain text when the server answers 400; the mode that
    worked is kept for later calls). Answers are always parsed tolerantly.
    """

    max_backoff: float = 8.0

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        temperature: float = 0.0,
        max_retries: int = 3,
        timeout: float = 30.0,
        backoff: float = 0.5,
        json_mode: JsonMode = "auto",
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        client: Any = None,
    ) -> None:
        if json_mode not in _MODES:
            raise LLMError(f"json_mode={json_mode!r} is not one of {', '.join(_MODES)}")
        if max_retries < 0 or timeout <= 0 or backoff < 0:
            raise LLMError("max_retries and backoff must be >= 0 and timeout > 0")
        self.model = model
        self.temperature = temperature
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.backoff = float(backoff)
        self.json_mode: str = json_mode
        self.total_usage = Usage()
        self._structured: str = "json_schema" if json_mode == "auto" else json_mode
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._azure = bool(azure_endpoint or api_version)
        if client is not None:
            with_options = getattr(client, "with_options", None)
            self._client = with_options(max_retries=0) if callable(with_options) else client
            return
        try:
            if self._azure:
                endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
                if not endpoint:
                    raise LLMError(
                        "Azure OpenAI needs azure_endpoint=... (or AZURE_OPENAI_ENDPOINT), e.g. "
                        "https://<resource>.openai.azure.com"
                    )
                self._client = openai.AsyncAzureOpenAI(
                    azure_endpoint=endpoint,
                    api_version=api_version,
                    api_key=api_key or os.environ.get("AZURE_OPENAI_API_KEY"),
                    timeout=self.timeout,
                    max_retries=0,
                )
                return
            key = api_key or os.environ.get("OPENAI_API_KEY") or (_LOCAL_KEY if self.base_url else None)
            if not key:
                raise LLMError(
                    "no OpenAI API key: pass api_key=... or set OPENAI_API_KEY; for a local "
                    "OpenAI-compatible server pass base_url=... (no key needed)"
                )
            self._client = openai.AsyncOpenAI(
                api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=0
            )
        except openai.OpenAIError as exc:
            raise LLMError(f"could not create the OpenAI client: {exc}") from exc

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"OpenAILLM(model={self.model!r}{where}, json_mode={self.json_mode!r})"

    async def aclose(self) -> None:
        """Close the underlying HTTP client."""
        close = getattr(self._client, "close", None)
        if close is not None:
            await close()

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        response_model: type[BaseModel] | None = None,
    ) -> LLMResult:
        """Send ``messages``; with ``response_model``, return the answer parsed into it."""
        usage = Usage()
        try:
            return await self._complete(messages, response_model, usage)
        finally:
            self.total_usage.add(usage)

    async def _complete(
        self, messages: list[dict[str, str]], response_model: type[BaseModel] | None, usage: Usage
    ) -> LLMResult:
        last: _Retryable | None = None
        convo = list(messages)
        for attempt in range(self.max_retries + 1):
            if last is not None:
                await asyncio.sleep(self._delay(attempt - 1, last.retry_after))
            try:
                completion = await self._request(convo, response_model, usage)
                content = self._content(completion)
                if response_model is None:
                    return LLMResult(content=content, usage=usage, raw=completion)
                try:
                    parsed = parse_model(content, response_model)
                except JSONParseError as exc:
                    convo = [*messages, *_repair(content, str(exc))]
                    cut = completion.choices[0].finish_reason == "length"
                    raise _Retryable(str(exc) + (" (the answer hit the token limit)" if cut else "")) from exc
                return LLMResult(content=content, parsed=parsed, usage=usage, raw=completion)
            except _Retryable as exc:
                last = exc
        assert last is not None
        raise LLMError(
            f"{self.model}: no usable answer after {self.max_retries + 1} attempts; last problem: "
            f"{last}. {last.advice}"
        )

    async def _request(
        self, messages: list[dict[str, str]], response_model: type[BaseModel] | None, usage: Usage
    ) -> Any:
        """One chat call, walking the structured-output fallback chain in auto mode."""
        mode = self._structured
        while True:
            try:
                completion = await self._send(messages, response_model, mode)
            except _BadRequest as exc:
                if response_model is None or self.json_mode != "auto" or mode not in _FALLBACK:
                    hint = ""
                    if response_model is not None and mode != "none":
                        hint = " If the server does not support response_format, try json_mode='none'."
                    raise LLMError(
                        f"{self.model}: the server rejected the request: {exc}. Check the model name, "
                        f"the messages and json_mode={self.json_mode!r}.{hint}"
                    ) from exc.error
                mode = _FALLBACK[mode]
                continue
            self._structured = mode
            usage.llm_calls += 1
            if getattr(completion, "usage", None) is not None:
                usage.prompt_tokens += int(completion.usage.prompt_tokens or 0)
                usage.completion_tokens += int(completion.usage.completion_tokens or 0)
            return completion

    async def _send(
        self, messages: list[dict[str, str]], response_model: type[BaseModel] | None, mode: str
    ) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "timeout": self.timeout,
        }
        if response_model is not None:
            kwargs["messages"] = _with_instructions(messages, response_model, mode)
            if mode == "json_schema":
                kwargs["response_format"] = _json_schema_format(response_model)
            elif mode == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
        try:
            return await self._client.chat.completions.create(**kwargs)
        except openai.APITimeoutError as exc:
            raise _Retryable(
                f"timed out after {self.timeout}s",
                "Raise timeout= or check that the server is up and not overloaded.",
            ) from exc
        except openai.APIConnectionError as exc:
            raise _Retryable(f"could not connect to {self._where()}: {exc}", _CHECK_SERVER) from exc
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except openai.APIResponseValidationError as exc:
            raise _Retryable(f"the reply is not a chat completion: {exc}", _CHECK_SERVER) from exc
        except openai.OpenAIError as exc:
            raise LLMError(f"{self.model}: the OpenAI client failed: {exc}") from exc
        except ValueError as exc:  # a reply body that is not JSON (an HTML error page, a proxy)
            raise _Retryable(
                f"the reply from {self._where()} is not JSON ({exc})",
                "Check that base_url is an OpenAI-compatible endpoint (it usually ends in /v1).",
            ) from exc

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        code = exc.status_code
        if code == 429 and exc.code == "insufficient_quota":
            return LLMError(f"{self.model}: quota exhausted ({describe_status(exc)}); check the account's billing")
        if code in (408, 409, 429) or code >= 500:
            advice = (
                "The server is rate limiting: lower concurrency or raise max_retries/backoff."
                if code == 429
                else "The server keeps failing: check its health or try again later."
            )
            return _Retryable(describe_status(exc), advice, _retry_after(exc))
        if code in (400, 422):
            return _BadRequest(exc)
        if code == 401:
            return LLMError(f"authentication failed ({describe_status(exc)}); check api_key / OPENAI_API_KEY")
        if code == 403:
            return LLMError(
                f"permission denied ({describe_status(exc)}); check that the key may use model {self.model!r}"
            )
        if code == 404:
            what = "deployment name" if self._azure else "model name"
            where = "azure_endpoint" if self._azure else "base_url (it usually ends in /v1)"
            return LLMError(
                f"not found ({describe_status(exc)}); check the {what} {self.model!r} and the {where}: "
                f"{self._where()!r}"
            )
        return LLMError(f"{self.model}: request failed ({describe_status(exc)})")

    def _content(self, completion: Any) -> str:
        """The answer text; raises _Retryable when there is none."""
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise _Retryable("the server returned no choices")
        choice = choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise LLMError(f"{self.model} refused to answer: {refusal}")
        content = choice.message.content or ""
        if not content.strip():
            raise _Retryable(f"the answer is empty (finish_reason={choice.finish_reason})")
        return str(content)

    def _delay(self, retry: int, retry_after: float | None) -> float:
        return backoff_delay(retry, self.backoff, self.max_backoff, retry_after)

    def _where(self) -> str:
        return where(self._client, self.base_url)




def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None


def _json_schema_format(model: type[BaseModel]) -> dict[str, Any]:
    """A json_schema response_format: strict unless the model has free-form objects (dicts), which
    strict mode cannot express."""
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in model.__name__)[:64] or "answer"
    raw = model.model_json_schema()
    if _has_open_object(raw):
        return {"type": "json_schema", "json_schema": {"name": name, "schema": raw, "strict": False}}
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": strict_schema(model), "strict": True},
    }


def _has_open_object(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_open_object(sub) for sub in node)
    if not isinstance(node, dict):
        return False
    if node.get("type") == "object" and "properties" not in node:
        return True
    return any(_has_open_object(sub) for sub in node.values())


def _with_instructions(
    messages: list[dict[str, str]], model: type[BaseModel], mode: str
) -> list[dict[str, str]]:
    """Tell the model to answer in JSON (JSON mode needs the word in the prompt); with no server-side
    schema, also give the schema."""
    note = "Answer with one JSON object only, no prose."
    if mode != "json_schema":
        note += " It must match this JSON schema: " + json.dumps(
            model.model_json_schema(), separators=(",", ":")
        )
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0].get('content', '')}\n\n{note}".strip()
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def _repair(bad: str, problem: str) -> list[dict[str, str]]:
    return [
        {"role": "assistant", "content": bad[:4000]},
        {
            "role": "user",
            "content": f"That answer could not be used: {problem}. Reply again with only the JSON object.",
        },
    ]
